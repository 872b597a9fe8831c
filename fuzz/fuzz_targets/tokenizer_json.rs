//! `tokenizer.json` documents: any text loads or gives an error; a tokenizer that loads
//! encodes a few texts (alone and as a pair) with consistent offsets, decodes, writes itself
//! back, and loads again from what it wrote.
#![no_main]

use libfuzzer_sys::fuzz_target;
use toksmith_core::formats::hf;
use toksmith_core::Tokenizer;

const TEXTS: [&str; 4] = [
    "Hello, world! It's 2024: 12345 héllo wörld\n\n  done",
    " leading space, trailing  ",
    "日本語 😀 \u{301}x\tß <|endoftext|> [CLS]",
    "",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok((tok, extras)) = hf::from_json(&text, "fuzz") else {
        return;
    };
    check(&tok, &extras);
    assert_eq!(hf::to_json(&tok, Some(&extras), false).unwrap(), text);
    let pretty = hf::to_json(&tok, Some(&extras), true).expect("its own document pretty-prints");
    let (again, again_extras) = hf::from_json(&pretty, "fuzz").expect("what it wrote loads");
    for t in TEXTS {
        let (a, b) = (tok.encode_hf(t), again.encode_hf(t));
        if let (Ok(a), Ok(b)) = (a, b) {
            assert_eq!(a, b, "reloaded tokenizer differs on {t:?}");
        }
    }
    check(&again, &again_extras);
});

fn check(tok: &Tokenizer, extras: &hf::HfExtras) {
    for (i, t) in TEXTS.iter().enumerate() {
        // Engine level: byte offsets on character boundaries, in order, every id decodable.
        let Ok(spans) = tok.encode_hf(t) else {
            continue; // Oniguruma may give up on a pattern that backtracks too much
        };
        let mut last_piece = 0;
        for s in &spans {
            assert!(s.start <= s.end && s.end <= t.len(), "span {s:?} in {t:?}");
            assert!(t.is_char_boundary(s.start) && t.is_char_boundary(s.end));
            assert!(s.piece >= last_piece, "pieces out of order");
            last_piece = s.piece;
            assert!(
                extras.token_string(tok, s.id).is_some(),
                "id {} has no token string",
                s.id
            );
        }
        let ids: Vec<u32> = spans.iter().map(|s| s.id).collect();
        // Without added tokens in the text, `encode_ordinary` (which ignores them) agrees.
        if !tok
            .added_tokens()
            .iter()
            .any(|a| t.contains(a.content.as_str()))
        {
            assert_eq!(
                tok.encode_ordinary(t).unwrap(),
                ids,
                "encode_ordinary on {t:?}"
            );
        }
        assert!(tok.decode_bytes(&ids).is_ok());

        // Hugging Face level, alone and with a pair.
        let pair = TEXTS[(i + 1) % TEXTS.len()];
        for (second, add_special) in [(None, false), (None, true), (Some(pair), true)] {
            let Ok(enc) = extras.encode(tok, t, second, add_special) else {
                continue;
            };
            let n = enc.ids.len();
            assert_eq!(enc.tokens.len(), n);
            assert_eq!(enc.offsets.len(), n);
            assert_eq!(enc.type_ids.len(), n);
            assert_eq!(enc.special_tokens_mask.len(), n);
            let chars = t
                .chars()
                .count()
                .max(second.map_or(0, |p| p.chars().count()));
            for &(s, e) in &enc.offsets {
                assert!(
                    s <= e && e <= chars,
                    "offsets ({s}, {e}) past {chars} characters"
                );
            }
            let _ = extras.decode(tok, &enc.ids, false);
            let _ = extras.decode(tok, &enc.ids, true);
        }
    }
    let _ = extras.vocab_size(tok, true);
    let _ = extras.decode(tok, &[0, 1, 255, 256, 100_000, u32::MAX], false);
}
