//! `CoreReportPass`: one corpus through `toksmith_core::report::Pass` (texts in, counters per
//! tokenizer out), with the GIL released while it encodes and Ctrl-C honoured between pieces.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyDict;
use std::sync::Mutex;
use toksmith_core::report::{token_lengths, Flavour, Pass, Subject};

use crate::errors::{interrupted, invalid, run_engine};
use crate::tokenizer::CoreTokenizer;

#[pyclass(frozen, module = "toksmith._toksmith")]
pub(crate) struct CoreReportPass {
    pass: Mutex<Pass>,
}

impl CoreReportPass {
    fn with_pass<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut Pass) -> toksmith_core::Result<T> + Send,
    ) -> PyResult<T> {
        run_engine(py, || {
            let mut pass = self.pass.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut pass)
        })
    }
}

#[pymethods]
impl CoreReportPass {
    /// `hf[i]`: encode with tokenizer i's `tokenizer.json` pipeline, else as `encode_ordinary`.
    #[new]
    #[pyo3(signature = (tokenizers, hf, piece_chars, group_chars, num_threads=None))]
    fn new(
        tokenizers: Vec<PyRef<'_, CoreTokenizer>>,
        hf: Vec<bool>,
        piece_chars: usize,
        group_chars: usize,
        num_threads: Option<usize>,
    ) -> PyResult<Self> {
        if tokenizers.len() != hf.len() {
            return Err(invalid("give one hf flag per tokenizer"));
        }
        let subjects = tokenizers
            .iter()
            .zip(hf)
            .map(|(t, hf)| {
                let flavour = if hf { Flavour::Hf } else { Flavour::Ordinary };
                Subject::new(t.tok.clone(), flavour)
            })
            .collect();
        let pass = Pass::new(subjects, piece_chars, group_chars, num_threads)
            .map_err(crate::errors::to_py)?;
        Ok(CoreReportPass {
            pass: Mutex::new(pass),
        })
    }

    /// The byte length of every id of `tokenizer` (`-1`: no token has that id), as `int64`.
    #[staticmethod]
    fn token_lengths<'py>(
        py: Python<'py>,
        tokenizer: PyRef<'_, CoreTokenizer>,
    ) -> Bound<'py, PyArray1<i64>> {
        let lengths: Vec<i64> = token_lengths(&tokenizer.tok)
            .into_iter()
            .map(|n| n.map_or(-1, i64::from))
            .collect();
        lengths.into_pyarray(py)
    }

    /// Adds one text (no piece spans two texts); measures the groups it fills.
    fn feed(&self, py: Python<'_>, text: PyBackedStr) -> PyResult<()> {
        self.with_pass(py, |pass| pass.feed(&text, &interrupted))
    }

    /// Measures the last group.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        self.with_pass(py, |pass| pass.finish(&interrupted))
    }

    /// Tokenizer `i`'s sums (a dict of ints), its seconds and its `int64` counts per id.
    fn counters<'py>(
        &self,
        py: Python<'py>,
        i: usize,
    ) -> PyResult<(Bound<'py, PyDict>, f64, Bound<'py, PyArray1<i64>>)> {
        let pass = self.pass.lock().unwrap_or_else(|e| e.into_inner());
        let c = pass
            .counters()
            .get(i)
            .ok_or_else(|| invalid(format!("no tokenizer {i} in this pass")))?;
        let sums = PyDict::new(py);
        for (key, value) in [
            ("tokens", c.tokens),
            ("bytes", c.bytes),
            ("chars", c.chars),
            ("words", c.words),
            ("aligned_bytes", c.aligned_bytes),
            ("aligned_tokens", c.aligned_tokens),
            ("aligned_words", c.aligned_words),
            ("word_tokens", c.word_tokens),
            ("words_whole", c.words_whole),
            ("whole_word_tokens", c.whole_word_tokens),
        ] {
            sums.set_item(key, value)?;
        }
        let counts: Vec<i64> = c.counts.iter().map(|&n| n as i64).collect();
        Ok((sums, c.seconds, counts.into_pyarray(py)))
    }
}
