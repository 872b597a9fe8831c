//! The `model` and the `added_tokens` of a `tokenizer.json`. The model is byte-level BPE
//! (vocabulary, merges, `ignore_merges`, `unk_token`) when the pre-tokenizer ends in
//! `ByteLevel`; otherwise `WordPiece`, `WordLevel` or BPE over characters (a
//! [`crate::model::TextModel`]).

use super::json::{as_bool, as_str, as_u32, field, kind};
use crate::encode::{AddedRule, AddedToken};
use crate::model::{CharBpe, StringIds, TextModel, Unigram, WordLevel, WordPiece};
use crate::pretokenize::bytelevel;
use crate::util::error::quoted;
use crate::vocab::{check_id_space, Vocab};
use crate::{Error, Result};
use serde_json::Value;

/// A model's vocabulary (token bytes), its token strings by id, and the model that encodes
/// pieces when it is not byte-level BPE. `byte_level`: the pre-tokenizer ends in `ByteLevel`.
pub(super) type Model = (Vocab, Vec<Option<String>>, Option<TextModel>);

pub(super) fn parse_model(model: &Value, byte_level: bool) -> Result<Model> {
    let t = kind(model, "model")?;
    match (t, byte_level) {
        ("BPE", true) => {
            let (vocab, strings) = parse_byte_bpe(model)?;
            Ok((vocab, strings, None))
        }
        ("BPE" | "WordPiece" | "WordLevel", false) => parse_text_model(model, t),
        ("Unigram", false) => parse_unigram(model),
        ("WordPiece" | "WordLevel" | "Unigram", true) => Err(Error::unsupported(format!(
            "pre_tokenizer: ByteLevel is supported only with a BPE model, not {t}"
        ))),
        _ => Err(Error::unsupported(format!(
            "model: unsupported model type {t} (BPE, WordPiece, WordLevel and Unigram are supported)"
        ))),
    }
}

/// A `WordPiece`, `WordLevel` or character-level `BPE` model.
fn parse_text_model(model: &Value, t: &str) -> Result<Model> {
    let (vocab, strings, ids) = string_vocab(model)?;
    let unk_name = match model.get("unk_token") {
        None | Some(Value::Null) => None,
        Some(u) => Some(as_str(u, "model.unk_token")?),
    };
    let unk = unk_name.and_then(|u| ids.get(u).copied());
    let optional_str = |key: &str| -> Result<Option<String>> {
        match model.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Ok(Some(as_str(v, &format!("model.{key}"))?.to_string())),
        }
    };
    let text_model = match t {
        "WordPiece" => {
            let max_chars = match model.get("max_input_chars_per_word") {
                None | Some(Value::Null) => 100,
                Some(v) => v.as_u64().ok_or_else(|| {
                    Error::format("model.max_input_chars_per_word: expected a count")
                })? as usize,
            };
            // Without a usable `unk_token`, a piece that needs it is an encoding error, as in
            // `tokenizers`.
            TextModel::WordPiece(WordPiece {
                unk: ids.get(unk_name.unwrap_or("[UNK]")).copied(),
                prefix: optional_str("continuing_subword_prefix")?.unwrap_or_else(|| "##".into()),
                max_chars,
                ids,
            })
        }
        "WordLevel" => TextModel::WordLevel(WordLevel { unk, ids }),
        _ => TextModel::Bpe(parse_char_bpe(model, ids, unk_name, unk)?),
    };
    Ok((vocab, strings, Some(text_model)))
}

fn parse_char_bpe(
    model: &Value,
    ids: StringIds,
    unk_name: Option<&str>,
    unk: Option<u32>,
) -> Result<CharBpe> {
    if model
        .get("dropout")
        .is_some_and(|d| !d.is_null() && d.as_f64() != Some(0.0))
    {
        return Err(Error::unsupported(
            "model.dropout: BPE dropout is not supported",
        ));
    }
    if let (Some(u), None) = (unk_name, unk) {
        return Err(Error::format(format!(
            "model.unk_token: {} is not in the vocabulary",
            quoted(u)
        )));
    }
    let affix = |key: &str| -> Result<Option<String>> {
        match model.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Ok(Some(as_str(v, &format!("model.{key}"))?.to_string())),
        }
    };
    let prefix = affix("continuing_subword_prefix")?;
    let suffix = affix("end_of_word_suffix")?;
    let byte_fallback = as_bool(model.get("byte_fallback"), "model.byte_fallback", false)?;
    if byte_fallback && (prefix.is_some() || suffix.is_some()) {
        // `tokenizers` then gives byte tokens offsets past the piece's end.
        return Err(Error::unsupported(
            "model.byte_fallback: not supported together with continuing_subword_prefix or end_of_word_suffix",
        ));
    }
    let byte_tokens = byte_fallback.then(|| {
        Box::new(std::array::from_fn(|b| {
            ids.get(format!("<0x{b:02X}>").as_str()).copied()
        }))
    });
    let prefix_len = prefix.as_ref().map_or(0, String::len);
    let mut merges = rustc_hash::FxHashMap::default();
    for (rank, (a, b)) in merge_strings(model)?.into_iter().enumerate() {
        let path = format!("model.merges[{rank}]");
        let find = |t: &str| {
            ids.get(t).copied().ok_or_else(|| {
                Error::format(format!(
                    "{path}: token {} is not in the vocabulary",
                    quoted(t)
                ))
            })
        };
        // As `tokenizers` joins them: the right part loses the prefix's length.
        let tail = b.get(prefix_len..).ok_or_else(|| {
            Error::format(format!(
                "{path}: {} is shorter than the continuing prefix",
                quoted(&b)
            ))
        })?;
        let merged = find(&format!("{a}{tail}"))?;
        // A repeated merge keeps its last rank, as a map insertion does.
        merges.insert((find(&a)?, find(&b)?), (rank as u32, merged));
    }
    Ok(CharBpe {
        merges,
        unk,
        fuse_unk: as_bool(model.get("fuse_unk"), "model.fuse_unk", false)?,
        byte_tokens,
        prefix,
        suffix,
        whole_piece_first: as_bool(model.get("ignore_merges"), "model.ignore_merges", false)?,
        ids,
    })
}

/// A `Unigram` model: a list of `[token, score]`, ids in list order.
fn parse_unigram(model: &Value) -> Result<Model> {
    let list = field(model, "model", "vocab")?
        .as_array()
        .ok_or_else(|| Error::format("model.vocab: expected a list of [token, score]"))?;
    check_id_space(list.len(), list.len())?;
    let mut ids = StringIds::default();
    let mut scores = Vec::with_capacity(list.len());
    let mut strings = Vec::with_capacity(list.len());
    let mut tokens = Vec::with_capacity(list.len());
    for (i, entry) in list.iter().enumerate() {
        let path = format!("model.vocab[{i}]");
        let pair = entry
            .as_array()
            .filter(|p| p.len() == 2)
            .ok_or_else(|| Error::format(format!("{path}: expected [token, score]")))?;
        let token = as_str(&pair[0], &path)?;
        let score = pair[1]
            .as_f64()
            .ok_or_else(|| Error::format(format!("{path}: expected a score")))?;
        if ids.insert(token.to_string(), i as u32).is_some() {
            return Err(Error::format(format!(
                "{path}: token {} appears twice",
                quoted(token)
            )));
        }
        scores.push(score);
        strings.push(Some(token.to_string()));
        tokens.push((token.as_bytes().to_vec(), false, i as u32));
    }
    let unk = match model.get("unk_id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|&u| (u as usize) < list.len())
                .ok_or_else(|| Error::format("model.unk_id: expected an id in the vocabulary"))?
                as u32,
        ),
    };
    let unigram = Unigram {
        max_len: ids.keys().map(String::len).max().unwrap_or(0),
        min_score: scores.iter().copied().fold(f64::INFINITY, f64::min),
        byte_fallback: as_bool(model.get("byte_fallback"), "model.byte_fallback", false)?,
        unk,
        scores,
        ids,
    };
    let vocab = Vocab::from_merges(tokens, &[], false, None)?;
    Ok((vocab, strings, Some(TextModel::Unigram(unigram))))
}

/// The vocabulary of a model over token strings: its bytes are the strings' UTF-8 (what
/// `decode_bytes` gives back), the strings by id, and the string -> id map.
fn string_vocab(model: &Value) -> Result<(Vocab, Vec<Option<String>>, StringIds)> {
    let vocab_obj = field(model, "model", "vocab")?
        .as_object()
        .ok_or_else(|| Error::format("model.vocab: expected an object of token -> id"))?;
    let mut ids = StringIds::default();
    let mut tokens = Vec::with_capacity(vocab_obj.len());
    for (s, id) in vocab_obj {
        let id = as_u32(id, &format!("model.vocab[{}]", quoted(s)))?;
        ids.insert(s.clone(), id);
        tokens.push((s.as_bytes().to_vec(), false, id));
    }
    let bound = tokens.iter().map(|t| t.2 as usize + 1).max().unwrap_or(0);
    check_id_space(bound, tokens.len())?;
    let mut strings: Vec<Option<String>> = vec![None; bound];
    for (s, &id) in &ids {
        strings[id as usize] = Some(s.clone());
    }
    let vocab = Vocab::from_merges(tokens, &[], false, None)?;
    Ok((vocab, strings, ids))
}

/// The merge list as string pairs (`"left right"` strings or `[left, right]` lists).
fn merge_strings(model: &Value) -> Result<Vec<(String, String)>> {
    let merges_v = field(model, "model", "merges")?
        .as_array()
        .ok_or_else(|| Error::format("model.merges: expected a list"))?;
    let mut merges = Vec::with_capacity(merges_v.len());
    for (i, m) in merges_v.iter().enumerate() {
        let path = format!("model.merges[{i}]");
        merges.push(match m {
            Value::String(s) => {
                let mut parts = s.split(' ');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(a), Some(b), None) => (a.to_string(), b.to_string()),
                    _ => {
                        return Err(Error::format(format!(
                            "{path}: expected \"left right\", found {}",
                            quoted(s)
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
        });
    }
    Ok(merges)
}

/// Byte-level BPE: token strings are bytes in GPT-2's printable alphabet.
fn parse_byte_bpe(model: &Value) -> Result<(Vocab, Vec<Option<String>>)> {
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
    for (s, id) in vocab_obj {
        let id = as_u32(id, &format!("model.vocab[{}]", quoted(s)))?;
        let (bytes, byte_level) = match bytelevel::decode(s) {
            Some(b) => (b, true),
            None => (s.as_bytes().to_vec(), false),
        };
        tokens.push((bytes, byte_level, id));
    }
    // The strings are indexed by id: check the ids before allocating for the largest one.
    let bound = tokens.iter().map(|t| t.2 as usize + 1).max().unwrap_or(0);
    check_id_space(bound, tokens.len())?;
    let mut strings: Vec<Option<String>> = vec![None; bound];
    for ((s, _), (_, _, id)) in vocab_obj.iter().zip(&tokens) {
        strings[*id as usize] = Some(s.clone());
    }
    let mut merges = Vec::new();
    for (i, (a, b)) in merge_strings(model)?.into_iter().enumerate() {
        let path = format!("model.merges[{i}]");
        let to_bytes = |s: &str| {
            bytelevel::decode(s).ok_or_else(|| {
                Error::format(format!("{path}: {} is not a byte-level token", quoted(s)))
            })
        };
        merges.push((to_bytes(&a)?, to_bytes(&b)?));
    }
    let unk = match model.get("unk_token") {
        None | Some(Value::Null) => None,
        Some(u) => {
            let u = as_str(u, "model.unk_token")?;
            let id = vocab_obj.get(u).ok_or_else(|| {
                Error::format(format!(
                    "model.unk_token: {} is not in the vocabulary",
                    quoted(u)
                ))
            })?;
            Some(as_u32(id, "model.unk_token")?)
        }
    };
    let ignore_merges = as_bool(model.get("ignore_merges"), "model.ignore_merges", false)?;
    let vocab = Vocab::from_merges(tokens, &merges, ignore_merges, unk)?;
    Ok((vocab, strings))
}

/// The added tokens, and their matching rules in the same order.
pub(super) fn parse_added(v: Option<&Value>) -> Result<(Vec<AddedToken>, Vec<AddedRule>)> {
    let Some(list) = v.filter(|v| !v.is_null()) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let list = list
        .as_array()
        .ok_or_else(|| Error::format("added_tokens: expected a list"))?;
    let mut out = Vec::with_capacity(list.len());
    let mut rules = Vec::with_capacity(list.len());
    for (i, t) in list.iter().enumerate() {
        let path = format!("added_tokens[{i}]");
        let flag = |name: &str| as_bool(t.get(name), &format!("{path}.{name}"), false);
        rules.push(AddedRule {
            single_word: flag("single_word")?,
            lstrip: flag("lstrip")?,
            rstrip: flag("rstrip")?,
        });
        let special = as_bool(t.get("special"), &format!("{path}.special"), false)?;
        out.push(AddedToken {
            content: as_str(field(t, &path, "content")?, &format!("{path}.content"))?.to_string(),
            id: as_u32(field(t, &path, "id")?, &format!("{path}.id"))?,
            special,
            normalized: as_bool(t.get("normalized"), &format!("{path}.normalized"), !special)?,
        });
    }
    Ok((out, rules))
}

#[cfg(test)]
mod tests {
    use crate::formats::hf::from_json;

    fn doc_with_vocab_entry(token: &str, id: u64) -> String {
        let mut vocab: serde_json::Map<String, serde_json::Value> = (0..=255u8)
            .map(|b| (crate::pretokenize::bytelevel::encode(&[b]), b.into()))
            .collect();
        vocab.insert(token.to_string(), id.into());
        serde_json::json!({
            "model": {"type": "BPE", "vocab": vocab, "merges": []},
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}
        })
        .to_string()
    }

    /// Found by the `tokenizer_json` fuzz target: a vocabulary id near 2^32 made the loader
    /// allocate the token-string table (about 100 GB) before the id was checked.
    #[test]
    fn a_huge_vocab_id_is_an_error_not_an_allocation() {
        for id in [4_000_000_000u64, (1 << 31) - 1, 50_000_000] {
            let err = match from_json(&doc_with_vocab_entry("zz", id), "t") {
                Ok(_) => panic!("id {id} was accepted"),
                Err(e) => e,
            };
            assert!(
                err.message.contains("too large") || err.message.contains("too sparse"),
                "{}",
                err.message
            );
        }
        assert!(from_json(&doc_with_vocab_entry("zz", 300), "t").is_ok());
    }
}
