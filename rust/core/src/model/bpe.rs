//! BPE over characters (SentencePiece-converted files): each character is a symbol (with the
//! continuing prefix / end-of-word suffix), unknown characters fall back to `<0xNN>` byte tokens
//! or the unknown token, then the merge list applies, lowest rank first, leftmost among equals.

use super::{sym, StringIds};
use crate::vocab::Sym;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub struct CharBpe {
    pub ids: StringIds,
    /// `(left, right) -> (rank, merged)`.
    pub merges: FxHashMap<(u32, u32), (u32, u32)>,
    pub unk: Option<u32>,
    pub fuse_unk: bool,
    /// `<0xNN>` token ids by byte, when `byte_fallback` is on.
    pub byte_tokens: Option<Box<[Option<u32>; 256]>>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    /// `ignore_merges`: a piece that is a token is that token.
    pub whole_piece_first: bool,
}

impl CharBpe {
    /// The merges as `(left, right)` ids in rank order.
    pub fn merge_list(&self) -> Vec<(u32, u32)> {
        let mut ranked: Vec<(u32, (u32, u32))> = self
            .merges
            .iter()
            .map(|(&pair, &(rank, _))| (rank, pair))
            .collect();
        ranked.sort_unstable();
        ranked.into_iter().map(|(_, pair)| pair).collect()
    }

    pub fn encode(&self, piece: &str, out: &mut Vec<Sym>) {
        if self.whole_piece_first {
            if let Some(&id) = self.ids.get(piece) {
                out.push(sym(id, 0, piece.len()));
                return;
            }
        }
        self.initial_symbols(piece, out);
        self.merge(out);
    }

    /// One symbol per character, as `tokenizers`' `merge_word` makes them. A run of unknown
    /// characters is one unknown token with `fuse_unk`; note that a pending unknown token is
    /// only written out before the next known character, not before byte-fallback tokens, and
    /// each byte token spans one byte (both as `tokenizers` does).
    fn initial_symbols(&self, piece: &str, out: &mut Vec<Sym>) {
        let mut pos = 0;
        let mut add = |out: &mut Vec<Sym>, id: u32, len: usize| {
            out.push(sym(id, pos, pos + len));
            pos += len;
        };
        let mut unk: Option<(u32, usize)> = None;
        let mut key = String::new();
        let mut chars = piece.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let last = chars.peek().is_none();
            key.clear();
            if i > 0 {
                key.extend(self.prefix.as_deref());
            }
            key.push(c);
            if last {
                key.extend(self.suffix.as_deref());
            }
            let len = c.len_utf8();
            if let Some(&id) = self.ids.get(key.as_str()) {
                if let Some((u, ulen)) = unk.take() {
                    add(out, u, ulen);
                }
                add(out, id, len);
                continue;
            }
            if let Some(bytes) = &self.byte_tokens {
                let ids: Option<Vec<u32>> = key.bytes().map(|b| bytes[b as usize]).collect();
                if let Some(ids) = ids {
                    for id in ids {
                        add(out, id, 1);
                    }
                    continue;
                }
            }
            if let Some(u) = self.unk {
                unk = match unk {
                    Some((u, ulen)) if self.fuse_unk => Some((u, ulen + len)),
                    Some((prev, ulen)) => {
                        add(out, prev, ulen);
                        Some((u, len))
                    }
                    None => Some((u, len)),
                };
            }
        }
        if let Some((u, ulen)) = unk {
            add(out, u, ulen);
        }
    }

    /// Applies merges with a heap of `(rank, position)`, skipping entries whose symbols have
    /// changed since they were pushed.
    fn merge(&self, syms: &mut Vec<Sym>) {
        if syms.len() < 2 {
            return;
        }
        let n = syms.len();
        // A doubly linked list over `syms`; a merged-away symbol gets `len == 0` (end == start).
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut next: Vec<usize> = (1..=n).collect();
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        let pair = |a: &Sym, b: &Sym| self.merges.get(&(a.id, b.id)).copied();
        for i in 0..n - 1 {
            if let Some((rank, merged)) = pair(&syms[i], &syms[i + 1]) {
                heap.push(Reverse((rank, i, merged)));
            }
        }
        while let Some(Reverse((_, i, merged))) = heap.pop() {
            if !alive[i] || next[i] >= n {
                continue;
            }
            let j = next[i];
            if pair(&syms[i], &syms[j]).map(|m| m.1) != Some(merged) {
                continue;
            }
            syms[i] = Sym {
                id: merged,
                start: syms[i].start,
                end: syms[j].end,
            };
            alive[j] = false;
            next[i] = next[j];
            if next[j] < n {
                prev[next[j]] = i;
            }
            if prev[i] < n {
                let p = prev[i];
                if let Some((rank, m)) = pair(&syms[p], &syms[i]) {
                    heap.push(Reverse((rank, p, m)));
                }
            }
            if next[i] < n {
                if let Some((rank, m)) = pair(&syms[i], &syms[next[i]]) {
                    heap.push(Reverse((rank, i, m)));
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
}
