//! The `pre_tokenizer` of a `tokenizer.json`: `Split`, `Digits` and a final `ByteLevel`, alone
//! or in a `Sequence`.

use super::json::{as_bool, as_str, field, kind};
use crate::encode::{Matcher, SplitBehavior, Step};
use crate::pretokenize::dialect::pcre_to_onig;
use crate::pretokenize::regex::Regex;
use crate::util::error::quoted;
use crate::{Error, Result};
use serde_json::{json, Value};

/// GPT-2's pattern, as Hugging Face's `ByteLevel(use_regex=True)` applies it.
pub const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

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
                "{path}: unknown split behavior {}",
                quoted(other)
            )))
        }
    })
}

/// The `pre_tokenizer` of a `Split` regex (given in tiktoken syntax, written in Oniguruma's;
/// matches and the text between them are pieces) followed by a plain `ByteLevel`.
pub fn split_pre_tokenizer(pattern: &str) -> Value {
    json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pcre_to_onig(pattern)}, "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
    ]})
}
