//! Hugging Face `tokenizer.json`: loading, saving, and the post-processing half of encoding
//! (template special tokens, ByteLevel offset trimming, character offsets).
//!
//! Supported: a byte-level BPE model (`ignore_merges`, `unk_token`), no normalizer, a pre-tokenizer
//! made of `Split`, `Digits` and a final `ByteLevel` (alone or in a `Sequence`), added tokens,
//! `ByteLevel` / `TemplateProcessing` / `Sequence` post-processors and a `ByteLevel` decoder.
//! Anything else is refused with an error naming the component and its JSON path.

use crate::encode::{AddedToken, Matcher, PreTokenizer, SplitBehavior, Step, Tokenizer};
use crate::pretokenize::bytelevel;
use crate::pretokenize::regex::{pcre_to_onig, Regex};
use crate::vocab::Vocab;
use crate::{Error, Result};
use serde_json::{json, Map, Value};

/// GPT-2's pattern, as Hugging Face's `ByteLevel(use_regex=True)` applies it.
pub const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

#[derive(Clone, Debug)]
pub enum PostStep {
    ByteLevel {
        trim_offsets: bool,
        add_prefix_space: bool,
    },
    Template {
        single: Vec<TemplatePiece>,
        pair: Vec<TemplatePiece>,
    },
}

#[derive(Clone, Debug)]
pub enum TemplatePiece {
    /// A special token's ids and token strings, with its type id.
    Special {
        ids: Vec<u32>,
        tokens: Vec<String>,
        type_id: u32,
    },
    /// Sequence A (0) or B (1), with the type id to give it.
    Sequence { which: usize, type_id: u32 },
}

/// The parts of a `tokenizer.json` beyond what encoding needs.
pub struct HfExtras {
    /// Token strings by id, as written in the vocabulary, and back.
    pub token_strings: Vec<Option<String>>,
    pub string_ids: rustc_hash::FxHashMap<String, u32>,
    pub post: Vec<PostStep>,
    /// The text this tokenizer was loaded from; `to_str` gives it back (kept as text: a parsed
    /// document of a large vocabulary costs several times more memory).
    pub source: String,
}

/// A Hugging Face `Encoding`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HfEncoding {
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// Character offsets into the input string.
    pub offsets: Vec<(usize, usize)>,
    pub type_ids: Vec<u32>,
    pub special_tokens_mask: Vec<u32>,
}

fn field<'a>(obj: &'a Value, path: &str, key: &str) -> Result<&'a Value> {
    obj.get(key)
        .ok_or_else(|| Error::format(format!("{path}: missing field \"{key}\"")))
}

fn as_str<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    v.as_str()
        .ok_or_else(|| Error::format(format!("{path}: expected a string, found {v}")))
}

fn as_bool(v: Option<&Value>, path: &str, default: bool) -> Result<bool> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(Error::format(format!(
            "{path}: expected true or false, found {other}"
        ))),
    }
}

fn as_u32(v: &Value, path: &str) -> Result<u32> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .filter(|&n| n != u32::MAX)
        .ok_or_else(|| Error::format(format!("{path}: expected a token id, found {v}")))
}

fn kind<'a>(v: &'a Value, path: &str) -> Result<&'a str> {
    as_str(field(v, path, "type")?, &format!("{path}.type"))
}

/// Loads a `tokenizer.json` document.
pub fn from_json(text: &str, name: &str) -> Result<(Tokenizer, HfExtras)> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        Error::format(format!(
            "not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    if !doc.is_object() {
        return Err(Error::format("a tokenizer.json must hold a JSON object"));
    }
    for key in ["truncation", "padding"] {
        if doc.get(key).is_some_and(|v| !v.is_null()) {
            return Err(Error::unsupported(format!(
                "{key}: toksmith does not apply {key}; set it to null"
            )));
        }
    }
    if let Some(n) = doc.get("normalizer").filter(|v| !v.is_null()) {
        return Err(Error::unsupported(format!(
            "normalizer: unsupported normalizer {}",
            kind(n, "normalizer")?
        )));
    }
    let model = field(&doc, "tokenizer.json", "model")?;
    let (vocab, token_strings) = parse_model(model)?;
    let added = parse_added(doc.get("added_tokens"))?;
    let steps = parse_pre_tokenizer(field(&doc, "tokenizer.json", "pre_tokenizer")?)?;
    let post = parse_post(
        doc.get("post_processor").unwrap_or(&Value::Null),
        "post_processor",
    )?;
    if let Some(d) = doc.get("decoder").filter(|v| !v.is_null()) {
        let t = kind(d, "decoder")?;
        if t != "ByteLevel" {
            return Err(Error::unsupported(format!(
                "decoder: unsupported decoder {t} (only ByteLevel)"
            )));
        }
    }
    let tokenizer = Tokenizer::new(name, vocab, PreTokenizer::Steps(steps), added)?;
    let string_ids = token_strings
        .iter()
        .enumerate()
        .filter_map(|(id, s)| Some((s.clone()?, id as u32)))
        .collect();
    drop(doc);
    Ok((
        tokenizer,
        HfExtras {
            token_strings,
            string_ids,
            post,
            source: text.to_string(),
        },
    ))
}

fn parse_model(model: &Value) -> Result<(Vocab, Vec<Option<String>>)> {
    let t = kind(model, "model")?;
    if t != "BPE" {
        return Err(Error::unsupported(format!(
            "model: unsupported model type {t} (only BPE)"
        )));
    }
    if model
        .get("dropout")
        .is_some_and(|d| !d.is_null() && d.as_f64() != Some(0.0))
    {
        return Err(Error::unsupported(
            "model.dropout: BPE dropout is not supported",
        ));
    }
    for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
        if model
            .get(key)
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
        {
            return Err(Error::unsupported(format!(
                "model.{key}: not supported for byte-level BPE"
            )));
        }
    }
    if as_bool(model.get("byte_fallback"), "model.byte_fallback", false)? {
        return Err(Error::unsupported(
            "model.byte_fallback: not supported (byte-level vocabularies need none)",
        ));
    }
    let vocab_obj = field(model, "model", "vocab")?
        .as_object()
        .ok_or_else(|| Error::format("model.vocab: expected an object of token -> id"))?;
    let mut tokens = Vec::with_capacity(vocab_obj.len());
    let mut strings: Vec<Option<String>> = Vec::new();
    for (s, id) in vocab_obj {
        let id = as_u32(id, &format!("model.vocab[{s:?}]"))?;
        let (bytes, byte_level) = match bytelevel::decode(s) {
            Some(b) => (b, true),
            None => (s.as_bytes().to_vec(), false),
        };
        tokens.push((bytes, byte_level, id));
        if strings.len() <= id as usize {
            strings.resize(id as usize + 1, None);
        }
        strings[id as usize] = Some(s.clone());
    }
    let merges_v = field(model, "model", "merges")?
        .as_array()
        .ok_or_else(|| Error::format("model.merges: expected a list"))?;
    let mut merges = Vec::with_capacity(merges_v.len());
    for (i, m) in merges_v.iter().enumerate() {
        let path = format!("model.merges[{i}]");
        let (a, b) = match m {
            Value::String(s) => {
                let mut parts = s.split(' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(b), None) => (a.to_string(), b.to_string()),
                    _ => {
                        return Err(Error::format(format!(
                            "{path}: expected \"left right\", found {s:?}"
                        )))
                    }
                }
            }
            Value::Array(pair) if pair.len() == 2 => (
                as_str(&pair[0], &path)?.to_string(),
                as_str(&pair[1], &path)?.to_string(),
            ),
            other => {
                return Err(Error::format(format!(
                    "{path}: expected a pair of tokens, found {other}"
                )))
            }
        };
        let to_bytes = |s: &str| {
            bytelevel::decode(s)
                .ok_or_else(|| Error::format(format!("{path}: {s:?} is not a byte-level token")))
        };
        merges.push((to_bytes(&a)?, to_bytes(&b)?));
    }
    let unk = match model.get("unk_token") {
        None | Some(Value::Null) => None,
        Some(u) => {
            let u = as_str(u, "model.unk_token")?;
            let id = vocab_obj.get(u).ok_or_else(|| {
                Error::format(format!("model.unk_token: {u:?} is not in the vocabulary"))
            })?;
            Some(as_u32(id, "model.unk_token")?)
        }
    };
    let ignore_merges = as_bool(model.get("ignore_merges"), "model.ignore_merges", false)?;
    let vocab = Vocab::from_merges(tokens, &merges, ignore_merges, unk)?;
    Ok((vocab, strings))
}

fn parse_added(v: Option<&Value>) -> Result<Vec<AddedToken>> {
    let Some(list) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| Error::format("added_tokens: expected a list"))?;
    let mut out = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let path = format!("added_tokens[{i}]");
        for flag in ["single_word", "lstrip", "rstrip"] {
            if as_bool(t.get(flag), &format!("{path}.{flag}"), false)? {
                return Err(Error::unsupported(format!(
                    "{path}.{flag}: added tokens with {flag}=true are not supported"
                )));
            }
        }
        let special = as_bool(t.get("special"), &format!("{path}.special"), false)?;
        out.push(AddedToken {
            content: as_str(field(t, &path, "content")?, &format!("{path}.content"))?.to_string(),
            id: as_u32(field(t, &path, "id")?, &format!("{path}.id"))?,
            special,
            normalized: as_bool(t.get("normalized"), &format!("{path}.normalized"), !special)?,
        });
    }
    Ok(out)
}

/// The steps of a `pre_tokenizer` document (a `Sequence` of `Split` / `Digits` and a final
/// `ByteLevel`, or a lone `ByteLevel`).
pub fn parse_pre_tokenizer(v: &Value) -> Result<Vec<Step>> {
    if v.is_null() {
        return Err(Error::unsupported(
            "pre_tokenizer: byte-level BPE needs a ByteLevel pre-tokenizer, found null",
        ));
    }
    let parts: Vec<(String, &Value)> = if kind(v, "pre_tokenizer")? == "Sequence" {
        let list = field(v, "pre_tokenizer", "pretokenizers")?
            .as_array()
            .ok_or_else(|| Error::format("pre_tokenizer.pretokenizers: expected a list"))?;
        list.iter()
            .enumerate()
            .map(|(i, p)| (format!("pre_tokenizer.pretokenizers[{i}]"), p))
            .collect()
    } else {
        vec![("pre_tokenizer".to_string(), v)]
    };
    let mut steps = Vec::with_capacity(parts.len());
    for (path, p) in &parts {
        if matches!(steps.last(), Some(Step::ByteLevel { .. })) {
            return Err(Error::unsupported(format!(
                "{path}: steps after ByteLevel are not supported"
            )));
        }
        let step = match kind(p, path)? {
            "Split" => {
                let pattern = field(p, path, "pattern")?;
                let matcher = if let Some(r) = pattern.get("Regex") {
                    Matcher::Regex(Regex::onig(as_str(r, &format!("{path}.pattern.Regex"))?)?)
                } else if let Some(s) = pattern.get("String") {
                    let s = as_str(s, &format!("{path}.pattern.String"))?;
                    if s.is_empty() {
                        return Err(Error::format(format!(
                            "{path}.pattern.String: empty pattern"
                        )));
                    }
                    Matcher::Literal(s.to_string())
                } else {
                    return Err(Error::format(format!(
                        "{path}.pattern: expected {{\"Regex\": ...}} or {{\"String\": ...}}"
                    )));
                };
                let behavior =
                    parse_behavior(field(p, path, "behavior")?, &format!("{path}.behavior"))?;
                let invert = as_bool(p.get("invert"), &format!("{path}.invert"), false)?;
                Step::Split {
                    matcher,
                    behavior,
                    invert,
                }
            }
            "Digits" => {
                let individual = as_bool(
                    p.get("individual_digits"),
                    &format!("{path}.individual_digits"),
                    false,
                )?;
                let behavior = if individual {
                    SplitBehavior::Isolated
                } else {
                    SplitBehavior::Contiguous
                };
                Step::Split {
                    matcher: Matcher::Numeric,
                    behavior,
                    invert: false,
                }
            }
            "ByteLevel" => {
                let use_regex = as_bool(p.get("use_regex"), &format!("{path}.use_regex"), true)?;
                Step::ByteLevel {
                    add_prefix_space: as_bool(
                        p.get("add_prefix_space"),
                        &format!("{path}.add_prefix_space"),
                        true,
                    )?,
                    regex: if use_regex {
                        Some(Regex::onig(GPT2_PATTERN)?)
                    } else {
                        None
                    },
                }
            }
            other => {
                return Err(Error::unsupported(format!(
                    "{path}: unsupported pre-tokenizer type {other}"
                )));
            }
        };
        steps.push(step);
    }
    if !matches!(steps.last(), Some(Step::ByteLevel { .. })) {
        return Err(Error::unsupported(
            "pre_tokenizer: byte-level BPE needs a final ByteLevel pre-tokenizer",
        ));
    }
    Ok(steps)
}

fn parse_behavior(v: &Value, path: &str) -> Result<SplitBehavior> {
    Ok(match as_str(v, path)? {
        "Removed" => SplitBehavior::Removed,
        "Isolated" => SplitBehavior::Isolated,
        "MergedWithPrevious" => SplitBehavior::MergedWithPrevious,
        "MergedWithNext" => SplitBehavior::MergedWithNext,
        "Contiguous" => SplitBehavior::Contiguous,
        other => {
            return Err(Error::format(format!(
                "{path}: unknown split behavior {other:?}"
            )))
        }
    })
}

fn parse_post(v: &Value, path: &str) -> Result<Vec<PostStep>> {
    if v.is_null() {
        return Ok(Vec::new());
    }
    match kind(v, path)? {
        "Sequence" => {
            let list = field(v, path, "processors")?
                .as_array()
                .ok_or_else(|| Error::format(format!("{path}.processors: expected a list")))?;
            let mut out = Vec::new();
            for (i, p) in list.iter().enumerate() {
                out.extend(parse_post(p, &format!("{path}.processors[{i}]"))?);
            }
            Ok(out)
        }
        "ByteLevel" => Ok(vec![PostStep::ByteLevel {
            trim_offsets: as_bool(v.get("trim_offsets"), &format!("{path}.trim_offsets"), true)?,
            add_prefix_space: as_bool(
                v.get("add_prefix_space"),
                &format!("{path}.add_prefix_space"),
                true,
            )?,
        }]),
        "TemplateProcessing" => {
            let specials = field(v, path, "special_tokens")?;
            let template = |key: &str| -> Result<Vec<TemplatePiece>> {
                let list = field(v, path, key)?
                    .as_array()
                    .ok_or_else(|| Error::format(format!("{path}.{key}: expected a list")))?;
                let mut out = Vec::new();
                for (i, piece) in list.iter().enumerate() {
                    let at = format!("{path}.{key}[{i}]");
                    if let Some(s) = piece.get("SpecialToken") {
                        let name = as_str(field(s, &at, "id")?, &at)?;
                        let type_id = as_u32(field(s, &at, "type_id")?, &at)?;
                        let entry = specials.get(name).ok_or_else(|| {
                            Error::format(format!(
                                "{at}: special token {name:?} is not in special_tokens"
                            ))
                        })?;
                        let ids = field(entry, &at, "ids")?
                            .as_array()
                            .ok_or_else(|| Error::format(format!("{at}: ids must be a list")))?
                            .iter()
                            .map(|i| as_u32(i, &at))
                            .collect::<Result<Vec<_>>>()?;
                        let tokens = field(entry, &at, "tokens")?
                            .as_array()
                            .ok_or_else(|| Error::format(format!("{at}: tokens must be a list")))?
                            .iter()
                            .map(|t| as_str(t, &at).map(str::to_string))
                            .collect::<Result<Vec<_>>>()?;
                        out.push(TemplatePiece::Special {
                            ids,
                            tokens,
                            type_id,
                        });
                    } else if let Some(s) = piece.get("Sequence") {
                        let which = match as_str(field(s, &at, "id")?, &at)? {
                            "A" => 0,
                            "B" => 1,
                            other => {
                                return Err(Error::format(format!(
                                    "{at}: unknown sequence {other:?}"
                                )))
                            }
                        };
                        out.push(TemplatePiece::Sequence {
                            which,
                            type_id: as_u32(field(s, &at, "type_id")?, &at)?,
                        });
                    } else {
                        return Err(Error::format(format!(
                            "{at}: expected SpecialToken or Sequence"
                        )));
                    }
                }
                Ok(out)
            };
            Ok(vec![PostStep::Template {
                single: template("single")?,
                pair: template("pair")?,
            }])
        }
        other => Err(Error::unsupported(format!(
            "{path}: unsupported post-processor {other}"
        ))),
    }
}

impl HfExtras {
    /// The vocabulary string of a model token id.
    pub fn token_string(&self, tok: &Tokenizer, id: u32) -> Option<String> {
        if let Some(t) = tok.added_by_id(id) {
            return Some(t.content.clone());
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
            let spanned = tok.encode_hf(t)?;
            let mut enc = HfEncoding::default();
            for s in spanned {
                enc.ids.push(s.id);
                enc.tokens
                    .push(self.token_string(tok, s.id).unwrap_or_default());
                enc.offsets.push((s.start, s.end));
                enc.type_ids.push(which as u32);
                enc.special_tokens_mask.push(0);
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

    /// Hugging Face `decode`: token strings through the ByteLevel decoder, unknown ids skipped.
    pub fn decode(&self, tok: &Tokenizer, ids: &[u32], skip_special_tokens: bool) -> String {
        let mut bytes = Vec::new();
        for &id in ids {
            if skip_special_tokens && tok.added_by_id(id).is_some_and(|t| t.special) {
                continue;
            }
            if let Some(s) = self.token_string(tok, id) {
                bytes.extend(bytelevel::decode_lossless(&s));
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
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

/// A `tokenizer.json` document for a tiktoken-style tokenizer: the pattern rewritten into
/// Oniguruma's dialect, one canonical merge per token, `ignore_merges` like tiktoken's
/// whole-piece lookup, special tokens as added tokens.
pub fn document_for(tok: &Tokenizer, pattern: &str) -> Value {
    let mut vocab = Map::new();
    for (bytes, id) in tok.vocab.tokens() {
        vocab.insert(bytelevel::encode(bytes), json!(id));
    }
    // `tokenizers` numbers added tokens after the vocabulary unless the vocabulary holds them:
    // listing them keeps their ids when ids have gaps (cl100k has none at 100256).
    for t in tok.added_tokens() {
        vocab.insert(t.content.clone(), json!(t.id));
    }
    let name = |id: u32| bytelevel::encode(tok.vocab.token(id).unwrap_or_default());
    let merges: Vec<Value> = tok
        .vocab
        .merges()
        .iter()
        .map(|&(a, b)| json!([name(a), name(b)]))
        .collect();
    let mut added: Vec<AddedToken> = tok.added_tokens().to_vec();
    added.sort_by_key(|t| t.id);
    byte_level_bpe_document(vocab, merges, &added, split_pre_tokenizer(pattern), true)
}

/// The `pre_tokenizer` of a `Split` regex (given in tiktoken syntax, written in Oniguruma's;
/// matches and the text between them are pieces) followed by a plain `ByteLevel`.
pub fn split_pre_tokenizer(pattern: &str) -> Value {
    json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pcre_to_onig(pattern)}, "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
    ]})
}

/// A `tokenizer.json` document for a byte-level BPE with the given `pre_tokenizer` (e.g.
/// [`split_pre_tokenizer`]) and a `ByteLevel` decoder: what toksmith writes for tiktoken
/// vocabularies and for trained ones. `vocab` maps token strings to ids.
pub fn byte_level_bpe_document(
    vocab: Map<String, Value>,
    merges: Vec<Value>,
    added: &[AddedToken],
    pre_tokenizer: Value,
    ignore_merges: bool,
) -> Value {
    let added: Vec<Value> = added
        .iter()
        .map(|t| {
            json!({"id": t.id, "content": t.content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": t.special})
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                  "ignore_merges": ignore_merges, "vocab": Value::Object(vocab), "merges": merges}
    })
}

/// The `tokenizer.json` text of a tokenizer: the loaded document for a Hugging Face one, a
/// converted document for a tiktoken one.
pub fn to_json(tok: &Tokenizer, extras: Option<&HfExtras>, pretty: bool) -> Result<String> {
    let doc = match (extras, &tok.pre_tokenizer) {
        (Some(h), _) if !pretty => return Ok(h.source.clone()),
        (Some(h), _) => {
            serde_json::from_str(&h.source).map_err(|e| Error::format(e.to_string()))?
        }
        (None, PreTokenizer::Regex(re)) => document_for(tok, re.pattern()),
        (None, PreTokenizer::Steps(_)) => {
            return Err(Error::value(
                "a tokenizer.json tokenizer needs its document",
            ))
        }
    };
    let text: std::result::Result<String, serde_json::Error> = if pretty {
        serde_json::to_string_pretty(&doc)
    } else {
        serde_json::to_string(&doc)
    };
    text.map_err(|e| Error::value(e.to_string()))
}

/// What a tiktoken encoding needs from a `tokenizer.json` tokenizer: ranks, the pattern in
/// tiktoken's dialect, special tokens. Only for a pre-tokenizer tiktoken can express (one
/// `Split` regex, isolated, then a plain `ByteLevel`) and ids that follow merge order.
pub type TiktokenParts = (Vec<(Vec<u8>, u32)>, String, Vec<(String, u32)>);

pub fn tiktoken_parts(tok: &Tokenizer) -> Result<TiktokenParts> {
    let pattern = match &tok.pre_tokenizer {
        PreTokenizer::Regex(re) => re.pattern().to_string(),
        PreTokenizer::Steps(steps) => match steps.as_slice() {
            [Step::Split { matcher: Matcher::Regex(re), behavior: SplitBehavior::Isolated, invert: false }, Step::ByteLevel { add_prefix_space: false, regex: None }]
            | [Step::ByteLevel { add_prefix_space: false, regex: Some(re) }] => crate::pretokenize::regex::onig_to_pcre(re.pattern()),
            _ => {
                return Err(Error::value(
                    "cannot convert: tiktoken needs the pre-tokenizer to be one Split regex (Isolated) followed by ByteLevel(add_prefix_space=False, use_regex=False)",
                ))
            }
        },
    };
    let specials = tok
        .added_tokens()
        .iter()
        .map(|t| (t.content.clone(), t.id))
        .collect();
    let mut ranks = tok.vocab.as_ranks()?;
    ranks.retain(|(_, id)| tok.added_by_id(*id).is_none());
    Ok((ranks, pattern, specials))
}
