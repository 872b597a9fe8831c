//! Writes the hand-made seeds of `fuzz/corpus/<target>/` (files named `seed-*`): small, real
//! inputs each target starts from. Run from `fuzz/`: `cargo run --release --example make_seeds`.
//! The rest of each corpus is what libFuzzer found and `-merge=1` kept (see README.md).

use std::io::Read;
use std::path::Path;
use toksmith_core::count::{count_texts, PieceCounts, PieceTable, Splitter, StageSpec};
use toksmith_core::encode::{AddedToken, PreTokenizer, Tokenizer};
use toksmith_core::formats::{hf, tiktoken};
use toksmith_core::pretokenize::regex::Regex;
use toksmith_core::train::tokenizer::train_bpe_tokenizer;
use toksmith_core::Vocab;
use toksmith_fuzz::{CL100K, O200K};

/// Text to train, count and encode: English, code, digits, whitespace runs, other scripts.
const TEXTS: [&str; 8] = [
    "The quick brown fox jumps over the lazy dog. It's 2024, and we'll see what they've done.",
    "fn main() {\n    let x = 12345 + 678;\n    println!(\"{x}\");\n}\n",
    "Hello,   world!\n\n\n\t\tIndented\r\nWindows line\r\n   trailing   ",
    "Ünïcödé ÄBC ǅa 日本語のテキスト ٣٤٥٦ ½ Москва 2024г. — ΑΘΗΝΑ αθήνα!",
    "emoji 😀👍🏽 and ZWJ 👨‍👩‍👧 with combining e\u{301} a\u{300}\u{301}",
    "<|endoftext|>Special <|fim_prefix|>tokens<|fim_suffix|> in <|endofprompt|> text <|endoftext",
    "DON'T SHOUT'LL 'S 'll 're 've 'm 'd 't \u{a0}\u{a0}nbsp \u{3000}ideographic\u{2028}sep",
    "1234567890 3.14159 1e-10 0x1F /path/to//file.txt https://example.com/?a=1&b=2",
];

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    assert!(
        data.len() < 64 << 10,
        "{target}/{name} is too large for a seed"
    );
    if target == "tokenizer_json" {
        let text = std::str::from_utf8(data).unwrap();
        if let Err(e) = hf::from_json(text, name) {
            panic!("{name} does not load: {}", e.message);
        }
    }
    std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
}

fn cl100k_head(n: u32) -> Vec<(Vec<u8>, u32)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../python/toksmith/encodings/cl100k_base.tiktoken.gz"
    );
    let mut ranks = tiktoken::read(path, None).unwrap();
    ranks.retain(|(_, r)| *r < n);
    ranks.sort_by_key(|(_, r)| *r);
    ranks
}

fn rank_file(ranks: &[(Vec<u8>, u32)], eol: &str) -> Vec<u8> {
    use base64::Engine as _;
    let mut out = String::new();
    for (bytes, r) in ranks {
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
        out.push_str(&format!(" {r}{eol}"));
    }
    out.into_bytes()
}

fn tiktoken_seeds() {
    let head = cl100k_head(400);
    write("tiktoken_file", "cl100k-400", &rank_file(&head, "\n"));
    write(
        "tiktoken_file",
        "cl100k-300-crlf",
        &rank_file(&head[..300], "\r\n"),
    );
    // Gaps in the ranks, and a file that lacks a single byte (0xff).
    let gapped: Vec<_> = head.iter().map(|(b, r)| (b.clone(), r * 3 + 7)).collect();
    write("tiktoken_file", "gapped", &rank_file(&gapped, "\n"));
    let missing: Vec<_> = head.iter().filter(|(b, _)| b != &[0xff]).cloned().collect();
    write("tiktoken_file", "missing-byte", &rank_file(&missing, "\n"));
    write(
        "tiktoken_file",
        "errors",
        b"YQ== 0\n\nYg== 1\r\nYw== x\n!!! 3\nZA== 4 5\n",
    );
}

fn cl100k_tokenizer(n: u32) -> Tokenizer {
    let vocab = Vocab::from_ranks(cl100k_head(n)).unwrap();
    let added = vec![
        AddedToken {
            content: "<|endoftext|>".into(),
            id: n,
            special: true,
            normalized: false,
        },
        AddedToken {
            content: "<|fim_prefix|>".into(),
            id: n + 1,
            special: true,
            normalized: false,
        },
    ];
    let re = Regex::tiktoken(CL100K).unwrap();
    Tokenizer::new("cl100k-head", vocab, PreTokenizer::Regex(re), added).unwrap()
}

fn counts(splitter: &Splitter) -> PieceTable {
    let units: Vec<String> = TEXTS.iter().map(|t| t.to_string()).collect();
    count_texts(&[splitter], &units, false, Some(1))
        .unwrap()
        .pop()
        .unwrap()
}

fn tokenizer_json_seeds() {
    // tiktoken's cl100k, cut to 300 tokens, as toksmith writes it.
    let tok = cl100k_tokenizer(300);
    let json = hf::to_json(&tok, None, false).unwrap();
    write("tokenizer_json", "cl100k-300.json", json.as_bytes());

    // Trained to 300 tokens with the o200k pattern, as `toksmith.train_bpe` makes them.
    let (splitter, pre) = Splitter::regex(O200K).unwrap();
    let trained = train_bpe_tokenizer(
        counts(&splitter),
        pre,
        300,
        &["<|endoftext|>".to_string()],
        1,
        &mut |_| true,
    )
    .unwrap();
    let json = hf::to_json(&trained.tokenizer, Some(&trained.hf), true).unwrap();
    write("tokenizer_json", "trained-o200k-300.json", json.as_bytes());

    // GPT-2's own layout: ByteLevel with its regex and a prefix space, a template, an unk.
    let gpt2_pre = r#"{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}"#;
    let (splitter, pre) = Splitter::pre_tokenizer(gpt2_pre).unwrap();
    let trained = train_bpe_tokenizer(
        counts(&splitter),
        pre,
        280,
        &["<s>".to_string(), "</s>".to_string()],
        1,
        &mut |_| true,
    )
    .unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_str(&hf::to_json(&trained.tokenizer, Some(&trained.hf), false).unwrap())
            .unwrap();
    let (s, e) = (280 - 2, 280 - 1);
    doc["post_processor"] = serde_json::json!({"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                    {"SpecialToken": {"id": "</s>", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                  {"SpecialToken": {"id": "</s>", "type_id": 1}}],
         "special_tokens": {"<s>": {"id": "<s>", "ids": [s], "tokens": ["<s>"]},
                            "</s>": {"id": "</s>", "ids": [e], "tokens": ["</s>"]}}}]});
    doc["model"]["unk_token"] = serde_json::json!("<s>");
    doc["model"]["vocab"]["<s>"] = serde_json::json!(s);
    write(
        "tokenizer_json",
        "gpt2-template.json",
        serde_json::to_string_pretty(&doc).unwrap().as_bytes(),
    );

    // The SuperBPE paper's pipeline: Digits, an Oniguruma Split, a plain ByteLevel.
    let paper_pre = r#"{"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": false},
        {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
        {"type": "Split", "pattern": {"String": "\n"}, "behavior": "MergedWithPrevious", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}"#;
    let (splitter, pre) = Splitter::pre_tokenizer(paper_pre).unwrap();
    let trained = train_bpe_tokenizer(counts(&splitter), pre, 290, &[], 1, &mut |_| true).unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_str(&hf::to_json(&trained.tokenizer, Some(&trained.hf), false).unwrap())
            .unwrap();
    doc["model"]["ignore_merges"] = serde_json::json!(false);
    doc["added_tokens"] = serde_json::json!([
        {"id": 290, "content": "[MASK]", "single_word": false, "lstrip": false, "rstrip": false,
         "normalized": true, "special": false},
        {"id": 291, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
         "rstrip": false, "normalized": false, "special": true}]);
    write(
        "tokenizer_json",
        "paper-pipeline.json",
        doc.to_string().as_bytes(),
    );
}

fn piece_counts_seeds() {
    let (splitter, _) = Splitter::regex(CL100K).unwrap();
    let spec = |s: &str| StageSpec {
        kind: "regex".into(),
        spec: s.into(),
    };
    let one = PieceCounts::new("bpe", vec![spec(CL100K)], vec![counts(&splitter)]);
    write("piece_counts", "one-stage", &one.to_bytes(6));
    write("piece_counts", "one-stage-stored", &one.to_bytes(0));
    let (words, _) = Splitter::regex(r"\S+|\s+").unwrap();
    let two = PieceCounts::new(
        "superbpe",
        vec![spec(O200K), spec(r"\S+|\s+")],
        vec![counts(&splitter), counts(&words)],
    );
    write("piece_counts", "two-stages", &two.to_bytes(9));
    // Counts that overflow when the table is added to itself.
    let mut big = PieceTable::default();
    big.add(b"a", u64::MAX / 2 + 1);
    big.add(b"ab", u64::MAX);
    big.add(b"b", 1);
    let big = PieceCounts::new("bpe", vec![spec(r"\w+")], vec![big]);
    write("piece_counts", "huge-counts", &big.to_bytes(6));
    // The same tables' bodies (the target also reads each input as a body it compresses).
    for (name, table) in [
        ("one-stage", &one),
        ("two-stages", &two),
        ("huge-counts", &big),
    ] {
        let mut body = Vec::new();
        let file = table.to_bytes(6);
        flate2::read::ZlibDecoder::new(&file[9..])
            .read_to_end(&mut body)
            .unwrap();
        write("piece_counts", &format!("body-{name}"), &body);
    }
}

fn text_seeds() {
    for (i, t) in TEXTS.iter().enumerate() {
        write("encode_decode", &format!("text-{i}"), t.as_bytes());
    }
    write(
        "encode_decode",
        "spaces",
        " \n \n\n  \t \r\n x  y   \n".as_bytes(),
    );
    write("encode_decode", "long-word", "a".repeat(3000).as_bytes());
    write(
        "encode_decode",
        "long-digits-spaces",
        format!("{}{}", "1".repeat(700), " ".repeat(700)).as_bytes(),
    );
}

fn regex_seeds() {
    let patterns = [
        CL100K,
        O200K,
        hf::GPT2_PATTERN,
        r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)",
        r"(?i:'s|'t)|\p{L}++|(?=\d)\d{1,3}+|\s+(?!\S)|(a|b)*c\1",
        r"(?:a|a)+b",
    ];
    for (i, p) in patterns.iter().enumerate() {
        write("regex_patterns", &format!("pattern-{i}"), p.as_bytes());
        let with_text = format!("{p}\0{}", TEXTS[i % TEXTS.len()]);
        write(
            "regex_patterns",
            &format!("pattern-{i}-text"),
            with_text.as_bytes(),
        );
    }
}

/// The structured target reads choices, then the text: a few fixed byte strings (a small
/// generator, no dependency) before each text.
fn structured_seeds() {
    let mut seed = 12345u64;
    for (i, t) in TEXTS.iter().enumerate() {
        let mut data: Vec<u8> = (0..48 + 40 * i)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 56) as u8
            })
            .collect();
        data.extend_from_slice(t.as_bytes());
        write("tokenizer_json_structured", &format!("choices-{i}"), &data);
    }
}

fn main() {
    structured_seeds();
    tiktoken_seeds();
    tokenizer_json_seeds();
    piece_counts_seeds();
    text_seeds();
    regex_seeds();
    println!("seeds written under fuzz/corpus/");
}
