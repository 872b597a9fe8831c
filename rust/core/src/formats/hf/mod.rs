//! Hugging Face `tokenizer.json`: loading, saving, and the post-processing half of encoding.
//!
//! Supported: a BPE model (byte-level, or over characters with byte fallback), `WordPiece`,
//! `WordLevel` or `Unigram`; a normalizer (`NFC`, `NFD`, `NFKC`, `NFKD`, `Lowercase`, `Strip`,
//! `StripAccents`, `Replace`, `Prepend`, `BertNormalizer`, `Sequence`); pre-tokenizer steps
//! (`Split`, `Digits`, `Whitespace`, `WhitespaceSplit`, `BertPreTokenizer`, `Punctuation`,
//! `CharDelimiterSplit`, a final `ByteLevel` or `Metaspace`); added tokens; `ByteLevel` /
//! `TemplateProcessing` / `BertProcessing` / `RobertaProcessing` / `Sequence` post-processors;
//! the decoders in [`decoder`]. Anything else is refused with an error naming the component and
//! its JSON path.
//!
//! One file per pipeline stage:
//! * this file: [`from_json`], and the two types a loaded file gives beside the
//!   [`crate::Tokenizer`]: [`HfExtras`] (what encoding does not need) and [`HfEncoding`].
//! * [`json`]: reading fields with errors that name their JSON path.
//! * [`model`]: the `model` (byte-level BPE, or a `crate::model::TextModel`) and
//!   `added_tokens`.
//! * [`normalizer`]: the `normalizer` (the engine's stage is `crate::pretokenize::normalize`).
//! * [`pre_tokenizer`]: the `pre_tokenizer` (its steps, `Sequence`s flattened).
//! * [`post_processor`]: the `post_processor` (`ByteLevel`, `TemplateProcessing`,
//!   `BertProcessing`, `RobertaProcessing`, `Sequence`).
//! * [`decoder`]: the `decoder`, token strings back to text.
//! * [`encoding`]: Hugging Face's `encode` / `decode` on top of the engine's: token strings,
//!   template special tokens, offset trimming, character offsets.
//! * [`write`]: `tokenizer.json` documents for tiktoken vocabularies and trained ones, and the
//!   way back to tiktoken's parts.

mod decoder;
mod encoding;
mod json;
mod model;
mod normalizer;
mod post_processor;
mod pre_tokenizer;
mod write;

pub use decoder::Decoder;
pub use normalizer::parse_normalizer;
pub use post_processor::{PostStep, TemplatePiece};
pub use pre_tokenizer::{parse_pre_tokenizer, parse_steps, split_pre_tokenizer, GPT2_PATTERN};
pub use write::{
    byte_level_bpe_document, document_for, extending_document, tiktoken_parts, to_json,
    trained_document, TiktokenParts,
};

use crate::encode::{PreTokenizer, Step, Tokenizer};
use crate::{Error, Result};
use decoder::parse_decoder;
use json::field;
use model::{parse_added, parse_model};
use post_processor::parse_post;
use serde_json::Value;

/// The parts of a `tokenizer.json` beyond what encoding needs.
pub struct HfExtras {
    /// Token strings by id, as written in the vocabulary, and back.
    pub token_strings: Vec<Option<String>>,
    pub string_ids: rustc_hash::FxHashMap<String, u32>,
    pub post: Vec<PostStep>,
    /// The `decoder` (`None`: tokens are joined with spaces, as `tokenizers` does without one).
    pub decoder: Option<Decoder>,
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

/// Loads a `tokenizer.json` document.
pub fn from_json(text: &str, name: &str) -> Result<(Tokenizer, HfExtras)> {
    let doc: Value = serde_json::from_str(text).map_err(|e| {
        Error::format(format!(
            "not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    from_document(doc, text.to_string(), name)
}

/// Loads a parsed `tokenizer.json` document whose text is `source` (what `to_json` gives back):
/// how trained tokenizers are built, so that they are exactly what their file loads as.
pub fn from_document(doc: Value, source: String, name: &str) -> Result<(Tokenizer, HfExtras)> {
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
    let normalizer = parse_normalizer(doc.get("normalizer").unwrap_or(&Value::Null))?;
    let model = field(&doc, "tokenizer.json", "model")?;
    let pre = doc.get("pre_tokenizer").unwrap_or(&Value::Null);
    let steps = parse_steps(pre)?;
    let byte_level = matches!(steps.last(), Some(Step::ByteLevel { .. }));
    let (vocab, token_strings, text_model) = parse_model(model, byte_level)?;
    let (added, rules) = parse_added(doc.get("added_tokens"))?;
    let post = parse_post(
        doc.get("post_processor").unwrap_or(&Value::Null),
        "post_processor",
    )?;
    let decoder = parse_decoder(doc.get("decoder").unwrap_or(&Value::Null))?;
    let mut tokenizer =
        Tokenizer::new(name, vocab, PreTokenizer::Steps(steps), added)?.with_added_rules(rules)?;
    if let Some(m) = text_model {
        tokenizer = tokenizer.with_text_model(m);
    }
    if let Some(n) = normalizer {
        tokenizer = tokenizer.with_normalizer(n)?;
    }
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
            decoder,
            source,
        },
    ))
}
