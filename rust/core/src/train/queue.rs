//! The merge loop's queue: entries (a pair, its count, the words it occurs in), ordered by
//! Hugging Face's tie rule, and the initial pair index that entries point into.

use std::cmp::Ordering;

pub(super) struct Entry {
    pub(super) count: u64,
    pub(super) pair: (u32, u32),
    pub(super) pos: Positions,
}

/// The words a queue entry updates: a range of the initial pair index (shared, so building the
/// queue allocates nothing per pair), or a list of its own (pairs made by merges).
pub(super) enum Positions {
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
pub(super) type PairCounts = crate::util::table::Table<u64, i64>;

/// Sorts the windows of one bucket (`second << 32 | word`, made in word order) by a counting
/// sort on the second token: stable, so each run stays in word order, and linear where a
/// comparison sort of millions of windows is not. Small buckets are sorted plainly.
pub(super) struct Grouper {
    /// Per token: how many windows of the bucket have it second, then where the next goes.
    at: Vec<u32>,
    seconds: Vec<u32>,
    sorted: Vec<u64>,
}

impl Grouper {
    pub(super) fn new(n_tokens: usize) -> Grouper {
        Grouper {
            at: vec![0; n_tokens],
            seconds: Vec::new(),
            sorted: Vec::new(),
        }
    }

    pub(super) fn sort(&mut self, bucket: &mut [u64]) {
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
pub(super) fn pair_runs(bucket: &[u64]) -> impl Iterator<Item = &[u64]> {
    bucket.chunk_by(|x, y| x >> 32 == y >> 32)
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
}
