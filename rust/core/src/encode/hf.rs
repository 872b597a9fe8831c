//! The Hugging Face flavour of [`Tokenizer`]: added tokens split the text first (those not
//! normalized, then the normalized ones), the normalizer rewrites the rest (offsets map back
//! through its alignment), pre-tokenizer steps cut pieces, and the model (byte-level BPE or a
//! [`TextModel`]) encodes each piece; tokens carry byte offsets into the input.

use super::{SpannedToken, Tokenizer};
use crate::encode::{PreTokenizer, Step};
use crate::pretokenize::normalize::{Normalized, Normalizer};
use crate::pretokenize::steps::step_pieces;
use crate::vocab::Sym;
use crate::Result;

/// Tokens whose string in an encoding is their own text: `(token index, text)`.
pub type Surface = Vec<(usize, String)>;

impl Tokenizer {
    /// Encodes text the Hugging Face way: added tokens split first (those not normalized, then
    /// the normalized ones), then the pre-tokenizer steps, then BPE. Offsets are byte offsets.
    pub fn encode_hf(&self, text: &str) -> Result<Vec<SpannedToken>> {
        Ok(self.encode_hf_texts(text)?.0)
    }

    /// [`Tokenizer::encode_hf`], and the tokens whose string in an encoding is their text, not
    /// the vocabulary's (Unigram's unknown tokens): `(index, string)`.
    pub fn encode_hf_texts(&self, text: &str) -> Result<(Vec<SpannedToken>, Surface)> {
        let mut surface = Vec::new();
        if let Some(normalizer) = &self.normalizer {
            let tokens = self.encode_hf_normalized(text, normalizer, &mut surface)?;
            return Ok((tokens, surface));
        }
        let mut segments = vec![(0usize, text.len(), None)];
        for phase in 0..2 {
            if self.matchers[phase].is_some() {
                let mut next = Vec::with_capacity(segments.len());
                for (s, e, added) in segments {
                    if added.is_some() {
                        next.push((s, e, added));
                        continue;
                    }
                    self.added_splits(phase, &text[s..e], s, &mut next);
                }
                segments = next;
            }
        }
        let mut out: Vec<SpannedToken> = Vec::new();
        let mut syms = Vec::new();
        for (s, e, added) in segments {
            let piece = out.last().map_or(0, |t| t.piece + 1);
            match added {
                Some(i) => {
                    self.stripped_text(i, &text[s..e], out.len(), &mut surface);
                    out.push(SpannedToken {
                        id: self.added[i].id,
                        start: s,
                        end: e,
                        added: true,
                        piece,
                    })
                }
                None => {
                    let (at, from) = (out.len(), surface.len());
                    let tokens = self.encode_hf_segment(
                        &text[s..e],
                        s,
                        piece,
                        &mut syms,
                        &|i| s + i == 0,
                        &mut surface,
                    )?;
                    shift_surface(&mut surface, from, at);
                    out.extend(tokens);
                }
            }
        }
        Ok((out, surface))
    }

    /// `encode_hf` with a normalizer, as `tokenizers` does it: split on the non-normalized added
    /// tokens in the raw text, normalize each segment between them, split that on the normalized
    /// added tokens, pre-tokenize and merge; offsets map back through the alignment.
    fn encode_hf_normalized(
        &self,
        text: &str,
        normalizer: &Normalizer,
        surface: &mut Surface,
    ) -> Result<Vec<SpannedToken>> {
        let mut out: Vec<SpannedToken> = Vec::new();
        let mut syms = Vec::new();
        let next_piece = |out: &Vec<SpannedToken>| out.last().map_or(0, |t| t.piece + 1);
        let added_token = |i: usize, start: usize, end: usize, piece: u32| SpannedToken {
            id: self.added[i].id,
            start,
            end,
            added: true,
            piece,
        };
        let mut raw = Vec::new();
        self.added_splits(0, text, 0, &mut raw);
        for (s, e, added) in raw {
            if let Some(i) = added {
                let piece = next_piece(&out);
                self.stripped_text(i, &text[s..e], out.len(), surface);
                out.push(added_token(i, s, e, piece));
                continue;
            }
            if s == e {
                continue;
            }
            let norm = normalizer.normalize(&text[s..e])?;
            let nt = norm.text.as_str();
            let mut segments = Vec::new();
            self.added_splits(1, nt, 0, &mut segments);
            for (a, b, added) in segments {
                if let Some(i) = added {
                    let (os, oe) = norm.original_span(a, b);
                    let piece = next_piece(&out);
                    self.stripped_text(i, &nt[a..b], out.len(), surface);
                    out.push(added_token(i, s + os, s + oe, piece));
                } else if b > a {
                    let piece = next_piece(&out);
                    // As `tokenizers` tracks it: a normalized piece starts where its first byte
                    // comes from (so a normalizer that strips the start moves it off the origin).
                    let at_origin = |i: usize| starts_input(&norm, s, a + i);
                    let (at, from) = (out.len(), surface.len());
                    let tokens = self.encode_hf_segment(
                        &nt[a..b],
                        a,
                        piece,
                        &mut syms,
                        &at_origin,
                        surface,
                    )?;
                    shift_surface(surface, from, at);
                    for mut t in tokens {
                        let (os, oe) = norm.original_span(t.start, t.end);
                        t.start = s + os;
                        t.end = s + oe;
                        out.push(t);
                    }
                }
            }
        }
        Ok(out)
    }

    /// `tokenizers`' `find_matches`: `sentence` cut by the added tokens of `phase` (0: matched
    /// in the raw text, 1: in the normalized text) into `(start, end, added index)` (shifted by
    /// `base`, pushed to `out`), with `single_word`, `lstrip` and `rstrip` applied.
    fn added_splits(
        &self,
        phase: usize,
        sentence: &str,
        base: usize,
        out: &mut Vec<(usize, usize, Option<usize>)>,
    ) {
        let mut offset = 0;
        if let Some(matcher) = &self.matchers[phase] {
            for m in matcher.find_iter(sentence) {
                let i = self.matcher_tokens[phase][m.pattern().as_usize()];
                let (mut start, mut stop) = (m.start(), m.end());
                if let Some(rule) = self.added_rules.get(i) {
                    if rule.single_word {
                        let before = sentence[..start].chars().next_back();
                        let after = sentence[stop..].chars().next();
                        if before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
                            continue;
                        }
                    }
                    if rule.lstrip {
                        let kept = sentence[..start]
                            .trim_end_matches(char::is_whitespace)
                            .len();
                        start = kept.max(offset);
                    }
                    if rule.rstrip {
                        stop = sentence.len()
                            - sentence[stop..]
                                .trim_start_matches(char::is_whitespace)
                                .len();
                    }
                }
                if offset < start {
                    out.push((base + offset, base + start, None));
                }
                out.push((base + start, base + stop, Some(i)));
                offset = stop;
            }
        }
        if offset < sentence.len() {
            out.push((base + offset, base + sentence.len(), None));
        }
    }

    /// An added token that took in whitespace (`lstrip`, `rstrip`) shows the text it matched.
    fn stripped_text(&self, i: usize, matched: &str, index: usize, surface: &mut Surface) {
        if self
            .added_rules
            .get(i)
            .is_some_and(|r| r.lstrip || r.rstrip)
        {
            surface.push((index, matched.to_string()));
        }
    }

    /// Pre-tokenizes and merges one segment free of added tokens; offsets are shifted by `base`.
    /// `at_origin(i)`: whether byte `i` of the segment is where the input starts.
    /// Tokens whose string is their text are added to `surface`, indexed in the result.
    pub(super) fn encode_hf_segment(
        &self,
        text: &str,
        base: usize,
        first_piece: u32,
        syms: &mut Vec<Sym>,
        at_origin: &dyn Fn(usize) -> bool,
        surface: &mut Surface,
    ) -> Result<Vec<SpannedToken>> {
        let pieces = match &self.pre_tokenizer {
            PreTokenizer::Steps(steps) => step_pieces(steps, text, at_origin)?,
            PreTokenizer::Regex(_) => self.pieces(text)?,
        };
        let metaspace = match &self.pre_tokenizer {
            PreTokenizer::Steps(steps) => match steps.last() {
                Some(Step::Metaspace { replacement, .. }) => Some(*replacement),
                _ => None,
            },
            PreTokenizer::Regex(_) => None,
        };
        let mut out = Vec::with_capacity(pieces.len());
        let mut buf = Vec::new();
        // With Metaspace: the text byte each byte of `buf` stands for.
        let mut origins: Vec<usize> = Vec::new();
        let mut own_text = Vec::new();
        for (index, p) in pieces.into_iter().enumerate() {
            let piece = first_piece + index as u32;
            buf.clear();
            let slice = &text[p.start..p.end];
            if let Some(r) = metaspace {
                // Spaces become the replacement; a prefixed one stands for the first character.
                origins.clear();
                let mut utf8 = [0u8; 4];
                let r = r.encode_utf8(&mut utf8).as_bytes();
                if p.prefix_space {
                    buf.extend_from_slice(r);
                    origins.extend(std::iter::repeat_n(p.start, r.len()));
                }
                for (i, c) in slice.char_indices() {
                    let at = p.start + i;
                    if c == ' ' {
                        buf.extend_from_slice(r);
                        origins.extend(std::iter::repeat_n(at, r.len()));
                    } else {
                        let n = c.len_utf8();
                        buf.extend_from_slice(&slice.as_bytes()[i..i + n]);
                        origins.extend(at..at + n);
                    }
                }
            } else {
                if p.prefix_space {
                    buf.push(b' ');
                }
                buf.extend_from_slice(slice.as_bytes());
            }
            match &self.text_model {
                Some(m) => {
                    // The buffer is text: a slice of `text`, with spaces replaced by a character.
                    let piece_text = std::str::from_utf8(&buf).expect("pieces are text");
                    m.encode(piece_text, syms, &mut own_text)?;
                    for &i in &own_text {
                        let sym = syms[i];
                        let s = &piece_text[sym.start as usize..sym.end as usize];
                        surface.push((out.len() + i, s.to_string()));
                    }
                }
                None => self.vocab.encode_piece_spans(&buf, syms),
            }
            // Byte j of the piece comes from text byte p.start + j - prefix; the virtual space
            // stands for the piece's first character. Offsets cover whole characters.
            let shift = usize::from(p.prefix_space);
            let origin = |j: usize| match metaspace {
                Some(_) => origins[j],
                None => (p.start + j).saturating_sub(shift).max(p.start),
            };
            for sym in syms.iter() {
                let first = origin(sym.start as usize);
                let last = origin((sym.end as usize).max(sym.start as usize + 1) - 1);
                let start = char_start(text, first);
                let end = char_end(text, last);
                out.push(SpannedToken {
                    id: sym.id,
                    start: base + start,
                    end: base + end,
                    added: false,
                    piece,
                });
            }
        }
        Ok(out)
    }
}

/// A character `\w` matches in the `regex` crate (what `tokenizers` tests `single_word` with).
fn is_word_char(c: char) -> bool {
    static WORD: std::sync::OnceLock<regex_automata::meta::Regex> = std::sync::OnceLock::new();
    let re = WORD.get_or_init(|| regex_automata::meta::Regex::new(r"^\w$").expect("valid pattern"));
    let mut buf = [0u8; 4];
    re.is_match(c.encode_utf8(&mut buf).as_bytes())
}

/// Surface entries from `from` on were indexed within a segment; `at` is where it starts.
fn shift_surface(surface: &mut Surface, from: usize, at: usize) {
    for entry in &mut surface[from..] {
        entry.0 += at;
    }
}

/// Whether normalized byte `i` of a segment that starts at original byte `s` comes from the
/// start of the input.
pub(super) fn starts_input(norm: &Normalized, s: usize, i: usize) -> bool {
    i < norm.text.len() && s + norm.original_span(i, i + 1).0 == 0
}

fn char_start(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn char_end(text: &str, i: usize) -> usize {
    let mut j = i + 1;
    while j < text.len() && !text.is_char_boundary(j) {
        j += 1;
    }
    j.min(text.len())
}
