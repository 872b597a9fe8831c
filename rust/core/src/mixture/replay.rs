//! One category's sample under a merge list: its distinct pieces as token ids with their counts,
//! pair counts kept up to date merge after merge, the words each pair occurs in, and a lazy
//! max-heap that gives the most frequent pairs at any step.

use crate::count::PieceTable;
use crate::train::{pair_key, Words};
use rustc_hash::FxHashMap;
use std::collections::BinaryHeap;

/// The state of one category between merges.
pub struct CategoryReplay {
    words: Words,
    weights: Vec<u64>,
    /// Window counts weighted by piece counts (`a a a` holds `(a, a)` twice).
    pair_counts: FxHashMap<u64, u64>,
    /// The words a pair has occurred in (a word may stay listed after it lost the pair: merging
    /// it then changes nothing).
    pair_words: FxHashMap<u64, Vec<u32>>,
    /// `(count, key)` entries. Every pair's largest entry is at least its count (an entry is
    /// pushed whenever a count grows), so stale entries are fixed or dropped when they surface.
    heap: BinaryHeap<(u64, u64)>,
    /// Bytes of the sample (sum of piece length times count): what counts are normalised by.
    pub bytes: u64,
}

/// What one category reports at a step: the pairs (other than the merged one) counted more
/// often than it, most frequent first, at most `k` of them; and `bound`, a count that every pair
/// left out (the merged one aside) stays at or below.
pub struct Above {
    pub pairs: Vec<(u64, u64)>,
    pub bound: u64,
}

impl CategoryReplay {
    /// The pieces of `counts` as words of `byte_ids` (the tokenizer's id of each byte).
    pub fn new(counts: &PieceTable, byte_ids: &[u32; 256]) -> CategoryReplay {
        CategoryReplay::weighted(&[(counts, 1)], byte_ids)
    }

    /// The pieces of several tables, each piece's count multiplied by its table's weight: a
    /// mixture, whose pair counts are the weighted sums of the tables' (tables of weight 0 are
    /// left out). `bytes` counts every table once.
    pub fn weighted(tables: &[(&PieceTable, u64)], byte_ids: &[u32; 256]) -> CategoryReplay {
        let mut words = Words::default();
        let mut weights = Vec::new();
        let mut bytes = 0u64;
        for &(counts, weight) in tables {
            for (piece, count) in counts.iter() {
                bytes += piece.len() as u64 * count;
                if weight > 0 {
                    words.push_with(|ids| ids.extend(piece.iter().map(|&b| byte_ids[b as usize])));
                    weights.push(count * weight);
                }
            }
        }
        let mut pair_counts: FxHashMap<u64, u64> = FxHashMap::default();
        let mut pair_words: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
        for (i, w) in words.iter().enumerate() {
            for p in w.windows(2) {
                let k = pair_key((p[0], p[1]));
                *pair_counts.entry(k).or_insert(0) += weights[i];
                let list = pair_words.entry(k).or_default();
                if list.last() != Some(&(i as u32)) {
                    list.push(i as u32);
                }
            }
        }
        let heap = pair_counts.iter().map(|(&k, &c)| (c, k)).collect();
        CategoryReplay {
            words,
            weights,
            pair_counts,
            pair_words,
            heap,
            bytes,
        }
    }

    /// The current count of pair `key`.
    pub fn count(&self, key: u64) -> u64 {
        self.pair_counts.get(&key).copied().unwrap_or(0)
    }

    /// The pairs other than `merged` counted more often than `merged`, at most `k` of them (see
    /// [`Above`]).
    pub fn above(&mut self, merged: u64, k: usize) -> Above {
        self.above_floor(merged, self.count(merged), k)
    }

    /// The pairs other than `merged` counted more than `floor` times, most frequent first (ties:
    /// the larger key first), at most `k` of them; `bound` is the first one left out's count, or
    /// `floor` when none is.
    pub fn above_floor(&mut self, merged: u64, floor: u64, k: usize) -> Above {
        let mut pairs: Vec<(u64, u64)> = Vec::new();
        let mut bound = floor;
        // Entries that are current, to push back once the top is read.
        let mut keep: Vec<(u64, u64)> = Vec::new();
        while let Some(&(count, key)) = self.heap.peek() {
            if count <= floor {
                break;
            }
            self.heap.pop();
            let current = self.count(key);
            if current < count {
                // Stale from above: its count fell since; it surfaces again at the right place.
                if current > 0 {
                    self.heap.push((current, key));
                }
                continue;
            }
            if current > count || keep.iter().any(|&(_, k)| k == key) {
                continue; // a larger entry of the pair exists, or this one is a copy
            }
            keep.push((count, key));
            if key == merged {
                continue;
            }
            if pairs.len() == k {
                bound = count; // the first pair left out
                break;
            }
            pairs.push((key, count));
        }
        self.heap.extend(keep);
        Above { pairs, bound }
    }

    /// Applies the merge `(a, b) -> new_id` to every word that holds the pair.
    pub fn apply(&mut self, (a, b, new_id): (u32, u32, u32)) {
        let merged = pair_key((a, b));
        let Some(words) = self.pair_words.remove(&merged) else {
            return; // the pair never occurs in this sample
        };
        self.pair_counts.remove(&merged);
        // Net change per pair, so that each grown pair gets one heap entry.
        let mut changed: FxHashMap<u64, i64> = FxHashMap::default();
        for &w in &words {
            let weight = self.weights[w as usize] as i64;
            let (pair_words, changed) = (&mut self.pair_words, &mut changed);
            self.words
                .merge_one(w as usize, (a, b, new_id), |k, change| {
                    if k == merged {
                        return; // an overlap (`a a a`): the merged pair is gone anyway
                    }
                    *changed.entry(k).or_insert(0) += change * weight;
                    if change > 0 {
                        let list = pair_words.entry(k).or_default();
                        if list.last() != Some(&w) {
                            list.push(w);
                        }
                    }
                });
        }
        for (k, change) in changed {
            let count = self.pair_counts.entry(k).or_insert(0);
            *count = (*count as i64 + change) as u64;
            let count = *count;
            if count == 0 {
                self.pair_counts.remove(&k);
            } else if change > 0 {
                self.heap.push((count, k));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> [u32; 256] {
        std::array::from_fn(|b| b as u32)
    }

    /// Pair counts recounted from the words, to hold the incremental ones against.
    fn recount(r: &CategoryReplay) -> FxHashMap<u64, u64> {
        let mut counts = FxHashMap::default();
        for (i, w) in r.words.iter().enumerate() {
            for p in w.windows(2) {
                *counts.entry(pair_key((p[0], p[1]))).or_insert(0) += r.weights[i];
            }
        }
        counts
    }

    #[test]
    fn incremental_counts_equal_recounts() {
        let mut table = PieceTable::default();
        for (piece, n) in [("aaaa", 3), ("abab", 2), ("aab", 5), ("ba", 1), ("b", 4)] {
            table.add(piece.as_bytes(), n);
        }
        let mut r = CategoryReplay::new(&table, &identity());
        assert_eq!(r.bytes, 12 + 8 + 15 + 2 + 4);
        let (a, b) = (b'a' as u32, b'b' as u32);
        for (step, merge) in [(a, a, 300), (a, b, 301), (300, 300, 302), (301, 301, 303)]
            .into_iter()
            .enumerate()
        {
            r.apply(merge);
            assert_eq!(r.pair_counts, recount(&r), "after merge {step}");
        }
    }

    #[test]
    fn above_lists_the_pairs_that_beat_the_merged_one() {
        let mut table = PieceTable::default();
        table.add(b"ab", 10);
        table.add(b"cd", 7);
        table.add(b"ef", 5);
        table.add(b"gh", 3);
        let mut r = CategoryReplay::new(&table, &identity());
        let key = |x: u8, y: u8| pair_key((x as u32, y as u32));
        let top = r.above(key(b'g', b'h'), 2);
        assert_eq!(top.pairs, vec![(key(b'a', b'b'), 10), (key(b'c', b'd'), 7)]);
        assert_eq!(top.bound, 5, "(e, f) is left out");
        // Nothing beats the most frequent pair; a second read gives the same (entries kept).
        let top = r.above(key(b'a', b'b'), 2);
        assert!(top.pairs.is_empty());
        assert_eq!(top.bound, 10);
        assert_eq!(r.above(key(b'e', b'f'), 5).pairs.len(), 2);
        // After a merge the pair is gone and the rest move up.
        r.apply((b'a' as u32, b'b' as u32, 300));
        let top = r.above(key(b'g', b'h'), 5);
        assert_eq!(top.pairs, vec![(key(b'c', b'd'), 7), (key(b'e', b'f'), 5)]);
        assert_eq!(top.bound, 3);
    }
}
