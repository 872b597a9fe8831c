//! Token counts without the ids: each piece is merged into a small buffer that is emptied
//! after it, so counting a text allocates nothing in proportion to it.

use super::{safe_chunks, Segment, Tokenizer, PARALLEL_CHUNK};
use crate::pretokenize::regex::Regex;
use crate::pretokenize::steps::PreTokenizer;
use crate::Result;

impl Tokenizer {
    /// `encode_ordinary(text).len()`, without keeping the ids.
    pub fn count_ordinary(&self, text: &str) -> Result<usize> {
        match &self.pre_tokenizer {
            PreTokenizer::Regex(re) if re.is_fast() && text.len() >= PARALLEL_CHUNK * 2 => {
                // A long document: count chunks in parallel, cut where no piece can cross.
                let chunks = safe_chunks(text, PARALLEL_CHUNK);
                crate::util::pool::map_ordered(&chunks, None, |c| self.count_pieces(re, c))
                    .into_iter()
                    .sum()
            }
            PreTokenizer::Regex(re) => self.count_pieces(re, text),
            // Hugging Face pre-tokenizers make their pieces (and offsets) up front anyway.
            PreTokenizer::Steps(_) => {
                let mut ids = Vec::new();
                self.encode_ordinary_into(text, &mut ids)?;
                Ok(ids.len())
            }
        }
    }

    /// `encode_with_special(text, allowed, reject_others).len()` (same special-token rules and
    /// errors), without keeping the ids.
    pub fn count_with_special(
        &self,
        text: &str,
        allowed: &dyn Fn(u32) -> bool,
        reject_others: bool,
    ) -> Result<usize> {
        let mut n = 0;
        self.for_each_segment(text, allowed, reject_others, |segment| {
            n += match segment {
                Segment::Text(t) => self.count_ordinary(t)?,
                Segment::Special(_) => 1,
            };
            Ok(())
        })?;
        Ok(n)
    }

    fn count_pieces(&self, re: &Regex, text: &str) -> Result<usize> {
        let mut ids = Vec::with_capacity(64);
        let mut n = 0;
        self.vocab.with_encoder(|enc| {
            re.for_each_match(text, |s, e| {
                enc.encode(&text.as_bytes()[s..e], &mut ids);
                n += ids.len();
                ids.clear();
            })
        })?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use crate::encode::{AddedToken, PreTokenizer, Tokenizer};
    use crate::pretokenize::regex::Regex;
    use crate::vocab::Vocab;

    fn tokenizer() -> Tokenizer {
        let mut ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        for (i, t) in ["ab", "abc", " a", "\n\n"].iter().enumerate() {
            ranks.push((t.as_bytes().to_vec(), 256 + i as u32));
        }
        let pattern = r"'s|\s*\n+| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
        let special = AddedToken {
            content: "<|end|>".into(),
            id: 300,
            special: true,
            normalized: false,
        };
        let pre = PreTokenizer::Regex(Regex::tiktoken(pattern).unwrap());
        Tokenizer::new("t", Vocab::from_ranks(ranks).unwrap(), pre, vec![special]).unwrap()
    }

    #[test]
    fn counts_equal_the_number_of_ids() {
        let tok = tokenizer();
        let long = "abc ab\nxyz\n\n".repeat(100_000);
        for text in [
            "",
            "abc abcab a\n\nb",
            "é🦀 abc<|end|>ab<|end|>",
            long.as_str(),
        ] {
            assert_eq!(
                tok.count_ordinary(text).unwrap(),
                tok.encode_ordinary(text).unwrap().len()
            );
            for (allowed, reject) in [(true, false), (false, false), (false, true)] {
                let allow = move |_: u32| allowed;
                let want = tok
                    .encode_with_special(text, &allow, reject)
                    .map(|v| v.len());
                let got = tok.count_with_special(text, &allow, reject);
                assert_eq!(got.is_ok(), want.is_ok());
                if let (Ok(a), Ok(b)) = (got, want) {
                    assert_eq!(a, b);
                }
            }
        }
    }
}
