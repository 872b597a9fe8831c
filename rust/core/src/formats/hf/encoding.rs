//! Hugging Face's `encode` / `decode` on top of the engine's: token strings, template special
//! tokens, `ByteLevel` offset trimming, character offsets.

use super::{Decoder, HfEncoding, HfExtras, PostStep, TemplatePiece};
use crate::encode::Tokenizer;
use crate::pretokenize::bytelevel;
use crate::{Error, Result};

impl HfExtras {
    /// The vocabulary string of a model token id; for an added token, the text it matches (its
    /// content, normalized if it is matched after the normalizer, as `tokenizers` gives it).
    pub fn token_string(&self, tok: &Tokenizer, id: u32) -> Option<String> {
        if let Some(t) = tok.added_match_text(id) {
            return Some(t.to_string());
        }
        self.token_strings.get(id as usize).cloned().flatten()
    }

    /// The id of a token string: an added token's content, or a vocabulary string.
    pub fn token_to_id(&self, tok: &Tokenizer, token: &str) -> Option<u32> {
        tok.added_token(token)
            .map(|t| t.id)
            .or_else(|| self.string_ids.get(token).copied())
    }

    /// The number of distinct token strings (the vocabulary's, plus added tokens outside it).
    pub fn vocab_size(&self, tok: &Tokenizer, with_added_tokens: bool) -> usize {
        let extra = tok
            .added_tokens()
            .iter()
            .filter(|t| !self.string_ids.contains_key(&t.content))
            .count();
        self.string_ids.len() + if with_added_tokens { extra } else { 0 }
    }

    /// Encodes one sequence (or a pair) into a Hugging Face `Encoding`.
    pub fn encode(
        &self,
        tok: &Tokenizer,
        text: &str,
        pair: Option<&str>,
        add_special_tokens: bool,
    ) -> Result<HfEncoding> {
        let mut parts = Vec::new();
        for (which, t) in std::iter::once(text).chain(pair).enumerate() {
            let (spanned, surface) = tok.encode_hf_texts(t)?;
            let mut enc = HfEncoding::default();
            for s in spanned {
                enc.ids.push(s.id);
                enc.tokens
                    .push(self.token_string(tok, s.id).unwrap_or_default());
                enc.offsets.push((s.start, s.end));
                enc.type_ids.push(which as u32);
                enc.special_tokens_mask.push(0);
            }
            // Unigram's unknown tokens show their own text.
            for (i, text) in surface {
                enc.tokens[i] = text;
            }
            parts.push((enc, t));
        }
        // As in `tokenizers`' Python API: offsets become characters first, then the
        // post-processors trim them (in characters).
        for (enc, t) in parts.iter_mut() {
            to_char_offsets(&mut enc.offsets, t);
        }
        for step in &self.post {
            if let PostStep::ByteLevel {
                trim_offsets: true,
                add_prefix_space,
            } = step
            {
                for (enc, _) in parts.iter_mut() {
                    trim_offsets(enc, *add_prefix_space);
                }
            }
        }
        let template = self.post.iter().rev().find_map(|s| match s {
            PostStep::Template { single, pair } => {
                Some(if parts.len() == 1 { single } else { pair })
            }
            _ => None,
        });
        let mut out = HfEncoding::default();
        match template {
            Some(pieces) if add_special_tokens => {
                for piece in pieces {
                    match piece {
                        TemplatePiece::Special {
                            ids,
                            tokens,
                            type_id,
                        } => {
                            for (id, token) in ids.iter().zip(tokens) {
                                out.ids.push(*id);
                                out.tokens.push(token.clone());
                                out.offsets.push((0, 0));
                                out.type_ids.push(*type_id);
                                out.special_tokens_mask.push(1);
                            }
                        }
                        TemplatePiece::Sequence { which, type_id } => {
                            if let Some((enc, _)) = parts.get(*which) {
                                out.extend(enc, Some(*type_id));
                            }
                        }
                    }
                }
            }
            _ => {
                for (enc, _) in &parts {
                    out.extend(enc, None);
                }
            }
        }
        Ok(out)
    }

    /// The number of ids `encode(text, None, add_special_tokens)` gives, without its token
    /// strings and offsets.
    pub fn count(&self, tok: &Tokenizer, text: &str, add_special_tokens: bool) -> Result<usize> {
        let n = tok.encode_hf(text)?.len();
        let template = self.post.iter().rev().find_map(|s| match s {
            PostStep::Template { single, .. } => Some(single),
            _ => None,
        });
        Ok(match template {
            Some(pieces) if add_special_tokens => pieces
                .iter()
                .map(|piece| match piece {
                    TemplatePiece::Special { ids, .. } => ids.len(),
                    TemplatePiece::Sequence { which: 0, .. } => n,
                    TemplatePiece::Sequence { .. } => 0,
                })
                .sum(),
            _ => n,
        })
    }

    /// Hugging Face `decode`: the ids' token strings (unknown ids skipped) through the decoder,
    /// joined; with no decoder, joined with spaces.
    pub fn decode(
        &self,
        tok: &Tokenizer,
        ids: &[u32],
        skip_special_tokens: bool,
    ) -> Result<String> {
        let mut tokens = Vec::with_capacity(ids.len());
        for &id in ids {
            if skip_special_tokens && tok.added_by_id(id).is_some_and(|t| t.special) {
                continue;
            }
            tokens.extend(self.token_string(tok, id));
        }
        Ok(match &self.decoder {
            Some(d) => d.decode_chain(tokens)?.concat(),
            None => tokens.join(" "),
        })
    }

    /// The bytes one id adds to `decode`'s output before the UTF-8 step (none for an unknown id,
    /// or a skipped special token): `decode` is the concatenation of these, read as UTF-8. Only
    /// under the `ByteLevel` decoder; other decoders look at their neighbours (a WordPiece
    /// prefix, a Metaspace at the start, byte-fallback runs) and are refused.
    pub fn decode_token_bytes(
        &self,
        tok: &Tokenizer,
        id: u32,
        skip_special_tokens: bool,
    ) -> Result<Vec<u8>> {
        if !matches!(self.decoder, Some(Decoder::ByteLevel)) {
            return Err(Error::unsupported(
                "decoder: streaming decode needs the ByteLevel decoder; use decode for this tokenizer",
            ));
        }
        if skip_special_tokens && tok.added_by_id(id).is_some_and(|t| t.special) {
            return Ok(Vec::new());
        }
        Ok(match self.token_string(tok, id) {
            Some(s) => bytelevel::decode_lossless(&s),
            None => Vec::new(),
        })
    }
}

impl HfEncoding {
    fn extend(&mut self, other: &HfEncoding, type_id: Option<u32>) {
        self.ids.extend_from_slice(&other.ids);
        self.tokens.extend_from_slice(&other.tokens);
        self.offsets.extend_from_slice(&other.offsets);
        match type_id {
            Some(t) => self
                .type_ids
                .extend(std::iter::repeat_n(t, other.ids.len())),
            None => self.type_ids.extend_from_slice(&other.type_ids),
        }
        self.special_tokens_mask
            .extend_from_slice(&other.special_tokens_mask);
    }
}

/// Hugging Face `ByteLevel` post-processing: (character) offsets skip a token's leading and
/// trailing spaces.
fn trim_offsets(enc: &mut HfEncoding, add_prefix_space: bool) {
    let space = bytelevel::encode(b" ").chars().next().unwrap();
    let is_space = |c: &char| *c == space || c.is_whitespace();
    for (i, (token, offsets)) in enc.tokens.iter().zip(enc.offsets.iter_mut()).enumerate() {
        let mut leading = token.chars().take_while(is_space).count();
        let trailing = token.chars().rev().take_while(is_space).count();
        if leading > 0 {
            if (i == 0 || offsets.0 == 0) && add_prefix_space && leading == 1 {
                leading = 0;
            }
            offsets.0 = (offsets.0 + leading).min(offsets.1);
        }
        if trailing > 0 && offsets.1 >= trailing {
            offsets.1 = (offsets.1 - trailing).max(offsets.0);
        }
    }
}

/// Byte offsets into `text` become character offsets (what `tokenizers` returns for `str`).
fn to_char_offsets(offsets: &mut [(usize, usize)], text: &str) {
    if text.is_ascii() {
        return;
    }
    let mut char_at = vec![0usize; text.len() + 1];
    let mut chars = 0;
    for (i, c) in text.char_indices() {
        for k in 0..c.len_utf8() {
            char_at[i + k] = chars;
        }
        chars += 1;
    }
    char_at[text.len()] = chars;
    for (s, e) in offsets.iter_mut() {
        *s = char_at[*s];
        *e = char_at[*e];
    }
}
