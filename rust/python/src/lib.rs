//! Python bindings of toksmith: argument conversion, GIL release and error mapping only.
//! Every algorithm lives in `toksmith-core`.

mod bytelm;

use numpy::{IntoPyArray, PyArray1};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyError, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::collections::HashMap;
use std::sync::Arc;
use toksmith_core::count;
use toksmith_core::dynamic::{self, Boundaries};
use toksmith_core::formats::hf::{self, HfEncoding, HfExtras};
use toksmith_core::formats::tiktoken;
use toksmith_core::pretokenize::regex::Regex;
use toksmith_core::train::{self, superbpe};
use toksmith_core::util::pool;
use toksmith_core::{AddedToken, ErrorKind, PreTokenizer, Tokenizer, Vocab};

mod counts;
use counts::CorePieceCounts;
use toksmith_core::count::{PieceCounts, StageSpec};

fn to_py(e: toksmith_core::Error) -> PyErr {
    match e.kind {
        ErrorKind::NotFound => PyFileNotFoundError::new_err(e.message),
        ErrorKind::Io => PyOSError::new_err(e.message),
        ErrorKind::Key => PyKeyError::new_err(e.message),
        ErrorKind::Interrupted => pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted"),
        ErrorKind::Format | ErrorKind::Unsupported | ErrorKind::Value => {
            PyValueError::new_err(e.message)
        }
    }
}

/// The engine object behind `toksmith.Encoding` and `toksmith.Tokenizer`.
#[pyclass(frozen, module = "toksmith._toksmith")]
struct CoreTokenizer {
    tok: Arc<Tokenizer>,
    /// Present for tokenizers that follow `tokenizer.json` semantics.
    hf: Option<Arc<HfExtras>>,
    /// One Python int per token id, made on first use: returning ids as a list then costs a
    /// reference count per token instead of allocating an int (most ids are above 256, beyond
    /// Python's small-int cache), which was about as slow as encoding itself.
    ints: PyOnceLock<Vec<Py<PyAny>>>,
}

impl CoreTokenizer {
    fn new(tok: Tokenizer, hf: Option<HfExtras>) -> Self {
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
        py.detach(|| {
            pool::map_streaming(
                texts,
                num_threads,
                |t| encode(t),
                |i, ids| {
                    if failed.is_some() {
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
                            Err(e) => failed = Some(e),
                        }
                    })
                },
            )
        });
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

fn flatten(batch: Vec<Vec<u32>>) -> (Vec<u32>, Vec<i64>) {
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
    fn hf(&self) -> PyResult<&HfExtras> {
        self.hf
            .as_deref()
            .ok_or_else(|| PyValueError::new_err("this is not a tokenizer.json tokenizer"))
    }

    fn allowed_fn(&self, allowed: Option<Vec<String>>) -> impl Fn(u32) -> bool + Sync {
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
        py.detach(|| {
            let ranks = tiktoken::read(path, expected_sha256)?;
            let vocab = Vocab::from_ranks(ranks)
                .map_err(|e| toksmith_core::Error::new(e.kind, format!("{path}: {}", e.message)))?;
            tiktoken_style(vocab, pattern, special_tokens, name)
        })
        .map_err(to_py)
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
        py.detach(|| tiktoken_style(Vocab::from_ranks(ranks)?, pattern, special_tokens, name))
            .map_err(to_py)
    }

    /// A tokenizer from the text of a `tokenizer.json`.
    #[staticmethod]
    #[pyo3(signature = (json, name=""))]
    fn from_hf_str(py: Python<'_>, json: &str, name: &str) -> PyResult<Self> {
        py.detach(|| hf::from_json(json, name))
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
        py.detach(|| tiktoken::write(path, &ranks)).map_err(to_py)
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
        v.merges()
            .iter()
            .map(|&(a, b)| {
                (
                    PyBytes::new(py, v.token(a).unwrap_or_default()),
                    PyBytes::new(py, v.token(b).unwrap_or_default()),
                )
            })
            .collect()
    }

    // ------------------------------------------------------------ tiktoken flavour

    fn encode_ordinary<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyList>> {
        let ids = py
            .detach(|| self.tok.encode_ordinary(text))
            .map_err(to_py)?;
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
        let ids = py
            .detach(|| self.tok.encode_with_special(text, &allowed, reject_others))
            .map_err(to_py)?;
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
        let ids = py
            .detach(|| self.tok.encode_with_special(text, &allowed, reject_others))
            .map_err(to_py)?;
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
        let (ids, offsets) = py
            .detach(|| {
                pool::try_map_ordered(&texts, num_threads, |t| {
                    self.tok.encode_with_special(t, &allowed, reject_others)
                })
                .map(flatten)
            })
            .map_err(to_py)?;
        Ok((ids.into_pyarray(py), offsets.into_pyarray(py)))
    }

    fn decode_bytes<'py>(&self, py: Python<'py>, ids: Vec<u32>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = py.detach(|| self.tok.decode_bytes(&ids)).map_err(to_py)?;
        Ok(PyBytes::new(py, &bytes))
    }

    fn decode_batch_bytes<'py>(
        &self,
        py: Python<'py>,
        batch: Vec<Vec<u32>>,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let out = py
            .detach(|| pool::try_map_ordered(&batch, num_threads, |ids| self.tok.decode_bytes(ids)))
            .map_err(to_py)?;
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

    // ------------------------------------------------------------ dynamic merging

    /// `(ids, pre-token index per token, special flag per token)` of a text (all specials recognised).
    fn encode_with_pieces(
        &self,
        py: Python<'_>,
        text: &str,
    ) -> PyResult<(Vec<u32>, Vec<u32>, Vec<bool>)> {
        let tokens = py
            .detach(|| self.tok.encode_with_pieces(text))
            .map_err(to_py)?;
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
                return Err(PyValueError::new_err(format!(
                    "boundaries must be \"pretokens\" or \"words\", not {other:?}"
                )))
            }
        };
        let tok = &self.tok;
        let (inputs, result) = py
            .detach(|| {
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
                let result = dynamic::merge_batch(&|t| tok.token_bytes(t), &seqs, stop, &|| false)?;
                Ok((
                    seqs.into_iter().map(|s| s.tokens).collect::<Vec<_>>(),
                    result,
                ))
            })
            .map_err(to_py)?;
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

    // ------------------------------------------------------------ Hugging Face flavour

    /// `(ids, tokens, offsets, type_ids, special_tokens_mask)` of one input (or pair).
    #[pyo3(signature = (text, pair=None, add_special_tokens=true))]
    fn hf_encode(
        &self,
        py: Python<'_>,
        text: &str,
        pair: Option<&str>,
        add_special_tokens: bool,
    ) -> PyResult<HfTuple> {
        let hf = self.hf()?;
        py.detach(|| hf.encode(&self.tok, text, pair, add_special_tokens))
            .map(into_tuple)
            .map_err(to_py)
    }

    #[pyo3(signature = (texts, add_special_tokens=true, num_threads=None))]
    fn hf_encode_batch(
        &self,
        py: Python<'_>,
        texts: Vec<String>,
        add_special_tokens: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<HfTuple>> {
        let hf = self.hf()?;
        py.detach(|| {
            pool::try_map_ordered(&texts, num_threads, |t| {
                hf.encode(&self.tok, t, None, add_special_tokens)
                    .map(into_tuple)
            })
        })
        .map_err(to_py)
    }

    #[pyo3(signature = (ids, skip_special_tokens=true))]
    fn hf_decode(
        &self,
        py: Python<'_>,
        ids: Vec<u32>,
        skip_special_tokens: bool,
    ) -> PyResult<String> {
        let hf = self.hf()?;
        Ok(py.detach(|| hf.decode(&self.tok, &ids, skip_special_tokens)))
    }

    #[pyo3(signature = (batch, skip_special_tokens=true, num_threads=None))]
    fn hf_decode_batch(
        &self,
        py: Python<'_>,
        batch: Vec<Vec<u32>>,
        skip_special_tokens: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<String>> {
        let hf = self.hf()?;
        Ok(py.detach(|| {
            pool::map_ordered(&batch, num_threads, |ids| {
                hf.decode(&self.tok, ids, skip_special_tokens)
            })
        }))
    }

    fn token_to_id(&self, token: &str) -> PyResult<Option<u32>> {
        Ok(self.hf()?.token_to_id(&self.tok, token))
    }

    #[pyo3(signature = (with_added_tokens=true))]
    fn get_vocab_size(&self, with_added_tokens: bool) -> PyResult<usize> {
        Ok(self.hf()?.vocab_size(&self.tok, with_added_tokens))
    }

    fn id_to_token(&self, id: u32) -> PyResult<Option<String>> {
        Ok(self.hf()?.token_string(&self.tok, id))
    }

    /// `{token string: id}` of the vocabulary (and the added tokens if asked).
    #[pyo3(signature = (with_added_tokens=true))]
    fn get_vocab(&self, with_added_tokens: bool) -> PyResult<HashMap<String, u32>> {
        let hf = self.hf()?;
        let mut out: HashMap<String, u32> = hf
            .token_strings
            .iter()
            .enumerate()
            .filter_map(|(id, s)| s.clone().map(|s| (s, id as u32)))
            .collect();
        if with_added_tokens {
            out.extend(
                self.tok
                    .added_tokens()
                    .iter()
                    .map(|t| (t.content.clone(), t.id)),
            );
        }
        Ok(out)
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
struct CoreDynamic {
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
        let seqs = py.detach(|| self.result.replay(&budgets)).map_err(to_py)?;
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

/// One way of cutting training text into pieces, with the `pre_tokenizer` document that the
/// trained tokenizer gets, and the pieces counted so far.
struct Stage {
    spec: StageSpec,
    splitter: count::Splitter,
    pre_tokenizer: toksmith_core::JsonValue,
    counts: count::PieceTable,
}

impl Stage {
    /// `("regex", pattern)`: a `Split` regex in tiktoken syntax; `("pre_tokenizer", json)`: a
    /// `tokenizer.json` pre-tokenizer.
    fn new(kind: &str, spec: &str) -> PyResult<Stage> {
        let (splitter, pre_tokenizer) = match kind {
            "regex" => count::Splitter::regex(spec),
            "pre_tokenizer" => count::Splitter::pre_tokenizer(spec),
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown stage kind {other:?}"
                )))
            }
        }
        .map_err(to_py)?;
        Ok(Stage {
            spec: StageSpec {
                kind: kind.to_string(),
                spec: spec.to_string(),
            },
            splitter,
            pre_tokenizer,
            counts: Default::default(),
        })
    }
}

/// Piece counting and (Super)BPE training. Counting can be fed files and batches of text units,
/// cut by one splitter (BPE) or two (SuperBPE stage 1 and stage 2) in the same pass; `train` and
/// `train_superbpe` run the merge loops. Long calls release the GIL, show progress and stop on
/// Ctrl-C.
#[pyclass(module = "toksmith._toksmith")]
struct CoreTrainer {
    stages: Vec<Stage>,
    /// Count iterator items line by line (SuperBPE: no token continues past a newline).
    by_line: bool,
    progress: bool,
}

/// Gives memory freed by the worker threads back to the system (glibc keeps it per thread
/// arena otherwise), so building the trained tokenizer does not stack on top of it.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

fn interrupted() -> bool {
    Python::attach(|py| py.check_signals().is_err())
}

fn bar(show: bool, total: u64, message: &'static str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let style = indicatif::ProgressStyle::with_template(
        "{msg:<16} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} (ETA {eta})",
    )
    .expect("valid template");
    indicatif::ProgressBar::new(total)
        .with_style(style)
        .with_message(message)
}

#[pymethods]
impl CoreTrainer {
    #[new]
    /// `samples[i]`: the fraction of units (lines) that stage `i` counts (default: all).
    #[pyo3(signature = (stages, by_line=false, progress=true, samples=None))]
    fn new(
        stages: Vec<(String, String)>,
        by_line: bool,
        progress: bool,
        samples: Option<Vec<f64>>,
    ) -> PyResult<Self> {
        if stages.is_empty() {
            return Err(PyValueError::new_err(
                "at least one pre-tokenizer stage is needed",
            ));
        }
        let samples = samples.unwrap_or_else(|| vec![1.0; stages.len()]);
        if samples.len() != stages.len() || samples.iter().any(|&r| !(r > 0.0 && r <= 1.0)) {
            return Err(PyValueError::new_err(
                "samples: one fraction in (0, 1] per stage",
            ));
        }
        let stages = stages
            .iter()
            .zip(samples)
            .map(|((k, s), rate)| {
                let mut stage = Stage::new(k, s)?;
                stage.splitter = stage.splitter.sampled(rate);
                Ok(stage)
            })
            .collect::<PyResult<_>>()?;
        Ok(CoreTrainer {
            stages,
            by_line,
            progress,
        })
    }

    /// Counts the lines of these files (streamed, in parallel).
    #[pyo3(signature = (paths, num_threads=None))]
    fn add_files(
        &mut self,
        py: Python<'_>,
        paths: Vec<String>,
        num_threads: Option<usize>,
    ) -> PyResult<()> {
        let total: u64 = paths
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum();
        let bar = bar(self.progress, total, "counting pieces");
        bar.set_style(bar.style().template("{msg:<16} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} (ETA {eta})").expect("valid template"));
        let splitters: Vec<&count::Splitter> = self.stages.iter().map(|s| &s.splitter).collect();
        let counts = py.detach(|| {
            count::count_files(&splitters, &paths, num_threads, &mut |done| {
                bar.set_position(done);
                !interrupted()
            })
        });
        bar.finish_and_clear();
        self.absorb(counts.map_err(to_py)?);
        release_free_memory();
        Ok(())
    }

    /// Counts the lines of `path` that start in the byte range `[start, end)` (a shard).
    #[pyo3(signature = (path, start, end, num_threads=None))]
    fn add_file_range(
        &mut self,
        py: Python<'_>,
        path: String,
        start: u64,
        end: u64,
        num_threads: Option<usize>,
    ) -> PyResult<()> {
        let splitters: Vec<&count::Splitter> = self.stages.iter().map(|s| &s.splitter).collect();
        let counts = py.detach(|| {
            toksmith_core::count::count_file_range(
                &splitters,
                &path,
                start,
                end,
                num_threads,
                &mut |_| !interrupted(),
            )
        });
        self.absorb(counts.map_err(to_py)?);
        Ok(())
    }

    /// Counts a block of file text (whole lines) read elsewhere; `name` is for error messages.
    #[pyo3(signature = (name, block, num_threads=None))]
    fn add_block(
        &mut self,
        py: Python<'_>,
        name: &str,
        block: &[u8],
        num_threads: Option<usize>,
    ) -> PyResult<()> {
        let splitters: Vec<&count::Splitter> = self.stages.iter().map(|s| &s.splitter).collect();
        let counts = py
            .detach(|| toksmith_core::count::count_block(&splitters, name, block, num_threads))
            .map_err(to_py)?;
        self.absorb(counts);
        Ok(())
    }

    /// Hands the counts over as a count table labelled `kind` (the trainer is left empty).
    fn take_table(&mut self, kind: &str) -> CorePieceCounts {
        let stages = self.stages.iter().map(|s| s.spec.clone()).collect();
        let tables = self
            .stages
            .iter_mut()
            .map(|s| std::mem::take(&mut s.counts))
            .collect();
        CorePieceCounts {
            table: PieceCounts::new(kind, stages, tables),
        }
    }

    /// Adds a count table made with the same stages (checked) to the counts: a copy, or with
    /// `consume` the table's own counts (it is left empty; for tables nobody else holds).
    #[pyo3(signature = (table, consume=false))]
    fn add_table(
        &mut self,
        py: Python<'_>,
        mut table: PyRefMut<'_, CorePieceCounts>,
        consume: bool,
    ) -> PyResult<()> {
        let t = &mut table.table;
        let mine = PieceCounts::new(
            &t.kind,
            self.stages.iter().map(|s| s.spec.clone()).collect(),
            vec![Default::default(); self.stages.len()],
        );
        mine.check_compatible(t).map_err(to_py)?;
        let counts = if consume {
            t.tables.iter_mut().map(std::mem::take).collect()
        } else {
            py.detach(|| t.tables.clone())
        };
        self.absorb(counts);
        Ok(())
    }

    /// Counts a batch of text units (each pre-tokenized on its own, or line by line).
    #[pyo3(signature = (units, num_threads=None))]
    fn add_units(
        &mut self,
        py: Python<'_>,
        units: Vec<String>,
        num_threads: Option<usize>,
    ) -> PyResult<()> {
        let splitters: Vec<&count::Splitter> = self.stages.iter().map(|s| &s.splitter).collect();
        let by_line = self.by_line;
        let counts = py
            .detach(|| count::count_texts(&splitters, &units, by_line, num_threads))
            .map_err(to_py)?;
        self.absorb(counts);
        Ok(())
    }

    /// Learns BPE merges on the first stage's counts (consuming them: a trainer trains once);
    /// returns the `tokenizer.json` text of the trained tokenizer.
    #[pyo3(signature = (vocab_size, special_tokens, min_frequency=1))]
    fn train(
        &mut self,
        py: Python<'_>,
        vocab_size: usize,
        special_tokens: Vec<String>,
        min_frequency: u64,
    ) -> PyResult<String> {
        let counts = self.take_counts(0)?;
        let bar = bar(
            self.progress,
            vocab_size.saturating_sub(256 + special_tokens.len()) as u64,
            "merging",
        );
        let n_special = special_tokens.len();
        let trained = py.detach(|| {
            train::train(counts, vocab_size, n_special, min_frequency, &mut |done| {
                bar.set_position(done as u64);
                !interrupted()
            })
        });
        bar.finish_and_clear();
        let trained = trained.map_err(to_py)?;
        let pre_tokenizer = self.stages[0].pre_tokenizer.clone();
        let doc = train::document(&trained.merges, pre_tokenizer, &special_tokens).to_string();
        release_free_memory();
        Ok(doc)
    }

    /// SuperBPE: stage 1 on the first stage's counts up to `transition` (or `base`'s merge
    /// list), stage 2 on the last stage's chunks. Returns `(tokenizer.json text, number of
    /// stage-1 merges, ranks of stage-1 merges unused in stage 2)`.
    #[pyo3(signature = (vocab_size, transition, special_tokens, min_frequency=1, max_words=Some(4), reject_colon_space=true, base=None, num_threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn train_superbpe(
        &mut self,
        py: Python<'_>,
        vocab_size: usize,
        transition: usize,
        special_tokens: Vec<String>,
        min_frequency: u64,
        max_words: Option<usize>,
        reject_colon_space: bool,
        base: Option<PyRef<'_, CoreTokenizer>>,
        num_threads: Option<usize>,
    ) -> PyResult<(String, usize, Vec<usize>)> {
        let chunks = self.take_counts(self.stages.len() - 1)?;
        let mut base = base.map(|b| superbpe::base_of(&b.tok, b.hf.as_deref()));
        let (stage1, extra) = match &mut base {
            // The merge list goes to the trainer; the document needs only the vocabulary.
            Some(b) => (
                superbpe::Stage1::Merges(std::mem::take(&mut b.merges)),
                b.extra,
            ),
            None => {
                if self.stages.len() < 2 {
                    return Err(PyValueError::new_err(
                        "SuperBPE needs a stage-1 and a stage-2 pre-tokenizer, or a base tokenizer",
                    ));
                }
                let counts = self.take_counts(0)?;
                (superbpe::Stage1::Counts { counts, transition }, 0)
            }
        };
        let n_special = match &base {
            Some(b) => b.new_specials(&special_tokens),
            None => special_tokens.len(),
        };
        let filters = superbpe::Filters {
            max_words,
            reject_colon_space,
        };
        let show = self.progress;
        let bars = [
            bar(
                show,
                transition.saturating_sub(256 + n_special) as u64,
                "stage 1 merging",
            ),
            bar(show, chunks.len() as u64, "replaying chunks"),
            bar(
                show,
                vocab_size.saturating_sub(transition) as u64,
                "stage 2 merging",
            ),
        ];
        if base.is_some() {
            bars[0].finish_and_clear();
        }
        let trained = py.detach(|| {
            superbpe::train_superbpe(
                stage1,
                chunks,
                vocab_size,
                n_special,
                extra,
                min_frequency,
                filters,
                num_threads,
                &mut |phase, done| {
                    let i = phase as usize;
                    for b in &bars[..i] {
                        if !b.is_finished() {
                            b.finish_and_clear();
                        }
                    }
                    bars[i].set_position(done as u64);
                    !interrupted()
                },
            )
        });
        for b in &bars {
            b.finish_and_clear();
        }
        let trained = trained.map_err(to_py)?;
        let pre_tokenizer = self.stages[self.stages.len() - 1].pre_tokenizer.clone();
        let doc = match base {
            Some(b) => train::document_extending(
                b.vocab,
                b.added,
                &trained.merges,
                pre_tokenizer,
                &special_tokens,
            ),
            None => train::document(&trained.merges, pre_tokenizer, &special_tokens),
        };
        release_free_memory();
        Ok((doc.to_string(), trained.stage1_len, trained.unused_stage1))
    }

    /// `(distinct pieces, total pieces)` counted so far, per stage.
    fn stats(&self) -> Vec<(usize, u64)> {
        self.stages
            .iter()
            .map(|s| (s.counts.len(), s.counts.total()))
            .collect()
    }
}

impl CoreTrainer {
    fn absorb(&mut self, counts: Vec<count::PieceTable>) {
        for (stage, c) in self.stages.iter_mut().zip(counts) {
            stage.counts.merge(c);
        }
    }

    fn take_counts(&mut self, stage: usize) -> PyResult<count::PieceTable> {
        let counts = std::mem::take(&mut self.stages[stage].counts);
        if counts.is_empty() {
            return Err(PyValueError::new_err(
                "empty corpus: no text to learn from (or this trainer already trained)",
            ));
        }
        Ok(counts)
    }
}

type HfTuple = (
    Vec<u32>,
    Vec<String>,
    Vec<(usize, usize)>,
    Vec<u32>,
    Vec<u32>,
);

fn into_tuple(e: HfEncoding) -> HfTuple {
    (
        e.ids,
        e.tokens,
        e.offsets,
        e.type_ids,
        e.special_tokens_mask,
    )
}

#[pymodule]
fn _toksmith(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CoreTokenizer>()?;
    m.add_class::<CoreDynamic>()?;
    m.add_class::<CoreTrainer>()?;
    m.add_class::<bytelm::CoreByteModel>()?;
    m.add_class::<bytelm::CoreByteState>()?;
    m.add_class::<CorePieceCounts>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
