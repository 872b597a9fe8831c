//! Batch dynamic merging: `CoreTokenizer.merge_batch` and the result kept for replays.

use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use toksmith_core::dynamic::{self, Boundaries};

use crate::errors::{interrupted, invalid, run_engine};
use crate::tokenizer::{flatten, CoreTokenizer};

#[pymethods]
impl CoreTokenizer {
    /// `(ids, pre-token index per token, special flag per token)` of a text (all specials recognised).
    fn encode_with_pieces(
        &self,
        py: Python<'_>,
        text: &str,
    ) -> PyResult<(Vec<u32>, Vec<u32>, Vec<bool>)> {
        let tokens = run_engine(py, || self.tok.encode_with_pieces(text))?;
        Ok((
            tokens.iter().map(|t| t.0).collect(),
            tokens.iter().map(|t| t.1).collect(),
            tokens.iter().map(|t| t.2).collect(),
        ))
    }

    /// Dynamic merging of a batch (texts, or ids with optional word ids). Returns
    /// `(vocab, input ids flat, token vocab indices flat, token starts, token ends,
    /// per-sequence offsets into the token arrays (B + 1), log [(left, right, merged, count)], lengths)`;
    /// starts and ends count base tokens from the start of their sequence.
    #[pyo3(signature = (texts=None, ids=None, word_ids=None, boundaries="pretokens", max_merges=None, target_length=None, target_reduction=None))]
    #[allow(clippy::too_many_arguments)]
    fn merge_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Option<Vec<String>>,
        ids: Option<Vec<Vec<u32>>>,
        word_ids: Option<Vec<Vec<u32>>>,
        boundaries: &str,
        max_merges: Option<usize>,
        target_length: Option<usize>,
        target_reduction: Option<f64>,
    ) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        let boundaries = match boundaries {
            "pretokens" => Boundaries::PreTokens,
            "words" => Boundaries::Words,
            other => {
                return Err(invalid(format!(
                    "boundaries must be \"pretokens\" or \"words\", not {other:?}"
                )))
            }
        };
        let tok = &self.tok;
        let (inputs, result) = run_engine(py, || {
            let seqs = match (texts, ids) {
                (Some(t), None) => dynamic::sequences_from_texts(tok, &t, boundaries)?,
                (None, Some(i)) => dynamic::sequences_from_ids(tok, i, word_ids)?,
                _ => return Err(toksmith_core::Error::value("give either texts or ids")),
            };
            let stop = dynamic::Stop {
                max_merges,
                target_length,
                target_reduction,
            };
            let result = dynamic::merge_batch(&|t| tok.token_bytes(t), &seqs, stop, &interrupted)?;
            Ok((
                seqs.into_iter().map(|s| s.tokens).collect::<Vec<_>>(),
                result,
            ))
        })?;
        let vocab: Vec<Bound<'py, PyBytes>> =
            result.vocab.iter().map(|b| PyBytes::new(py, b)).collect();
        let log: Vec<(u32, u32, u32, u64)> = result
            .log
            .iter()
            .map(|m| (m.left, m.right, m.merged, m.count))
            .collect();
        let (input_ids, _) = flatten(inputs);
        let (toks, starts, ends, offsets) = flat_sequences(&result.sequences);
        let lengths: Vec<i64> = result.lengths.iter().map(|&n| n as i64).collect();
        (
            vocab,
            input_ids.into_pyarray(py),
            toks.into_pyarray(py),
            starts.into_pyarray(py),
            ends.into_pyarray(py),
            offsets.into_pyarray(py),
            log,
            lengths.into_pyarray(py),
            CoreDynamic { result },
        )
            .into_pyobject(py)
    }
}

/// Sequences of `(vocab index, start, end)` as flat arrays plus per-sequence offsets (B + 1).
fn flat_sequences(sequences: &[Vec<(u32, u32, u32)>]) -> (Vec<u32>, Vec<i64>, Vec<i64>, Vec<i64>) {
    let mut offsets = vec![0i64];
    let (mut toks, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new());
    for seq in sequences {
        for &(t, s, e) in seq {
            toks.push(t);
            starts.push(s as i64);
            ends.push(e as i64);
        }
        offsets.push(toks.len() as i64);
    }
    (toks, starts, ends, offsets)
}

/// A dynamic-merging result kept in the engine, for per-sequence replays.
#[pyclass(frozen, module = "toksmith._toksmith")]
pub(crate) struct CoreDynamic {
    result: dynamic::DynamicResult,
}

#[pymethods]
impl CoreDynamic {
    /// `(vocab indices, starts, ends, offsets)` after the first `budgets[s]` merges per sequence.
    fn replay<'py>(
        &self,
        py: Python<'py>,
        budgets: Vec<usize>,
    ) -> PyResult<Bound<'py, pyo3::types::PyTuple>> {
        let seqs = run_engine(py, || self.result.replay(&budgets))?;
        let (toks, starts, ends, offsets) = flat_sequences(&seqs);
        (
            toks.into_pyarray(py),
            starts.into_pyarray(py),
            ends.into_pyarray(py),
            offsets.into_pyarray(py),
        )
            .into_pyobject(py)
    }
}
