//! Exact byte-level probabilities from a token-level language model.
//!
//! Semantics (Phan et al. 2024, "Byte-Token Representation"; Hayase et al. 2025): the LM gives
//! a distribution over token sequences; a byte prefix `x` has probability
//! `P(x) = sum over covers t of x of P(t)`. A *cover* is a valid token sequence whose tokens
//! before the last decode to `x[..i]` and whose last token starts with `x[i..]` and runs to or
//! past the end of `x`. *Valid* means: a prefix of the canonical encoding of some string.
//! Real LMs also put mass on invalid sequences; that mass is ignored, and the next-byte
//! distribution is renormalised at every byte (`P(b | x) = P(xb) / (sum_b' P(xb') + P(x, EOS))`).
//! End of text can only follow the canonical encoding of `x` itself.
//!
//! Where things live (the cover search is in `covers` and `groups`, the per-stream work in
//! `state`):
//! * this file: [`ByteModel`], what a byte-level model needs from a tokenizer (tokens in byte
//!   order, probes, the caches the searches fill), and `narrow`, which walks that byte order.
//! * `covers`: the covers after a text, by trying every token with every probe continuation
//!   (`covers_exhaustive`, the definition), how validity is decided for one token
//!   (`discover`, with the vocabulary's pairwise merge check, `crate::vocab`'s `validity`), and
//!   the cover cache (`covers_after`).
//! * `groups`: the same covers for class-based pre-tokenizers, one lexing per group of tokens
//!   the pattern cannot tell apart (`covers_by_groups`, `lexer_key`).
//! * `state`: [`ByteState`], the incremental state of one byte stream (token paths, their LM
//!   rows, next-byte distributions).
//! * `simd`: the vectorised passes over an LM row (`row_max`, `scale_row`, `exp_nonpositive`).
//! * `tests`: the grouped search against the exhaustive one, the row passes against plain loops.

use crate::encode::{PreTokenizer, Step, Tokenizer};
use crate::{Error, Result};
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex, OnceLock};

mod covers;
mod groups;
mod simd;
mod state;

use covers::CoverCache;
pub use state::ByteState;

/// Index of the end-of-text entry in a next-byte distribution.
pub const EOS_BIN: usize = 256;

/// What a byte-level model needs from a tokenizer: token bytes in byte order, and probes.
pub struct ByteModel {
    tok: Arc<Tokenizer>,
    /// Ordinary token ids sorted by their bytes: the tokens starting with any byte string form
    /// one contiguous range (a node of the vocabulary's byte trie).
    sorted: Vec<u32>,
    lmax: usize,
    /// Probe characters, and every string of at most `depth` of them (the empty one first).
    probes: Vec<Vec<u8>>,
    probe_strings: Vec<Vec<u8>>,
    n_ids: usize,
    /// First byte and length of every token by id (0 and 0 where there is none): reading an
    /// LM row visits every candidate token, and these flat tables keep that walk in cache.
    first_byte: Vec<u8>,
    token_len: Vec<u32>,
    eos: Option<u32>,
    /// The covers found after each text (from a piece boundary), shared by all states: the
    /// same text recurs when several ensembles or passes read the same bytes.
    covers: Mutex<CoverCache>,
    /// Whether the pre-tokenizer sees characters only through their `lexer::Classes` bits and a
    /// few literals (see `lexer_key`), so that tokens can be tried a group at a time.
    class_based: bool,
    /// Positions in `sorted` of the tokens that the pre-tokenizer cannot tell apart, one list
    /// per `lexer_key`, for 0, 1 or 2 leading characters kept as they are (built on first use).
    lex_groups: [OnceLock<Vec<Vec<u32>>>; 3],
}

impl ByteModel {
    pub fn new(
        tok: Arc<Tokenizer>,
        eos: Option<u32>,
        probes: Vec<String>,
        depth: usize,
    ) -> Result<ByteModel> {
        if tok.normalizer().is_some() {
            // Tokens would spell the normalized text, not the bytes the probabilities are over.
            return Err(Error::value(
                "byte-level probabilities do not support a tokenizer.json normalizer",
            ));
        }
        if let PreTokenizer::Steps(steps) = &tok.pre_tokenizer {
            // Encoding from a piece boundary inside the text must equal encoding the whole text.
            if steps.iter().any(|s| {
                matches!(
                    s,
                    Step::ByteLevel {
                        add_prefix_space: true,
                        ..
                    }
                )
            }) {
                return Err(Error::value(
                    "byte-level probabilities do not support ByteLevel add_prefix_space=true",
                ));
            }
        }
        let n_ids = tok.id_bound();
        if let Some(e) = eos {
            if e as usize >= n_ids || tok.token_bytes(e).is_none() {
                return Err(Error::key(format!("unknown eos token id {e}")));
            }
        }
        let mut sorted: Vec<u32> = tok
            .vocab
            .tokens()
            .filter(|&(b, id)| {
                !b.is_empty() && tok.vocab.is_mergeable(id) && tok.added_by_id(id).is_none()
            })
            .map(|(_, id)| id)
            .collect();
        sorted.sort_by(|&a, &b| tok.vocab.token(a).cmp(&tok.vocab.token(b)));
        let lmax = sorted
            .iter()
            .map(|&id| tok.vocab.token(id).map_or(0, <[u8]>::len))
            .max()
            .unwrap_or(0);
        for p in &probes {
            if p.chars().count() != 1 {
                return Err(Error::value(format!(
                    "each probe must be one character, got {p:?}"
                )));
            }
        }
        let probes: Vec<Vec<u8>> = probes.into_iter().map(String::into_bytes).collect();
        let mut probe_strings = vec![Vec::new()];
        let mut level = vec![Vec::new()];
        for _ in 0..depth {
            level = level
                .iter()
                .flat_map(|s: &Vec<u8>| probes.iter().map(move |p| [s.as_slice(), p].concat()))
                .collect();
            probe_strings.extend(level.iter().cloned());
        }
        let class_based =
            matches!(&tok.pre_tokenizer, PreTokenizer::Regex(re) if re.is_class_based());
        let token_of = |id: usize| tok.vocab.token(id as u32).unwrap_or(&[]);
        let first_byte = (0..n_ids)
            .map(|id| token_of(id).first().map_or(0, |&b| b))
            .collect();
        let token_len = (0..n_ids).map(|id| token_of(id).len() as u32).collect();
        Ok(ByteModel {
            first_byte,
            token_len,
            tok,
            sorted,
            lmax,
            probes,
            probe_strings,
            n_ids,
            eos,
            covers: Mutex::new((0, FxHashMap::default())),
            class_based,
            lex_groups: Default::default(),
        })
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tok
    }
    /// Length of the longest token (in bytes).
    pub fn max_token_len(&self) -> usize {
        self.lmax
    }
    /// Size of an LM distribution: one past the largest token id.
    pub fn n_ids(&self) -> usize {
        self.n_ids
    }

    fn bytes(&self, id: u32) -> &[u8] {
        self.tok.vocab.token(id).unwrap_or(&[])
    }

    /// `[lo, hi)` narrowed to the tokens whose byte at `depth` is `b` (all tokens in the range
    /// share their first `depth` bytes).
    fn narrow(&self, toks: &[u32], lo: usize, hi: usize, depth: usize, b: u8) -> (usize, usize) {
        let slice = &toks[lo..hi];
        let key = |id: u32| {
            let t = self.bytes(id);
            if t.len() <= depth {
                -1i32
            } else {
                t[depth] as i32
            }
        };
        let a = slice.partition_point(|&id| key(id) < b as i32);
        let z = slice.partition_point(|&id| key(id) <= b as i32);
        (lo + a, lo + z)
    }
}

#[cfg(test)]
mod tests;
