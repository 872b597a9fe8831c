//! The `decoder` of a `tokenizer.json`: `ByteLevel`, `WordPiece`, `Metaspace`, `ByteFallback`,
//! `Fuse`, `Strip`, `Replace`, `BPEDecoder`, and a `Sequence` of them. Each turns the list of
//! token strings into another; `decode` joins the final list.

use super::json::{as_bool, as_str, field, kind};
use super::normalizer::parse_replace;
use super::pre_tokenizer::single_char;
use crate::pretokenize::bytelevel;
use crate::pretokenize::normalize::Normalizer;
use crate::util::error::quoted;
use crate::{Error, Result};
use serde_json::Value;

pub enum Decoder {
    /// GPT-2's printable characters back to bytes: all tokens become one string.
    ByteLevel,
    WordPiece {
        prefix: String,
        cleanup: bool,
    },
    Metaspace {
        replacement: char,
        /// The first token loses its replacements (the prefix the pre-tokenizer added).
        strip_first: bool,
    },
    /// Runs of `<0xNN>` tokens become the text of their bytes (U+FFFD per byte if invalid).
    ByteFallback,
    Fuse,
    Strip {
        content: char,
        start: usize,
        stop: usize,
    },
    /// A `Replace` normalizer run on each token.
    Replace(Normalizer),
    /// `end_of_word_suffix` becomes a space (nothing on the last token).
    Bpe {
        suffix: String,
    },
    Sequence(Vec<Decoder>),
}

pub(super) fn parse_decoder(v: &Value) -> Result<Option<Decoder>> {
    if v.is_null() {
        return Ok(None);
    }
    parse(v, "decoder").map(Some)
}

fn parse(v: &Value, path: &str) -> Result<Decoder> {
    let str_or = |key: &str, default: &str| -> Result<String> {
        match v.get(key) {
            None | Some(Value::Null) => Ok(default.to_string()),
            Some(s) => Ok(as_str(s, &format!("{path}.{key}"))?.to_string()),
        }
    };
    let count = |key: &str| -> Result<usize> {
        let n = field(v, path, key)?;
        n.as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| Error::format(format!("{path}.{key}: expected a count, found {n}")))
    };
    Ok(match kind(v, path)? {
        "ByteLevel" => Decoder::ByteLevel,
        "WordPiece" => Decoder::WordPiece {
            prefix: str_or("prefix", "##")?,
            cleanup: as_bool(v.get("cleanup"), &format!("{path}.cleanup"), true)?,
        },
        "Metaspace" => {
            let replacement =
                single_char(&str_or("replacement", "▁")?, &format!("{path}.replacement"))?;
            let strip_first = match v.get("prepend_scheme").filter(|s| !s.is_null()) {
                Some(s) => match as_str(s, &format!("{path}.prepend_scheme"))? {
                    "always" | "first" => true,
                    "never" => false,
                    other => {
                        return Err(Error::format(format!(
                            "{path}.prepend_scheme: unknown scheme {}",
                            quoted(other)
                        )))
                    }
                },
                None => as_bool(
                    v.get("add_prefix_space"),
                    &format!("{path}.add_prefix_space"),
                    true,
                )?,
            };
            Decoder::Metaspace {
                replacement,
                strip_first,
            }
        }
        "ByteFallback" => Decoder::ByteFallback,
        "Fuse" => Decoder::Fuse,
        "Strip" => Decoder::Strip {
            content: single_char(
                as_str(field(v, path, "content")?, &format!("{path}.content"))?,
                &format!("{path}.content"),
            )?,
            start: count("start")?,
            stop: count("stop")?,
        },
        "Replace" => Decoder::Replace(parse_replace(v, path)?),
        "BPEDecoder" => Decoder::Bpe {
            suffix: str_or("suffix", "</w>")?,
        },
        "Sequence" => {
            let list = field(v, path, "decoders")?
                .as_array()
                .ok_or_else(|| Error::format(format!("{path}.decoders: expected a list")))?;
            Decoder::Sequence(
                list.iter()
                    .enumerate()
                    .map(|(i, d)| parse(d, &format!("{path}.decoders[{i}]")))
                    .collect::<Result<_>>()?,
            )
        }
        other => {
            return Err(Error::unsupported(format!(
                "{path}: unsupported decoder {other}"
            )))
        }
    })
}

impl Decoder {
    /// `tokenizers`' `decode_chain`: token strings in, token strings out.
    pub fn decode_chain(&self, tokens: Vec<String>) -> Result<Vec<String>> {
        Ok(match self {
            Decoder::ByteLevel => {
                let bytes: Vec<u8> = tokens
                    .iter()
                    .flat_map(|t| bytelevel::decode_lossless(t))
                    .collect();
                vec![String::from_utf8_lossy(&bytes).into_owned()]
            }
            Decoder::WordPiece { prefix, cleanup } => tokens
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    let t = match t.strip_prefix(prefix.as_str()) {
                        _ if i == 0 => t,
                        Some(rest) => rest.to_string(),
                        None => format!(" {t}"),
                    };
                    if *cleanup {
                        clean_up(&t)
                    } else {
                        t
                    }
                })
                .collect(),
            Decoder::Metaspace {
                replacement,
                strip_first,
            } => tokens
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    if i == 0 && *strip_first {
                        t.chars().filter(|c| c != replacement).collect()
                    } else {
                        t.replace(*replacement, " ")
                    }
                })
                .collect(),
            Decoder::ByteFallback => byte_fallback(tokens),
            Decoder::Fuse => vec![tokens.concat()],
            Decoder::Strip {
                content,
                start,
                stop,
            } => tokens
                .into_iter()
                .map(|t| strip(&t, *content, *start, *stop))
                .collect(),
            Decoder::Replace(n) => tokens
                .iter()
                .map(|t| n.normalize(t).map(|n| n.text))
                .collect::<Result<_>>()?,
            Decoder::Bpe { suffix } => {
                let last = tokens.len().saturating_sub(1);
                tokens
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| t.replace(suffix.as_str(), if i == last { "" } else { " " }))
                    .collect()
            }
            Decoder::Sequence(steps) => {
                let mut tokens = tokens;
                for d in steps {
                    tokens = d.decode_chain(tokens)?;
                }
                tokens
            }
        })
    }
}

/// `tokenizers`' `cleanup`: no space before punctuation and in common English contractions.
fn clean_up(s: &str) -> String {
    s.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" do not", " don't")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re")
}

/// The byte of a `<0xNN>` token.
fn fallback_byte(t: &str) -> Option<u8> {
    let hex = t.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

fn byte_fallback(tokens: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(tokens.len());
    let mut bytes: Vec<u8> = Vec::new();
    let flush = |bytes: &mut Vec<u8>, out: &mut Vec<String>| {
        if bytes.is_empty() {
            return;
        }
        match String::from_utf8(std::mem::take(bytes)) {
            Ok(s) => out.push(s),
            Err(e) => out.extend(std::iter::repeat_n(
                "\u{FFFD}".to_string(),
                e.into_bytes().len(),
            )),
        }
    };
    for t in tokens {
        match fallback_byte(&t) {
            Some(b) => bytes.push(b),
            None => {
                flush(&mut bytes, &mut out);
                out.push(t);
            }
        }
    }
    flush(&mut bytes, &mut out);
    out
}

/// Removes up to `start` leading and `stop` trailing `content` characters.
fn strip(t: &str, content: char, start: usize, stop: usize) -> String {
    let mut s = t;
    for _ in 0..start {
        match s.strip_prefix(content) {
            Some(rest) => s = rest,
            None => break,
        }
    }
    for _ in 0..stop {
        match s.strip_suffix(content) {
            Some(rest) => s = rest,
            None => break,
        }
    }
    s.to_string()
}
