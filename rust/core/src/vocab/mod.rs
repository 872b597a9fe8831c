//! The BPE model: token bytes by id, and the pair table that drives merging.
//!
//! Two merge rules exist, one per file format, and both reduce to one table
//! `(left id, right id) -> (rank, merged id)`; merging always applies the pair of lowest rank,
//! leftmost first, until none applies:
//! * tiktoken (`from_ranks`): any two adjacent parts whose concatenation is a token merge,
//!   with the token's rank as priority. The table therefore holds every split of every token.
//! * Hugging Face (`from_merges`): only the listed merges apply, with their list index as rank.

use crate::{Error, Result};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub const NO_TOKEN: u32 = u32::MAX;
const NO_PAIR: u64 = u64::MAX;
/// Pieces longer than this merge with a heap (O(n log n)); shorter ones with a linear scan.
const HEAP_THRESHOLD: usize = 128;
/// Pieces of up to this many symbols (most words) merge with a smaller rank array.
const SMALL_MERGE: usize = 24;

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

#[derive(Clone)]
struct BuildTable {
    builds: Vec<Build>,
    all_reached: bool,
}

/// The pair table's pairs grouped by left token: token `l`'s are
/// `entries[start[l]..start[l + 1]]`, as (packed rank, right token), in rank order.
#[derive(Clone)]
struct PairsByLeft {
    start: Vec<usize>,
    entries: Vec<(u64, u32)>,
}

/// `Vocab::is_valid_pair` with a fixed left token (see `Vocab::left_pairs`).
pub struct LeftPairs<'a> {
    builds: &'a [Build],
    left: u32,
    /// The pairs that can decide a walk from `left`, by `pack(left part, right part)`.
    pairs: FxHashMap<u64, u64>,
    /// Bit `b` set when some pair has right part `b`: most walk steps ask about a right part
    /// no pair has, and this answers them without hashing.
    rights: Vec<u64>,
}

impl LeftPairs<'_> {
    pub fn left(&self) -> u32 {
        self.left
    }

    /// `is_valid_pair(left, right)`.
    pub fn check(&self, right: u32) -> Option<bool> {
        valid_pair_walk(self.builds, self.left, right, |a, b| {
            let bit = self
                .rights
                .get(b as usize / 64)
                .map_or(0, |w| w >> (b % 64) & 1);
            if bit == 0 {
                return NO_PAIR;
            }
            self.pairs.get(&pack(a, b)).copied().unwrap_or(NO_PAIR)
        })
    }
}

/// The pair check of `Vocab::is_valid_pair`: `pair(a, b)` gives the packed rank at which the
/// two symbols would merge (`NO_PAIR`: never). The boundary pair (a, b) stands until `limit`;
/// at `limit` itself it still merges first when it lies left of the merge that happens then
/// (leftmost among equals).
fn valid_pair_walk(
    builds: &[Build],
    left: u32,
    right: u32,
    pair: impl Fn(u32, u32) -> u64,
) -> Option<bool> {
    let (mut a, mut b) = (left, right);
    let (mut limit, mut ties_merge) = (NO_PAIR, false);
    loop {
        let p = pair(a, b);
        if p != NO_PAIR && (p < limit || (p == limit && ties_merge)) {
            return Some(false);
        }
        let (ba, bb) = (*builds.get(a as usize)?, *builds.get(b as usize)?);
        if ba.time == NO_PAIR || bb.time == NO_PAIR {
            return None;
        }
        match (ba.is_leaf(), bb.is_leaf()) {
            (true, true) => return Some(true),
            (false, true) => {}
            (true, false) => {
                (limit, ties_merge, b) = (bb.time, true, bb.left);
                continue;
            }
            (false, false) if bb.time >= ba.time => {
                (limit, ties_merge, b) = (bb.time, true, bb.left);
                continue;
            }
            (false, false) => {}
        }
        (limit, ties_merge, a) = (ba.time, false, ba.right);
    }
}

/// The last merge that builds a token from its own bytes: the pair's packed rank (when it
/// happens) and the two tokens it joins. Single bytes are leaves; `time == NO_PAIR` marks a
/// token that merging its own bytes does not produce.
#[derive(Clone, Copy)]
struct Build {
    time: u64,
    left: u32,
    right: u32,
}

impl Build {
    const LEAF: Build = Build {
        time: 0,
        left: NO_TOKEN,
        right: NO_TOKEN,
    };
    const UNREACHED: Build = Build {
        time: NO_PAIR,
        left: NO_TOKEN,
        right: NO_TOKEN,
    };
    fn is_leaf(&self) -> bool {
        self.left == NO_TOKEN && self.time == 0
    }
}

/// Small per-thread, direct-mapped caches in front of the vocabulary's hash maps: text is
/// Zipfian, and the caches stay in L1/L2 where the maps (and the pair table) do not.
/// * `short`: pieces of up to 7 bytes -> their token id, or a miss (not one token);
/// * `merged`: the other pieces of up to 23 bytes -> their ids, so a repeated word that needs
///   merging (most of them, in languages other than English) is merged once, not every time,
///   and one longer than 7 bytes that is a token costs no hash of its bytes.
struct PieceCache {
    uid: u64,
    short: Vec<(u64, u32)>,
    merged: Vec<Merged>,
    /// * `long`: longer pieces (up to `LONG_BYTES`) -> their ids: rulers and table borders
    ///   (`+-----+`, `/*****`) recur and cost thousands of instructions to merge each time.
    long: Vec<Long>,
}

const LONG_BITS: u32 = 12;
const LONG_BYTES: usize = 512;

#[derive(Clone, Default)]
struct Long {
    hash: u64,
    piece: Vec<u8>,
    ids: Vec<u32>,
}

const CACHE_BITS: u32 = 12;
const CACHE_MISS: u32 = u32::MAX - 1;
const MERGED_BITS: u32 = 14;
/// Longest piece and most ids a `merged` entry holds (one 64-byte cache line per entry).
const MERGED_BYTES: usize = 23;
const MERGED_IDS: usize = 10;

#[derive(Clone, Copy)]
struct Merged {
    /// The piece's bytes, zero-padded, with its length in the last byte (0: empty slot).
    key: [u64; 3],
    /// Its ids, `NO_TOKEN`-terminated when fewer than `MERGED_IDS`.
    ids: [u32; MERGED_IDS],
}

thread_local! {
    static PIECE_CACHE: std::cell::RefCell<PieceCache> = const {
        std::cell::RefCell::new(PieceCache {
            uid: 0,
            short: Vec::new(),
            merged: Vec::new(),
            long: Vec::new(),
        })
    };
}

impl PieceCache {
    /// The cache for vocabulary `uid`, emptied if it last served another one.
    fn for_vocab(&mut self, uid: u64) -> &mut PieceCache {
        if self.uid != uid {
            self.uid = uid;
            self.short.clear();
            self.short.resize(1 << CACHE_BITS, (0, 0));
            self.merged.clear();
            self.merged.resize(
                1 << MERGED_BITS,
                Merged {
                    key: [0; 3],
                    ids: [NO_TOKEN; MERGED_IDS],
                },
            );
            self.long.clear();
            self.long.resize(1 << LONG_BITS, Long::default());
        }
        self
    }
}

/// Up to 23 bytes and their length packed into three integers.
#[inline]
fn merged_key(bytes: &[u8]) -> Option<[u64; 3]> {
    let n = bytes.len();
    if n > MERGED_BYTES {
        return None;
    }
    let word = |i: usize| {
        if n > i {
            load(&bytes[i..n.min(i + 8)])
        } else {
            0
        }
    };
    Some([word(0), word(8), word(16) | (n as u64) << 56])
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
fn merged_slot(key: &[u64; 3]) -> usize {
    let h = (key[0] ^ key[1].rotate_left(21) ^ key[2].rotate_left(42))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - MERGED_BITS)) as usize
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

#[inline]
fn pack(a: u32, b: u32) -> u64 {
    (a as u64) << 32 | b as u64
}

/// Encodes pre-tokens into ids with a vocabulary and this thread's caches (`Vocab::with_encoder`).
pub struct PieceEncoder<'a> {
    vocab: &'a Vocab,
    cache: Option<&'a mut PieceCache>,
    syms: Vec<Sym>,
}

impl PieceEncoder<'_> {
    /// Encode one pre-token; appends its token ids to `out`. Only cache hits are handled here
    /// (nearly every piece of real text): the rest is out of line, to keep this path short.
    #[inline]
    pub fn encode(&mut self, piece: &[u8], out: &mut Vec<u32>) {
        // (The empty piece's cache key would match an unused cache slot.)
        if piece.is_empty() {
            return;
        }
        let vocab = self.vocab;
        let Some(cache) = self.cache.as_deref_mut() else {
            return self.encode_uncached(piece, out);
        };
        if vocab.whole_piece_first {
            if let Some(id) = vocab.cached_short_id(cache, piece) {
                out.push(id);
                return;
            }
        }
        let Some(key) = merged_key(piece) else {
            return self.encode_long(piece, out);
        };
        let entry = &cache.merged[merged_slot(&key)];
        if entry.key == key {
            // (one push per id: a copy of a length known only here would call `memcpy`)
            for &id in &entry.ids {
                if id == NO_TOKEN {
                    break;
                }
                out.push(id);
            }
            return;
        }
        self.encode_merged_miss(piece, key, out)
    }

    fn encode_uncached(&mut self, piece: &[u8], out: &mut Vec<u32>) {
        let vocab = self.vocab;
        if let Some(id) = vocab
            .whole_piece_first
            .then(|| vocab.id_of(piece))
            .flatten()
        {
            out.push(id);
        } else {
            vocab.merge(piece, NO_PAIR, &mut self.syms);
            out.extend(self.syms.iter().map(|s| s.id));
        }
    }

    /// A piece of up to `MERGED_BYTES` that is not in the `merged` cache: a whole token (if
    /// longer than the `short` cache's keys) or merged, and remembered either way.
    #[inline(never)]
    fn encode_merged_miss(&mut self, piece: &[u8], key: [u64; 3], out: &mut Vec<u32>) {
        let vocab = self.vocab;
        let whole = vocab.whole_piece_first && piece.len() > SHORT_BYTES;
        match whole.then(|| vocab.ids.get(piece)).flatten() {
            Some(&id) => {
                self.syms.clear();
                self.syms.push(Sym {
                    id,
                    start: 0,
                    end: piece.len() as u32,
                });
            }
            None => vocab.merge(piece, NO_PAIR, &mut self.syms),
        }
        out.extend(self.syms.iter().map(|s| s.id));
        if self.syms.len() <= MERGED_IDS {
            let cache = self.cache.as_deref_mut().expect("called with a cache");
            let entry = &mut cache.merged[merged_slot(&key)];
            entry.key = key;
            entry.ids = [NO_TOKEN; MERGED_IDS];
            for (slot, sym) in entry.ids.iter_mut().zip(&self.syms) {
                *slot = sym.id;
            }
        }
    }

    /// A piece longer than `MERGED_BYTES`: a whole token, or through the `long` cache.
    #[inline(never)]
    fn encode_long(&mut self, piece: &[u8], out: &mut Vec<u32>) {
        let vocab = self.vocab;
        if let Some(&id) = vocab
            .whole_piece_first
            .then(|| vocab.ids.get(piece))
            .flatten()
        {
            out.push(id);
            return;
        }
        if piece.len() > LONG_BYTES {
            vocab.merge(piece, NO_PAIR, &mut self.syms);
            out.extend(self.syms.iter().map(|s| s.id));
            return;
        }
        let hash = {
            use std::hash::Hasher;
            let mut h = rustc_hash::FxHasher::default();
            h.write(piece);
            h.finish()
        };
        let cache = self.cache.as_deref_mut().expect("called with a cache");
        let entry = &mut cache.long[(hash >> (64 - LONG_BITS)) as usize];
        if entry.hash == hash && entry.piece == piece {
            out.extend_from_slice(&entry.ids);
            return;
        }
        vocab.merge(piece, NO_PAIR, &mut self.syms);
        out.extend(self.syms.iter().map(|s| s.id));
        entry.hash = hash;
        entry.piece.clear();
        entry.piece.extend_from_slice(piece);
        entry.ids.clear();
        entry.ids.extend(self.syms.iter().map(|s| s.id));
    }
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
        let pairs: Vec<(u64, u64)> = tokens
            .par_iter()
            .flat_map_iter(|(bytes, rank)| {
                let ids = &vocab.ids;
                (1..bytes.len()).filter_map(move |i| {
                    let left = ids.get(&bytes[..i])?;
                    let right = ids.get(&bytes[i..])?;
                    Some((pack(*left, *right), pack(*rank, *rank)))
                })
            })
            .collect();
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

    /// `id_of` through the per-thread cache for pieces of up to `SHORT_BYTES` (the encoding hot
    /// path); `None` for longer ones.
    #[inline]
    fn cached_short_id(&self, cache: &mut PieceCache, bytes: &[u8]) -> Option<u32> {
        let k = short_key(bytes)?;
        let slot = (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - CACHE_BITS)) as usize;
        let (key, id) = cache.short[slot];
        if key == k {
            return (id != CACHE_MISS).then_some(id);
        }
        let found = self.short_ids.get(&k).copied();
        cache.short[slot] = (k, found.unwrap_or(CACHE_MISS));
        found
    }
    /// Ordinary tokens as `(bytes, id)`, in id order.
    pub fn tokens(&self) -> impl Iterator<Item = (&[u8], u32)> {
        (0..self.present.len() as u32).filter_map(|id| self.token(id).map(|t| (t, id)))
    }
    /// The merge list in rank order, as token id pairs.
    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }
    /// Whether merging `bytes(left) + bytes(right)` ends as exactly `[left, right]`, decided
    /// from the two tokens' merge histories without merging (after the `bpe` crate's pair
    /// check): walking back from the end, the later-built token is split into its last merge's
    /// parts, and the pair fails if the two symbols at the boundary would merge before the
    /// state that split undoes. O(depth of the tokens). `None` when a token is not reached by
    /// merging its own bytes, or the vocabulary drops bytes it lacks or maps them to `unk`.
    pub fn is_valid_pair(&self, left: u32, right: u32) -> Option<bool> {
        let builds = &self.built()?.builds;
        valid_pair_walk(builds, left, right, |a, b| self.pair(a, b))
    }

    /// `is_valid_pair(left, ·)` for one left token and many right ones, with the same
    /// answers: the only pairs the walk can ask about join a token of `left`'s right spine
    /// (`left`, its last merge's right part, that one's, ...) with some token, and only those
    /// merging before the spine token above them was made can fail it, so those few are copied
    /// into a small table first. `None` where `is_valid_pair` would be, or when that table would
    /// be large (a left token that many tokens extend, such as a space: ask `is_valid_pair`).
    pub fn left_pairs(&self, left: u32) -> Option<LeftPairs<'_>> {
        const MOST: usize = 1 << 12;
        let builds = &self.built()?.builds;
        let by_left = self
            .pairs_by_left
            .get_or_init(|| self.index_pairs_by_left());
        let mut pairs = FxHashMap::default();
        let (mut a, mut limit) = (left, NO_PAIR);
        loop {
            let b = *builds.get(a as usize)?;
            if b.time == NO_PAIR {
                return None;
            }
            // This spine token's pairs, by rank: those at or after `limit` never decide.
            let mine = &by_left.entries[by_left.start[a as usize]..by_left.start[a as usize + 1]];
            let n = mine.partition_point(|&(rank, _)| rank <= limit);
            if pairs.len() + n > MOST {
                return None;
            }
            pairs.extend(
                mine[..n]
                    .iter()
                    .map(|&(rank, right)| (pack(a, right), rank)),
            );
            if b.is_leaf() {
                break;
            }
            (a, limit) = (b.right, b.time);
        }
        let mut rights = vec![0u64; builds.len().div_ceil(64)];
        for &k in pairs.keys() {
            let b = k as u32 as usize;
            if let Some(w) = rights.get_mut(b / 64) {
                *w |= 1 << (b % 64);
            }
        }
        Some(LeftPairs {
            builds,
            left,
            pairs,
            rights,
        })
    }

    /// Every pair of the pair table grouped by its left token, each group in rank order.
    fn index_pairs_by_left(&self) -> PairsByLeft {
        let n = self.id_bound();
        let mut start = vec![0usize; n + 2];
        for &k in self.pairs.keys() {
            let l = (k >> 32) as usize;
            if l < n {
                start[l + 2] += 1;
            }
        }
        for i in 2..start.len() {
            start[i] += start[i - 1];
        }
        let mut entries = vec![(0u64, 0u32); start[n + 1]];
        for (&k, &rank) in &self.pairs {
            let l = (k >> 32) as usize;
            if l < n {
                entries[start[l + 1]] = (rank, k as u32);
                start[l + 1] += 1;
            }
        }
        start.pop();
        for l in 0..n {
            entries[start[l]..start[l + 1]].sort_unstable();
        }
        PairsByLeft { start, entries }
    }

    /// Whether merging the token's own bytes gives it (`None` where `is_valid_pair` is).
    pub fn is_reached(&self, id: u32) -> Option<bool> {
        let table = self.built()?;
        Some(table.builds.get(id as usize)?.time != NO_PAIR)
    }

    /// Whether merging every token's own bytes gives the token (so looking a whole piece up
    /// first never differs from merging it). `None` where `is_valid_pair` is.
    pub fn all_tokens_reached(&self) -> Option<bool> {
        let table = self.built()?;
        Some(table.all_reached)
    }

    /// The build table, made on first use (`None` where pair checks cannot decide).
    fn built(&self) -> Option<&BuildTable> {
        self.builds.get_or_init(|| self.build_table()).as_ref()
    }

    /// `Build` of every id: the last merge of each token's own bytes.
    fn build_table(&self) -> Option<BuildTable> {
        if self.unk.is_some() || self.byte_ids.contains(&NO_TOKEN) {
            return None;
        }
        // When each token is made: tiktoken gives every split of a token the token's rank; a
        // merge list gives the merged token its pair's rank.
        let mut time = vec![NO_PAIR; self.id_bound()];
        for &v in self.pairs.values() {
            let id = v as u32 as usize;
            if id < time.len() {
                time[id] = time[id].min(v);
            }
        }
        let builds: Vec<Build> = (0..self.id_bound() as u32)
            .into_par_iter()
            .map_init(Vec::new, |syms, id| {
                let Some(bytes) = self.token(id) else {
                    return Build::UNREACHED;
                };
                if bytes.len() == 1 {
                    return Build::LEAF;
                }
                let t = time[id as usize];
                if t == NO_PAIR {
                    return Build::UNREACHED;
                }
                // Merging stopped just before the token's own merge leaves its two parts.
                self.merge(bytes, t, syms);
                match syms[..] {
                    [l, r] if self.pair(l.id, r.id) == t => Build {
                        time: t,
                        left: l.id,
                        right: r.id,
                    },
                    _ => Build::UNREACHED,
                }
            })
            .collect();
        let all_reached = self
            .tokens()
            .all(|(_, id)| builds[id as usize].time != NO_PAIR);
        Some(BuildTable {
            builds,
            all_reached,
        })
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

    /// Runs `f` with an encoder that uses this thread's piece caches, borrowed once for all the
    /// pieces `f` encodes (looking the thread-local up per piece costs a call in a shared library).
    pub fn with_encoder<R>(&self, f: impl FnOnce(&mut PieceEncoder) -> R) -> R {
        PIECE_CACHE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut cache) => f(&mut PieceEncoder {
                vocab: self,
                cache: Some(cache.for_vocab(self.uid)),
                syms: Vec::new(),
            }),
            // Already in use further up this thread's stack (a pool thread that picked up more
            // work while waiting): encode without the caches.
            Err(_) => f(&mut PieceEncoder {
                vocab: self,
                cache: None,
                syms: Vec::new(),
            }),
        })
    }

    /// Encode one pre-token; appends its token ids to `out`.
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        self.with_encoder(|enc| enc.encode(piece, out))
    }

    /// Encode one pre-token into symbols with their byte spans inside the piece.
    pub fn encode_piece_spans(&self, piece: &[u8], out: &mut Vec<Sym>) {
        if self.whole_piece_first {
            if let Some(id) = self.id_of(piece) {
                out.clear();
                out.push(Sym {
                    id,
                    start: 0,
                    end: piece.len() as u32,
                });
                return;
            }
        }
        self.merge(piece, NO_PAIR, out);
    }

    /// Merge `piece` into `syms`, applying only pairs whose packed rank is below `limit`.
    fn merge(&self, piece: &[u8], limit: u64, syms: &mut Vec<Sym>) {
        syms.clear();
        for (i, &b) in piece.iter().enumerate() {
            let id = match (self.byte_ids[b as usize], self.unk) {
                (NO_TOKEN, Some(unk)) => unk,
                (NO_TOKEN, None) => continue,
                (id, _) => id,
            };
            syms.push(Sym {
                id,
                start: i as u32,
                end: i as u32 + 1,
            });
        }
        if syms.len() < 2 {
            return;
        }
        if syms.len() <= HEAP_THRESHOLD {
            self.merge_linear(syms, limit)
        } else if self.unk.is_some() {
            self.merge_heap(syms, limit)
        } else {
            self.merge_segments(piece, syms, limit)
        }
    }

    /// A long piece cut between two bytes that no token holds side by side (no merge can join
    /// across: every merge makes a token), each segment merged on its own: the same result as
    /// merging the whole, and long SuperBPE chunks or lines become word-sized merges.
    fn merge_segments(&self, piece: &[u8], syms: &mut Vec<Sym>, limit: u64) {
        let joined = self.joined.get_or_init(|| {
            let mut bits = Box::new([0u64; 1024]);
            for (token, _) in self.ids.iter() {
                for w in token.windows(2) {
                    let k = (w[0] as usize) << 8 | w[1] as usize;
                    bits[k >> 6] |= 1 << (k & 63);
                }
            }
            bits
        });
        let joins = |a: &Sym, b: &Sym| {
            // Before merging every symbol is one byte (bytes without a token were dropped).
            let k = (piece[a.start as usize] as usize) << 8 | piece[b.start as usize] as usize;
            joined[k >> 6] >> (k & 63) & 1 == 1
        };
        let n = syms.len();
        let mut out = Vec::with_capacity(n);
        let mut segment = Vec::new();
        let mut start = 0;
        for i in 1..=n {
            if i < n && joins(&syms[i - 1], &syms[i]) {
                continue;
            }
            segment.clear();
            segment.extend_from_slice(&syms[start..i]);
            match segment.len() {
                0 | 1 => {}
                len if len <= HEAP_THRESHOLD => self.merge_linear(&mut segment, limit),
                _ => self.merge_heap(&mut segment, limit),
            }
            out.extend_from_slice(&segment);
            start = i;
        }
        *syms = out;
    }

    /// Lowest-rank pair first, leftmost among equals: O(n^2), fast for short pieces (no
    /// allocation: the pair ranks live on the stack, in an array sized for the piece, since
    /// filling room for `HEAP_THRESHOLD` ranks costs more than merging a word).
    fn merge_linear(&self, syms: &mut Vec<Sym>, limit: u64) {
        if syms.len() <= SMALL_MERGE {
            self.merge_linear_with(&mut [NO_PAIR; SMALL_MERGE], syms, limit)
        } else {
            self.merge_linear_with(&mut [NO_PAIR; HEAP_THRESHOLD], syms, limit)
        }
    }

    fn merge_linear_with(&self, ranks: &mut [u64], syms: &mut Vec<Sym>, limit: u64) {
        let mut n = syms.len() - 1; // number of pairs
        for i in 0..n {
            ranks[i] = self.pair(syms[i].id, syms[i + 1].id);
        }
        loop {
            let (mut best, mut at) = (NO_PAIR, 0);
            for (i, &r) in ranks[..n].iter().enumerate() {
                if r < best {
                    best = r;
                    at = i;
                }
            }
            if best >= limit || best == NO_PAIR {
                return;
            }
            syms[at].id = best as u32;
            syms[at].end = syms[at + 1].end;
            syms.remove(at + 1);
            ranks.copy_within(at + 1..n, at);
            n -= 1;
            if at < n {
                ranks[at] = self.pair(syms[at].id, syms[at + 1].id);
            }
            if at > 0 {
                ranks[at - 1] = self.pair(syms[at - 1].id, syms[at].id);
            }
        }
    }

    /// The same rule with a lazily validated heap over a linked list: O(n log n).
    fn merge_heap(&self, syms: &mut Vec<Sym>, limit: u64) {
        let n = syms.len();
        let mut next: Vec<u32> = (1..=n as u32).collect();
        next[n - 1] = NO_TOKEN;
        let mut prev: Vec<u32> = (0..n as u32).map(|i| i.wrapping_sub(1)).collect();
        prev[0] = NO_TOKEN;
        let mut alive = vec![true; n];
        // Entries order by (rank, position); node indices follow positions.
        let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            let r = self.pair(syms[i].id, syms[i + 1].id);
            if r < limit {
                heap.push(Reverse((r, i as u32)));
            }
        }
        while let Some(Reverse((rank, i))) = heap.pop() {
            let i = i as usize;
            let j = next[i];
            if !alive[i] || j == NO_TOKEN || self.pair(syms[i].id, syms[j as usize].id) != rank {
                continue; // stale entry
            }
            let j = j as usize;
            syms[i].id = rank as u32;
            syms[i].end = syms[j].end;
            alive[j] = false;
            next[i] = next[j];
            if next[j] != NO_TOKEN {
                prev[next[j] as usize] = i as u32;
                let r = self.pair(syms[i].id, syms[next[i] as usize].id);
                if r < limit {
                    heap.push(Reverse((r, i as u32)));
                }
            }
            if prev[i] != NO_TOKEN {
                let p = prev[i] as usize;
                let r = self.pair(syms[p].id, syms[i].id);
                if r < limit {
                    heap.push(Reverse((r, p as u32)));
                }
            }
        }
        let mut k = 0;
        for i in 0..n {
            if alive[i] {
                syms[k] = syms[i];
                k += 1;
            }
        }
        syms.truncate(k);
    }

    /// For a tiktoken vocabulary, the merge that makes each token: BPE of the token's bytes
    /// with only lower ranks ends in exactly two parts. Tokens that BPE cannot reach get none.
    fn canonical_merges(&self) -> Vec<(u32, u32)> {
        let mut order: Vec<(u32, &[u8])> = self
            .tokens()
            .filter(|(t, _)| t.len() > 1)
            .map(|(t, id)| (id, t))
            .collect();
        order.sort_unstable_by_key(|(id, _)| *id);
        order
            .par_iter()
            .map_init(Vec::new, |syms, (id, bytes)| {
                self.merge(bytes, pack(*id, 0), syms);
                (syms.len() == 2).then(|| (syms[0].id, syms[1].id))
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect()
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
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    /// A small random vocabulary over bytes a..d built by random merges.
    fn random_vocab(seed: &mut u64) -> Vocab {
        let mut toks: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        for _ in 0..60 {
            // Concatenate two random tokens from the letters a..d and the tokens made so far.
            let mut pick = |toks: &Vec<Vec<u8>>| {
                let made = toks.len() - 256;
                let i = lcg(seed) as usize % (4 + made);
                if i < 4 {
                    toks[97 + i].clone()
                } else {
                    toks[256 + i - 4].clone()
                }
            };
            let (left, right) = (pick(&toks), pick(&toks));
            let t = [left, right].concat();
            if !toks.contains(&t) {
                toks.push(t);
            }
        }
        Vocab::from_ranks(
            toks.into_iter()
                .enumerate()
                .map(|(i, t)| (t, i as u32))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn empty_piece_encodes_to_nothing() {
        let v = random_vocab(&mut 3);
        let mut out = Vec::new();
        v.encode_piece(b"", &mut out);
        v.encode_piece(b"", &mut out);
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn pair_check_equals_merging_the_pair() {
        let mut seed = 11;
        let (mut decided, mut valid) = (0, 0);
        for _ in 0..30 {
            let v = random_vocab(&mut seed);
            let ids: Vec<u32> = (97..101).chain(256..v.id_bound() as u32).collect();
            for &l in &ids {
                for &r in &ids {
                    let Some(ok) = v.is_valid_pair(l, r) else {
                        continue;
                    };
                    let joined = [v.token(l).unwrap(), v.token(r).unwrap()].concat();
                    let mut out = Vec::new();
                    v.encode_piece(&joined, &mut out);
                    assert_eq!(ok, out == [l, r], "{l} {r} {out:?}");
                    decided += 1;
                    valid += ok as usize;
                }
            }
        }
        // Most pairs are decided, and both answers occur.
        assert!(
            decided > 30 * 2000 && valid > decided / 10 && valid < decided,
            "{decided} {valid}"
        );
    }

    #[test]
    fn left_pairs_equal_the_pair_check() {
        let mut seed = 23;
        let (mut fixed, mut compared) = (0, 0);
        for _ in 0..30 {
            let v = random_vocab(&mut seed);
            let ids: Vec<u32> = (97..101).chain(256..v.id_bound() as u32).collect();
            for &l in &ids {
                let Some(lp) = v.left_pairs(l) else {
                    continue;
                };
                fixed += 1;
                for &r in &ids {
                    assert_eq!(lp.check(r), v.is_valid_pair(l, r), "{l} {r}");
                    compared += 1;
                }
            }
        }
        assert!(
            fixed > 30 * 40 && compared > 30 * 2000,
            "{fixed} {compared}"
        );
    }

    #[test]
    fn keys_pack_bytes_and_length() {
        let data: Vec<u8> = (1..=40).collect();
        for n in 0..=23 {
            let piece = &data[..n];
            let mut buf = [0u8; 24];
            buf[..n].copy_from_slice(piece);
            buf[23] = n as u8;
            let word = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().unwrap());
            assert_eq!(merged_key(piece), Some([word(0), word(8), word(16)]), "{n}");
            if n <= 7 {
                let mut short = [0u8; 8];
                short[..n].copy_from_slice(piece);
                short[7] = n as u8;
                assert_eq!(short_key(piece), Some(u64::from_le_bytes(short)));
            }
        }
        assert_eq!(short_key(&data[..8]), None);
        assert_eq!(merged_key(&data[..24]), None);
    }

    #[test]
    fn heap_equals_linear() {
        let mut seed = 7u64;
        for _ in 0..200 {
            let v = random_vocab(&mut seed);
            let len = 1 + (lcg(&mut seed) % HEAP_THRESHOLD as u64) as usize;
            let piece: Vec<u8> = (0..len).map(|_| 97 + (lcg(&mut seed) % 4) as u8).collect();
            let init = |v: &Vocab| -> Vec<Sym> {
                piece
                    .iter()
                    .enumerate()
                    .map(|(i, &b)| Sym {
                        id: v.byte_ids[b as usize],
                        start: i as u32,
                        end: i as u32 + 1,
                    })
                    .collect()
            };
            let (mut a, mut b) = (init(&v), init(&v));
            v.merge_linear(&mut a, NO_PAIR);
            v.merge_heap(&mut b, NO_PAIR);
            assert_eq!(a, b);
            let joined: Vec<u8> = a
                .iter()
                .flat_map(|s| v.token(s.id).unwrap().to_vec())
                .collect();
            assert_eq!(joined, piece);
        }
    }

    #[test]
    fn tiktoken_rule_merges_any_split() {
        // "ab" (256), "bc" (257), "abc" (258): the split a+bc also reaches abc.
        let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        toks.push((b"bc".to_vec(), 256));
        toks.push((b"abc".to_vec(), 257));
        let v = Vocab::from_ranks(toks).unwrap();
        let mut out = Vec::new();
        v.encode_piece(b"abcabc", &mut out);
        assert_eq!(out, vec![257, 257]);
        assert_eq!(
            v.merges(),
            &[(b'b' as u32, b'c' as u32), (b'a' as u32, 256)]
        );
    }

    #[test]
    fn duplicate_tokens_are_rejected() {
        let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        toks.push((b"a".to_vec(), 300));
        assert!(Vocab::from_ranks(toks)
            .err()
            .unwrap()
            .message
            .contains("twice"));
    }
}
