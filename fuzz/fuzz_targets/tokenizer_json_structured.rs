//! `tokenizer.json` documents built from the input: a byte-level BPE over all 256 byte
//! characters (ids shuffled), merges of earlier tokens (some repeated, some out of order), added
//! tokens, a pre-tokenizer sequence of `Split` / `Digits` steps and a `ByteLevel`, and a
//! post-processor. Each document must load; the text (the rest of the input) must encode to
//! Hugging Face's merge of each piece and, unless a step drops text, decode back to itself.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use toksmith_core::formats::hf;
use toksmith_core::pretokenize::bytelevel;

/// Regexes (Oniguruma syntax) the Split steps choose from: real pre-tokenizers and odd ones.
const PATTERNS: [&str; 10] = [
    r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)",
    r" ?[^ ]+| +",
    r"\s+",
    r"a*",
    r"",
    r"(?=x)",
    r"\b",
    r".",
];
const BEHAVIORS: [&str; 5] = [
    "Isolated",
    "MergedWithPrevious",
    "MergedWithNext",
    "Contiguous",
    "Removed",
];
const ADDED: [&str; 6] = ["<|endoftext|>", "[CLS]", "ab", " ", "é", "<s>"];

struct Built {
    doc: Value,
    /// Text survives pre-tokenization unchanged (no Removed step, no prefix space).
    lossless: bool,
    has_added: bool,
    /// The merge table as Hugging Face builds it: `(left, right) -> (rank, merged)`, a repeated
    /// merge keeping its last rank.
    merges: HashMap<(u32, u32), (u32, u32)>,
    ids: HashMap<Vec<u8>, u32>,
    ignore_merges: bool,
}

fn build(u: &mut Unstructured) -> Result<Built> {
    // The 256 byte tokens under a permutation of 0..256 (or the identity).
    let mut order: Vec<u32> = (0..256).collect();
    if u.arbitrary::<bool>()? {
        for i in (1..256).rev() {
            let j = u.int_in_range(0..=i)?;
            order.swap(i, j);
        }
    }
    let mut tokens: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    let mut ids: HashMap<Vec<u8>, u32> = (0..256).map(|b| (vec![b as u8], order[b])).collect();
    let mut merges = Vec::new();
    let mut table = HashMap::new();
    for _ in 0..u.int_in_range(0..=40)? {
        let a = tokens[u.choose_index(tokens.len())?].clone();
        let b = tokens[u.choose_index(tokens.len())?].clone();
        let joined = [a.as_slice(), b.as_slice()].concat();
        if joined.len() > 24 {
            continue;
        }
        if !ids.contains_key(&joined) {
            ids.insert(joined.clone(), tokens.len() as u32);
            tokens.push(joined.clone());
        }
        table.insert((ids[&a], ids[&b]), (merges.len() as u32, ids[&joined]));
        let (sa, sb) = (bytelevel::encode(&a), bytelevel::encode(&b));
        merges.push(if u.arbitrary::<bool>()? {
            json!(format!("{sa} {sb}"))
        } else {
            json!([sa, sb])
        });
    }
    let mut vocab = Map::new();
    for t in &tokens {
        vocab.insert(bytelevel::encode(t), json!(ids[t]));
    }
    let ignore_merges = u.arbitrary::<bool>()?;

    let mut lossless = true;
    let mut added = Vec::new();
    let mut next_id = tokens.len() as u32;
    for _ in 0..u.int_in_range(0..=3)? {
        let content = ADDED[u.choose_index(ADDED.len())?];
        if added.iter().any(|a: &Value| a["content"] == content) {
            continue;
        }
        let special = u.arbitrary::<bool>()?;
        // Hugging Face's ByteLevel decoder reads an added token made of byte-level characters
        // as bytes (`é` is the byte 0xe9), so such a token does not decode to its content.
        lossless &= bytelevel::decode_lossless(content) == content.as_bytes();
        added.push(
            json!({"id": next_id, "content": content, "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": u.arbitrary::<bool>()?,
            "special": special}),
        );
        next_id += 1;
    }

    let mut steps = Vec::new();
    for _ in 0..u.int_in_range(0..=3)? {
        let behavior = BEHAVIORS[u.choose_index(BEHAVIORS.len())?];
        let invert = u.arbitrary::<bool>()?;
        lossless &= behavior != "Removed";
        steps.push(match u.int_in_range(0..=2)? {
            0 => json!({"type": "Split",
                "pattern": {"Regex": PATTERNS[u.choose_index(PATTERNS.len())?]},
                "behavior": behavior, "invert": invert}),
            1 => {
                let literal = [" ", "ab", "\n", "é", "'"][u.choose_index(5)?];
                json!({"type": "Split", "pattern": {"String": literal},
                    "behavior": behavior, "invert": invert})
            }
            _ => json!({"type": "Digits", "individual_digits": u.arbitrary::<bool>()?}),
        });
    }
    let add_prefix_space = u.arbitrary::<bool>()?;
    lossless &= !add_prefix_space;
    steps.push(
        json!({"type": "ByteLevel", "add_prefix_space": add_prefix_space,
        "trim_offsets": true, "use_regex": u.arbitrary::<bool>()?}),
    );
    let pre_tokenizer = if steps.len() == 1 && u.arbitrary::<bool>()? {
        steps.pop().unwrap()
    } else {
        json!({"type": "Sequence", "pretokenizers": steps})
    };

    let post = match u.int_in_range(0..=2)? {
        0 => Value::Null,
        1 => json!({"type": "ByteLevel", "add_prefix_space": u.arbitrary::<bool>()?,
            "trim_offsets": u.arbitrary::<bool>()?, "use_regex": true}),
        _ => json!({"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "<s>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [next_id], "tokens": ["<s>"]}}}),
    };
    let doc = json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": pre_tokenizer, "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                  "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges}
    });
    Ok(Built {
        doc,
        lossless,
        has_added: !added.is_empty(),
        merges: table,
        ids,
        ignore_merges,
    })
}

/// Hugging Face's BPE on one piece: its bytes, then the merge of lowest rank (leftmost among
/// equals) until none applies; with `ignore_merges`, a piece that is a token is that token.
fn reference(b: &Built, piece: &[u8]) -> Vec<u32> {
    if b.ignore_merges {
        if let Some(&id) = b.ids.get(piece) {
            return vec![id];
        }
    }
    let mut syms: Vec<u32> = piece.iter().map(|&x| b.ids[&vec![x]]).collect();
    loop {
        let best = syms
            .windows(2)
            .enumerate()
            .filter_map(|(i, w)| b.merges.get(&(w[0], w[1])).map(|&(r, m)| (r, i, m)))
            .min();
        let Some((_, i, merged)) = best else {
            return syms;
        };
        syms[i] = merged;
        syms.remove(i + 1);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(built) = build(&mut u) else {
        return;
    };
    let text = String::from_utf8_lossy(u.take_rest());
    let json = built.doc.to_string();
    let (tok, extras) = hf::from_json(&json, "fuzz")
        .unwrap_or_else(|e| panic!("a valid document was refused: {}\n{json}", e.message));
    let Ok(enc) = extras.encode(&tok, &text, None, false) else {
        return; // Oniguruma gave up on the text
    };
    if built.lossless {
        assert_eq!(
            extras.decode(&tok, &enc.ids, false).expect("decodes"),
            text,
            "round trip\n{json}"
        );
    }
    if !built.has_added {
        // The merge of each piece is Hugging Face's.
        let pieces = tok.pieces(&text).expect("pre-tokenizing again");
        let mut expected = Vec::new();
        for p in pieces {
            let mut bytes = if p.prefix_space { vec![b' '] } else { vec![] };
            bytes.extend_from_slice(&text.as_bytes()[p.start..p.end]);
            expected.extend(reference(&built, &bytes));
        }
        assert_eq!(
            enc.ids, expected,
            "merges differ from Hugging Face's\n{json}"
        );
    }
    for (second, special) in [(Some("pair ab 12"), true), (None, true)] {
        if let Ok(e) = extras.encode(&tok, &text, second, special) {
            let _ = extras.decode(&tok, &e.ids, true);
        }
    }
});
