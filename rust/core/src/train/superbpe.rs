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

use crate::count::PieceTable;
use crate::encode::{AddedToken, Tokenizer};
use crate::formats::hf::HfExtras;
use crate::train::{check_vocab_size, Merger, Words};
use crate::util::table::Table;
use crate::vocab::Vocab;
use crate::{Error, Result};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, Ordering};

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
        counts: PieceTable,
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
    chunks: PieceTable,
    vocab_size: usize,
    n_special: usize,
    base_extra: usize,
    min_frequency: u64,
    filters: Filters,
    num_threads: Option<usize>,
    progress: &mut dyn FnMut(Phase, usize) -> bool,
) -> Result<SuperTrained> {
    check_vocab_size(vocab_size, n_special)?;
    // Bytes that stand side by side in some stage-1 piece (or base token): only there can a
    // stage-1 merge join two bytes of a chunk.
    let mut adjacent = vec![false; 1 << 16];
    let mut mark = |bytes: &[u8]| {
        for w in bytes.windows(2) {
            adjacent[(w[0] as usize) << 8 | w[1] as usize] = true;
        }
    };
    match &stage1 {
        Stage1::Counts { counts, transition } => {
            if *transition > vocab_size || *transition < 256 + n_special {
                return Err(Error::value(format!(
                    "transition {transition} must lie between {} (256 bytes + {n_special} special tokens) and vocab_size {vocab_size}",
                    256 + n_special
                )));
            }
            counts.keys().for_each(&mut mark);
        }
        Stage1::Merges(list) => list
            .iter()
            .for_each(|(a, b)| mark(&[a.as_slice(), b.as_slice()].concat())),
    }
    // At `transition == vocab_size` there is no stage 2, even if stage 1 stopped early.
    let plain_bpe = matches!(stage1, Stage1::Counts { transition, .. } if transition == vocab_size);
    // Cutting the chunks into segments does not depend on the stage-1 merges: it runs on a
    // second thread while stage 1 trains (stage 1 stays on this thread, which sees Ctrl-C).
    let stop = AtomicBool::new(false);
    let background = !plain_bpe && crate::util::pool::pool(num_threads).current_num_threads() > 1;
    let mut chunks = Some(chunks);
    let (stage1, segmented) = std::thread::scope(|scope| {
        let segmenting = background.then(|| {
            let chunks = chunks.take().expect("chunks not taken yet");
            scope.spawn(|| Segmented::new(chunks, &adjacent, &stop))
        });
        let stage1 = match stage1 {
            Stage1::Counts { counts, transition } => {
                let mut merger = Merger::from_counts(counts);
                merger
                    .run(transition, n_special, min_frequency, &|_| true, &mut |d| {
                        progress(Phase::Stage1, d)
                    })
                    .map(|()| (merger.token_bytes, merger.merges))
            }
            Stage1::Merges(list) => inherit(&list),
        };
        if stage1.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let segmented = match segmenting {
            Some(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None if plain_bpe => None,
            None => Segmented::new(
                chunks.take().expect("chunks not taken yet"),
                &adjacent,
                &stop,
            ),
        };
        (stage1, segmented)
    });
    let (token_bytes, merges) = stage1?;
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
    let segmented = segmented.ok_or_else(Error::interrupted)?;
    if !progress(Phase::Replay, 0) {
        return Err(Error::interrupted());
    }
    let (words, weights, reached) = segmented.replay(&token_bytes, &merges, num_threads)?;
    if !progress(Phase::Replay, words.len()) {
        return Err(Error::interrupted());
    }
    let unused_stage1 = unused_merges(&token_bytes, &merges, reached);

    let planned = vocab_size.saturating_sub(token_bytes.len() + n_special + base_extra);
    let mut merger = Merger::from_words_planned(token_bytes, merges, words, weights, planned);
    merger.run(
        vocab_size,
        n_special + base_extra,
        min_frequency,
        &|t| filters.accepts(t),
        &mut |d| progress(Phase::Stage2, d),
    )?;
    let merges = merger.merge_bytes();
    drop_later(merger);
    Ok(SuperTrained {
        merges,
        stage1_len,
        unused_stage1,
    })
}

/// Frees `value` on a pool thread: unmapping tens of megabytes takes tens of milliseconds that
/// the caller need not wait for.
fn drop_later<T: Send + 'static>(value: T) {
    crate::util::pool::pool(None).spawn(move || drop(value));
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
                    crate::pretokenize::bytelevel::encode(t)
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

/// The distinct stage-2 chunks cut into segments that no stage-1 merge can cross (between two
/// bytes that stand side by side in no stage-1 piece: every merge makes a token, and every
/// token lies inside some piece), with each distinct segment numbered once. Segments repeat a
/// lot (they are mostly words), so the replay then encodes each distinct segment once and
/// copies.
struct Segmented {
    /// Segment numbers of every chunk, back to back: chunk `i` ends at `ends[i]`.
    segments: Vec<u32>,
    ends: Vec<usize>,
    weights: Vec<u64>,
    /// Segment `256 + j` is `bytes[spans[j].0..spans[j].1]`; numbers below 256 are single bytes.
    bytes: Vec<u8>,
    spans: Vec<(usize, usize)>,
    /// The bytes that are a segment of their own somewhere.
    lone_bytes: [bool; 256],
}

impl Segmented {
    /// Cuts and numbers the chunks (consumed as it goes); None if `stop` is raised.
    ///
    /// Batch by batch: first cut the chunks, then number their segments, fetching table slots
    /// a few segments ahead (the lookups are cache misses, and independent of each other).
    fn new(chunks: PieceTable, adjacent: &[bool], stop: &AtomicBool) -> Option<Segmented> {
        let chunks = chunks.into_pieces();
        let mut seg = Segmented {
            segments: Vec::new(),
            ends: Vec::with_capacity(chunks.len()),
            weights: Vec::with_capacity(chunks.len()),
            bytes: Vec::new(),
            spans: Vec::new(),
            lone_bytes: [false; 256],
        };
        let mut short: Table<u128, u32> = Table::with_capacity(1 << 15);
        let mut long: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        const BATCH: usize = 1 << 12;
        const AHEAD: usize = 16;
        let mut chunks = chunks.iter();
        let mut batch: Vec<(&[u8], u64)> = Vec::with_capacity(BATCH);
        let mut cut: Vec<Cut> = Vec::new();
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            batch.clear();
            batch.extend(chunks.by_ref().take(BATCH));
            if batch.is_empty() {
                break;
            }
            cut.clear();
            for (k, (chunk, count)) in batch.iter().enumerate() {
                if let Some((ahead, _)) = batch.get(k + AHEAD) {
                    if let Some(first) = ahead.first() {
                        crate::util::table::prefetch(first);
                    }
                }
                let mut start = 0;
                for i in 1..=chunk.len() {
                    if i < chunk.len() && adjacent[(chunk[i - 1] as usize) << 8 | chunk[i] as usize]
                    {
                        continue;
                    }
                    cut.push(match &chunk[start..i] {
                        [b] => Cut::Byte(*b),
                        segment if segment.len() <= 15 => Cut::Short(short_key(segment)),
                        _ => Cut::Long(k as u32, start as u32, i as u32),
                    });
                    start = i;
                }
                cut.push(Cut::End);
                seg.weights.push(*count);
            }
            for i in 0..cut.len() {
                if let Some(Cut::Short(key)) = cut.get(i + AHEAD) {
                    short.prefetch(*key);
                }
                let number = match cut[i] {
                    Cut::End => {
                        seg.ends.push(seg.segments.len());
                        continue;
                    }
                    Cut::Byte(b) => {
                        seg.lone_bytes[b as usize] = true;
                        b as u32
                    }
                    Cut::Short(key) => {
                        let next = 256 + seg.spans.len() as u32;
                        let number = *short.get_or_insert(key, next);
                        if number == next {
                            let bytes = key.to_le_bytes();
                            seg.push_bytes(&bytes[..bytes[15] as usize]);
                        }
                        number
                    }
                    Cut::Long(k, start, end) => {
                        let segment = &batch[k as usize].0[start as usize..end as usize];
                        match long.get(segment) {
                            Some(&number) => number,
                            None => {
                                let number = 256 + seg.spans.len() as u32;
                                long.insert(segment.to_vec(), number);
                                seg.push_bytes(segment);
                                number
                            }
                        }
                    }
                };
                seg.segments.push(number);
            }
        }
        Some(seg)
    }

    fn push_bytes(&mut self, segment: &[u8]) {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(segment);
        self.spans.push((at, self.bytes.len()));
    }

    /// Encodes every chunk with the merges (lowest rank first, as the saved tokenizer does):
    /// each distinct segment once, in parallel, then the chunks by copying. Returns the chunks
    /// as internal ids, with their counts.
    fn replay(
        self,
        token_bytes: &[Vec<u8>],
        merges: &[(u32, u32)],
        num_threads: Option<usize>,
    ) -> Result<(Words, Vec<u64>, Vec<bool>)> {
        let vocab = Vocab::from_id_merges(token_bytes, merges)?;
        // Encodings of the segments, by number, back to back: segment `n` ends at `ends[n]`.
        const PART: usize = 1 << 12;
        let parts: Vec<Words> = crate::util::pool::pool(num_threads).install(|| {
            let numbers: Vec<usize> = (0..256 + self.spans.len()).step_by(PART).collect();
            numbers
                .par_iter()
                .map(|&first| {
                    let mut words = Words::default();
                    vocab.with_encoder(|encoder| {
                        for n in first..(first + PART).min(256 + self.spans.len()) {
                            words.push_with(|out| match n.checked_sub(256) {
                                None => out.push(vocab.byte_id(n as u8)),
                                Some(j) => {
                                    let (s, e) = self.spans[j];
                                    encoder.encode(&self.bytes[s..e], out);
                                }
                            });
                        }
                    });
                    words
                })
                .collect()
        });
        let mut encoded = Words::default();
        for part in &parts {
            encoded.append(part);
        }
        drop(parts);
        // The chunks, by copying: each chunk's length first, then every part of the chunks
        // written in place by its own task.
        let segments_of = |i: usize| {
            let from = i.checked_sub(1).map_or(0, |i| self.ends[i]);
            &self.segments[from..self.ends[i]]
        };
        let pool = crate::util::pool::pool(num_threads);
        let len: Vec<u32> = pool.install(|| {
            (0..self.ends.len())
                .into_par_iter()
                .map(|i| {
                    segments_of(i)
                        .iter()
                        .map(|&n| encoded.get(n as usize).len() as u32)
                        .sum()
                })
                .collect()
        });
        let mut start = Vec::with_capacity(len.len());
        let mut total = 0;
        for &n in &len {
            start.push(total);
            total += n as usize;
        }
        let mut ids = vec![0u32; total];
        const CHUNKS: usize = 1 << 16;
        let mut parts = Vec::new();
        let mut rest = ids.as_mut_slice();
        for first in (0..len.len()).step_by(CHUNKS) {
            let last = (first + CHUNKS).min(len.len());
            let end = start.get(last).copied().unwrap_or(total);
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(end - start[first]);
            parts.push((first..last, part));
            rest = tail;
        }
        pool.install(|| {
            parts.into_par_iter().for_each(|(chunks, out)| {
                let mut at = 0;
                for i in chunks {
                    for &n in segments_of(i) {
                        let tokens = encoded.get(n as usize);
                        out[at..at + tokens.len()].copy_from_slice(tokens);
                        at += tokens.len();
                    }
                }
            })
        });
        let words = Words::from_parts(ids, start, len);
        // The tokens in some chunk: those of the segments that occur (every numbered segment
        // above the bytes does).
        let mut reached = vec![false; token_bytes.len()];
        for (n, tokens) in encoded.iter().enumerate() {
            if n >= 256 || self.lone_bytes[n] {
                for &t in tokens {
                    reached[t as usize] = true;
                }
            }
        }
        let Segmented {
            segments,
            ends,
            weights,
            bytes,
            spans,
            ..
        } = self;
        drop_later((segments, ends, bytes, spans, encoded, vocab));
        Ok((words, weights, reached))
    }
}

/// One segment of a chunk as cut: a byte, a short segment's key, a long segment (chunk in the
/// batch, start, end), or the end of the chunk.
#[derive(Clone, Copy)]
enum Cut {
    Byte(u8),
    Short(u128),
    Long(u32, u32, u32),
    End,
}

/// The key of a segment of 2 to 15 bytes: its bytes and length packed in 128 bits (never 0).
fn short_key(segment: &[u8]) -> u128 {
    let mut bytes = [0u8; 16];
    bytes[..segment.len()].copy_from_slice(segment);
    bytes[15] = segment.len() as u8;
    u128::from_le_bytes(bytes)
}

/// Ranks of merges whose token appears in no encoded chunk, not even inside a larger token;
/// `reached[t]`: token `t` appears in an encoded chunk.
fn unused_merges(
    token_bytes: &[Vec<u8>],
    merges: &[(u32, u32)],
    mut reached: Vec<bool>,
) -> Vec<usize> {
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
            .unwrap_or_else(|| crate::pretokenize::bytelevel::encode(t));
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

    fn counts(items: &[(&str, u64)]) -> PieceTable {
        let mut c = PieceTable::default();
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
