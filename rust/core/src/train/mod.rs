//! Byte-level BPE training, with the merge rule of Hugging Face's `BpeTrainer`.
//!
//! 1. **Counting** (streaming, parallel): every unit of text (a line with its line ending, or an
//!    item of an iterator) is cut into pieces by the pre-tokenizer regex; distinct pieces are
//!    counted with 64-bit counts. Memory grows with the number of distinct pieces only.
//! 2. **Merging**: the rule of `tokenizers`' `BpeTrainer`, so the same counts, vocabulary size and
//!    `min_frequency` give the same merges in the same order:
//!    * pair counts are window counts (`a a a` holds `(a, a)` twice), weighted by piece counts;
//!    * the most frequent pair is merged; ties go to the smallest pair of ids, where ids order the
//!      256 bytes by their byte-level character (GPT-2's alphabet) and then merged tokens by
//!      creation;
//!    * a merge is applied to the pieces recorded with its queue entry; the merged pair's own count
//!      is not recounted, exactly as `BpeTrainer` does (this only matters when two different pairs
//!      make the same token string, and it is why the merge list may repeat a pair);
//!    * training stops at `vocab_size` (256 bytes + distinct merged tokens + special tokens), when
//!      no pair is left, or when the best count is below `min_frequency`.

pub mod superbpe;

use crate::count::PieceTable;
use crate::util::table::prefetch;
use crate::{Error, Result};
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Byte order of the tie rule: bytes sorted by their byte-level character (GPT-2's alphabet).
fn byte_rank() -> [u32; 256] {
    let mut bytes: Vec<u8> = (0..=255).collect();
    bytes.sort_by_key(|&b| {
        crate::pretokenize::bytelevel::encode(&[b])
            .chars()
            .next()
            .unwrap() as u32
    });
    let mut rank = [0u32; 256];
    for (r, &b) in bytes.iter().enumerate() {
        rank[b as usize] = r as u32;
    }
    rank
}

/// The 256 one-byte tokens by internal id (tie-rule order), where every merge list starts.
pub fn byte_tokens() -> Vec<Vec<u8>> {
    let rank = byte_rank();
    let mut token_bytes: Vec<Vec<u8>> = vec![Vec::new(); 256];
    for b in 0..256usize {
        token_bytes[rank[b] as usize] = vec![b as u8];
    }
    token_bytes
}

struct Entry {
    count: u64,
    pair: (u32, u32),
    pos: Positions,
}

/// The words a queue entry updates: a range of the initial pair index (shared, so building the
/// queue allocates nothing per pair), or a list of its own (pairs made by merges).
enum Positions {
    Initial(usize, usize),
    Own(Vec<u32>),
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Highest count first, then the smallest pair.
        self.count
            .cmp(&other.count)
            .then_with(|| other.pair.cmp(&self.pair))
    }
}

/// Pair counts by key (`key(pair)`): a table whose slots can be prefetched, since the merge
/// loop's updates are scattered over millions of pairs.
type PairCounts = crate::util::table::Table<u64, i64>;

/// Sorts the windows of one bucket (`second << 32 | word`, made in word order) by a counting
/// sort on the second token: stable, so each run stays in word order, and linear where a
/// comparison sort of millions of windows is not. Small buckets are sorted plainly.
struct Grouper {
    /// Per token: how many windows of the bucket have it second, then where the next goes.
    at: Vec<u32>,
    seconds: Vec<u32>,
    sorted: Vec<u64>,
}

impl Grouper {
    fn new(n_tokens: usize) -> Grouper {
        Grouper {
            at: vec![0; n_tokens],
            seconds: Vec::new(),
            sorted: Vec::new(),
        }
    }

    fn sort(&mut self, bucket: &mut [u64]) {
        if bucket.len() <= 256 {
            bucket.sort_unstable();
            return;
        }
        let second = |w: u64| (w >> 32) as usize;
        for &w in bucket.iter() {
            let count = &mut self.at[second(w)];
            if *count == 0 {
                self.seconds.push(second(w) as u32);
            }
            *count += 1;
        }
        self.seconds.sort_unstable();
        let mut start = 0;
        for &s in &self.seconds {
            let count = self.at[s as usize];
            self.at[s as usize] = start;
            start += count;
        }
        self.sorted.clear();
        self.sorted.resize(bucket.len(), 0);
        for &w in bucket.iter() {
            let at = &mut self.at[second(w)];
            self.sorted[*at as usize] = w;
            *at += 1;
        }
        bucket.copy_from_slice(&self.sorted);
        for &s in &self.seconds {
            self.at[s as usize] = 0;
        }
        self.seconds.clear();
    }
}

/// The runs of one bucket of the initial pair index (windows `second << 32 | word`, sorted):
/// one per pair, its windows in word order.
fn pair_runs(bucket: &[u64]) -> impl Iterator<Item = &[u64]> {
    bucket.chunk_by(|x, y| x >> 32 == y >> 32)
}

#[inline]
fn key(pair: (u32, u32)) -> u64 {
    (pair.0 as u64) << 32 | pair.1 as u64
}

/// The training result: merges in order, as pairs of token bytes.
pub struct Trained {
    pub merges: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Words (distinct pieces or chunks as token ids) stored back to back in one buffer, so that
/// millions of words cost no allocation each: word `i` is `ids[start[i]..start[i] + len[i]]`.
/// Merging shortens a word in place.
#[derive(Default, Clone)]
pub struct Words {
    ids: Vec<u32>,
    start: Vec<usize>,
    len: Vec<u32>,
}

impl Words {
    /// Appends a word that `fill` writes to the end of the buffer.
    pub fn push_with(&mut self, fill: impl FnOnce(&mut Vec<u32>)) {
        let start = self.ids.len();
        fill(&mut self.ids);
        self.start.push(start);
        self.len.push((self.ids.len() - start) as u32);
    }

    /// Words `i` at `ids[start[i]..start[i] + len[i]]`.
    pub fn from_parts(ids: Vec<u32>, start: Vec<usize>, len: Vec<u32>) -> Words {
        assert_eq!(start.len(), len.len(), "one start and one length per word");
        assert!(
            start
                .iter()
                .zip(&len)
                .all(|(&s, &n)| s + n as usize <= ids.len()),
            "words inside the ids"
        );
        Words { ids, start, len }
    }

    /// Appends all of `other`'s words.
    pub fn append(&mut self, other: &Words) {
        let shift = self.ids.len();
        self.ids.extend_from_slice(&other.ids);
        self.start.extend(other.start.iter().map(|s| s + shift));
        self.len.extend_from_slice(&other.len);
    }

    pub fn len(&self) -> usize {
        self.start.len()
    }

    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }

    /// Word `i`.
    pub fn get(&self, i: usize) -> &[u32] {
        &self.ids[self.start[i]..self.start[i] + self.len[i] as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u32]> {
        self.start
            .iter()
            .zip(&self.len)
            .map(|(&s, &n)| &self.ids[s..s + n as usize])
    }
}

/// The state of the merge loop: tokens, words (distinct pieces as token ids) with their
/// weights, pair counts and the queue. Internal ids: the 256 bytes in tie-rule order, then
/// merged tokens in creation order.
pub struct Merger {
    pub token_bytes: Vec<Vec<u8>>,
    token_ids: FxHashMap<Vec<u8>, u32>,
    words: Words,
    weights: Vec<u64>,
    /// The words of every initial pair, pair after pair (see `Positions::Initial`).
    initial: Vec<u32>,
    pair_counts: PairCounts,
    /// The count changes of the current merge to pairs with its new token:
    /// `(pair, word, change)`, applied together once the merge is done.
    grown: Vec<(u64, u32, i64)>,
    queue: BinaryHeap<Entry>,
    /// Merges made so far, as internal id pairs.
    pub merges: Vec<(u32, u32)>,
    pruning: Option<Box<Pruning>>,
}

/// What `Merger::from_words` starts from: token bytes, merges made, words and their weights.
type MergerInputs = (Vec<Vec<u8>>, Vec<(u32, u32)>, Words, Vec<u64>);

/// Rare pairs kept out of the merge loop (see `Merger::from_words_planned`).
///
/// Why it is exact: the best count never grows from one merge to the next (a new pair occurs at
/// most as often as the pair just merged), and a pair gains occurrences only in the merge that
/// makes one of its tokens (a pair of older tokens never does). So if every merge of the run
/// counts at least `below`, a pair counted fewer times when it first appears is never the best:
/// its count, its words and its updates can be left out. The loop starts over without pruning
/// when it would need such a pair after all (the best count left is below `below`), and when a
/// merge makes a token that exists already (pairs with it that were left out could then gain).
struct Pruning {
    below: u64,
    /// The inputs, to start over from.
    restart: MergerInputs,
}

impl Merger {
    /// Starts from the bytes of each distinct piece.
    pub fn from_counts(counts: PieceTable) -> Merger {
        let rank = byte_rank();
        let token_bytes = byte_tokens();
        // The count table is consumed as we go (the result does not depend on word order).
        let mut words = Words::default();
        let pieces = counts.into_pieces();
        let mut weights = Vec::with_capacity(pieces.len());
        for (piece, count) in pieces.iter() {
            words.push_with(|ids| ids.extend(piece.iter().map(|&b| rank[b as usize])));
            weights.push(count);
        }
        Merger::from_words(token_bytes, Vec::new(), words, weights)
    }

    /// Starts from words already made of `token_bytes` ids (the first 256 being the bytes in
    /// tie-rule order), with `merges` already made.
    pub fn from_words(
        token_bytes: Vec<Vec<u8>>,
        merges: Vec<(u32, u32)>,
        words: Words,
        weights: Vec<u64>,
    ) -> Merger {
        Merger::index(token_bytes, merges, words, weights, None)
    }

    /// `from_words` for a run of about `planned` merges on many words (SuperBPE's stage 2):
    /// initial pairs much rarer than the `planned`-th most frequent one stay out of the loop
    /// (see `Pruning`), which keeps the pair table small. The merges are the same.
    pub fn from_words_planned(
        token_bytes: Vec<Vec<u8>>,
        merges: Vec<(u32, u32)>,
        words: Words,
        weights: Vec<u64>,
        planned: usize,
    ) -> Merger {
        Merger::index(token_bytes, merges, words, weights, Some(planned))
    }

    fn index(
        token_bytes: Vec<Vec<u8>>,
        merges: Vec<(u32, u32)>,
        words: Words,
        weights: Vec<u64>,
        planned: Option<usize>,
    ) -> Merger {
        let token_ids = token_bytes
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        // Every window as (second token << 32 | word), bucketed by its first token (a counting
        // sort, in word order), then each bucket sorted: runs give each pair's count and words.
        let mut bucket_end = vec![0usize; token_bytes.len()];
        for w in words.iter() {
            for &t in &w[..w.len().saturating_sub(1)] {
                bucket_end[t as usize] += 1;
            }
        }
        let mut total = 0;
        for end in &mut bucket_end {
            total += *end;
            *end = total;
        }
        let mut next: Vec<usize> = std::iter::once(0)
            .chain(bucket_end.iter().copied())
            .collect();
        let mut windows = vec![0u64; total];
        for (i, w) in words.iter().enumerate() {
            for p in w.windows(2) {
                let at = &mut next[p[0] as usize];
                windows[*at] = (p[1] as u64) << 32 | i as u64;
                *at += 1;
            }
        }
        let mut buckets: Vec<&mut [u64]> = Vec::with_capacity(bucket_end.len());
        let mut rest = windows.as_mut_slice();
        let mut start = 0;
        for &end in &bucket_end {
            let (bucket, tail) = std::mem::take(&mut rest).split_at_mut(end - start);
            buckets.push(bucket);
            rest = tail;
            start = end;
        }
        // Per bucket, in parallel: sort, then each pair's count and number of windows.
        let n_tokens = token_bytes.len();
        let counts: Vec<Vec<(u64, usize)>> = crate::util::pool::pool(None).install(|| {
            use rayon::prelude::*;
            buckets
                .par_iter_mut()
                .map_init(
                    || Grouper::new(n_tokens),
                    |grouper, b| {
                        grouper.sort(b);
                        pair_runs(b)
                            .map(|run| {
                                let count = run.iter().map(|&w| weights[w as u32 as usize]).sum();
                                (count, run.len())
                            })
                            .collect()
                    },
                )
                .collect()
        });
        let below = match planned {
            Some(planned) => {
                Merger::pruning_threshold(counts.iter().flatten().map(|&(count, _)| count), planned)
            }
            None => 0,
        };
        // The copy to start over from (only if pruning) is made on another thread meanwhile.
        let (pruning, initial, pair_counts, entries) = std::thread::scope(|scope| {
            let restart = (below > 1).then(|| {
                scope.spawn(|| {
                    (
                        token_bytes.clone(),
                        merges.clone(),
                        words.clone(),
                        weights.clone(),
                    )
                })
            });
            let mut initial = Vec::with_capacity(total);
            let mut entries = Vec::new();
            for (a, (bucket, counts)) in buckets.iter().zip(&counts).enumerate() {
                // (Pairs left out are stepped over by their length, not scanned.)
                let mut at = 0;
                for &(count, n) in counts {
                    let run = &bucket[at..at + n];
                    at += n;
                    if count < below {
                        continue;
                    }
                    let from = initial.len();
                    for &w in run {
                        if initial.len() == from || initial.last() != Some(&(w as u32)) {
                            initial.push(w as u32);
                        }
                    }
                    entries.push(Entry {
                        count,
                        pair: (a as u32, (run[0] >> 32) as u32),
                        pos: Positions::Initial(from, initial.len()),
                    });
                }
            }
            let mut pair_counts = PairCounts::with_capacity(entries.len());
            for e in &entries {
                *pair_counts.get_or_insert(key(e.pair), 0) = e.count as i64;
            }
            let pruning = restart.map(|copying| {
                let restart = copying
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                Box::new(Pruning { below, restart })
            });
            (pruning, initial, pair_counts, entries)
        });
        drop(buckets);
        drop(windows);
        Merger {
            token_bytes,
            token_ids,
            words,
            weights,
            initial,
            pair_counts,
            grown: Vec::new(),
            queue: BinaryHeap::from(entries),
            merges,
            pruning,
        }
    }

    /// Half the count of the `planned`-th most frequent pair, when pruning below it pays (many
    /// more pairs than merges); else 0 (no pruning).
    fn pruning_threshold(counts: impl Iterator<Item = u64>, planned: usize) -> u64 {
        let mut counts: Vec<u64> = counts.collect();
        if planned == 0 || counts.len() < 4 * planned || counts.len() < 1 << 12 {
            return 0;
        }
        let (_, &mut kth, _) = counts.select_nth_unstable_by(planned - 1, |a, b| b.cmp(a));
        kth / 2
    }

    /// Gives up pruning: the state as it was before any merge of this run.
    fn start_over(&mut self) {
        if let Some(p) = self.pruning.take() {
            let (token_bytes, merges, words, weights) = p.restart;
            *self = Merger::index(token_bytes, merges, words, weights, None);
        }
    }

    /// Queues every pair whose count grew since the last call, with the words to update.
    fn push_updates(&mut self) {
        // The changes come in word order. Summed per pair first, so that pairs too rare to ever
        // be the best (when pruning: most of the new pairs of a long-word merge) cost nothing
        // more; then the remaining pairs' words are gathered in that order, and the pairs are
        // queued in key order.
        let below = self.pruning.as_ref().map_or(i64::MIN, |p| p.below as i64);
        let mut sums: FxHashMap<u64, i64> = FxHashMap::default();
        for &(k, w, c) in &self.grown {
            *sums.entry(k).or_insert(0) += c * self.weights[w as usize] as i64;
        }
        let mut kept: Vec<(u64, i64)> = sums.into_iter().filter(|&(_, s)| s >= below).collect();
        kept.sort_unstable_by_key(|&(k, _)| k);
        let slot: FxHashMap<u64, usize> =
            kept.iter().enumerate().map(|(i, &(k, _))| (k, i)).collect();
        let mut words: Vec<Vec<u32>> = vec![Vec::new(); kept.len()];
        for &(k, w, c) in &self.grown {
            if c > 0 {
                if let Some(&i) = slot.get(&k) {
                    if words[i].last() != Some(&w) {
                        words[i].push(w);
                    }
                }
            }
        }
        for ((k, change), pos) in kept.into_iter().zip(words) {
            let count = self.pair_counts.get_or_insert(k, 0);
            *count += change;
            let count = *count;
            if count > 0 && !pos.is_empty() {
                self.queue.push(Entry {
                    count: count as u64,
                    pair: ((k >> 32) as u32, k as u32),
                    pos: Positions::Own(pos),
                });
            }
        }
        self.grown.clear();
    }

    /// The number of distinct tokens (bytes included).
    pub fn n_tokens(&self) -> usize {
        self.token_ids.len()
    }

    /// Merges until `n_tokens() + reserved` reaches `vocab_size`, no pair is left, or the best
    /// count is below `min_frequency`. A pair whose merged bytes `accept` refuses is dropped.
    /// `progress(merges_done)` returns false to stop.
    pub fn run(
        &mut self,
        vocab_size: usize,
        reserved: usize,
        min_frequency: u64,
        accept: &dyn Fn(&[u8]) -> bool,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<()> {
        let mut changes = Vec::new();
        let start = self.merges.len();
        while self.token_ids.len() + reserved < vocab_size {
            let best = self.queue.peek().map_or(0, |top| top.count);
            if self.pruning.as_ref().is_some_and(|p| best < p.below) {
                // A left-out pair could be the best now: merge again without pruning.
                self.start_over();
                continue;
            }
            let Some(mut top) = self.queue.pop() else {
                break;
            };
            let current = self.pair_counts.get(key(top.pair)).unwrap_or(0);
            if top.count as i64 != current {
                top.count = current.max(0) as u64;
                self.queue.push(top);
                continue;
            }
            if top.count < 1 || min_frequency > top.count {
                break;
            }
            let (a, b) = top.pair;
            let new_bytes = [
                self.token_bytes[a as usize].as_slice(),
                self.token_bytes[b as usize].as_slice(),
            ]
            .concat();
            if !accept(&new_bytes) {
                continue;
            }
            let made_before = self.token_ids.get(&new_bytes).copied();
            if made_before.is_some() && self.pruning.is_some() {
                // Pairs with that token that were left out could gain now.
                self.start_over();
                continue;
            }
            let new_id = match made_before {
                Some(id) => id,
                None => {
                    let id = self.token_bytes.len() as u32;
                    self.token_bytes.push(new_bytes.clone());
                    self.token_ids.insert(new_bytes, id);
                    id
                }
            };
            self.merges.push((a, b));
            let pos = match &top.pos {
                Positions::Initial(from, to) => &self.initial[*from..*to],
                Positions::Own(pos) => pos,
            };
            changes.clear();
            let Words {
                ids,
                start: at,
                len,
            } = &mut self.words;
            merge_words(ids, at, len, 0, pos, (a, b, new_id), &mut changes);
            // Changes to pairs with the new token are summed per pair afterwards (`grown`).
            // The others, scattered over millions of pairs and words, are fetched ahead.
            const AHEAD: usize = 8;
            let with_new = |k: u64| (k >> 32) as u32 == new_id || k as u32 == new_id;
            for (i, &(wi, k, change)) in changes.iter().enumerate() {
                if let Some(&(w, k, _)) = changes.get(i + AHEAD) {
                    if !with_new(k) {
                        self.pair_counts.prefetch(k);
                        prefetch(&self.weights[w as usize]);
                    }
                }
                if with_new(k) {
                    self.grown.push((k, wi, change));
                    continue;
                }
                let change = change * self.weights[wi as usize] as i64;
                match self.pair_counts.get_mut(k) {
                    Some(count) => *count += change,
                    None if self.pruning.is_some() => {} // a pair left out as too rare
                    None => *self.pair_counts.get_or_insert(k, 0) += change,
                }
            }
            self.push_updates();
            let done = self.merges.len() - start;
            if done.is_multiple_of(64) && !progress(done) {
                return Err(Error::interrupted());
            }
        }
        progress(self.merges.len() - start);
        Ok(())
    }

    /// The merges made so far, as pairs of token bytes.
    pub fn merge_bytes(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.merges
            .iter()
            .map(|&(a, b)| {
                (
                    self.token_bytes[a as usize].clone(),
                    self.token_bytes[b as usize].clone(),
                )
            })
            .collect()
    }
}

/// Checks `vocab_size` against the 256 byte tokens and `n_special` special tokens.
pub fn check_vocab_size(vocab_size: usize, n_special: usize) -> Result<()> {
    if vocab_size < 256 + n_special {
        return Err(Error::value(format!(
            "vocab_size {vocab_size} is too small: the 256 byte tokens and {n_special} special tokens need {}",
            256 + n_special
        )));
    }
    Ok(())
}

/// Learns merges from piece counts. `vocab_size` counts the 256 bytes, the distinct merged
/// tokens and `n_special` special tokens. `progress(merges_done)` returns false to stop.
pub fn train(
    counts: PieceTable,
    vocab_size: usize,
    n_special: usize,
    min_frequency: u64,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Trained> {
    check_vocab_size(vocab_size, n_special)?;
    let mut merger = Merger::from_counts(counts);
    merger.run(vocab_size, n_special, min_frequency, &|_| true, progress)?;
    Ok(Trained {
        merges: merger.merge_bytes(),
    })
}

/// Merges `(a, b)` into `new_id` in the words `pos` (sorted ids), appending each pair count
/// change as (word, pair, change) in word order. `ids` and `len` start at word `first` (`start`
/// is whole). Many words are split between threads (their cache misses are most of the work);
/// the changes come out in the same order either way, so they are applied exactly as on one
/// thread.
fn merge_words(
    ids: &mut [u32],
    start: &[usize],
    len: &mut [u32],
    first: usize,
    pos: &[u32],
    (a, b, new_id): (u32, u32, u32),
    changes: &mut Vec<(u32, u64, i64)>,
) {
    const PARALLEL_MIN: usize = 1 << 11;
    let Some(&base) = start.get(first) else {
        return; // no words, so no positions
    };
    if pos.len() < PARALLEL_MIN {
        // The words are scattered: fetch the next ones' bounds and ids ahead of use (the loop is
        // otherwise bound by cache misses).
        const AHEAD: usize = 8;
        for (i, &wi) in pos.iter().enumerate() {
            if let Some(&w) = pos.get(i + 2 * AHEAD) {
                prefetch(&start[w as usize]);
                prefetch(&len[w as usize - first]);
            }
            if let Some(&w) = pos.get(i + AHEAD) {
                if let Some(id) = ids.get(start[w as usize] - base) {
                    prefetch(id);
                }
            }
            let (s, n) = (start[wi as usize] - base, &mut len[wi as usize - first]);
            *n = merge_word(&mut ids[s..s + *n as usize], a, b, new_id, |k, change| {
                changes.push((wi, k, change))
            });
        }
        return;
    }
    let (left, right) = pos.split_at(pos.len() / 2);
    let mid = right[0] as usize;
    let (ids_low, ids_high) = ids.split_at_mut(start[mid] - base);
    let (len_low, len_high) = len.split_at_mut(mid - first);
    let mut right_changes = Vec::new();
    crate::util::pool::pool(None).install(|| {
        rayon::join(
            || {
                merge_words(
                    ids_low,
                    start,
                    len_low,
                    first,
                    left,
                    (a, b, new_id),
                    changes,
                )
            },
            || {
                let (ids, len) = (ids_high, len_high);
                merge_words(
                    ids,
                    start,
                    len,
                    mid,
                    right,
                    (a, b, new_id),
                    &mut right_changes,
                )
            },
        )
    });
    changes.extend_from_slice(&right_changes);
}

/// Replaces every non-overlapping `(a, b)` in `word`, left to right, in one compacting pass,
/// recording the pair count changes around each replacement (the pair `(a, b)` itself is not
/// recorded, as in `tokenizers`). Returns the new length.
fn merge_word(
    word: &mut [u32],
    a: u32,
    b: u32,
    new_id: u32,
    mut change: impl FnMut(u64, i64),
) -> u32 {
    let n = word.len();
    let (mut read, mut write) = (0, 0);
    while read < n {
        if read + 1 < n && word[read] == a && word[read + 1] == b {
            if write > 0 {
                let before = word[write - 1];
                change(key((before, a)), -1);
                change(key((before, new_id)), 1);
            }
            if read + 2 < n {
                let after = word[read + 2];
                change(key((b, after)), -1);
                change(key((new_id, after)), 1);
            }
            word[write] = new_id;
            read += 2;
        } else {
            word[write] = word[read];
            read += 1;
        }
        write += 1;
    }
    write as u32
}

/// The `tokenizer.json` document of a trained vocabulary: bytes keep ids 0-255 (byte value),
/// merged tokens follow in order of creation, special tokens come last.
pub fn document(
    merges: &[(Vec<u8>, Vec<u8>)],
    pre_tokenizer: serde_json::Value,
    special_tokens: &[String],
) -> serde_json::Value {
    let vocab = (0..=255u8)
        .map(|b| {
            (
                crate::pretokenize::bytelevel::encode(&[b]),
                serde_json::json!(b),
            )
        })
        .collect();
    document_extending(vocab, Vec::new(), merges, pre_tokenizer, special_tokens)
}

/// The `tokenizer.json` document of a vocabulary that starts as `vocab` (token strings to ids)
/// and `added` tokens: tokens made by `merges` that it lacks get the next free ids in order of
/// creation, then the new `special_tokens`.
pub fn document_extending(
    mut vocab: serde_json::Map<String, serde_json::Value>,
    mut added: Vec<crate::AddedToken>,
    merges: &[(Vec<u8>, Vec<u8>)],
    pre_tokenizer: serde_json::Value,
    special_tokens: &[String],
) -> serde_json::Value {
    use crate::pretokenize::bytelevel::encode;
    use serde_json::{json, Value};
    let mut next_id = vocab
        .values()
        .filter_map(Value::as_u64)
        .chain(added.iter().map(|t| t.id as u64))
        .max()
        .map_or(0, |m| m + 1);
    let mut add = |vocab: &mut serde_json::Map<String, Value>, s: String| {
        if !vocab.contains_key(&s) {
            vocab.insert(s, json!(next_id));
            next_id += 1;
        }
    };
    // A pair merged twice (see the module note) keeps its last rank, as in `tokenizers`.
    let mut last_rank: FxHashMap<(&[u8], &[u8]), usize> = FxHashMap::default();
    for (i, (a, b)) in merges.iter().enumerate() {
        last_rank.insert((a.as_slice(), b.as_slice()), i);
        add(&mut vocab, encode(a));
        add(&mut vocab, encode(b));
        add(&mut vocab, encode(&[a.as_slice(), b.as_slice()].concat()));
    }
    let merge_list: Vec<Value> = merges
        .iter()
        .enumerate()
        .filter(|(i, (a, b))| last_rank[&(a.as_slice(), b.as_slice())] == *i)
        .map(|(_, (a, b))| json!([encode(a), encode(b)]))
        .collect();
    for t in special_tokens {
        if added.iter().any(|a| &a.content == t) {
            continue;
        }
        // A special token spelled like a learned token shares that token's id (as in `tokenizers`).
        let id = match vocab.get(t).and_then(Value::as_u64) {
            Some(id) => id,
            None => {
                next_id += 1;
                next_id - 1
            }
        } as u32;
        vocab.insert(t.clone(), json!(id));
        added.push(crate::AddedToken {
            content: t.clone(),
            id,
            special: true,
            normalized: false,
        });
    }
    crate::formats::hf::byte_level_bpe_document(vocab, merge_list, &added, pre_tokenizer, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counting sort of a bucket equals a plain sort, on buckets of every size (windows made
    /// in word order, as the index makes them; few or many distinct second tokens).
    #[test]
    fn grouper_equals_sort() {
        let mut seed = 12345u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut grouper = Grouper::new(5000);
        for round in 0..200 {
            let len = next(3000) as usize;
            let distinct = [2, 40, 5000][round % 3];
            let mut word = 0u64;
            let mut bucket: Vec<u64> = (0..len)
                .map(|_| {
                    word += next(3);
                    next(distinct) << 32 | word
                })
                .collect();
            let mut expected = bucket.clone();
            expected.sort_unstable();
            grouper.sort(&mut bucket);
            assert_eq!(bucket, expected, "round {round}");
        }
    }

    #[test]
    fn merges_follow_counts_and_ties() {
        let mut counts = PieceTable::default();
        counts.add(b"abab", 3);
        counts.add(b"cd", 6);
        let t = train(counts.clone(), 259, 0, 1, &mut |_| true).unwrap();
        // (a,b) and (c,d) both count 6: (a,b) has the smaller ids. Then (c,d), then (ab,ab).
        assert_eq!(
            t.merges,
            vec![
                (b"a".to_vec(), b"b".to_vec()),
                (b"c".to_vec(), b"d".to_vec()),
                (b"ab".to_vec(), b"ab".to_vec())
            ]
        );
        assert!(train(counts, 100, 0, 1, &mut |_| true).is_err());
    }

    /// Random words over the bytes, skewed so that a few pairs are frequent and most are rare.
    fn skewed_words(n: usize, seed: u64) -> (Words, Vec<u64>) {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut words = Words::default();
        let mut weights = Vec::new();
        for _ in 0..n {
            let len = 2 + (next() % 7) as usize;
            words.push_with(|ids| {
                for _ in 0..len {
                    // min of two uniform draws: small ids are more frequent.
                    ids.push((next() % 200).min(next() % 200) as u32);
                }
            });
            weights.push(1 + next() % 5);
        }
        (words, weights)
    }

    fn merges_of(merger: &mut Merger, n_merges: usize) -> Vec<(u32, u32)> {
        let no_space = |t: &[u8]| !t.contains(&b' ');
        let made = merger.merges.len();
        merger
            .run(256 + made + n_merges, 0, 1, &no_space, &mut |_| true)
            .unwrap();
        merger.merges.clone()
    }

    #[test]
    fn pruning_rare_pairs_keeps_the_merges() {
        let (words, weights) = skewed_words(30_000, 7);
        for (planned, n_merges, starts_over) in [(150, 150, false), (20, 1500, true)] {
            let mut full =
                Merger::from_words(byte_tokens(), Vec::new(), words.clone(), weights.clone());
            let mut pruned = Merger::from_words_planned(
                byte_tokens(),
                Vec::new(),
                words.clone(),
                weights.clone(),
                planned,
            );
            assert!(pruned.pruning.is_some(), "enough rare pairs to prune");
            assert_eq!(
                merges_of(&mut pruned, n_merges),
                merges_of(&mut full, n_merges)
            );
            assert_eq!(pruned.pruning.is_none(), starts_over);
            assert_eq!(pruned.merge_bytes(), full.merge_bytes());
        }
    }

    /// A merge that makes a token again (here `ab`, which exists already while words still hold
    /// `a b`, as a replayed stage 1 can leave them) makes a pruned run start over: the pair
    /// `(c, ab)` was too rare to keep at first, and gains as much again from the merge.
    #[test]
    fn pruning_starts_over_when_a_token_is_made_again() {
        let (a, b, c, ab) = (200, 201, 202, 256); // ids that the skewed words do not use
        let build = |rare: u64, planned: Option<usize>| {
            let (mut words, mut weights) = skewed_words(30_000, 11);
            for _ in 0..50 {
                words.push_with(|ids| ids.extend([a, b, a, b]));
            }
            weights.extend(std::iter::repeat_n(1000, 50));
            words.push_with(|ids| ids.extend([c, ab]));
            weights.push(rare);
            words.push_with(|ids| ids.extend([c, a, b]));
            weights.push(rare);
            let mut tokens = byte_tokens();
            tokens.push([tokens[a as usize].clone(), tokens[b as usize].clone()].concat());
            let merges = vec![(a, b)];
            match planned {
                Some(n) => Merger::from_words_planned(tokens, merges, words, weights, n),
                None => Merger::from_words(tokens, merges, words, weights),
            }
        };
        let below = build(1, Some(100)).pruning.as_ref().expect("pruning").below;
        // Each half of (c, ab)'s count is below the threshold; together they are not.
        let rare = below - 1;
        let mut pruned = build(rare, Some(100));
        assert_eq!(pruned.pruning.as_ref().map(|p| p.below), Some(below));
        let mut full = build(rare, None);
        let merged = merges_of(&mut full, 400);
        assert_eq!(merged[1], (a, b), "the pair is merged again");
        assert!(
            merged.contains(&(c, ab)),
            "the pair that was too rare is merged"
        );
        assert_eq!(merges_of(&mut pruned, 400), merged);
        assert!(pruned.pruning.is_none(), "started over");
    }
}
