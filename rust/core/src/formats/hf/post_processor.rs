//! The `post_processor` of a `tokenizer.json`: `ByteLevel` offset trimming and
//! `TemplateProcessing` / `BertProcessing` / `RobertaProcessing` special tokens, alone or in a
//! `Sequence`.

use super::json::{as_bool, as_str, as_u32, field, kind};
use crate::util::error::quoted;
use crate::{Error, Result};
use serde_json::Value;

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

pub(super) fn parse_post(v: &Value, path: &str) -> Result<Vec<PostStep>> {
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
                                "{at}: special token {} is not in special_tokens",
                                quoted(name)
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
                                    "{at}: unknown sequence {}",
                                    quoted(other)
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
        "BertProcessing" | "RobertaProcessing" => {
            // BERT: `[CLS] A [SEP]`, and `[CLS] A [SEP] B [SEP]` with B and its `[SEP]` of
            // type 1. RoBERTa: `<s> A </s>`, `<s> A </s> </s> B </s>`, all of type 0, after
            // ByteLevel's offset trimming.
            let roberta = kind(v, path)? == "RobertaProcessing";
            let b_type = u32::from(!roberta);
            let special = |key: &str, type_id: u32| -> Result<TemplatePiece> {
                let at = format!("{path}.{key}");
                let pair = field(v, path, key)?
                    .as_array()
                    .filter(|p| p.len() == 2)
                    .ok_or_else(|| Error::format(format!("{at}: expected [token, id]")))?;
                Ok(TemplatePiece::Special {
                    ids: vec![as_u32(&pair[1], &at)?],
                    tokens: vec![as_str(&pair[0], &at)?.to_string()],
                    type_id,
                })
            };
            let seq = |which: usize, type_id: u32| TemplatePiece::Sequence { which, type_id };
            let mut pair = vec![special("cls", 0)?, seq(0, 0), special("sep", 0)?];
            if roberta {
                pair.push(special("sep", 0)?);
            }
            pair.extend([seq(1, b_type), special("sep", b_type)?]);
            let template = PostStep::Template {
                single: vec![special("cls", 0)?, seq(0, 0), special("sep", 0)?],
                pair,
            };
            if !roberta {
                return Ok(vec![template]);
            }
            let trim = PostStep::ByteLevel {
                trim_offsets: as_bool(
                    v.get("trim_offsets"),
                    &format!("{path}.trim_offsets"),
                    true,
                )?,
                add_prefix_space: as_bool(
                    v.get("add_prefix_space"),
                    &format!("{path}.add_prefix_space"),
                    true,
                )?,
            };
            Ok(vec![trim, template])
        }
        other => Err(Error::unsupported(format!(
            "{path}: unsupported post-processor {other}"
        ))),
    }
}
