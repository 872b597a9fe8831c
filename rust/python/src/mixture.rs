//! `mixture_replay`: a tokenizer's merge list replayed on category samples (the engine's
//! `mixture` job), as numpy arrays for the linear program of `toksmith.mixture`.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use toksmith_core::count::{self, PieceTable};
use toksmith_core::mixture;

use crate::errors::{interrupted, run_engine};
use crate::tokenizer::CoreTokenizer;

/// Merged counts, bounds (`steps * n` each), row steps, row lefts, row rights, row counts
/// (`rows * n`), sample bytes, and the number of steps replayed.
type Arrays<'py> = (
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u64>>,
    Vec<u64>,
    usize,
);

/// Counts each category (`(files, texts)`: file lines and texts, line by line) with the
/// tokenizer's pre-tokenizer, then replays its first `merges` merges on all of them.
#[pyfunction]
#[pyo3(signature = (tokenizer, categories, merges, top_k, num_threads=None))]
pub(crate) fn mixture_replay<'py>(
    py: Python<'py>,
    tokenizer: PyRef<'_, CoreTokenizer>,
    categories: Vec<(Vec<String>, Vec<String>)>,
    merges: usize,
    top_k: usize,
    num_threads: Option<usize>,
) -> PyResult<Arrays<'py>> {
    let tok = tokenizer.tok.clone();
    let hf = tokenizer.hf.clone();
    let replay = run_engine(py, || {
        let splitter = mixture::splitter_for(&tok, hf.as_ref().map(|h| h.source.as_str()))?;
        let mut tables: Vec<PieceTable> = Vec::with_capacity(categories.len());
        for (files, texts) in &categories {
            let mut table =
                count::count_files(&[&splitter], files, num_threads, &mut |_| !interrupted())?
                    .pop()
                    .unwrap_or_default();
            let more = count::count_texts(&[&splitter], texts, true, num_threads)?;
            for t in more {
                table.merge(t)?;
            }
            tables.push(table);
        }
        let steps = mixture::merge_steps(&tok.vocab, merges)?;
        let byte_ids: [u32; 256] = std::array::from_fn(|b| tok.vocab.byte_id(b as u8));
        mixture::replay_mixture(&tables, &byte_ids, &steps, top_k, num_threads, &mut |_| {
            !interrupted()
        })
    })?;
    let (left, right): (Vec<u32>, Vec<u32>) = replay.row_pair.iter().copied().unzip();
    Ok((
        replay.merged.into_pyarray(py),
        replay.bound.into_pyarray(py),
        replay.row_step.into_pyarray(py),
        left.into_pyarray(py),
        right.into_pyarray(py),
        replay.row_counts.into_pyarray(py),
        replay.bytes,
        replay.steps,
    ))
}
