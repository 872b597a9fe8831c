//! The `pre_tokenizer` of a `tokenizer.json`: `Split`, `Digits`, `Whitespace`,
//! `WhitespaceSplit`, `BertPreTokenizer`, `Punctuation`, `CharDelimiterSplit`, and a final
//! `ByteLevel` or `Metaspace`, alone or in a (nested) `Sequence`.

use super::json::{as_bool, as_str, field, kind};
use crate::encode::{CharClass, Matcher, PrependScheme, SplitBehavior, Step};
use crate::pretokenize::dialect::pcre_to_onig;
use crate::pretokenize::regex::Regex;
use crate::util::error::quoted;
use crate::{Error, Result};
use serde_json::{json, Value};

/// GPT-2's pattern, as Hugging Face's `ByteLevel(use_regex=True)` applies it.
pub const GPT2_PATTERN: &str =
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// The steps of a byte-level BPE `pre_tokenizer` document: [`parse_steps`] ending in `ByteLevel`.
pub fn parse_pre_tokenizer(v: &Value) -> Result<Vec<Step>> {
    if v.is_null() {
        return Err(Error::unsupported(
            "pre_tokenizer: byte-level BPE needs a ByteLevel pre-tokenizer, found null",
        ));
    }
    let steps = parse_steps(v)?;
    if !matches!(steps.last(), Some(Step::ByteLevel { .. })) {
        return Err(Error::unsupported(
            "pre_tokenizer: byte-level BPE needs a final ByteLevel pre-tokenizer",
        ));
    }
    Ok(steps)
}

/// The steps of any `pre_tokenizer` document (none for null); nested `Sequence`s are flattened.
/// `ByteLevel` and `Metaspace` rewrite the text the model sees, so they must come last.
pub fn parse_steps(v: &Value) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    if !v.is_null() {
        push_steps(v, "pre_tokenizer", &mut steps)?;
    }
    Ok(steps)
}

fn push_steps(p: &Value, path: &str, steps: &mut Vec<Step>) -> Result<()> {
    let t = kind(p, path)?;
    if t == "Sequence" {
        let list = field(p, path, "pretokenizers")?
            .as_array()
            .ok_or_else(|| Error::format(format!("{path}.pretokenizers: expected a list")))?;
        for (i, item) in list.iter().enumerate() {
            push_steps(item, &format!("{path}.pretokenizers[{i}]"), steps)?;
        }
        return Ok(());
    }
    if let Some(Step::ByteLevel { .. } | Step::Metaspace { .. }) = steps.last() {
        return Err(Error::unsupported(format!(
            "{path}: steps after ByteLevel or Metaspace are not supported"
        )));
    }
    let chars = |class, behavior| Step::Split {
        matcher: Matcher::Chars(class),
        behavior,
        invert: false,
    };
    match t {
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
            steps.push(Step::Split {
                matcher,
                behavior,
                invert,
            });
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
            steps.push(chars(CharClass::Numeric, behavior));
        }
        // Runs of word characters and runs of other visible characters; whitespace goes.
        "Whitespace" => steps.push(Step::Split {
            matcher: Matcher::Words,
            behavior: SplitBehavior::Removed,
            invert: true,
        }),
        "WhitespaceSplit" => steps.push(chars(CharClass::Whitespace, SplitBehavior::Removed)),
        "BertPreTokenizer" => {
            steps.push(chars(CharClass::Whitespace, SplitBehavior::Removed));
            steps.push(chars(CharClass::Punctuation, SplitBehavior::Isolated));
        }
        "Punctuation" => {
            let behavior = match p.get("behavior").filter(|b| !b.is_null()) {
                Some(b) => parse_behavior(b, &format!("{path}.behavior"))?,
                None => SplitBehavior::Isolated,
            };
            steps.push(chars(CharClass::Punctuation, behavior));
        }
        "CharDelimiterSplit" => {
            let d = as_str(field(p, path, "delimiter")?, &format!("{path}.delimiter"))?;
            let c = single_char(d, &format!("{path}.delimiter"))?;
            steps.push(chars(CharClass::Char(c), SplitBehavior::Removed));
        }
        "Metaspace" => {
            let r = as_str(
                field(p, path, "replacement")?,
                &format!("{path}.replacement"),
            )?;
            let replacement = single_char(r, &format!("{path}.replacement"))?;
            let prepend = match p.get("prepend_scheme").filter(|v| !v.is_null()) {
                Some(v) => match as_str(v, &format!("{path}.prepend_scheme"))? {
                    "always" => PrependScheme::Always,
                    "first" => PrependScheme::First,
                    "never" => PrependScheme::Never,
                    other => {
                        return Err(Error::format(format!(
                            "{path}.prepend_scheme: unknown scheme {}",
                            quoted(other)
                        )))
                    }
                },
                // Files from before `prepend_scheme` say `add_prefix_space`.
                None => {
                    if as_bool(
                        p.get("add_prefix_space"),
                        &format!("{path}.add_prefix_space"),
                        true,
                    )? {
                        PrependScheme::Always
                    } else {
                        PrependScheme::Never
                    }
                }
            };
            let split = as_bool(p.get("split"), &format!("{path}.split"), true)?;
            steps.push(Step::Metaspace {
                replacement,
                prepend,
                split,
            });
        }
        "ByteLevel" => {
            let use_regex = as_bool(p.get("use_regex"), &format!("{path}.use_regex"), true)?;
            steps.push(Step::ByteLevel {
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
            });
        }
        other => {
            return Err(Error::unsupported(format!(
                "{path}: unsupported pre-tokenizer type {other}"
            )));
        }
    }
    Ok(())
}

/// A field that must hold exactly one character.
pub(super) fn single_char(s: &str, path: &str) -> Result<char> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(c),
        _ => Err(Error::format(format!(
            "{path}: expected one character, found {}",
            quoted(s)
        ))),
    }
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
