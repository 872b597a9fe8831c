//! Writing `tokenizer.json` documents: for tiktoken vocabularies, for trained vocabularies
//! (and vocabularies they extend), and the way back to tiktoken's parts.

use super::{split_pre_tokenizer, HfExtras};
use crate::encode::{AddedToken, Matcher, PreTokenizer, SplitBehavior, Step, Tokenizer};
use crate::pretokenize::bytelevel;
use crate::{Error, Result};
use rustc_hash::FxHashMap;
use serde_json::{json, Map, Value};

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
    if let Some(m) = tok.text_model() {
        return Err(Error::value(format!(
            "cannot convert: tiktoken holds byte-level BPE only, and this tokenizer's model is {}",
            m.name()
        )));
    }
    if tok.normalizer().is_some() {
        return Err(Error::value(
            "cannot convert: this tokenizer has a normalizer, and tiktoken has none",
        ));
    }
    let pattern = match &tok.pre_tokenizer {
        PreTokenizer::Regex(re) => re.pattern().to_string(),
        PreTokenizer::Steps(steps) => match steps.as_slice() {
            [Step::Split { matcher: Matcher::Regex(re), behavior: SplitBehavior::Isolated, invert: false }, Step::ByteLevel { add_prefix_space: false, regex: None }]
            | [Step::ByteLevel { add_prefix_space: false, regex: Some(re) }] => crate::pretokenize::dialect::onig_to_pcre(re.pattern()),
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

/// The `tokenizer.json` document of a trained vocabulary: bytes keep ids 0-255 (byte value),
/// merged tokens follow in order of creation, special tokens come last.
pub fn trained_document(
    merges: &[(Vec<u8>, Vec<u8>)],
    pre_tokenizer: Value,
    special_tokens: &[String],
) -> Value {
    let vocab = (0..=255u8)
        .map(|b| (bytelevel::encode(&[b]), json!(b)))
        .collect();
    extending_document(vocab, Vec::new(), merges, pre_tokenizer, special_tokens)
}

/// The `tokenizer.json` document of a vocabulary that starts as `vocab` (token strings to ids)
/// and `added` tokens: tokens made by `merges` that it lacks get the next free ids in order of
/// creation, then the new `special_tokens`.
pub fn extending_document(
    mut vocab: Map<String, Value>,
    mut added: Vec<AddedToken>,
    merges: &[(Vec<u8>, Vec<u8>)],
    pre_tokenizer: Value,
    special_tokens: &[String],
) -> Value {
    let encode = bytelevel::encode;
    use {json, Value};
    let mut next_id = vocab
        .values()
        .filter_map(Value::as_u64)
        .chain(added.iter().map(|t| t.id as u64))
        .max()
        .map_or(0, |m| m + 1);
    let mut add = |vocab: &mut Map<String, Value>, s: String| {
        if !vocab.contains_key(&s) {
            vocab.insert(s, json!(next_id));
            next_id += 1;
        }
    };
    // A pair merged twice (see the module note) keeps its last rank, as in `tokenizers`.
    let mut last_rank: FxHashMap<(&[u8], &[u8]), usize> = FxHashMap::default();
    for (i, (a, b)) in merges.iter().enumerate() {
        last_rank.insert((a.as_slice(), b.as_slice()), i);
        add(&mut vocab, encode(a));
        add(&mut vocab, encode(b));
        add(&mut vocab, encode(&[a.as_slice(), b.as_slice()].concat()));
    }
    let merge_list: Vec<Value> = merges
        .iter()
        .enumerate()
        .filter(|(i, (a, b))| last_rank[&(a.as_slice(), b.as_slice())] == *i)
        .map(|(_, (a, b))| json!([encode(a), encode(b)]))
        .collect();
    for t in special_tokens {
        if added.iter().any(|a| &a.content == t) {
            continue;
        }
        // A special token spelled like a learned token shares that token's id (as in `tokenizers`).
        let id = match vocab.get(t).and_then(Value::as_u64) {
            Some(id) => id,
            None => {
                next_id += 1;
                next_id - 1
            }
        } as u32;
        vocab.insert(t.clone(), json!(id));
        added.push(AddedToken {
            content: t.clone(),
            id,
            special: true,
            normalized: false,
        });
    }
    byte_level_bpe_document(vocab, merge_list, &added, pre_tokenizer, false)
}

#[cfg(test)]
mod tests {
    use super::to_json;
    use crate::encode::{PreTokenizer, Tokenizer};
    use crate::formats::hf::from_json;
    use crate::pretokenize::regex::Regex;
    use crate::Vocab;

    /// Found by the `tiktoken_file` fuzz target. tiktoken merges `u r` into `ur` (rank 257),
    /// then `ur n` into `urn` (rank 256, below its part's): the merge list must hold `ur n`.
    #[test]
    fn tiktoken_to_json_keeps_ids_when_a_token_ranks_below_its_part() {
        let mut ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        ranks.push((b"urn".to_vec(), 256));
        ranks.push((b"ur".to_vec(), 257));
        let re = Regex::tiktoken(r" ?[^ ]+| +").unwrap();
        let vocab = Vocab::from_ranks(ranks).unwrap();
        let tok = Tokenizer::new("t", vocab, PreTokenizer::Regex(re), Vec::new()).unwrap();
        let ids = tok.encode_ordinary(" urns").unwrap();
        assert_eq!(ids, [b' ' as u32, 256, b's' as u32], "tiktoken's merge");
        let (converted, _) = from_json(&to_json(&tok, None, false).unwrap(), "t").unwrap();
        assert_eq!(converted.encode_ordinary(" urns").unwrap(), ids);
    }
}
