//! `WordPiece` and `WordLevel`: the two models that look whole strings up in the vocabulary.

use super::{missing_unk, sym, StringIds};
use crate::vocab::Sym;
use crate::Result;

pub struct WordPiece {
    pub ids: StringIds,
    /// The id of `unk_token`, if the vocabulary has it (else a piece that needs it is an error).
    pub unk: Option<u32>,
    pub prefix: String,
    pub max_chars: usize,
}

impl WordPiece {
    /// Greedy longest match from the left; a piece that cannot be covered, or that has more than
    /// `max_chars` characters, is one unknown token.
    pub fn encode(&self, piece: &str, out: &mut Vec<Sym>) -> Result<()> {
        let whole_unk = |out: &mut Vec<Sym>| -> Result<()> {
            out.clear();
            out.push(sym(self.unk.ok_or_else(missing_unk)?, 0, piece.len()));
            Ok(())
        };
        if piece.chars().count() > self.max_chars {
            return whole_unk(out);
        }
        let mut key = String::new();
        let mut start = 0;
        while start < piece.len() {
            let mut end = piece.len();
            let mut found = None;
            while start < end {
                key.clear();
                if start > 0 {
                    key.push_str(&self.prefix);
                }
                key.push_str(&piece[start..end]);
                if let Some(&id) = self.ids.get(key.as_str()) {
                    found = Some(id);
                    break;
                }
                // Shorten by the last character of the key (the piece's, or the prefix's).
                end -= key.chars().next_back().map_or(1, char::len_utf8);
            }
            match found {
                Some(id) => out.push(sym(id, start, end)),
                None => return whole_unk(out),
            }
            start = end;
        }
        Ok(())
    }
}

pub struct WordLevel {
    pub ids: StringIds,
    pub unk: Option<u32>,
}

impl WordLevel {
    /// The piece's id, or the unknown token's.
    pub fn encode(&self, piece: &str, out: &mut Vec<Sym>) -> Result<()> {
        let id = match self.ids.get(piece) {
            Some(&id) => id,
            None => self.unk.ok_or_else(missing_unk)?,
        };
        out.push(sym(id, 0, piece.len()));
        Ok(())
    }
}
