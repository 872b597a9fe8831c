//! `CoreMixture`: category samples counted with a tokenizer's pre-tokenizer, and its merge list
//! replayed on them (the engine's `mixture` job), as numpy arrays for the linear program of
//! `toksmith.mixture`.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use toksmith_core::count::{self, PieceTable};
use toksmith_core::mixture::{self, Pricing};

use crate::errors::{interrupted, invalid, run_engine};
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

/// Each category's piece counts and the tokenizer's first merges, replayed on demand.
#[pyclass(frozen, module = "toksmith._toksmith")]
pub(crate) struct CoreMixture {
    tables: Vec<PieceTable>,
    steps: Vec<(u32, u32, u32)>,
    byte_ids: [u32; 256],
}

#[pymethods]
impl CoreMixture {
    /// Counts each category (`(files, texts)`: file lines and texts, line by line) with the
    /// tokenizer's pre-tokenizer, and takes its first `merges` merges.
    #[new]
    #[pyo3(signature = (tokenizer, categories, merges, num_threads=None))]
    fn new(
        py: Python<'_>,
        tokenizer: PyRef<'_, CoreTokenizer>,
        categories: Vec<(Vec<String>, Vec<String>)>,
        merges: usize,
        num_threads: Option<usize>,
    ) -> PyResult<Self> {
        let tok = tokenizer.tok.clone();
        let hf = tokenizer.hf.clone();
        run_engine(py, || {
            let splitter = mixture::splitter_for(&tok, hf.as_ref().map(|h| h.source.as_str()))?;
            let mut tables = Vec::with_capacity(categories.len());
            for (files, texts) in &categories {
                let stop = &mut |_| !interrupted();
                let mut table = count::count_files(&[&splitter], files, num_threads, stop)?
                    .pop()
                    .unwrap_or_default();
                for t in count::count_texts(&[&splitter], texts, true, num_threads)? {
                    table.merge(t)?;
                }
                tables.push(table);
            }
            Ok(CoreMixture {
                tables,
                steps: mixture::merge_steps(&tok.vocab, merges)?,
                byte_ids: std::array::from_fn(|b| tok.vocab.byte_id(b as u8)),
            })
        })
    }

    /// The replay's arrays. Without `weights`, each category lists up to `top_k` pairs above the
    /// merged one at each step; with `weights` (one per category) and `slack` (one per step),
    /// the mixture lists up to `top_k` pairs that beat the merged one by more than the slack.
    #[pyo3(signature = (top_k, weights=None, slack=None, num_threads=None))]
    fn replay<'py>(
        &self,
        py: Python<'py>,
        top_k: usize,
        weights: Option<Vec<f64>>,
        slack: Option<Vec<f64>>,
        num_threads: Option<usize>,
    ) -> PyResult<Arrays<'py>> {
        let pricing = match (&weights, &slack) {
            (Some(weights), Some(slack)) => Some(Pricing { weights, slack }),
            (None, None) => None,
            _ => return Err(invalid("give both weights and slack, or neither")),
        };
        let replay = run_engine(py, || {
            let stop = &mut |_| !interrupted();
            mixture::replay_mixture(
                &self.tables,
                &self.byte_ids,
                &self.steps,
                top_k,
                pricing,
                num_threads,
                stop,
            )
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
}
