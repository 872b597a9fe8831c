//! Times ByteLM's cover discovery at every byte of a text, and checks the grouped path against
//! trying every token:
//! `cargo run --release --example bytelm_covers -- RANKS.tiktoken.gz PATTERN_FILE [TEXT] [--no-check]`.
//! With `--no-check` only the grouped path runs (short enough for `valgrind --tool=callgrind`).
use std::sync::Arc;
use std::time::Instant;
use toksmith_core::bytelm::ByteModel;
use toksmith_core::{regex::Regex, tiktoken_file, PreTokenizer, Tokenizer, Vocab};

const PROBES: [&str; 12] = [
    " ", "\t", "\n", "a", "A", "0", ".", "'", "/", "s", "é", "中",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ranks = tiktoken_file::read(&args[1], None).unwrap();
    let pattern = std::fs::read_to_string(&args[2]).unwrap();
    let text = args
        .get(3)
        .filter(|a| !a.starts_with("--"))
        .cloned()
        .unwrap_or_else(|| "The quick brown fox jumps over the lazy dog.".to_string());
    let check = !args.iter().any(|a| a == "--no-check");
    let tok = Tokenizer::new(
        "x",
        Vocab::from_ranks(ranks).unwrap(),
        PreTokenizer::Regex(Regex::tiktoken(pattern.trim_end_matches('\n')).unwrap()),
        vec![],
    )
    .unwrap();
    let probes = PROBES.iter().map(|p| p.to_string()).collect();
    let model = Arc::new(ByteModel::new(Arc::new(tok), None, probes, 1).unwrap());
    // The groups are built on first use: not part of the per-byte time.
    let t = Instant::now();
    model.covers_by_groups(b"").unwrap();
    println!(
        "first call (groups built): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let bytes = text.as_bytes();
    let (mut grouped, mut exhaustive) = (0.0, 0.0);
    for end in 0..=bytes.len() {
        // From a piece boundary a few pieces back, as the state's origin would be.
        let start = end.saturating_sub(12);
        let start = (start..=end)
            .find(|&s| std::str::from_utf8(&bytes[..s]).is_ok())
            .unwrap();
        let part = &bytes[start..end];
        let t = Instant::now();
        let a = model.covers_by_groups(part).unwrap();
        grouped += t.elapsed().as_secs_f64();
        if check {
            let t = Instant::now();
            let b = model.covers_exhaustive(part).unwrap();
            exhaustive += t.elapsed().as_secs_f64();
            assert!(
                a == b,
                "covers differ after {:?}",
                String::from_utf8_lossy(part)
            );
        }
    }
    let n = (bytes.len() + 1) as f64;
    println!(
        "{} texts: grouped {:.0} µs per text, exhaustive {:.0} µs per text{}",
        n,
        grouped / n * 1e6,
        exhaustive / n * 1e6,
        if check { " (equal)" } else { "" }
    );
}
