//! Splits the time of encoding into pre-tokenization and merging, on ~4 KB documents encoded
//! one at a time on this thread (as the benchmark does):
//! `cargo run --release --example profile_encode -- RANKS.tiktoken.gz PATTERN CORPUS [ROUNDS]`.
//! With ROUNDS = 1 it is short enough for `valgrind --tool=callgrind` (instruction counts do not
//! depend on the machine's load, unlike the timings): `--toggle-collect='*encode_all*'`.
use std::time::Instant;
use toksmith_core::{formats::tiktoken, pretokenize::regex::Regex, PreTokenizer, Tokenizer, Vocab};

/// ~`size`-byte documents cut after a newline (or at a character boundary).
fn documents(text: &str, size: usize) -> Vec<&str> {
    let mut docs = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + size).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if let Some(nl) = text[end..].find('\n') {
            end += nl + 1;
        } else {
            end = text.len();
        }
        docs.push(&text[start..end]);
        start = end;
    }
    docs
}

/// The encoding loop on its own, for `valgrind --tool=callgrind --toggle-collect='*encode_all*'`.
#[inline(never)]
fn encode_all(tok: &Tokenizer, docs: &[&str]) -> usize {
    docs.iter()
        .map(|d| tok.encode_ordinary(d).unwrap().len())
        .sum()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ranks = tiktoken::read(&args[1], None).unwrap();
    let pattern = std::fs::read_to_string(&args[2]).unwrap();
    let text = std::fs::read(&args[3]).unwrap();
    let text = String::from_utf8_lossy(&text[..text.len().min(8_000_000)]).into_owned();
    let rounds: usize = args.get(4).map_or(3, |r| r.parse().unwrap());
    let docs = documents(&text, 4096);
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
    for _ in 0..rounds {
        let t = Instant::now();
        let mut n = 0;
        for d in &docs {
            re.for_each_match(d, |_, _| n += 1).unwrap();
        }
        let split = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let tokens = encode_all(&tok, &docs);
        let all = t.elapsed().as_secs_f64();
        println!(
            "pieces {n}: split {:.1} MB/s; encode {:.1} MB/s ({tokens} tokens, {} documents)",
            text.len() as f64 / split / 1e6,
            text.len() as f64 / all / 1e6,
            docs.len()
        );
    }
}
