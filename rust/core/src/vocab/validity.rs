//! The pairwise merge check: whether merging the bytes of two adjacent tokens leaves them
//! apart (`Vocab::is_valid_pair`, `Vocab::left_pairs`), decided from the tokens' merge
//! histories without merging, and whether merging a token's own bytes makes it
//! (`Vocab::is_reached`, `Vocab::all_tokens_reached`). Byte-level probabilities
//! (`crate::bytelm`) are the only user. The tables the checks read (`BuildTable`,
//! `PairsByLeft`) are built on first use and kept in the `Vocab`, so every user of one
//! vocabulary (each `ByteModel` over a shared tokenizer) builds them once.

use super::{pack, Vocab, NO_PAIR, NO_TOKEN};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

#[derive(Clone)]
pub(super) struct BuildTable {
    builds: Vec<Build>,
    all_reached: bool,
}

/// The pair table's pairs grouped by left token: token `l`'s are
/// `entries[start[l]..start[l + 1]]`, as (packed rank, right token), in rank order.
#[derive(Clone)]
pub(super) struct PairsByLeft {
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

impl Vocab {
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
        let builds: Vec<Build> = crate::util::pool::pool(None).install(|| {
            (0..self.id_bound() as u32)
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
                .collect()
        });
        let all_reached = self
            .tokens()
            .all(|(_, id)| builds[id as usize].time != NO_PAIR);
        Some(BuildTable {
            builds,
            all_reached,
        })
    }
}
