//! The `normalizer` of a `tokenizer.json`: `NFC`, `NFD`, `NFKC`, `NFKD`, `Lowercase`, `Strip`,
//! `StripAccents`, `Replace`, `Prepend`, `BertNormalizer`, and a `Sequence` of them. Others
//! (`Precompiled`, `ByteLevel`, ...) are refused with their JSON path.

use super::json::{as_bool, as_str, field, kind};
use crate::pretokenize::normalize::{Normalizer, ReplacePattern};
use crate::pretokenize::regex::Regex;
use crate::{Error, Result};
use serde_json::Value;

/// The normalizer of a `normalizer` document (`None` for null).
pub fn parse_normalizer(v: &Value) -> Result<Option<Normalizer>> {
    if v.is_null() {
        return Ok(None);
    }
    parse(v, "normalizer").map(Some)
}

fn parse(v: &Value, path: &str) -> Result<Normalizer> {
    let t = kind(v, path)?;
    Ok(match t {
        "NFC" => Normalizer::Nfc,
        "NFD" => Normalizer::Nfd,
        "NFKC" => Normalizer::Nfkc,
        "NFKD" => Normalizer::Nfkd,
        "Lowercase" => Normalizer::Lowercase,
        "StripAccents" => Normalizer::StripAccents,
        "Strip" => Normalizer::Strip {
            left: as_bool(v.get("strip_left"), &format!("{path}.strip_left"), true)?,
            right: as_bool(v.get("strip_right"), &format!("{path}.strip_right"), true)?,
        },
        "Prepend" => Normalizer::Prepend(
            as_str(field(v, path, "prepend")?, &format!("{path}.prepend"))?.to_string(),
        ),
        "Replace" => parse_replace(v, path)?,
        "BertNormalizer" => {
            let lowercase = as_bool(v.get("lowercase"), &format!("{path}.lowercase"), true)?;
            Normalizer::Bert {
                clean_text: as_bool(v.get("clean_text"), &format!("{path}.clean_text"), true)?,
                handle_chinese_chars: as_bool(
                    v.get("handle_chinese_chars"),
                    &format!("{path}.handle_chinese_chars"),
                    true,
                )?,
                // null (the default): follow `lowercase`.
                strip_accents: as_bool(
                    v.get("strip_accents"),
                    &format!("{path}.strip_accents"),
                    lowercase,
                )?,
                lowercase,
            }
        }
        "Sequence" => {
            let list = field(v, path, "normalizers")?
                .as_array()
                .ok_or_else(|| Error::format(format!("{path}.normalizers: expected a list")))?;
            let steps = list
                .iter()
                .enumerate()
                .map(|(i, n)| parse(n, &format!("{path}.normalizers[{i}]")))
                .collect::<Result<Vec<_>>>()?;
            Normalizer::Sequence(steps)
        }
        other => {
            return Err(Error::unsupported(format!(
                "{path}: unsupported normalizer {other}"
            )))
        }
    })
}

/// A `Replace` step (a normalizer, and a decoder that runs one on each token): its pattern
/// (`{"Regex": ...}` or a non-empty `{"String": ...}`) and literal content.
pub(super) fn parse_replace(v: &Value, path: &str) -> Result<Normalizer> {
    let content = as_str(field(v, path, "content")?, &format!("{path}.content"))?;
    let pattern = field(v, path, "pattern")?;
    let pattern = if let Some(r) = pattern.get("Regex") {
        // The content is literal: tokenizers 0.23 does not expand `$1` in it.
        ReplacePattern::Regex(Regex::onig(as_str(r, &format!("{path}.pattern.Regex"))?)?)
    } else if let Some(s) = pattern.get("String") {
        let s = as_str(s, &format!("{path}.pattern.String"))?;
        if s.is_empty() {
            return Err(Error::unsupported(format!(
                "{path}.pattern.String: an empty pattern is not supported"
            )));
        }
        ReplacePattern::Literal(s.to_string())
    } else {
        return Err(Error::format(format!(
            "{path}.pattern: expected {{\"Regex\": ...}} or {{\"String\": ...}}"
        )));
    };
    Ok(Normalizer::Replace {
        pattern,
        content: content.to_string(),
    })
}
