//! `Unigram`: the segmentation of highest total score (Viterbi over the piece's characters), as
//! `tokenizers` computes it. A character that starts no token costs the unknown score (the
//! lowest score less 10); runs of unknown characters fuse into one unknown token, whose string
//! in an encoding is its text. With `byte_fallback`, an unknown run becomes `<0xNN>` tokens
//! (each spanning the whole run) when the vocabulary has them all.

use super::{missing_unk, sym, StringIds};
use crate::vocab::Sym;
use crate::Result;

/// What `tokenizers` subtracts from the lowest score to score an unknown character.
const UNK_PENALTY: f64 = 10.0;

pub struct Unigram {
    pub ids: StringIds,
    /// Scores by id.
    pub scores: Vec<f64>,
    pub unk: Option<u32>,
    pub byte_fallback: bool,
    /// The longest token, in bytes (no match can be longer).
    pub max_len: usize,
    pub min_score: f64,
}

#[derive(Clone, Copy)]
struct Best {
    score: f64,
    /// Where the best path's last token starts (`None`: not reached yet).
    from: Option<usize>,
    id: u32,
}

impl Unigram {
    /// Encodes a piece; `surface` gets the indices (in `out`) of tokens whose string in an
    /// encoding is their text rather than the vocabulary's (unknown tokens).
    pub fn encode(&self, piece: &str, out: &mut Vec<Sym>, surface: &mut Vec<usize>) -> Result<()> {
        let n = piece.len();
        let unk_score = self.min_score - UNK_PENALTY;
        let mut best = vec![
            Best {
                score: 0.0,
                from: None,
                id: 0,
            };
            n + 1
        ];
        let mut start = 0;
        while start < n {
            let here = best[start].score;
            let first_len = piece[start..].chars().next().map_or(1, char::len_utf8);
            let mut single = false;
            // Every token that starts here, shortest first (the order of `tokenizers`' trie).
            for (i, c) in piece[start..].char_indices() {
                let end = start + i + c.len_utf8();
                if end - start > self.max_len {
                    break;
                }
                let Some(&id) = self.ids.get(&piece[start..end]) else {
                    continue;
                };
                let score = self.scores[id as usize] + here;
                let target = &mut best[end];
                if target.from.is_none() || score > target.score {
                    *target = Best {
                        score,
                        from: Some(start),
                        id,
                    };
                }
                single |= end - start == first_len;
            }
            if !single {
                let score = unk_score + here;
                let target = &mut best[start + first_len];
                if target.from.is_none() || score > target.score {
                    *target = Best {
                        score,
                        from: Some(start),
                        id: self.unk.ok_or_else(missing_unk)?,
                    };
                }
            }
            start += first_len;
        }
        // Back from the end; unknown tokens side by side fuse into one.
        let mut spans: Vec<(u32, usize, usize)> = Vec::new();
        let mut end = n;
        while end > 0 {
            let b = best[end];
            let from = b.from.expect("every character boundary is reached");
            match spans.last_mut() {
                Some(last)
                    if Some(b.id) == self.unk && Some(last.0) == self.unk && last.1 == end =>
                {
                    last.1 = from;
                }
                _ => spans.push((b.id, from, end)),
            }
            end = from;
        }
        spans.reverse();
        for (_, s, e) in spans {
            let text = &piece[s..e];
            // A span is looked up by its text: a fused run may itself be a token.
            if let Some(&known) = self.ids.get(text) {
                out.push(sym(known, s, e));
                continue;
            }
            if self.byte_fallback {
                let bytes: Option<Vec<u32>> = text
                    .bytes()
                    .map(|b| self.ids.get(format!("<0x{b:02X}>").as_str()).copied())
                    .collect();
                if let Some(bytes) = bytes {
                    out.extend(bytes.into_iter().map(|b| sym(b, s, e)));
                    continue;
                }
            }
            surface.push(out.len());
            out.push(sym(self.unk.ok_or_else(missing_unk)?, s, e));
        }
        Ok(())
    }
}
