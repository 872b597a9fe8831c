//! SuperBPE training (Liu et al., "SuperBPE: Space Travel for Language Models", 2025).
//!
//! * **Stage 1**: ordinary BPE ([`crate::train`]) on pieces cut by a pre-tokenizer that splits at
//!   whitespace, until the vocabulary reaches the transition size `t` — or an existing merge list.
//! * **Stage 2**: the same text cut by a permissive pre-tokenizer into *chunks* that may span
//!   whitespace. Every distinct chunk is encoded with the stage-1 merges (the merge list replayed
//!   in rank order, exactly as the saved tokenizer encodes), pairs are recounted from that state,
//!   and greedy BPE continues to the final size with the same tie rule (making up for a stage 1
//!   that stopped early, unless `transition == vocab_size`: then there is no stage 2 and the
//!   result is plain BPE). Stage-1 merges that no longer occur are kept in the list and reported.
//! * Stage-2 filters refuse a token containing `": "` or spanning more than `max_words` words
//!   (non-empty pieces between spaces), as in the authors' trainer.
//!
//! Memory is dominated by the distinct stage-2 chunks (their bytes while counting, then their
//! token ids and the pair index): it grows with the amount of *distinct* text, not its size.

use crate::error::{Error, Result};
use crate::hf::HfExtras;
use crate::tokenizer::{AddedToken, Tokenizer};
use crate::train::{check_vocab_size, Merger, PieceCounts, Words};
use crate::vocab::Vocab;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which stage-2 tokens are refused.
#[derive(Clone, Copy, Debug)]
pub struct Filters {
    /// At most this many words (non-empty pieces between spaces) per token.
    pub max_words: Option<usize>,
    /// Refuse tokens containing a colon followed by a space.
    pub reject_colon_space: bool,
}

impl Filters {
    pub fn accepts(&self, token: &[u8]) -> bool {
        if self.reject_colon_space && token.windows(2).any(|w| w == b": ") {
            return false;
        }
        match self.max_words {
            Some(max) => words(token) <= max,
            None => true,
        }
    }
}

/// The number of non-empty pieces of `token` between spaces.
pub fn words(token: &[u8]) -> usize {
    token
        .split(|&b| b == b' ')
        .filter(|w| !w.is_empty())
        .count()
}

/// Where stage 2 starts from.
pub enum Stage1 {
    /// Train stage 1 on these piece counts up to the transition vocabulary size.
    Counts {
        counts: PieceCounts,
        transition: usize,
    },
    /// An existing merge list (e.g. of `o200k_base` or a `tokenizer.json`), in rank order.
    Merges(Vec<(Vec<u8>, Vec<u8>)>),
}

/// Progress phases reported to the callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Stage1,
    Replay,
    Stage2,
}

pub struct SuperTrained {
    /// Stage-1 merges followed by stage-2 merges.
    pub merges: Vec<(Vec<u8>, Vec<u8>)>,
    /// How many of `merges` come from stage 1.
    pub stage1_len: usize,
    /// Ranks of stage-1 merges that occur in no stage-2 chunk (kept in the list).
    pub unused_stage1: Vec<usize>,
}

/// Trains SuperBPE. `vocab_size` counts the 256 bytes, every merged token, the tokens of a base
/// vocabulary that merges do not make (`base_extra`) and `n_special` special tokens.
/// `progress(phase, done)` returns false to stop.
#[allow(clippy::too_many_arguments)]
pub fn train_superbpe(
    stage1: Stage1,
    chunks: PieceCounts,
    vocab_size: usize,
    n_special: usize,
    base_extra: usize,
    min_frequency: u64,
    filters: Filters,
    num_threads: Option<usize>,
    progress: &mut dyn FnMut(Phase, usize) -> bool,
) -> Result<SuperTrained> {
    check_vocab_size(vocab_size, n_special)?;
    let mut plain_bpe = false;
    let (token_bytes, merges) = match stage1 {
        Stage1::Counts { counts, transition } => {
            if transition > vocab_size || transition < 256 + n_special {
                return Err(Error::value(format!(
                    "transition {transition} must lie between {} (256 bytes + {n_special} special tokens) and vocab_size {vocab_size}",
                    256 + n_special
                )));
            }
            let mut merger = Merger::from_counts(counts);
            merger.run(transition, n_special, min_frequency, &|_| true, &mut |d| {
                progress(Phase::Stage1, d)
            })?;
            // At `transition == vocab_size` there is no stage 2, even if stage 1 stopped early.
            plain_bpe = transition == vocab_size;
            (merger.token_bytes, merger.merges)
        }
        Stage1::Merges(list) => inherit(&list)?,
    };
    let stage1_len = merges.len();
    if token_bytes.len() + base_extra + n_special > vocab_size {
        return Err(Error::value(format!(
            "vocab_size {vocab_size} is smaller than the base vocabulary ({} tokens with {n_special} special tokens)",
            token_bytes.len() + base_extra + n_special
        )));
    }

    if plain_bpe {
        let merges = merges
            .iter()
            .map(|&(a, b)| {
                (
                    token_bytes[a as usize].clone(),
                    token_bytes[b as usize].clone(),
                )
            })
            .collect();
        return Ok(SuperTrained {
            merges,
            stage1_len,
            unused_stage1: Vec::new(),
        });
    }
    let (words, weights) = replay(&token_bytes, &merges, chunks, num_threads, &mut |d| {
        progress(Phase::Replay, d)
    })?;
    let unused_stage1 = unused_merges(&token_bytes, &merges, &words);

    let planned = vocab_size.saturating_sub(token_bytes.len() + n_special + base_extra);
    let mut merger = Merger::from_words_planned(token_bytes, merges, words, weights, planned);
    merger.run(
        vocab_size,
        n_special + base_extra,
        min_frequency,
        &|t| filters.accepts(t),
        &mut |d| progress(Phase::Stage2, d),
    )?;
    Ok(SuperTrained {
        merges: merger.merge_bytes(),
        stage1_len,
        unused_stage1,
    })
}

/// Token bytes by internal id, and merges as internal id pairs.
type Inherited = (Vec<Vec<u8>>, Vec<(u32, u32)>);

/// Internal tokens and id pairs of an existing merge list: the 256 bytes in tie-rule order, then
/// each merge's result in rank order.
fn inherit(list: &[(Vec<u8>, Vec<u8>)]) -> Result<Inherited> {
    let mut token_bytes = crate::train::byte_tokens();
    let mut ids: FxHashMap<Vec<u8>, u32> = token_bytes
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let mut merges = Vec::with_capacity(list.len());
    for (rank, (a, b)) in list.iter().enumerate() {
        let find = |t: &[u8]| {
            ids.get(t).copied().ok_or_else(|| {
                Error::value(format!(
                    "base merge {rank}: token {:?} is made by no earlier merge",
                    crate::bytelevel::encode(t)
                ))
            })
        };
        let pair = (find(a)?, find(b)?);
        let joined = [a.as_slice(), b.as_slice()].concat();
        if !ids.contains_key(&joined) {
            ids.insert(joined.clone(), token_bytes.len() as u32);
            token_bytes.push(joined);
        }
        merges.push(pair);
    }
    Ok((token_bytes, merges))
}

/// Encodes every distinct chunk with the merges (lowest rank first, as the saved tokenizer
/// does), in parallel. Returns the chunks as internal ids, with their counts.
///
/// A chunk splits into independent segments between two bytes that no token holds side by
/// side: no merge can ever join across them (every merge makes a token). Segments repeat a lot
/// (they are mostly words), so each is merged once per thread and then looked up.
fn replay(
    token_bytes: &[Vec<u8>],
    merges: &[(u32, u32)],
    chunks: PieceCounts,
    num_threads: Option<usize>,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<(Words, Vec<u64>)> {
    let tokens = token_bytes
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), true, i as u32))
        .collect();
    let merge_bytes: Vec<(Vec<u8>, Vec<u8>)> = merges
        .iter()
        .map(|&(a, b)| {
            (
                token_bytes[a as usize].clone(),
                token_bytes[b as usize].clone(),
            )
        })
        .collect();
    let vocab = Vocab::from_merges(tokens, &merge_bytes, false, None)?;
    drop(merge_bytes);
    let mut joined = vec![false; 1 << 16];
    for t in token_bytes {
        for w in t.windows(2) {
            joined[(w[0] as usize) << 8 | w[1] as usize] = true;
        }
    }
    // Segment caches live per thread across batches; a new generation empties them.
    static GENERATION: AtomicU64 = AtomicU64::new(0);
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed) + 1;
    let encode = |bytes: &[u8], out: &mut Vec<u32>| {
        SEGMENTS.with_borrow_mut(|cache| {
            if cache.generation != generation || cache.map.len() >= SegmentCache::MAX {
                cache.clear(generation);
            }
            let mut start = 0;
            for i in 1..=bytes.len() {
                if i < bytes.len() && joined[(bytes[i - 1] as usize) << 8 | bytes[i] as usize] {
                    continue;
                }
                let segment = &bytes[start..i];
                start = i;
                if segment.len() == 1 {
                    out.push(vocab.byte_id(segment[0]));
                    continue;
                }
                let Some(key) = SegmentCache::key(segment) else {
                    vocab.encode_piece(segment, out);
                    continue;
                };
                match cache.get(key) {
                    Some(span) => cache.extend(span, out),
                    None => {
                        let at = out.len();
                        vocab.encode_piece(segment, out);
                        cache.insert(key, &out[at..]);
                    }
                }
            }
        })
    };
    let mut chunks: Vec<(Vec<u8>, u64)> = chunks.counts.into_iter().collect();
    let mut words = Words::default();
    let mut weights = Vec::with_capacity(chunks.len());
    // Batches bound the memory held twice (chunk bytes and their ids) and let Ctrl-C in.
    const BATCH: usize = 1 << 18;
    let pool = crate::pool::pool(num_threads);
    while !chunks.is_empty() {
        let mut batch: Vec<(Vec<u8>, u64)> = chunks.split_off(chunks.len().saturating_sub(BATCH));
        chunks.shrink_to_fit();
        let encoded: Vec<Words> = pool.install(|| {
            batch
                .par_chunks_mut(BATCH / 8)
                .map(|part| {
                    let mut words = Words::default();
                    for (bytes, _) in part {
                        words.push_with(|ids| encode(bytes, ids));
                        // Freed here, on the worker.
                        *bytes = Vec::new();
                    }
                    words
                })
                .collect()
        });
        for part in &encoded {
            words.append(part);
        }
        weights.extend(batch.iter().map(|&(_, count)| count));
        if !progress(words.len()) {
            return Err(Error::interrupted());
        }
    }
    Ok((words, weights))
}

/// Merged segments (up to 15 bytes, packed into the key) per thread, for one replay
/// (`generation`). Each maps to a span: `id << 8 | 1` for a segment that is one token (most
/// are), else `offset << 8 | length` of its ids in `ids`. A small direct-mapped table of recent
/// segments sits in front of the map: the frequent segments then cost no cache miss.
#[derive(Default)]
struct SegmentCache {
    generation: u64,
    map: FxHashMap<u128, u64>,
    ids: Vec<u32>,
    recent: Vec<(u128, u64)>,
}

impl SegmentCache {
    const MAX: usize = 1 << 22;
    const RECENT_BITS: u32 = 15;

    fn key(segment: &[u8]) -> Option<u128> {
        if segment.len() > 15 {
            return None;
        }
        let mut bytes = [0u8; 16];
        bytes[..segment.len()].copy_from_slice(segment);
        bytes[15] = segment.len() as u8;
        Some(u128::from_le_bytes(bytes))
    }

    fn clear(&mut self, generation: u64) {
        self.map.clear();
        self.ids.clear();
        // Key 0 (length 0) is no segment's: the empty slot.
        self.recent.clear();
        self.recent.resize(1 << Self::RECENT_BITS, (0, 0));
        self.generation = generation;
    }

    fn slot(key: u128) -> usize {
        let folded = (key as u64) ^ (key >> 64) as u64;
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::RECENT_BITS)) as usize
    }

    fn get(&mut self, key: u128) -> Option<u64> {
        let slot = Self::slot(key);
        if self.recent[slot].0 == key {
            return Some(self.recent[slot].1);
        }
        let span = *self.map.get(&key)?;
        self.recent[slot] = (key, span);
        Some(span)
    }

    fn insert(&mut self, key: u128, ids: &[u32]) {
        let span = if ids.len() == 1 {
            (ids[0] as u64) << 8 | 1
        } else {
            let at = self.ids.len() as u64;
            self.ids.extend_from_slice(ids);
            at << 8 | ids.len() as u64
        };
        self.map.insert(key, span);
        self.recent[Self::slot(key)] = (key, span);
    }

    fn extend(&self, span: u64, out: &mut Vec<u32>) {
        let (at, len) = ((span >> 8) as usize, (span & 0xff) as usize);
        if len == 1 {
            out.push(at as u32);
        } else {
            out.extend_from_slice(&self.ids[at..at + len]);
        }
    }
}

thread_local! {
    static SEGMENTS: std::cell::RefCell<SegmentCache> = std::cell::RefCell::default();
}

/// Ranks of merges whose token appears in no encoded chunk, not even inside a larger token.
fn unused_merges(token_bytes: &[Vec<u8>], merges: &[(u32, u32)], words: &Words) -> Vec<usize> {
    let mut reached = vec![false; token_bytes.len()];
    for w in words.iter() {
        for &t in w {
            reached[t as usize] = true;
        }
    }
    // Each merge's result token.
    let mut made_by: FxHashMap<&[u8], u32> = FxHashMap::default();
    for (i, t) in token_bytes.iter().enumerate() {
        made_by.insert(t.as_slice(), i as u32);
    }
    let result: Vec<u32> = merges
        .iter()
        .map(|&(a, b)| {
            let bytes = [
                token_bytes[a as usize].as_slice(),
                token_bytes[b as usize].as_slice(),
            ]
            .concat();
            made_by[bytes.as_slice()]
        })
        .collect();
    // A reached token reaches the two parts of the merges that make it (parts are older).
    for (rank, &(a, b)) in merges.iter().enumerate().rev() {
        if reached[result[rank] as usize] {
            reached[a as usize] = true;
            reached[b as usize] = true;
        }
    }
    (0..merges.len())
        .filter(|&rank| !reached[result[rank] as usize])
        .collect()
}

/// An existing vocabulary that stage 2 extends: its merge list, its `tokenizer.json` vocabulary
/// (strings to ids, kept), its added tokens, and how many of its tokens merges do not make.
pub struct Base {
    pub merges: Vec<(Vec<u8>, Vec<u8>)>,
    pub vocab: serde_json::Map<String, serde_json::Value>,
    pub added: Vec<AddedToken>,
    pub extra: usize,
}

impl Base {
    /// How many of `special_tokens` the base does not have yet (the others keep their ids).
    pub fn new_specials(&self, special_tokens: &[String]) -> usize {
        special_tokens
            .iter()
            .filter(|t| !self.added.iter().any(|a| &a.content == *t))
            .count()
    }
}

pub fn base_of(tok: &Tokenizer, extras: Option<&HfExtras>) -> Base {
    let v = &tok.vocab;
    let bytes = |id: u32| v.token(id).unwrap_or_default().to_vec();
    let merges: Vec<(Vec<u8>, Vec<u8>)> = v
        .merges()
        .iter()
        .map(|&(a, b)| (bytes(a), bytes(b)))
        .collect();
    let mut vocab = serde_json::Map::new();
    for (t, id) in v.tokens() {
        let s = extras
            .and_then(|x| x.token_strings.get(id as usize).cloned().flatten())
            .unwrap_or_else(|| crate::bytelevel::encode(t));
        vocab.insert(s, serde_json::json!(id));
    }
    // Tokens that merging makes (and the bytes) are counted by the trainer; the rest are extra.
    let mut made: rustc_hash::FxHashSet<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    for (a, b) in &merges {
        made.insert([a.as_slice(), b.as_slice()].concat());
    }
    let added = tok.added_tokens().to_vec();
    let mut ids: rustc_hash::FxHashSet<u32> = v.tokens().map(|(_, id)| id).collect();
    ids.extend(added.iter().map(|t| t.id));
    let made_in_base = v.tokens().filter(|(t, _)| made.contains(*t)).count();
    Base {
        merges,
        vocab,
        added,
        extra: ids.len() - made_in_base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_follow_the_authors_rules() {
        let f = Filters {
            max_words: Some(4),
            reject_colon_space: true,
        };
        assert!(f.accepts(b" of the"));
        assert!(f.accepts(b" a b c d"));
        assert!(!f.accepts(b" a b c d e"));
        assert!(!f.accepts(b"Answer: A"));
        assert!(f.accepts(b"Answer:\n"));
        assert_eq!(words(b"  "), 0);
        assert_eq!(words(b"a\xc2\xa0b c"), 2);
    }

    fn counts(items: &[(&str, u64)]) -> PieceCounts {
        let mut c = PieceCounts::default();
        for (s, n) in items {
            c.add(s.as_bytes(), *n);
        }
        c
    }

    #[test]
    fn transition_at_vocab_size_is_plain_bpe() {
        let stage1 = counts(&[("the", 5), (" cat", 3), (" the", 4)]);
        let chunks = counts(&[("the cat the", 3), (" the", 2)]);
        let bpe = crate::train::train(stage1.clone(), 262, 0, 1, &mut |_| true).unwrap();
        let filters = Filters {
            max_words: Some(4),
            reject_colon_space: true,
        };
        let sup = train_superbpe(
            Stage1::Counts {
                counts: stage1,
                transition: 262,
            },
            chunks,
            262,
            0,
            0,
            1,
            filters,
            Some(1),
            &mut |_, _| true,
        )
        .unwrap();
        assert_eq!(sup.merges, bpe.merges);
        assert_eq!(sup.stage1_len, bpe.merges.len());
    }
}
