//! Merging one piece: start from its bytes, apply the pair of lowest rank (leftmost among
//! equals) until none applies. A linear scan for pieces of up to `HEAP_THRESHOLD` symbols, a
//! heap over a linked list for longer ones, and long pieces first cut where no token holds the
//! two bytes side by side (`merge_segments`). Also the canonical merge of each tiktoken token
//! (`canonical_merges`).

use super::{Sym, Vocab, NO_PAIR, NO_TOKEN};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Pieces longer than this merge with a heap (O(n log n)); shorter ones with a linear scan.
pub(super) const HEAP_THRESHOLD: usize = 128;
/// Pieces of up to this many symbols (most words) merge with a smaller rank array.
const SMALL_MERGE: usize = 24;

impl Vocab {
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
    pub(super) fn merge(&self, piece: &[u8], limit: u64, syms: &mut Vec<Sym>) {
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
    pub(super) fn merge_linear(&self, syms: &mut Vec<Sym>, limit: u64) {
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
    pub(super) fn merge_heap(&self, syms: &mut Vec<Sym>, limit: u64) {
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

    /// For a tiktoken vocabulary, the merge that makes each token: the last step of merging
    /// the token's own bytes with every rank (the parts may rank above the token: `u r` -> `ur`
    /// 257, then `ur n` -> `urn` 256). Inside any longer piece, the symbols that end up as the
    /// token evolve exactly as they do alone (a merge across their edge would have consumed
    /// them), so this pair is the only one that ever makes the token, and a merge list in
    /// token order reproduces tiktoken's merge. Tokens that merging cannot reach get none.
    pub(super) fn canonical_merges(&self) -> Vec<(u32, u32)> {
        let mut order: Vec<(u32, &[u8])> = self
            .tokens()
            .filter(|(t, _)| t.len() > 1)
            .map(|(t, id)| (id, t))
            .collect();
        order.sort_unstable_by_key(|(id, _)| *id);
        order
            .par_iter()
            .map_init(Vec::new, |ids, (id, bytes)| {
                self.last_merge(bytes, *id, ids)
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect()
    }

    /// The pair whose merge turns `bytes` into `token` when the bytes merge alone (lowest rank
    /// first, leftmost among equals), or `None` when they end as something else.
    fn last_merge(&self, bytes: &[u8], token: u32, ids: &mut Vec<u32>) -> Option<(u32, u32)> {
        ids.clear();
        for &b in bytes {
            match self.byte_ids[b as usize] {
                NO_TOKEN => return None,
                id => ids.push(id),
            }
        }
        while ids.len() > 1 {
            let (best, at) = (0..ids.len() - 1)
                .map(|i| (self.pair(ids[i], ids[i + 1]), i))
                .min()?;
            if best == NO_PAIR {
                return None;
            }
            if ids.len() == 2 {
                return (best as u32 == token).then(|| (ids[0], ids[1]));
            }
            ids[at] = best as u32;
            ids.remove(at + 1);
        }
        None
    }
}
