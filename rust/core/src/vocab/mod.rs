//! The BPE model: token bytes by id, and the pair table that drives merging.
//!
//! Two merge rules exist, one per file format, and both reduce to one table
//! `(left id, right id) -> (rank, merged id)`; merging always applies the pair of lowest rank,
//! leftmost first, until none applies:
//! * tiktoken (`from_ranks`): any two adjacent parts whose concatenation is a token merge,
//!   with the token's rank as priority. The table therefore holds every split of every token.
//! * Hugging Face (`from_merges`): only the listed merges apply, with their list index as rank.
//!
//! Where things live:
//! * this file: [`Vocab`] (token bytes, the pair table, the merge list), its constructors
//!   (`from_ranks`, `from_merges`, `from_id_merges`) and accessors, and the packed keys
//!   (`short_key`, `pack`).
//! * `merge`: the merge itself, applied to one piece: a linear scan for short pieces, a heap
//!   for long ones, long pieces cut where no token joins two bytes (`merge_segments`); and
//!   the canonical merge of each tiktoken token.
//! * `cache`: [`PieceEncoder`], which encodes pieces through this thread's direct-mapped
//!   piece caches (`Vocab::with_encoder`, `Vocab::encode_piece`).
//! * `validity`: the pairwise merge check that byte-level probabilities use
//!   (`Vocab::is_valid_pair`, [`LeftPairs`], `Vocab::is_reached`), and its tables.
//! * `tests`: merging, the caches' keys and the pair checks against plain definitions.

use crate::{Error, Result};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

mod cache;
mod merge;
mod validity;

pub use cache::PieceEncoder;
pub use validity::LeftPairs;
use validity::{BuildTable, PairsByLeft};

pub const NO_TOKEN: u32 = u32::MAX;
/// Ids are below this (tables indexed by id stay addressable, and `u32::MAX` stays free).
pub const MAX_ID: u32 = 1 << 31;
/// Ids a vocabulary may leave unused beyond its number of tokens (gaps, as before special
/// tokens): tables are indexed by id, so a sparse id space would cost memory for nothing.
const SPARE_IDS: usize = 1 << 20;

/// Checks that ids `0..bound` can be held in tables indexed by id for `tokens` tokens: every id
/// below [`MAX_ID`], and at most [`SPARE_IDS`] more ids than twice the tokens.
pub fn check_id_space(bound: usize, tokens: usize) -> Result<()> {
    if bound > MAX_ID as usize {
        return Err(Error::format(format!(
            "token id {} is too large: ids must be below 2^31",
            bound - 1
        )));
    }
    if bound > 2 * tokens + SPARE_IDS {
        return Err(Error::format(format!(
            "token ids are too sparse: the largest is {} for {tokens} tokens (toksmith keeps tables \
             indexed by id; renumber the ids so that at most {SPARE_IDS} go unused)",
            bound - 1
        )));
    }
    Ok(())
}
const NO_PAIR: u64 = u64::MAX;

/// A symbol during merging: a token covering `piece[start..end]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sym {
    pub id: u32,
    pub start: u32,
    pub end: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeRule {
    /// tiktoken: ranks are ids, every split of a token may merge.
    Ranks,
    /// Hugging Face: an ordered merge list.
    MergeList,
}

#[derive(Clone)]
pub struct Vocab {
    /// Bytes of token `id` are `bytes[offsets[id]..offsets[id + 1]]`.
    bytes: Vec<u8>,
    offsets: Vec<u32>,
    present: Vec<bool>,
    /// Ordinary (mergeable) tokens by bytes; those of up to 7 bytes also by `short_key`, which
    /// is much cheaper to hash (most pieces are short).
    ids: FxHashMap<Box<[u8]>, u32>,
    short_ids: FxHashMap<u64, u32>,
    byte_ids: [u32; 256],
    /// `(left << 32 | right) -> (rank << 32 | merged id)`.
    pairs: FxHashMap<u64, u64>,
    /// The merge list in rank order (for tiktoken vocabularies: one canonical merge per token).
    merges: Vec<(u32, u32)>,
    pub rule: MergeRule,
    /// Look a whole piece up before merging (tiktoken always; HF `ignore_merges`).
    pub whole_piece_first: bool,
    /// HF `unk_token`: stands for a byte that has no token (else the byte is dropped, as HF does).
    pub unk: Option<u32>,
    /// Identifies this vocabulary in the per-thread piece cache.
    uid: u64,
    /// Bit `a << 8 | b` is set when some token holds byte `a` followed by byte `b` (built on the
    /// first long piece): elsewhere no merge can ever join, so long pieces merge in segments.
    joined: std::sync::OnceLock<Box<[u64; 1024]>>,
    /// How merging builds each token from its own bytes (built on the first pair check;
    /// `None` for vocabularies that drop bytes or map them to `unk`).
    builds: std::sync::OnceLock<Option<BuildTable>>,
    /// The pair table by left token (built on the first `left_pairs`).
    pairs_by_left: std::sync::OnceLock<PairsByLeft>,
}

fn next_uid() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Longest piece with a `short_key`.
const SHORT_BYTES: usize = 7;

/// Up to 7 bytes and their length packed into one integer.
#[inline]
fn short_key(bytes: &[u8]) -> Option<u64> {
    if bytes.len() > SHORT_BYTES {
        return None;
    }
    Some(load(bytes) | (bytes.len() as u64) << 56)
}

/// Up to 8 bytes as a little-endian integer, zero above them, without a variable-length copy
/// (a call to `memcpy` per piece): two overlapping loads cover 4 to 8 bytes.
#[inline(always)]
fn load(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    if n >= 4 {
        let lo = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as u64;
        let hi = u32::from_le_bytes(bytes[n - 4..].try_into().unwrap()) as u64;
        lo | hi << (8 * (n - 4))
    } else if n > 0 {
        bytes[0] as u64
            | (bytes[n / 2] as u64) << (8 * (n / 2))
            | (bytes[n - 1] as u64) << (8 * (n - 1))
    } else {
        0
    }
}

#[inline]
fn pack(a: u32, b: u32) -> u64 {
    (a as u64) << 32 | b as u64
}

impl Vocab {
    /// A tiktoken vocabulary: `(bytes, rank)` pairs; the rank is the id.
    pub fn from_ranks(tokens: Vec<(Vec<u8>, u32)>) -> Result<Vocab> {
        let mut ids = FxHashMap::default();
        ids.reserve(tokens.len());
        for (bytes, rank) in &tokens {
            if *rank == NO_TOKEN {
                return Err(Error::format(format!("rank {rank} is too large")));
            }
            if let Some(old) = ids.insert(bytes.clone().into_boxed_slice(), *rank) {
                return Err(Error::format(format!(
                    "token {:?} appears twice (ranks {old} and {rank})",
                    String::from_utf8_lossy(bytes)
                )));
            }
        }
        let mut vocab = Vocab::with_tokens(tokens.iter().map(|(b, r)| (b.as_slice(), *r)), ids)?;
        if let Some(b) = (0..256).find(|&b| vocab.byte_ids[b] == NO_TOKEN) {
            return Err(Error::format(format!(
                "the vocabulary has no token for the single byte 0x{b:02x}; byte-level BPE needs all 256"
            )));
        }
        // Every split of a token into two tokens is a pair that may merge, with the token's rank.
        let pairs: Vec<(u64, u64)> = crate::util::pool::pool(None).install(|| {
            tokens
                .par_iter()
                .flat_map_iter(|(bytes, rank)| {
                    let ids = &vocab.ids;
                    (1..bytes.len()).filter_map(move |i| {
                        let left = ids.get(&bytes[..i])?;
                        let right = ids.get(&bytes[i..])?;
                        Some((pack(*left, *right), pack(*rank, *rank)))
                    })
                })
                .collect()
        });
        vocab.pairs.reserve(pairs.len());
        vocab.pairs.extend(pairs);
        vocab.rule = MergeRule::Ranks;
        vocab.whole_piece_first = true;
        vocab.merges = vocab.canonical_merges();
        Ok(vocab)
    }

    /// A Hugging Face BPE model: `(string bytes, id)` tokens (`None` bytes for strings outside the
    /// byte-level alphabet: decodable, never produced by merging) and a merge list of token pairs.
    pub fn from_merges(
        tokens: Vec<(Vec<u8>, bool, u32)>,
        merges: &[(Vec<u8>, Vec<u8>)],
        ignore_merges: bool,
        unk: Option<u32>,
    ) -> Result<Vocab> {
        let mut ids = FxHashMap::default();
        for (bytes, byte_level, id) in &tokens {
            if *byte_level {
                ids.insert(bytes.clone().into_boxed_slice(), *id);
            }
        }
        let mut vocab =
            Vocab::with_tokens(tokens.iter().map(|(b, _, id)| (b.as_slice(), *id)), ids)?;
        let mut merge_list = Vec::with_capacity(merges.len());
        for (rank, (a, b)) in merges.iter().enumerate() {
            let find = |t: &[u8]| {
                vocab.ids.get(t).copied().ok_or_else(|| {
                    Error::format(format!(
                        "model.merges[{rank}]: token {:?} is not in the vocabulary",
                        crate::pretokenize::bytelevel::encode(t)
                    ))
                })
            };
            let (left, right) = (find(a)?, find(b)?);
            let merged = find(&[a.as_slice(), b.as_slice()].concat())?;
            // A repeated merge keeps its last rank, as Hugging Face's map insertion does.
            vocab
                .pairs
                .insert(pack(left, right), pack(rank as u32, merged));
            merge_list.push((left, right));
        }
        vocab.merges = merge_list;
        vocab.rule = MergeRule::MergeList;
        vocab.whole_piece_first = ignore_merges;
        vocab.unk = unk;
        Ok(vocab)
    }

    /// A vocabulary from a trainer's own form: `token_bytes[i]` is token `i` (all byte-level),
    /// and `merges` are id pairs in rank order (no byte strings to copy or look up, which is
    /// what `from_merges` spends its time on for a fresh vocabulary).
    pub fn from_id_merges(token_bytes: &[Vec<u8>], merges: &[(u32, u32)]) -> Result<Vocab> {
        let ids = token_bytes
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone().into_boxed_slice(), i as u32))
            .collect();
        let tokens = token_bytes
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_slice(), i as u32));
        let mut vocab = Vocab::with_tokens(tokens, ids)?;
        let mut joined = Vec::new();
        for (rank, &(left, right)) in merges.iter().enumerate() {
            let part = |id: u32| {
                token_bytes
                    .get(id as usize)
                    .ok_or_else(|| Error::value(format!("merge {rank}: no token with id {id}")))
            };
            joined.clear();
            joined.extend_from_slice(part(left)?);
            joined.extend_from_slice(part(right)?);
            let merged = vocab.ids.get(joined.as_slice()).copied().ok_or_else(|| {
                Error::value(format!(
                    "merge {rank}: token {:?} is not in the vocabulary",
                    crate::pretokenize::bytelevel::encode(&joined)
                ))
            })?;
            vocab
                .pairs
                .insert(pack(left, right), pack(rank as u32, merged));
        }
        vocab.merges = merges.to_vec();
        vocab.rule = MergeRule::MergeList;
        Ok(vocab)
    }

    fn with_tokens<'a>(
        tokens: impl Iterator<Item = (&'a [u8], u32)> + Clone,
        ids: FxHashMap<Box<[u8]>, u32>,
    ) -> Result<Vocab> {
        let n = tokens
            .clone()
            .map(|(_, id)| id as usize + 1)
            .max()
            .unwrap_or(0);
        check_id_space(n, ids.len())?;
        let mut by_id: Vec<Option<&[u8]>> = vec![None; n];
        for (bytes, id) in tokens {
            if by_id[id as usize].replace(bytes).is_some() {
                return Err(Error::format(format!("id {id} is given to two tokens")));
            }
        }
        let mut bytes = Vec::new();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        for t in &by_id {
            bytes.extend_from_slice(t.unwrap_or(&[]));
            offsets.push(bytes.len() as u32);
        }
        let mut byte_ids = [NO_TOKEN; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            if let Some(&id) = ids.get(&[b as u8][..]) {
                *slot = id;
            }
        }
        let short_ids = ids
            .iter()
            .filter_map(|(b, &id)| Some((short_key(b)?, id)))
            .collect();
        Ok(Vocab {
            bytes,
            offsets,
            present: by_id.iter().map(Option::is_some).collect(),
            ids,
            short_ids,
            byte_ids,
            pairs: FxHashMap::default(),
            merges: Vec::new(),
            rule: MergeRule::Ranks,
            whole_piece_first: false,
            unk: None,
            uid: next_uid(),
            joined: std::sync::OnceLock::new(),
            builds: std::sync::OnceLock::new(),
            pairs_by_left: std::sync::OnceLock::new(),
        })
    }

    /// One past the largest id.
    pub fn id_bound(&self) -> usize {
        self.present.len()
    }
    pub fn len(&self) -> usize {
        self.present.iter().filter(|p| **p).count()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn token(&self, id: u32) -> Option<&[u8]> {
        let i = id as usize;
        if i < self.present.len() && self.present[i] {
            Some(&self.bytes[self.offsets[i] as usize..self.offsets[i + 1] as usize])
        } else {
            None
        }
    }
    /// The length of token `id` in bytes (0 for an id without a token).
    #[inline]
    pub fn token_len(&self, id: u32) -> usize {
        let i = id as usize;
        if i < self.present.len() && self.present[i] {
            (self.offsets[i + 1] - self.offsets[i]) as usize
        } else {
            0
        }
    }
    pub fn id_of(&self, bytes: &[u8]) -> Option<u32> {
        match short_key(bytes) {
            Some(k) => self.short_ids.get(&k).copied(),
            None => self.ids.get(bytes).copied(),
        }
    }

    /// Ordinary tokens as `(bytes, id)`, in id order.
    pub fn tokens(&self) -> impl Iterator<Item = (&[u8], u32)> {
        (0..self.present.len() as u32).filter_map(|id| self.token(id).map(|t| (t, id)))
    }
    /// The merge list in rank order, as token id pairs.
    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }

    /// The id of the one-byte token `b` (`NO_TOKEN` if the vocabulary lacks it).
    #[inline]
    pub fn byte_id(&self, b: u8) -> u32 {
        self.byte_ids[b as usize]
    }

    pub fn is_mergeable(&self, id: u32) -> bool {
        self.token(id).is_some_and(|t| self.ids.get(t) == Some(&id))
    }

    #[inline]
    fn pair(&self, left: u32, right: u32) -> u64 {
        self.pairs
            .get(&pack(left, right))
            .copied()
            .unwrap_or(NO_PAIR)
    }

    /// Check that the vocabulary is byte-level with ranks usable as tiktoken ranks: every merged
    /// token's id is larger than its parts' ids and the merges follow id order.
    pub fn as_ranks(&self) -> Result<Vec<(Vec<u8>, u32)>> {
        if (0..256).any(|b| self.byte_ids[b] == NO_TOKEN) {
            return Err(Error::value(
                "cannot convert: the vocabulary lacks some single-byte tokens",
            ));
        }
        if self.rule == MergeRule::MergeList {
            let mut last = 0u32;
            for &(a, b) in &self.merges {
                let merged = (self.pair(a, b) & 0xffff_ffff) as u32;
                if merged <= a.max(b) || merged < last {
                    return Err(Error::value(
                        "cannot convert: token ids do not follow merge order, so they cannot serve as tiktoken ranks",
                    ));
                }
                last = merged;
            }
        }
        Ok(self.ids.iter().map(|(b, id)| (b.to_vec(), *id)).collect())
    }
}

#[cfg(test)]
mod tests;
