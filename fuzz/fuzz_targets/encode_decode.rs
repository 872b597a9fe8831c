//! The bundled encodings (cl100k_base, o200k_base) on any text: ids decode back to the text's
//! bytes, with and without special tokens; the ids equal tiktoken's merge over the reference
//! (fancy-regex) pieces; the fast pre-tokenizer finds the same pieces as fancy-regex.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toksmith_core::PreTokenizer;
use toksmith_fuzz::{check_against_reference, encodings};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for enc in encodings() {
        let tok = &enc.tokenizer;
        let PreTokenizer::Regex(fast) = &tok.pre_tokenizer else {
            unreachable!("the bundled encodings use a regex")
        };
        // The fast path (hand-written lexers, lazy DFA) and fancy-regex agree.
        let fast_pieces = fast.find_all(&text).expect("fast pre-tokenizer");
        if let Ok(slow_pieces) = enc.reference.find_all(&text) {
            assert_eq!(fast_pieces, slow_pieces, "{}: pieces of {text:?}", enc.name);
        }

        // Ordinary encoding: every byte back, and tiktoken's ids.
        let ids = tok.encode_ordinary(&text).expect("encode_ordinary");
        let back = tok.decode_bytes(&ids).expect("decode_bytes");
        assert_eq!(back, text.as_bytes(), "{}: round trip", enc.name);
        check_against_reference(tok, &enc.reference, &enc.ranks, &text, &ids, 512);

        // Every special allowed: the same bytes back; each special in the text is its id.
        let with = tok
            .encode_with_special(&text, &|_| true, false)
            .expect("encode_with_special");
        let back = tok.decode_bytes(&with).expect("decode_bytes");
        assert_eq!(
            back,
            text.as_bytes(),
            "{}: round trip with specials",
            enc.name
        );
        let has_special = enc.specials.iter().any(|(s, _)| text.contains(s.as_str()));
        let special_ids = with
            .iter()
            .filter(|id| enc.specials.iter().any(|(_, s)| s == *id))
            .count();
        assert_eq!(
            has_special,
            special_ids > 0,
            "{}: specials in {text:?}",
            enc.name
        );
        // None allowed, others refused: an error exactly when the text holds one.
        let refused = tok.encode_with_special(&text, &|_| false, true);
        assert_eq!(refused.is_err(), has_special, "{}: refusal", enc.name);
        // None allowed, others as text: the ordinary ids.
        let plain = tok
            .encode_with_special(&text, &|_| false, false)
            .expect("encode_with_special");
        assert_eq!(plain, ids, "{}: specials as text", enc.name);
    }
});
