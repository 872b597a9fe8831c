//! Times ByteLM's cover discovery at every byte of a text, and checks the grouped path against
//! trying every token:
//! `cargo run --release --example bytelm_covers -- RANKS.tiktoken.gz PATTERN_FILE [TEXT] [--no-check]`.
//! With `--no-check` only the grouped path runs (short enough for `valgrind --tool=callgrind`);
//! with `--state` a `ByteState` is fed the text byte by byte instead, with a trivial LM (one
//! fixed row), and the time per byte is split into cover search, supplying rows, reading them.
use std::sync::Arc;
use std::time::Instant;
use toksmith_core::bytelm::{ByteModel, ByteState};
use toksmith_core::{formats::tiktoken, pretokenize::regex::Regex, PreTokenizer, Tokenizer, Vocab};

const PROBES: [&str; 12] = [
    " ", "\t", "\n", "a", "A", "0", ".", "'", "/", "s", "é", "中",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ranks = tiktoken::read(&args[1], None).unwrap();
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
        "first call (groups built): {:.1} ms; groups, largest: {:?}",
        t.elapsed().as_secs_f64() * 1e3,
        model.lex_group_stats()
    );
    let bytes = text.as_bytes();
    if args.iter().any(|a| a == "--state") {
        return state(model, bytes);
    }
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

/// Teacher forcing through a `ByteState` with a trivial LM, as `benches/bench_bytelm.py` does.
fn state(model: Arc<ByteModel>, bytes: &[u8]) {
    let n = model.n_ids();
    // A fixed normalised row (a deterministic pseudo-random one).
    let mut seed = 1u64;
    let mut row: Vec<f64> = (0..n)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 4.0
        })
        .collect();
    let lse = row.iter().map(|v| v.exp()).sum::<f64>().ln();
    row.iter_mut().for_each(|v| *v -= lse);
    let (prompt, rest) = bytes.split_at(8.min(bytes.len()));
    let t = Instant::now();
    let mut st = ByteState::new(model, vec![], prompt).unwrap();
    println!("prompt: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let (mut t_push, mut t_supply, mut t_read, mut rows, mut t_copy) = (0.0, 0.0, 0.0, 0, 0.0);
    let mut check = 0.0;
    for (k, &b) in rest.iter().enumerate() {
        let t = Instant::now();
        let needed = st.needed();
        let copies: Vec<Vec<f64>> = needed
            .iter()
            .map(|_| {
                let mut buf = st.row_buffer();
                buf.extend_from_slice(&row);
                buf
            })
            .collect();
        t_copy += t.elapsed().as_secs_f64();
        let t = Instant::now();
        for (node, copy) in needed.into_iter().zip(copies) {
            st.supply(node, copy).unwrap();
            rows += 1;
        }
        t_supply += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let lp = st.next_logprobs().unwrap();
        t_read += t.elapsed().as_secs_f64();
        check += lp[b as usize];
        if k + 1 == rest.len() {
            break;
        }
        let t = Instant::now();
        st.push(b).unwrap();
        t_push += t.elapsed().as_secs_f64();
    }
    let k = rest.len() as f64;
    println!(
        "{} bytes: per byte {:.0} µs push (cover search), {:.0} µs copying the row (the caller's part), {:.0} µs supply, {:.0} µs next_logprobs; {:.2} rows per byte; sum of log-probs {check:.12}",
        rest.len(),
        t_push / k * 1e6,
        t_copy / k * 1e6,
        t_supply / k * 1e6,
        t_read / k * 1e6,
        rows as f64 / k
    );
}
