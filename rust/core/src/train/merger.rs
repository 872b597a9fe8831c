//! The merge loop: [`Merger`] holds tokens, words with their weights, pair counts and the queue,
//! and makes merges until the vocabulary is full, no pair is left, or counts fall below
//! `min_frequency`. Rare pairs can be kept out of the loop (`Pruning`), exactly.

use super::queue::{pair_runs, Entry, Grouper, PairCounts, Positions};
use super::words::{byte_rank, byte_tokens, key, merge_words, Words};
use crate::count::PieceTable;
use crate::util::table::prefetch;
use crate::{Error, Result};
use rustc_hash::FxHashMap;
use std::collections::BinaryHeap;

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

#[cfg(test)]
mod tests {
    use super::*;

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
