//! Times counting one splitter's pieces in a file (the counting phase of training):
//! `cargo run --release --example profile_count -- REGEX_FILE CORPUS THREADS`.
use std::time::Instant;
use toksmith_core::count::{count_files, Splitter};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pattern = std::fs::read_to_string(&args[1]).unwrap();
    let (splitter, _) = Splitter::regex(pattern.trim_end_matches('\n')).unwrap();
    let threads: usize = args[3].parse().unwrap();
    let start = Instant::now();
    let counts = count_files(&[&splitter], &[args[2].clone()], Some(threads), &mut |_| {
        true
    })
    .unwrap();
    println!(
        "count {:?}: {} distinct pieces, {} in all",
        start.elapsed(),
        counts[0].len(),
        counts[0].total()
    );
}
