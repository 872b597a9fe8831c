//! Hugging Face normalizers: the text a tokenizer.json's `normalizer` makes of a segment, and
//! the alignment from its bytes back to the original's.
//!
//! The alignment follows `tokenizers`' `NormalizedString`: each byte of the normalized text maps
//! to the byte range of one original character (all bytes of a normalized character share it),
//! every edit is a `transform` over `(char, change)` pairs (`0`: replaces the next character,
//! `1`: inserted, takes the previous byte's alignment, `-n`: replaces one and removes `n` more),
//! and Unicode normalization uses the same tables (`unicode-normalization-alignments`, Unicode
//! 9.0, as `tokenizers` does). A step that would not change the text (a quick check, an ASCII
//! test) is skipped, and text no step changes keeps no alignment at all.

use super::regex::Regex;
use crate::Result;
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::char::is_combining_mark;
use unicode_normalization_alignments::{
    is_nfc_quick, is_nfd_quick, is_nfkc_quick, is_nfkd_quick, IsNormalized, UnicodeNormalization,
};

/// What a `Replace` normalizer looks for.
pub enum ReplacePattern {
    /// A literal string (not empty).
    Literal(String),
    /// An Oniguruma regex, as `tokenizers` runs it.
    Regex(Regex),
}

/// One Hugging Face normalizer.
pub enum Normalizer {
    Nfc,
    Nfd,
    Nfkc,
    Nfkd,
    Lowercase,
    Strip {
        left: bool,
        right: bool,
    },
    StripAccents,
    Replace {
        pattern: ReplacePattern,
        content: String,
    },
    Prepend(String),
    Sequence(Vec<Normalizer>),
    /// `BertNormalizer` (`strip_accents` resolved: `null` follows `lowercase`).
    Bert {
        clean_text: bool,
        handle_chinese_chars: bool,
        strip_accents: bool,
        lowercase: bool,
    },
}

/// A normalized text and, when it differs from the original, its alignment: for each byte, the
/// original byte range it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    pub text: String,
    /// `None`: the text is the original, unchanged.
    pub align: Option<Vec<(usize, usize)>>,
}

impl Normalized {
    /// The original byte range of normalized bytes `start..end` (`tokenizers`' `convert_offsets`
    /// for a non-empty range: the first byte's start to the last byte's end).
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        match &self.align {
            None => (start, end),
            Some(_) if start >= end => (start, end),
            Some(a) => (a[start].0, a[end - 1].1),
        }
    }

    /// The alignment, built as the identity first (each byte maps to its character).
    fn align_mut(&mut self) -> &mut Vec<(usize, usize)> {
        let text = &self.text;
        self.align.get_or_insert_with(|| identity(text))
    }

    /// `tokenizers`' `NormalizedString::transform_range` over normalized bytes `range`.
    fn transform_range(
        &mut self,
        range: std::ops::Range<usize>,
        dest: impl IntoIterator<Item = (char, isize)>,
        initial_offset: usize,
    ) {
        self.align_mut();
        let align = self.align.as_ref().unwrap();
        let mut replaced = self.text[range.clone()].chars();
        let initial_removed: usize = (&mut replaced)
            .take(initial_offset)
            .map(char::len_utf8)
            .sum();
        let mut offset = initial_removed + range.start;
        let mut new_align = Vec::with_capacity(range.len());
        let mut new_text = String::with_capacity(range.len());
        for (c, change) in dest {
            let a = if change > 0 {
                if offset < 1 {
                    (0, 0)
                } else {
                    align[offset - 1]
                }
            } else {
                align[offset]
            };
            if change <= 0 {
                offset += replaced.next().map_or(0, char::len_utf8);
            }
            if change < 0 {
                offset += (&mut replaced)
                    .take(change.unsigned_abs())
                    .map(char::len_utf8)
                    .sum::<usize>();
            }
            new_align.extend(std::iter::repeat_n(a, c.len_utf8()));
            new_text.push(c);
        }
        self.align
            .as_mut()
            .unwrap()
            .splice(range.clone(), new_align);
        self.text.replace_range(range, &new_text);
    }

    fn transform(&mut self, dest: impl IntoIterator<Item = (char, isize)>, initial_offset: usize) {
        self.transform_range(0..self.text.len(), dest, initial_offset);
    }

    /// `NormalizedString::filter`: drops the characters for which `keep` is false.
    fn filter(&mut self, keep: impl Fn(char) -> bool) {
        let mut removed = 0isize;
        let mut kept: Vec<(char, isize)> = Vec::with_capacity(self.text.len());
        for c in self.text.chars().rev() {
            if keep(c) {
                kept.push((c, -removed));
                removed = 0;
            } else {
                removed += 1;
            }
        }
        kept.reverse();
        self.transform(kept, removed as usize);
    }

    /// `NormalizedString::lrstrip`.
    fn strip(&mut self, left: bool, right: bool) {
        let leading = if left {
            self.text.chars().take_while(|c| c.is_whitespace()).count()
        } else {
            0
        };
        let trailing = if right {
            self.text
                .chars()
                .rev()
                .take_while(|c| c.is_whitespace())
                .count()
        } else {
            0
        };
        if leading == 0 && trailing == 0 {
            return;
        }
        let len = self.text.chars().count();
        let dest: Vec<(char, isize)> = self
            .text
            .chars()
            .enumerate()
            .filter_map(|(i, c)| {
                if i < leading || i >= len - trailing {
                    None
                } else if i == len - trailing - 1 {
                    Some((c, -(trailing as isize)))
                } else {
                    Some((c, 0))
                }
            })
            .collect();
        self.transform(dest, leading);
    }

    /// `NormalizedString::replace`: each match (adjusted for earlier replacements) becomes
    /// `content`, whose characters take the alignment of the match's last byte.
    fn replace(&mut self, matches: Vec<(usize, usize)>, content: &str) {
        let mut shift: isize = 0;
        for (start, end) in matches {
            let s = (start as isize + shift).max(0) as usize;
            let e = (end as isize + shift).max(0) as usize;
            let removed = self.text[s..e].chars().count();
            self.transform_range(s..e, content.chars().map(|c| (c, 1)), removed);
            shift += content.len() as isize - (end - start) as isize;
        }
    }

    /// `NormalizedString::prepend`.
    fn prepend(&mut self, s: &str) {
        if let Some(next) = self.text.chars().next() {
            let dest = s
                .chars()
                .enumerate()
                .map(|(i, c)| (c, isize::from(i != 0)))
                .chain(std::iter::once((next, 1)))
                .collect::<Vec<_>>();
            self.transform_range(0..next.len_utf8(), dest, 0);
        }
    }
}

/// Each byte of `text` aligned to its own character's bytes.
fn identity(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(text.len());
    for (b, c) in text.char_indices() {
        let len = c.len_utf8();
        out.extend(std::iter::repeat_n((b, b + len), len));
    }
    out
}

impl Normalizer {
    /// Normalizes one segment (text free of non-normalized added tokens).
    pub fn normalize(&self, text: &str) -> Result<Normalized> {
        let mut n = Normalized {
            text: text.to_string(),
            align: None,
        };
        self.apply(&mut n)?;
        Ok(n)
    }

    fn apply(&self, n: &mut Normalized) -> Result<()> {
        match self {
            Normalizer::Nfc => {
                if !n.text.is_ascii() && is_nfc_quick(n.text.chars()) != IsNormalized::Yes {
                    let dest: Vec<_> = n.text.as_str().nfc().collect();
                    n.transform(dest, 0);
                }
            }
            Normalizer::Nfd => {
                if !n.text.is_ascii() && is_nfd_quick(n.text.chars()) != IsNormalized::Yes {
                    let dest: Vec<_> = n.text.as_str().nfd().collect();
                    n.transform(dest, 0);
                }
            }
            Normalizer::Nfkc => {
                if !n.text.is_ascii() && is_nfkc_quick(n.text.chars()) != IsNormalized::Yes {
                    let dest: Vec<_> = n.text.as_str().nfkc().collect();
                    n.transform(dest, 0);
                }
            }
            Normalizer::Nfkd => {
                if !n.text.is_ascii() && is_nfkd_quick(n.text.chars()) != IsNormalized::Yes {
                    let dest: Vec<_> = n.text.as_str().nfkd().collect();
                    n.transform(dest, 0);
                }
            }
            Normalizer::Lowercase => lowercase(n),
            Normalizer::Bert {
                clean_text,
                handle_chinese_chars,
                strip_accents,
                lowercase: lower,
            } => {
                // `tokenizers`' steps, each skipped where it would change nothing.
                if *clean_text {
                    let dropped = |c: char| c == '\0' || c == '\u{fffd}' || bert_is_control(c);
                    if n.text.chars().any(dropped) {
                        n.filter(|c| !dropped(c));
                    }
                    if n.text.chars().any(|c| c != ' ' && bert_is_whitespace(c)) {
                        let dest: Vec<_> = n
                            .text
                            .chars()
                            .map(|c| (if bert_is_whitespace(c) { ' ' } else { c }, 0))
                            .collect();
                        n.transform(dest, 0);
                    }
                }
                if *handle_chinese_chars && n.text.chars().any(is_chinese_char) {
                    let mut dest = Vec::with_capacity(n.text.len() * 2);
                    for c in n.text.chars() {
                        if is_chinese_char(c) {
                            dest.extend([(' ', 0), (c, 1), (' ', 1)]);
                        } else {
                            dest.push((c, 0));
                        }
                    }
                    n.transform(dest, 0);
                }
                if *strip_accents && !n.text.is_ascii() {
                    let dest: Vec<_> = n.text.as_str().nfd().collect();
                    n.transform(dest, 0);
                    if n.text.chars().any(|c| c.is_mark_nonspacing()) {
                        n.filter(|c| !c.is_mark_nonspacing());
                    }
                }
                if *lower {
                    lowercase(n);
                }
            }
            Normalizer::Strip { left, right } => n.strip(*left, *right),
            Normalizer::StripAccents => {
                if !n.text.is_ascii() && n.text.chars().any(is_combining_mark) {
                    n.filter(|c| !is_combining_mark(c));
                }
            }
            Normalizer::Replace { pattern, content } => {
                let matches = match pattern {
                    ReplacePattern::Literal(lit) => n
                        .text
                        .match_indices(lit.as_str())
                        .map(|(s, m)| (s, s + m.len()))
                        .collect(),
                    ReplacePattern::Regex(re) => re.find_all(&n.text)?,
                };
                if !matches.is_empty() {
                    n.replace(matches, content);
                }
            }
            Normalizer::Prepend(s) => {
                if !n.text.is_empty() {
                    n.prepend(s);
                }
            }
            Normalizer::Sequence(steps) => {
                for step in steps {
                    step.apply(n)?;
                }
            }
        }
        Ok(())
    }
}

/// `NormalizedString::lowercase` (each character's `to_lowercase`, extra characters inserted).
fn lowercase(n: &mut Normalized) {
    let unchanged = if n.text.is_ascii() {
        !n.text.bytes().any(|b| b.is_ascii_uppercase())
    } else {
        n.text.chars().all(|c| {
            let mut l = c.to_lowercase();
            l.next() == Some(c) && l.next().is_none()
        })
    };
    if !unchanged {
        let mut dest = Vec::with_capacity(n.text.len());
        for c in n.text.chars() {
            dest.extend(
                c.to_lowercase()
                    .enumerate()
                    .map(|(i, l)| (l, isize::from(i > 0))),
            );
        }
        n.transform(dest, 0);
    }
}

/// `BertNormalizer`'s whitespace: `\t`, `\n`, `\r` and `char::is_whitespace`.
fn bert_is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// `BertNormalizer`'s control characters: categories Cc, Cf, Co (`unicode_categories`'
/// `is_other`, as `tokenizers` uses it), except `\t`, `\n`, `\r`.
fn bert_is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

/// `BertNormalizer`'s CJK ideographs (the blocks `tokenizers` lists).
fn is_chinese_char(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(n: &Normalizer, text: &str) -> Normalized {
        let mut out = n.normalize(text).unwrap();
        out.align_mut();
        out
    }

    #[test]
    fn nfd_adds_characters_aligned_to_their_source() {
        // tokenizers' own `nfd_adds_new_chars`.
        let n = full(&Normalizer::Nfd, "élégant");
        assert_eq!(
            n.align.unwrap(),
            [
                (0, 2),
                (0, 2),
                (0, 2),
                (2, 3),
                (3, 5),
                (3, 5),
                (3, 5),
                (5, 6),
                (6, 7),
                (7, 8),
                (8, 9)
            ]
        );
    }

    #[test]
    fn nfd_then_strip_accents_removes_the_marks() {
        let seq = Normalizer::Sequence(vec![Normalizer::Nfd, Normalizer::StripAccents]);
        let n = full(&seq, "élégant");
        assert_eq!(n.text, "elegant");
        assert_eq!(
            n.align.unwrap(),
            [(0, 2), (2, 3), (3, 5), (5, 6), (6, 7), (7, 8), (8, 9)]
        );
        // tokenizers' `test_strip_accents_multiple`.
        let n = full(&Normalizer::StripAccents, "e\u{304}\u{304}\u{304}o");
        assert_eq!(n.text, "eo");
        assert_eq!(n.align.unwrap(), [(0, 1), (7, 8)]);
    }

    #[test]
    fn nfc_composes_and_keeps_the_first_source() {
        let n = full(&Normalizer::Nfc, "e\u{301}x");
        assert_eq!(n.text, "éx");
        assert_eq!(n.original_span(0, 2), (0, 1));
        assert_eq!(n.original_span(2, 3), (3, 4));
        // Hangul jamo compose into one syllable.
        let n = full(&Normalizer::Nfc, "\u{1112}\u{1161}\u{11AB}");
        assert_eq!(n.text, "한");
        assert_eq!(n.original_span(0, 3), (0, 3));
    }

    #[test]
    fn unchanged_text_keeps_no_alignment() {
        for norm in [
            Normalizer::Nfc,
            Normalizer::Nfkc,
            Normalizer::Lowercase,
            Normalizer::StripAccents,
            Normalizer::Strip {
                left: true,
                right: true,
            },
        ] {
            let n = norm.normalize("already plain, déjà vu").unwrap();
            assert!(n.align.is_none());
        }
        let n = Normalizer::Nfc.normalize("déjà 한국어").unwrap();
        assert_eq!(n.text, "déjà 한국어");
        assert!(n.align.is_none());
        // The quick path gives what the full transform gives.
        let mut slow = Normalized {
            text: "déjà 한국어".into(),
            align: None,
        };
        let dest: Vec<_> = "déjà 한국어".nfc().collect();
        slow.transform(dest, 0);
        assert_eq!(slow.align.unwrap(), identity("déjà 한국어"));
    }

    #[test]
    fn bert_spaces_around_ideographs_align_to_them() {
        let bert = Normalizer::Bert {
            clean_text: true,
            handle_chinese_chars: true,
            strip_accents: true,
            lowercase: true,
        };
        let n = full(&bert, "A\u{200b}中\tÉ");
        assert_eq!(n.text, "a 中  e");
        // The zero-width space is gone; both spaces around 中 map to it; the tab stays a space.
        assert_eq!(n.original_span(1, 2), (4, 7));
        assert_eq!(n.original_span(5, 6), (4, 7));
        assert_eq!(n.original_span(6, 7), (7, 8));
        assert_eq!(n.original_span(7, 8), (8, 10));
    }

    #[test]
    fn lowercase_strip_replace_prepend() {
        let n = full(&Normalizer::Lowercase, "İx");
        assert_eq!(n.text, "i\u{307}x");
        assert_eq!(n.align.unwrap(), [(0, 2), (0, 2), (0, 2), (2, 3)]);
        let n = full(
            &Normalizer::Strip {
                left: true,
                right: true,
            },
            "  ab ",
        );
        assert_eq!(n.text, "ab");
        assert_eq!(n.align.unwrap(), [(2, 3), (3, 4)]);
        let n = full(
            &Normalizer::Replace {
                pattern: ReplacePattern::Literal(" ".into()),
                content: "▁".into(),
            },
            "a b",
        );
        assert_eq!(n.text, "a▁b");
        assert_eq!(n.original_span(1, 4), (1, 2));
        let n = full(&Normalizer::Prepend("▁".into()), "ab");
        assert_eq!(n.text, "▁ab");
        assert_eq!(n.original_span(0, 3), (0, 1));
        assert_eq!(n.original_span(3, 4), (0, 1));
        assert_eq!(n.original_span(4, 5), (1, 2));
        assert_eq!(
            Normalizer::Prepend("▁".into()).normalize("").unwrap().text,
            ""
        );
    }
}
