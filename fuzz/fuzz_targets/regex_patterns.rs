//! Any pattern as a tiktoken (fancy-regex) and as a tokenizer.json (Oniguruma) regex: an error
//! or a regex, never a panic; matching a short text gives ordered, in-bounds matches on
//! character boundaries. The input is `pattern \0 text` (text optional).
#![no_main]

use libfuzzer_sys::fuzz_target;
use toksmith_core::pretokenize::regex::Regex;

const TEXT: &str = "Hello, world! It's 2024:  12345 héllo\n\n\twörld 日本語 😀 x\u{301}  ";

fuzz_target!(|data: &[u8]| {
    let (pattern, text) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, TEXT.as_bytes()),
    };
    let pattern = String::from_utf8_lossy(pattern);
    let text = String::from_utf8_lossy(text);
    for re in [Regex::tiktoken(&pattern), Regex::onig(&pattern)] {
        let Ok(re) = re else { continue };
        let Ok(matches) = re.find_all(&text) else {
            continue; // a backtracking limit: an error is the answer
        };
        let mut last = 0;
        for (s, e) in matches {
            assert!(last <= s && s <= e && e <= text.len(), "match ({s}, {e})");
            assert!(text.is_char_boundary(s) && text.is_char_boundary(e));
            last = e;
        }
    }
    if let Ok(fast) = Regex::tiktoken(&pattern) {
        let slow = Regex::tiktoken_reference(&pattern).expect("the same pattern compiles");
        if let (Ok(a), Ok(b)) = (fast.find_all(&text), slow.find_all(&text)) {
            assert_eq!(
                a, b,
                "fast path differs from fancy-regex for {pattern:?} on {text:?}"
            );
        }
    }
});
