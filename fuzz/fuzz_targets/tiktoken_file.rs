//! `.tiktoken` rank files: parse any bytes; a file that parses builds a vocabulary (or an
//! error), and a vocabulary encodes a short text exactly as tiktoken's merge does, decodes it
//! back, and survives the trip through `tokenizer.json` with the same ids.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet};
use toksmith_core::encode::{PreTokenizer, Tokenizer};
use toksmith_core::formats::{hf, tiktoken};
use toksmith_core::pretokenize::regex::Regex;
use toksmith_core::Vocab;
use toksmith_fuzz::check_against_reference;

/// A pattern both regex dialects read the same way (spaces only, no classes that differ).
const PATTERN: &str = r" ?[^ ]+| +";
const TEXT: &str = "Hello, world!  It's 2024: héllo wörld\n\tdone 😀 aaaaaaaa";

fuzz_target!(|data: &[u8]| {
    let Ok(tokens) = tiktoken::parse(data) else {
        return;
    };
    // As parsed (most random files lack some single byte: an error, never a panic).
    let _ = Vocab::from_ranks(tokens.clone());
    // With the missing single bytes added after the largest rank, so the merge itself runs.
    let mut tokens = tokens;
    let present: HashSet<Vec<u8>> = tokens.iter().map(|(b, _)| b.clone()).collect();
    let mut next = tokens.iter().map(|(_, r)| *r).max().unwrap_or(0);
    for b in 0..=255u8 {
        if !present.contains(&vec![b]) {
            let Some(r) = next.checked_add(1) else { return };
            next = r;
            tokens.push((vec![b], r));
        }
    }
    let ranks: HashMap<Vec<u8>, u32> = tokens.iter().cloned().collect();
    let Ok(vocab) = Vocab::from_ranks(tokens.clone()) else {
        return;
    };
    let regex = Regex::tiktoken(PATTERN).expect("fixed pattern");
    let Ok(tok) = Tokenizer::new("fuzz", vocab, PreTokenizer::Regex(regex), Vec::new()) else {
        return;
    };
    // The text: a fixed one, then a few of the file's own tokens run together, so that merges
    // of this vocabulary apply.
    let mut text = TEXT.to_string();
    for (bytes, _) in tokens.iter().take(16) {
        text.push_str(&String::from_utf8_lossy(&bytes[..bytes.len().min(32)]));
    }
    let ids = tok
        .encode_ordinary(&text)
        .expect("encoding with a simple pattern");
    let back = tok.decode_bytes(&ids).expect("ids the encoder gave decode");
    assert_eq!(back, text.as_bytes(), "round trip");
    let reference = Regex::tiktoken_reference(PATTERN).unwrap();
    check_against_reference(&tok, &reference, &ranks, &text, &ids, usize::MAX);

    // tiktoken -> tokenizer.json -> the same ids.
    let json = hf::to_json(&tok, None, false).expect("a tiktoken tokenizer converts");
    let (hf_tok, extras) = hf::from_json(&json, "fuzz").expect("its own tokenizer.json loads");
    let enc = extras
        .encode(&hf_tok, &text, None, false)
        .expect("encoding with the converted tokenizer");
    assert_eq!(
        enc.ids, ids,
        "tokenizer.json conversion changed the ids of {text:?}"
    );
    assert_eq!(extras.decode(&hf_tok, &enc.ids, false).expect("decodes"), text);
});
