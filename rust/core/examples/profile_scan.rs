//! Times a training splitter alone (no counting) over a file, line by line:
//! `cargo run --release --example profile_scan -- REGEX_FILE CORPUS`.
use std::time::Instant;
use toksmith_core::count::Splitter;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pattern = std::fs::read_to_string(&args[1]).unwrap();
    let (splitter, _) = Splitter::regex(pattern.trim_end_matches('\n')).unwrap();
    let text = std::fs::read_to_string(&args[2]).unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let (mut n, mut sum) = (0usize, 0usize);
        for line in text.split_inclusive('\n') {
            splitter
                .for_each_piece(line, |p| {
                    n += 1;
                    sum += p.len();
                })
                .unwrap();
        }
        let t = start.elapsed();
        println!(
            "{n} pieces, {sum} bytes, {t:?} ({:.2} ns/byte)",
            t.as_nanos() as f64 / text.len() as f64
        );
    }
}
