//! Times the phases of SuperBPE training on one file:
//! `cargo run --release --example profile_superbpe -- STAGE1_REGEX_FILE STAGE2_REGEX_FILE CORPUS VOCAB T`.
use std::time::Instant;
use toksmith_core::count::{count_files, Splitter};
use toksmith_core::train::superbpe::{train_superbpe, Filters, Phase, Stage1};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .unwrap()
            .trim_end_matches('\n')
            .to_string()
    };
    let (s1, _) = Splitter::regex(&read(&args[1])).unwrap();
    let (s2, _) = Splitter::regex(&read(&args[2])).unwrap();
    let vocab: usize = args[4].parse().unwrap();
    let t: usize = args[5].parse().unwrap();
    let start = Instant::now();
    let mut counts = count_files(&[&s1, &s2], &[args[3].clone()], None, &mut |_| true).unwrap();
    println!("count {:?} cpu {:.2}s", start.elapsed(), cpu());
    let chunks = counts.pop().unwrap();
    let pieces = counts.pop().unwrap();
    let chunk_bytes: usize = chunks.keys().map(<[u8]>::len).sum();
    println!(
        "pieces {} distinct, chunks {} distinct ({} bytes)",
        pieces.len(),
        chunks.len(),
        chunk_bytes
    );
    let mut phase = None;
    let mut mark = Instant::now();
    let filters = Filters {
        max_words: Some(4),
        reject_colon_space: true,
    };
    let stage1 = Stage1::Counts {
        counts: pieces,
        transition: t,
    };
    let trained_at = Instant::now();
    let out = train_superbpe(
        stage1,
        chunks,
        vocab,
        0,
        0,
        1,
        filters,
        None,
        &mut |p, _| {
            if phase != Some(p) {
                if let Some(old) = phase {
                    println!("{old:?} {:?}", mark.elapsed());
                }
                phase = Some(p);
                mark = Instant::now();
            }
            true
        },
    )
    .unwrap();
    println!(
        "{:?} ends at {:?}, cpu {:.2}s",
        phase.unwrap_or(Phase::Stage2),
        mark.elapsed(),
        cpu()
    );
    println!("merges {} (stage 1: {})", out.merges.len(), out.stage1_len);
    println!(
        "train_superbpe {:?} (after counting), total {:?}",
        trained_at.elapsed(),
        start.elapsed()
    );
}

/// CPU time of this process so far (all threads), in seconds: steadier than wall time on a
/// busy machine.
fn cpu() -> f64 {
    // utime + stime of the whole process, in clock ticks (100 per second).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}
