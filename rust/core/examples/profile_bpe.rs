//! Times the phases of BPE training on one file (the baseline of SuperBPE's "at most 2x BPE"):
//! `cargo run --release --example profile_bpe -- REGEX_FILE CORPUS VOCAB`.
use std::time::Instant;
use toksmith_core::count::{count_files, Splitter};
use toksmith_core::train::train;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pattern = std::fs::read_to_string(&args[1]).unwrap();
    let (splitter, _) = Splitter::regex(pattern.trim_end_matches('\n')).unwrap();
    let vocab: usize = args[3].parse().unwrap();
    let start = Instant::now();
    let mut counts = count_files(&[&splitter], &[args[2].clone()], None, &mut |_| true).unwrap();
    println!("count {:?}", start.elapsed());
    let mark = Instant::now();
    let trained = train(counts.pop().unwrap(), vocab, 0, 1, &mut |_| true).unwrap();
    println!(
        "merge {:?} ({} merges), total {:?}",
        mark.elapsed(),
        trained.merges.len(),
        start.elapsed()
    );
}
