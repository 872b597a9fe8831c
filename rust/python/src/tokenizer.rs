//! `CoreTokenizer`, the engine object behind `toksmith.Encoding` and `toksmith.Tokenizer`:
//! loading, and the tiktoken-flavoured calls (the Hugging Face ones are in `tokenizer_hf.rs`,
//! dynamic merging in `dynamic.rs`).

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::collections::HashMap;
use std::sync::Arc;
use toksmith_core::formats::hf::{self, HfExtras};
use toksmith_core::formats::tiktoken;
use toksmith_core::pretokenize::regex::Regex;
use toksmith_core::util::pool;
use toksmith_core::{AddedToken, PreTokenizer, Tokenizer, Vocab};

use crate::errors::{interrupted, invalid, run, run_engine, to_py};

/// The engine object behind `toksmith.Encoding` and `toksmith.Tokenizer`.
#[pyclass(frozen, module = "toksmith._toksmith")]
pub(crate) struct CoreTokenizer {
    pub(crate) tok: Arc<Tokenizer>,
    /// Present for tokenizers that follow `tokenizer.json` semantics.
    pub(crate) hf: Option<Arc<HfExtras>>,
    /// One Python int per token id, made on first use: returning ids as a list then costs a
    /// reference count per token instead of allocating an int (most ids are above 256, beyond
    /// Python's small-int cache), which was about as slow as encoding itself.
    ints: PyOnceLock<Vec<Py<PyAny>>>,
}

impl CoreTokenizer {
    pub(crate) fn new(tok: Tokenizer, hf: Option<HfExtras>) -> Self {
        CoreTokenizer {
            tok: Arc::new(tok),
            hf: hf.map(Arc::new),
            ints: PyOnceLock::new(),
        }
    }

    /// `ids` as a Python list of ints, sharing the cached int objects.
    fn id_list<'py>(&self, py: Python<'py>, ids: &[u32]) -> PyResult<Bound<'py, PyList>> {
        let ints = self.ints.get_or_init(py, || {
            (0..self.tok.id_bound() as u32)
                .map(|id| id.into_pyobject(py).unwrap().into_any().unbind())
                .collect()
        });
        // SAFETY: the list is created with `ids.len()` empty slots and each slot is filled
        // exactly once with a new (owned) reference before the list is handed to Python.
        unsafe {
            let list = pyo3::ffi::PyList_New(ids.len() as pyo3::ffi::Py_ssize_t);
            let list = Bound::from_owned_ptr_or_err(py, list)?.cast_into_unchecked::<PyList>();
            for (i, &id) in ids.iter().enumerate() {
                let item = match ints.get(id as usize) {
                    Some(int) => int.clone_ref(py).into_ptr(),
                    None => id.into_pyobject(py)?.into_ptr(),
                };
                pyo3::ffi::PyList_SetItem(list.as_ptr(), i as pyo3::ffi::Py_ssize_t, item);
            }
            Ok(list)
        }
    }

    /// `encode` on every text in the pool, with the GIL released, as a list of id lists. Each
    /// list is built (holding the GIL, on this thread) as soon as its text is encoded, while the
    /// pool encodes the others.
    fn encode_texts<'py>(
        &self,
        py: Python<'py>,
        texts: &[PyBackedStr],
        num_threads: Option<usize>,
        encode: impl Fn(&str) -> toksmith_core::Result<Vec<u32>> + Sync + Send,
    ) -> PyResult<Bound<'py, PyList>> {
        let n = texts.len() as pyo3::ffi::Py_ssize_t;
        // SAFETY: a new list of `n` empty slots; `PyList_SetItem` fills each exactly once below
        // (a slot left empty by an error is fine: the list is then dropped, never returned).
        let out = unsafe {
            Bound::from_owned_ptr_or_err(py, pyo3::ffi::PyList_New(n))?
                .cast_into_unchecked::<PyList>()
                .unbind()
        };
        self.id_list(py, &[])?; // builds the int table now, not on a worker's first result
        let mut failed: Option<PyErr> = None;
        // Set on Ctrl-C or an error: the texts not started yet are skipped.
        let stop = std::sync::atomic::AtomicBool::new(false);
        run(py, || {
            pool::map_streaming(
                texts,
                num_threads,
                |t| {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return Ok(Vec::new());
                    }
                    encode(t)
                },
                |i, ids| {
                    if failed.is_some() {
                        return;
                    }
                    if interrupted() {
                        failed = Some(PyKeyboardInterrupt::new_err("interrupted"));
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    Python::attach(|py| {
                        let item = ids.map_err(to_py).and_then(|ids| self.id_list(py, &ids));
                        match item {
                            // SAFETY: slot `i` of `out` is empty; SetItem steals the reference.
                            Ok(list) => unsafe {
                                pyo3::ffi::PyList_SetItem(
                                    out.as_ptr(),
                                    i as pyo3::ffi::Py_ssize_t,
                                    list.into_ptr(),
                                );
                            },
                            Err(e) => {
                                failed = Some(e);
                                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                            }
                        }
                    })
                },
            )
        })?;
        match failed {
            Some(e) => Err(e),
            None => Ok(out.into_bound(py)),
        }
    }
}

type Encoded<'py> = (Bound<'py, PyArray1<u32>>, Bound<'py, PyArray1<i64>>);

fn specials(map: HashMap<String, u32>) -> Vec<AddedToken> {
    let mut out: Vec<AddedToken> = map
        .into_iter()
        .map(|(content, id)| AddedToken {
            content,
            id,
            special: true,
            normalized: false,
        })
        .collect();
    out.sort_by_key(|t| t.id);
    out
}

/// A tiktoken-style engine object: ranks, a pattern with tiktoken's semantics, special tokens.
fn tiktoken_style(
    vocab: Vocab,
    pattern: &str,
    special_tokens: HashMap<String, u32>,
    name: &str,
) -> toksmith_core::Result<CoreTokenizer> {
    let pre = PreTokenizer::Regex(Regex::tiktoken(pattern)?);
    let tok = Tokenizer::new(name, vocab, pre, specials(special_tokens))?;
    Ok(CoreTokenizer::new(tok, None))
}

pub(crate) fn flatten(batch: Vec<Vec<u32>>) -> (Vec<u32>, Vec<i64>) {
    let mut offsets = Vec::with_capacity(batch.len() + 1);
    offsets.push(0i64);
    let total = batch.iter().map(Vec::len).sum();
    let mut ids = Vec::with_capacity(total);
    for b in batch {
        ids.extend_from_slice(&b);
        offsets.push(ids.len() as i64);
    }
    (ids, offsets)
}

impl CoreTokenizer {
    pub(crate) fn hf(&self) -> PyResult<&HfExtras> {
        self.hf
            .as_deref()
            .ok_or_else(|| invalid("this is not a tokenizer.json tokenizer"))
    }

    pub(crate) fn allowed_fn(&self, allowed: Option<Vec<String>>) -> impl Fn(u32) -> bool + Sync {
        let ids: Option<Vec<u32>> = allowed.map(|a| {
            a.iter()
                .filter_map(|s| self.tok.added_token(s).map(|t| t.id))
                .collect()
        });
        move |id| ids.as_ref().is_none_or(|ids| ids.contains(&id))
    }
}

#[pymethods]
impl CoreTokenizer {
    /// A tiktoken encoding from a rank file (plain or gzip).
    #[staticmethod]
    #[pyo3(signature = (path, pattern, special_tokens, name, expected_sha256=None))]
    fn from_tiktoken_file(
        py: Python<'_>,
        path: &str,
        pattern: &str,
        special_tokens: HashMap<String, u32>,
        name: &str,
        expected_sha256: Option<&str>,
    ) -> PyResult<Self> {
        run_engine(py, || {
            let ranks = tiktoken::read(path, expected_sha256)?;
            let vocab = Vocab::from_ranks(ranks)
                .map_err(|e| toksmith_core::Error::new(e.kind, format!("{path}: {}", e.message)))?;
            tiktoken_style(vocab, pattern, special_tokens, name)
        })
    }

    /// A tiktoken encoding from `{token bytes: rank}` (tiktoken's `Encoding` constructor).
    #[staticmethod]
    fn from_ranks(
        py: Python<'_>,
        ranks: Vec<(Vec<u8>, u32)>,
        pattern: &str,
        special_tokens: HashMap<String, u32>,
        name: &str,
    ) -> PyResult<Self> {
        run_engine(py, || {
            tiktoken_style(Vocab::from_ranks(ranks)?, pattern, special_tokens, name)
        })
    }

    /// A tokenizer from the text of a `tokenizer.json`.
    #[staticmethod]
    #[pyo3(signature = (json, name=""))]
    fn from_hf_str(py: Python<'_>, json: &str, name: &str) -> PyResult<Self> {
        run(py, || hf::from_json(json, name))?
            .map(|(tok, extras)| CoreTokenizer::new(tok, Some(extras)))
            .map_err(to_py)
    }

    /// The `tokenizer.json` text of this tokenizer.
    #[pyo3(signature = (pretty=false))]
    fn to_hf_str(&self, pretty: bool) -> PyResult<String> {
        hf::to_json(&self.tok, self.hf.as_deref(), pretty).map_err(to_py)
    }

    /// `(ranks, pattern in tiktoken syntax, special tokens)` for building a tiktoken encoding.
    fn to_tiktoken_parts(&self) -> PyResult<hf::TiktokenParts> {
        hf::tiktoken_parts(&self.tok).map_err(to_py)
    }

    fn save_tiktoken(&self, py: Python<'_>, path: &str) -> PyResult<()> {
        let (ranks, _, _) = hf::tiktoken_parts(&self.tok).map_err(to_py)?;
        run_engine(py, || tiktoken::write(path, &ranks))
    }

    #[getter]
    fn name(&self) -> String {
        self.tok.name.clone()
    }
    #[getter]
    fn pattern(&self) -> Option<String> {
        match &self.tok.pre_tokenizer {
            PreTokenizer::Regex(re) => Some(re.pattern().to_string()),
            PreTokenizer::Steps(_) => None,
        }
    }
    #[getter]
    fn uses_fast_pretokenizer(&self) -> bool {
        matches!(&self.tok.pre_tokenizer, PreTokenizer::Regex(re) if re.is_fast())
    }
    #[getter]
    fn n_vocab(&self) -> usize {
        self.tok.id_bound()
    }
    #[getter]
    fn n_mergeable(&self) -> usize {
        self.tok.vocab.len()
    }
    /// Added/special tokens: `[(content, id, special)]`.
    #[getter]
    fn added_tokens(&self) -> Vec<(String, u32, bool)> {
        self.tok
            .added_tokens()
            .iter()
            .map(|t| (t.content.clone(), t.id, t.special))
            .collect()
    }
    /// All ordinary tokens as `[(bytes, id)]`.
    fn mergeable_ranks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (bytes, id) in self.tok.vocab.tokens() {
            if self.tok.vocab.is_mergeable(id) {
                d.set_item(PyBytes::new(py, bytes), id)?;
            }
        }
        Ok(d)
    }
    /// The merge list as pairs of token bytes.
    fn merges<'py>(&self, py: Python<'py>) -> Vec<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
        let v = &self.tok.vocab;
        self.tok
            .merge_list()
            .into_iter()
            .map(|(a, b)| {
                (
                    PyBytes::new(py, v.token(a).unwrap_or_default()),
                    PyBytes::new(py, v.token(b).unwrap_or_default()),
                )
            })
            .collect()
    }

    // ------------------------------------------------------------ tiktoken flavour

    fn encode_ordinary<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyList>> {
        let ids = run_engine(py, || self.tok.encode_ordinary(text))?;
        self.id_list(py, &ids)
    }

    /// `allowed`: the special tokens to recognise (`None`: all of them).
    /// `reject_others`: raise `ValueError` on any other special token (tiktoken's default).
    #[pyo3(signature = (text, allowed=None, reject_others=false))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        allowed: Option<Vec<String>>,
        reject_others: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let allowed = self.allowed_fn(allowed);
        let ids = run_engine(py, || {
            self.tok.encode_with_special(text, &allowed, reject_others)
        })?;
        self.id_list(py, &ids)
    }

    #[pyo3(signature = (texts, allowed=None, reject_others=false, num_threads=None))]
    fn encode_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        allowed: Option<Vec<String>>,
        reject_others: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let allowed = self.allowed_fn(allowed);
        self.encode_texts(py, &texts, num_threads, |t| {
            self.tok.encode_with_special(t, &allowed, reject_others)
        })
    }

    #[pyo3(signature = (texts, num_threads=None))]
    fn encode_ordinary_batch<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        num_threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        self.encode_texts(py, &texts, num_threads, |t| self.tok.encode_ordinary(t))
    }

    #[pyo3(signature = (text, allowed=None, reject_others=false))]
    fn encode_to_numpy<'py>(
        &self,
        py: Python<'py>,
        text: &str,
        allowed: Option<Vec<String>>,
        reject_others: bool,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let allowed = self.allowed_fn(allowed);
        let ids = run_engine(py, || {
            self.tok.encode_with_special(text, &allowed, reject_others)
        })?;
        Ok(ids.into_pyarray(py))
    }

    /// Flat `uint32` ids and `int64` offsets (length B + 1): text i is `ids[offsets[i]:offsets[i+1]]`.
    #[pyo3(signature = (texts, allowed=None, reject_others=false, num_threads=None))]
    fn encode_batch_to_numpy<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<PyBackedStr>,
        allowed: Option<Vec<String>>,
        reject_others: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Encoded<'py>> {
        let allowed = self.allowed_fn(allowed);
        let (ids, offsets) = run_engine(py, || {
            pool::try_map_ordered(&texts, num_threads, |t| {
                self.tok.encode_with_special(t, &allowed, reject_others)
            })
            .map(flatten)
        })?;
        Ok((ids.into_pyarray(py), offsets.into_pyarray(py)))
    }

    fn decode_bytes<'py>(&self, py: Python<'py>, ids: Vec<u32>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = run_engine(py, || self.tok.decode_bytes(&ids))?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn decode_batch_bytes<'py>(
        &self,
        py: Python<'py>,
        batch: Vec<Vec<u32>>,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let out = run_engine(py, || {
            pool::try_map_ordered(&batch, num_threads, |ids| self.tok.decode_bytes(ids))
        })?;
        Ok(out.iter().map(|b| PyBytes::new(py, b)).collect())
    }

    /// The bytes of one token, or `None`.
    fn token_bytes<'py>(&self, py: Python<'py>, id: u32) -> Option<Bound<'py, PyBytes>> {
        self.tok.token_bytes(id).map(|b| PyBytes::new(py, b))
    }

    /// The id of a token given by its bytes (ordinary tokens first, then special tokens).
    fn token_id(&self, bytes: &[u8]) -> Option<u32> {
        self.tok.vocab.id_of(bytes).or_else(|| {
            std::str::from_utf8(bytes)
                .ok()
                .and_then(|s| self.tok.added_token(s))
                .map(|t| t.id)
        })
    }

    /// The `ValueError` message for a disallowed special token found in text.
    #[staticmethod]
    fn disallowed_message(token: &str) -> String {
        toksmith_core::encode::disallowed_special(token).message
    }
}
