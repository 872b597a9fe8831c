//! A tokenizer: a BPE `Vocab`, a pre-tokenizer, and added/special tokens.
//!
//! Two flavours share it, one per file format:
//! * tiktoken (`PreTokenizer::Regex`): special tokens split the text only where allowed, the
//!   pattern's matches are the pieces.
//! * Hugging Face (`PreTokenizer::Steps`, in `hf.rs`): added tokens always split the text; an
//!   optional normalizer rewrites the rest (offsets map back through its alignment);
//!   pre-tokenizer steps make the pieces; byte-level BPE or a [`TextModel`] (WordPiece, ...)
//!   encodes them; tokens carry offsets into the input.
//!
//! `count.rs`: token counts without the ids (`count_ordinary`, `count_with_special`);
//! `chunked.rs`: files of any size in blocks cut where no piece can cross (`encode_file`).

mod chunked;
mod count;

pub use chunked::{last_safe_cut, BLOCK_SIZE};

use crate::model::TextModel;
use crate::pretokenize::normalize::Normalizer;
use crate::pretokenize::steps::step_pieces;
pub use crate::pretokenize::steps::{
    CharClass, Matcher, Piece, PreTokenizer, PrependScheme, SplitBehavior, Step,
};
use crate::util::error::quoted;
use crate::vocab::{check_id_space, Vocab};
use crate::{Error, Result};
use aho_corasick::{AhoCorasick, MatchKind};

mod hf;
pub use hf::Surface;
use rustc_hash::FxHashMap;

/// A special (tiktoken) or added (Hugging Face) token, matched literally in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedToken {
    pub content: String,
    pub id: u32,
    pub special: bool,
    /// HF: matched in the normalized text (its content normalized too), not in the raw text.
    pub normalized: bool,
}

/// How a Hugging Face added token matches beyond its content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddedRule {
    /// Only between non-word characters (or the ends of the text).
    pub single_word: bool,
    /// The match takes in the whitespace before it.
    pub lstrip: bool,
    /// The match takes in the whitespace after it.
    pub rstrip: bool,
}

/// A token of a Hugging Face encoding, with its byte offsets in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpannedToken {
    pub id: u32,
    pub start: usize,
    pub end: usize,
    pub added: bool,
    /// Index of the pre-token (or added token) it comes from, counted over the input.
    pub piece: u32,
}

pub struct Tokenizer {
    pub name: String,
    pub vocab: Vocab,
    pub pre_tokenizer: PreTokenizer,
    added: Vec<AddedToken>,
    /// Added-token matchers: all tokens (tiktoken); HF phase 1 (not normalized), phase 2.
    matchers: [Option<AhoCorasick>; 2],
    matcher_tokens: [Vec<usize>; 2],
    added_by_content: FxHashMap<String, usize>,
    added_by_id: FxHashMap<u32, usize>,
    /// HF: the `normalizer` applied to the text between non-normalized added tokens.
    normalizer: Option<Normalizer>,
    /// HF with a normalizer: normalized added tokens' normalized contents, by id (what they match).
    normalized_contents: FxHashMap<u32, String>,
    /// HF models other than byte-level BPE (WordPiece, ...): they encode pieces instead of
    /// `vocab`, which then only holds the token strings' bytes.
    text_model: Option<TextModel>,
    /// HF: each added token's rule, by index in `added` (empty when all are plain).
    added_rules: Vec<AddedRule>,
}

impl Tokenizer {
    pub fn new(
        name: &str,
        vocab: Vocab,
        pre_tokenizer: PreTokenizer,
        added: Vec<AddedToken>,
    ) -> Result<Tokenizer> {
        let mut added_by_content = FxHashMap::default();
        let mut added_by_id = FxHashMap::default();
        let bound = added
            .iter()
            .map(|t| t.id as usize + 1)
            .fold(vocab.id_bound(), usize::max);
        check_id_space(bound, vocab.len() + added.len())?;
        let tiktoken = matches!(pre_tokenizer, PreTokenizer::Regex(_));
        for (i, t) in added.iter().enumerate() {
            if t.content.is_empty() {
                return Err(Error::format(format!(
                    "special token with id {} has empty content",
                    t.id
                )));
            }
            // A tiktoken special token stands for its text: an ordinary token with the same id
            // and other bytes would make that id decode two ways. (A tokenizer.json may list an
            // added token that is also in its vocabulary, under the same id.)
            if let Some(bytes) = vocab.token(t.id).filter(|_| tiktoken) {
                if bytes != t.content.as_bytes() {
                    return Err(Error::format(format!(
                        "special token {} has id {}, which is the ordinary token {}",
                        quoted(&t.content),
                        t.id,
                        quoted(&String::from_utf8_lossy(bytes))
                    )));
                }
            }
            added_by_content.insert(t.content.clone(), i);
            added_by_id.insert(t.id, i);
        }
        let hf = matches!(pre_tokenizer, PreTokenizer::Steps(_));
        // tiktoken matches every special in one pass; HF first those not normalized, then the rest.
        let mut matcher_tokens: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
        for (i, t) in added.iter().enumerate() {
            matcher_tokens[usize::from(hf && t.normalized)].push(i);
        }
        let build = |ids: &Vec<usize>| build_matcher(ids.iter().map(|&i| &added[i].content));
        let matchers = [build(&matcher_tokens[0])?, build(&matcher_tokens[1])?];
        Ok(Tokenizer {
            name: name.to_string(),
            vocab,
            pre_tokenizer,
            added,
            matchers,
            matcher_tokens,
            added_by_content,
            added_by_id,
            normalizer: None,
            normalized_contents: FxHashMap::default(),
            text_model: None,
            added_rules: Vec::new(),
        })
    }

    /// Sets the added tokens' rules (`single_word`, `lstrip`, `rstrip`), in `added` order.
    pub fn with_added_rules(mut self, rules: Vec<AddedRule>) -> Result<Tokenizer> {
        if rules.len() != self.added.len() {
            return Err(Error::value("one rule per added token is needed"));
        }
        if rules.iter().any(|r| *r != AddedRule::default()) {
            self.added_rules = rules;
        }
        Ok(self)
    }

    /// Sets the model that encodes pieces in place of the byte-level BPE `vocab`.
    pub fn with_text_model(mut self, model: TextModel) -> Tokenizer {
        self.text_model = Some(model);
        self
    }

    pub fn text_model(&self) -> Option<&TextModel> {
        self.text_model.as_ref()
    }

    /// The merge list, `(left, right)` ids in rank order (none for models without merges).
    pub fn merge_list(&self) -> Vec<(u32, u32)> {
        match &self.text_model {
            Some(TextModel::Bpe(m)) => m.merge_list(),
            Some(_) => Vec::new(),
            None => self.vocab.merges().to_vec(),
        }
    }

    /// Sets a Hugging Face normalizer: normalized added tokens are then matched by their
    /// normalized content (as `tokenizers` indexes them); one that normalizes to nothing is never
    /// matched.
    pub fn with_normalizer(mut self, normalizer: Normalizer) -> Result<Tokenizer> {
        let mut tokens = Vec::new();
        let mut contents = Vec::new();
        for &i in &self.matcher_tokens[1] {
            let content = normalizer.normalize(&self.added[i].content)?.text;
            if !content.is_empty() {
                tokens.push(i);
                self.normalized_contents
                    .insert(self.added[i].id, content.clone());
                contents.push(content);
            }
        }
        self.matchers[1] = build_matcher(contents.iter())?;
        self.matcher_tokens[1] = tokens;
        self.normalizer = Some(normalizer);
        Ok(self)
    }

    pub fn normalizer(&self) -> Option<&Normalizer> {
        self.normalizer.as_ref()
    }

    /// The text an added token matches: its content, normalized if it is matched after the
    /// normalizer (`tokenizers` gives that text as the token's string in an encoding).
    pub fn added_match_text(&self, id: u32) -> Option<&str> {
        match self.normalized_contents.get(&id) {
            Some(c) => Some(c),
            None => self.added_by_id(id).map(|t| t.content.as_str()),
        }
    }

    pub fn added_tokens(&self) -> &[AddedToken] {
        &self.added
    }
    pub fn added_token(&self, content: &str) -> Option<&AddedToken> {
        self.added_by_content.get(content).map(|&i| &self.added[i])
    }
    pub fn added_by_id(&self, id: u32) -> Option<&AddedToken> {
        self.added_by_id.get(&id).map(|&i| &self.added[i])
    }
    pub fn is_hf(&self) -> bool {
        matches!(self.pre_tokenizer, PreTokenizer::Steps(_))
    }

    /// One past the largest id (ordinary or added).
    pub fn id_bound(&self) -> usize {
        let added = self
            .added
            .iter()
            .map(|t| t.id as usize + 1)
            .max()
            .unwrap_or(0);
        self.vocab.id_bound().max(added)
    }

    /// The bytes of a token id: an added token's content, or the vocabulary's bytes.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        match self.added_by_id(id) {
            Some(t) => Some(t.content.as_bytes()),
            None => self.vocab.token(id),
        }
    }

    // ---------------------------------------------------------------- tiktoken flavour

    /// Encodes text with no special-token handling (tiktoken's `encode_ordinary`).
    pub fn encode_ordinary(&self, text: &str) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        self.encode_ordinary_into(text, &mut out)?;
        Ok(out)
    }

    pub(crate) fn encode_ordinary_into(&self, text: &str, out: &mut Vec<u32>) -> Result<()> {
        match &self.pre_tokenizer {
            PreTokenizer::Regex(re) if re.is_fast() && text.len() >= PARALLEL_CHUNK * 2 => {
                // A long document: encode chunks in parallel, cut where no piece can cross.
                let chunks = safe_chunks(text, PARALLEL_CHUNK);
                let parts = crate::util::pool::map_ordered(&chunks, None, |chunk| {
                    let mut ids = Vec::with_capacity(chunk.len() / 4 + 1);
                    self.vocab.with_encoder(|enc| {
                        re.for_each_match(chunk, |s, e| {
                            enc.encode(&chunk.as_bytes()[s..e], &mut ids)
                        })
                    })?;
                    Ok(ids)
                });
                for part in parts {
                    out.extend(part?);
                }
                Ok(())
            }
            PreTokenizer::Regex(re) => self.vocab.with_encoder(|enc| {
                re.for_each_match(text, |s, e| enc.encode(&text.as_bytes()[s..e], out))
            }),
            PreTokenizer::Steps(_) => {
                let mut syms = Vec::new();
                let normalized;
                let (text, norm) = match &self.normalizer {
                    Some(n) => {
                        normalized = n.normalize(text)?;
                        (normalized.text.as_str(), Some(&normalized))
                    }
                    None => (text, None),
                };
                let at_origin = |i: usize| match norm {
                    Some(n) => hf::starts_input(n, 0, i),
                    None => i == 0,
                };
                let mut surface = Vec::new();
                for t in self.encode_hf_segment(text, 0, 0, &mut syms, &at_origin, &mut surface)? {
                    out.push(t.id);
                }
                Ok(())
            }
        }
    }

    /// Encodes text, turning the special tokens for which `allowed` holds into their ids and
    /// treating the others as ordinary text, or, with `reject_others`, refusing them with a
    /// `Value` error that names the token (tiktoken's `encode` with its default
    /// `disallowed_special="all"`).
    pub fn encode_with_special(
        &self,
        text: &str,
        allowed: &dyn Fn(u32) -> bool,
        reject_others: bool,
    ) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(text.len() / 4 + 1);
        self.for_each_segment(text, allowed, reject_others, |segment| match segment {
            Segment::Text(t) => self.encode_ordinary_into(t, &mut out),
            Segment::Special(id) => {
                out.push(id);
                Ok(())
            }
        })?;
        Ok(out)
    }

    /// Splits `text` at the special tokens for which `allowed` holds and hands `f` the text
    /// between them and each such token's id, in order (the others are text, or, with
    /// `reject_others`, a `Value` error): the special-token rules of `encode`, shared by `count`.
    pub(crate) fn for_each_segment<'t>(
        &self,
        text: &'t str,
        allowed: &dyn Fn(u32) -> bool,
        reject_others: bool,
        mut f: impl FnMut(Segment<'t>) -> Result<()>,
    ) -> Result<()> {
        let Some(matcher) = &self.matchers[0] else {
            return f(Segment::Text(text));
        };
        let (mut start, mut search) = (0, 0);
        while search <= text.len() {
            let found = matcher.find(aho_corasick::Input::new(text).span(search..text.len()));
            match found {
                Some(m) => {
                    let token = &self.added[self.matcher_tokens[0][m.pattern().as_usize()]];
                    if !allowed(token.id) {
                        if reject_others {
                            return Err(disallowed_special(&token.content));
                        }
                        search = m.start() + 1;
                        continue;
                    }
                    f(Segment::Text(&text[start..m.start()]))?;
                    f(Segment::Special(token.id))?;
                    start = m.end();
                    search = start;
                }
                None => break,
            }
        }
        f(Segment::Text(&text[start..]))
    }

    /// Decodes ids to bytes; an unknown id is an error (tiktoken's `decode_bytes`).
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            match self.token_bytes(id) {
                Some(b) => out.extend_from_slice(b),
                None => return Err(Error::key(format!("invalid token for decoding: {id}"))),
            }
        }
        Ok(out)
    }

    /// Every token of `text` with the index of the pre-token it comes from and whether it is
    /// a special/added token (all special tokens recognised), for dynamic merging.
    pub fn encode_with_pieces(&self, text: &str) -> Result<Vec<(u32, u32, bool)>> {
        if self.is_hf() {
            return Ok(self
                .encode_hf(text)?
                .into_iter()
                .map(|t| (t.id, t.piece, t.added))
                .collect());
        }
        let mut out = Vec::new();
        let mut piece = 0u32;
        let mut ids = Vec::new();
        let mut ordinary =
            |segment: &str, out: &mut Vec<(u32, u32, bool)>, piece: &mut u32| -> Result<()> {
                let PreTokenizer::Regex(re) = &self.pre_tokenizer else {
                    unreachable!()
                };
                self.vocab.with_encoder(|enc| {
                    re.for_each_match(segment, |s, e| {
                        ids.clear();
                        enc.encode(&segment.as_bytes()[s..e], &mut ids);
                        out.extend(ids.iter().map(|&id| (id, *piece, false)));
                        *piece += 1;
                    })
                })
            };
        let mut start = 0;
        if let Some(matcher) = &self.matchers[0] {
            for m in matcher.find_iter(text) {
                ordinary(&text[start..m.start()], &mut out, &mut piece)?;
                out.push((
                    self.added[self.matcher_tokens[0][m.pattern().as_usize()]].id,
                    piece,
                    true,
                ));
                piece += 1;
                start = m.end();
            }
        }
        ordinary(&text[start..], &mut out, &mut piece)?;
        Ok(out)
    }

    /// The pieces (pre-tokens) of a text free of added tokens.
    pub fn pieces(&self, text: &str) -> Result<Vec<Piece>> {
        match &self.pre_tokenizer {
            PreTokenizer::Regex(re) => {
                let mut out = Vec::new();
                re.for_each_match(text, |start, end| {
                    out.push(Piece {
                        start,
                        end,
                        prefix_space: false,
                    })
                })?;
                Ok(out)
            }
            PreTokenizer::Steps(steps) => step_pieces(steps, text, &|i| i == 0),
        }
    }
}

/// An Aho-Corasick automaton over added tokens' contents (leftmost-longest), if there are any.
fn build_matcher<S: AsRef<[u8]>>(contents: impl Iterator<Item = S>) -> Result<Option<AhoCorasick>> {
    let contents: Vec<S> = contents.collect();
    if contents.is_empty() {
        return Ok(None);
    }
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(contents)
        .map(Some)
        .map_err(|e| Error::value(format!("cannot index special tokens: {e}")))
}

/// A part of a text cut at its (allowed) special tokens: ordinary text, or a special token's id.
pub(crate) enum Segment<'t> {
    Text(&'t str),
    Special(u32),
}

/// Documents this long (twice this, in bytes) are encoded in parallel chunks of about this size.
pub(crate) const PARALLEL_CHUNK: usize = 256 << 10;

/// Cuts `text` into chunks of about `size` bytes, each cut right after a `\n` that follows a
/// visible ASCII character and precedes an ASCII letter. For the known pattern families (the
/// fast path) a piece ends there: no alternative lets a newline and a following letter share a
/// piece, none looks behind, and the lone `\n` is one piece whether or not it ends the text
/// (`\s++$` at a chunk's end takes just it). So the chunks encode to the same ids as the whole.
pub(crate) fn safe_chunks(text: &str, size: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut chunks = Vec::new();
    let mut start = 0;
    while text.len() - start > size * 2 {
        let cut = (start + size..text.len() - 1).find(|&i| {
            bytes[i] == b'\n'
                && bytes[i - 1].is_ascii_graphic()
                && bytes[i + 1].is_ascii_alphabetic()
        });
        match cut {
            Some(i) => {
                chunks.push(&text[start..=i]);
                start = i + 1;
            }
            None => break,
        }
    }
    chunks.push(&text[start..]);
    chunks
}

/// The error for a special token found in text where it is not allowed (wording after tiktoken).
pub fn disallowed_special(token: &str) -> Error {
    Error::value(format!(
        "Encountered text corresponding to disallowed special token '{token}'.\n\
         If you want this text to be encoded as a special token, pass it to `allowed_special`, \
         e.g. `allowed_special={{'{token}', ...}}`.\n\
         If you want this text to be encoded as normal text, disable the check for this token by \
         passing `disallowed_special=(enc.special_tokens_set - {{'{token}'}})`.\n\
         To disable this check for all special tokens, pass `disallowed_special=()`.\n"
    ))
}
