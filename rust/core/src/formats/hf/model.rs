//! The `model` (byte-level BPE: vocabulary, merges, `ignore_merges`, `unk_token`) and the
//! `added_tokens` of a `tokenizer.json`.

use super::json::{as_bool, as_str, as_u32, field, kind};
use crate::encode::AddedToken;
use crate::pretokenize::bytelevel;
use crate::util::error::quoted;
use crate::vocab::{check_id_space, Vocab};
use crate::{Error, Result};
use serde_json::Value;

pub(super) fn parse_model(model: &Value) -> Result<(Vocab, Vec<Option<String>>)> {
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
        };
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

pub(super) fn parse_added(v: Option<&Value>) -> Result<Vec<AddedToken>> {
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
