//! Splits the time of encoding into pre-tokenization and merging:
//! `cargo run --release --example profile_encode -- RANKS.tiktoken.gz PATTERN CORPUS`.
use std::time::Instant;
use toksmith_core::{regex::Regex, tiktoken_file, PreTokenizer, Tokenizer, Vocab};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ranks = tiktoken_file::read(&args[1], None).unwrap();
    let pattern = std::fs::read_to_string(&args[2]).unwrap();
    let text = std::fs::read_to_string(&args[3]).unwrap();
    let text = &text[..text.len().min(8_000_000)];
    let text = &text[..text
        .char_indices()
        .map(|(i, _)| i)
        .filter(|&i| i <= text.len())
        .last()
        .unwrap_or(0)];
    let tok = Tokenizer::new(
        "x",
        Vocab::from_ranks(ranks).unwrap(),
        PreTokenizer::Regex(Regex::tiktoken(pattern.trim_end_matches('\n')).unwrap()),
        vec![],
    )
    .unwrap();
    let PreTokenizer::Regex(re) = &tok.pre_tokenizer else {
        unreachable!()
    };
    for _ in 0..3 {
        let t = Instant::now();
        let mut n = 0;
        re.for_each_match(text, |_, _| n += 1).unwrap();
        let split = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let ids = tok.encode_ordinary(text).unwrap();
        let all = t.elapsed().as_secs_f64();
        println!(
            "pieces {n}: split {:.1} MB/s; encode {:.1} MB/s ({} tokens)",
            text.len() as f64 / split / 1e6,
            text.len() as f64 / all / 1e6,
            ids.len()
        );
    }
}
