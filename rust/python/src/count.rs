//! `CoreTokenizer`'s token counts (`count`, `count_batch`, their Hugging Face versions) and
//! the per-token bytes behind the streaming decoders.

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyBytes;
use std::sync::atomic::{AtomicBool, Ordering};
use toksmith_core::util::pool;

use crate::errors::{interrupted, run, run_engine, to_py};
use crate::tokenizer::CoreTokenizer;

/// `count` of every text in the pool, with the GIL released. This thread takes part in the
/// work and checks for Ctrl-C between texts; after an error or Ctrl-C the texts not started
/// yet are skipped. Of several failing texts, the first in order that was tried is reported.
fn count_texts(
    py: Python<'_>,
    texts: &[PyBackedStr],
    num_threads: Option<usize>,
    count: impl Fn(&str) -> toksmith_core::Result<usize> + Sync + Send,
) -> PyResult<Vec<usize>> {
    let stop = AtomicBool::new(false);
    let mut counts = vec![0; texts.len()];
    let mut failed: Option<(usize, toksmith_core::Error)> = None;
    let mut stopped_by_signal = false;
    run(py, || {
        pool::map_streaming(
            texts,
            num_threads,
            |t| {
                if stop.load(Ordering::Relaxed) {
                    return Ok(0);
                }
                count(t)
            },
            |i, n| {
                if !stop.load(Ordering::Relaxed) && interrupted() {
                    stopped_by_signal = true;
                    stop.store(true, Ordering::Relaxed);
                }
                match n {
                    Ok(n) => counts[i] = n,
                    Err(e) => {
                        if failed.as_ref().is_none_or(|(j, _)| i < *j) {
                            failed = Some((i, e));
                        }
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            },
        )
    })?;
    if stopped_by_signal {
        return Err(PyKeyboardInterrupt::new_err("interrupted"));
    }
    match failed {
        Some((_, e)) => Err(to_py(e)),
        None => Ok(counts),
    }
}

#[pymethods]
impl CoreTokenizer {
    fn count_ordinary(&self, py: Python<'_>, text: &str) -> PyResult<usize> {
        run_engine(py, || self.tok.count_ordinary(text))
    }

    /// `encode(text, allowed, reject_others)`'s length, without the ids.
    #[pyo3(signature = (text, allowed=None, reject_others=false))]
    fn count(
        &self,
        py: Python<'_>,
        text: &str,
        allowed: Option<Vec<String>>,
        reject_others: bool,
    ) -> PyResult<usize> {
        let allowed = self.allowed_fn(allowed);
        run_engine(py, || {
            self.tok.count_with_special(text, &allowed, reject_others)
        })
    }

    #[pyo3(signature = (texts, allowed=None, reject_others=false, num_threads=None))]
    fn count_batch(
        &self,
        py: Python<'_>,
        texts: Vec<PyBackedStr>,
        allowed: Option<Vec<String>>,
        reject_others: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<usize>> {
        let allowed = self.allowed_fn(allowed);
        count_texts(py, &texts, num_threads, |t| {
            self.tok.count_with_special(t, &allowed, reject_others)
        })
    }

    #[pyo3(signature = (text, add_special_tokens=true))]
    fn hf_count(&self, py: Python<'_>, text: &str, add_special_tokens: bool) -> PyResult<usize> {
        let hf = self.hf()?;
        run_engine(py, || hf.count(&self.tok, text, add_special_tokens))
    }

    #[pyo3(signature = (texts, add_special_tokens=true, num_threads=None))]
    fn hf_count_batch(
        &self,
        py: Python<'_>,
        texts: Vec<PyBackedStr>,
        add_special_tokens: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<usize>> {
        let hf = self.hf()?;
        count_texts(py, &texts, num_threads, |t| {
            hf.count(&self.tok, t, add_special_tokens)
        })
    }

    /// The bytes one id adds to `hf_decode` before its UTF-8 step (empty for an unknown id or a
    /// skipped special token).
    #[pyo3(signature = (id, skip_special_tokens=true))]
    fn hf_decode_token_bytes<'py>(
        &self,
        py: Python<'py>,
        id: u32,
        skip_special_tokens: bool,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self
            .hf()?
            .decode_token_bytes(&self.tok, id, skip_special_tokens)
            .map_err(to_py)?;
        Ok(PyBytes::new(py, &bytes))
    }
}

#[pymethods]
impl CoreTokenizer {
    /// `encode_ordinary` of a file's text (`-`: standard input), read in blocks of about
    /// `block_size` bytes cut where no piece can cross and encoded in parallel.
    #[pyo3(signature = (path, block_size, num_threads=None))]
    fn encode_file<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        block_size: usize,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let ids = run_engine(py, || {
            self.tok
                .encode_file(path, block_size, num_threads, &interrupted)
        })?;
        Ok(ids.into_pyarray(py))
    }

    /// `count_ordinary` of a file's text, read as `encode_file` reads it.
    #[pyo3(signature = (path, block_size, num_threads=None))]
    fn count_file(
        &self,
        py: Python<'_>,
        path: &str,
        block_size: usize,
        num_threads: Option<usize>,
    ) -> PyResult<usize> {
        run_engine(py, || {
            self.tok
                .count_file(path, block_size, num_threads, &interrupted)
        })
    }

    /// Whether `encode_file` cuts files into blocks (the known pattern families), and its
    /// default block size.
    #[getter]
    fn file_blocks(&self) -> (bool, usize) {
        (self.tok.cuts_blocks(), toksmith_core::encode::BLOCK_SIZE)
    }
}
