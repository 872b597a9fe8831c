use super::simd::{exp_nonpositive, row_max, scale_row};
use super::*;
use crate::pretokenize::regex::Regex;
use crate::vocab::Vocab;

/// The look-ahead example: merges "  ", "aa", " a", "   " under ` ?a+|\s+(?!\S)|\s+`.
fn lookahead_model() -> Arc<ByteModel> {
    let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
    for t in [&b"  "[..], b"aa", b" a", b"   "] {
        let id = toks.len() as u32;
        toks.push((t.to_vec(), id));
    }
    let vocab = Vocab::from_ranks(toks).unwrap();
    let pre = PreTokenizer::Regex(Regex::tiktoken(r" ?a+|\s+(?!\S)|\s+").unwrap());
    let tok = Tokenizer::new("t", vocab, pre, Vec::new()).unwrap();
    let probes = vec!["a".to_string(), " ".to_string()];
    Arc::new(ByteModel::new(Arc::new(tok), None, probes, 2).unwrap())
}

fn uniform(st: &mut ByteState) {
    let n = st.model.n_ids();
    for node in st.needed() {
        st.supply(node, vec![-(n as f64).ln(); n]).unwrap();
    }
}

/// A bundled tiktoken vocabulary with its pattern (no special tokens).
fn bundled(name: &str, pattern: &str) -> Arc<ByteModel> {
    let path = format!(
        "{}/../../python/toksmith/encodings/{name}.tiktoken.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let vocab = Vocab::from_ranks(crate::formats::tiktoken::read(&path, None).unwrap()).unwrap();
    let pre = PreTokenizer::Regex(Regex::tiktoken(pattern).unwrap());
    let tok = Tokenizer::new(name, vocab, pre, Vec::new()).unwrap();
    // `toksmith.bytelm.DEFAULT_PROBES`
    let probes = [
        " ", "\t", "\n", "a", "A", "0", ".", "'", "/", "s", "é", "中",
    ];
    let probes = probes.iter().map(|p| p.to_string()).collect();
    Arc::new(ByteModel::new(Arc::new(tok), None, probes, 1).unwrap())
}

/// The grouped cover search equals trying every token, on real and adversarial text cut at
/// every byte (also inside UTF-8 characters), for o200k_base and cl100k_base.
#[test]
fn grouped_covers_equal_exhaustive_on_real_vocabularies() {
    const O200K: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const CL100K: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
    let texts: [&[u8]; 14] = [
        b"The quick brown fox",
        b"def f(x):\n    return x",
        b"a   b\t\t c \n\n  d",
        b"x  ",
        b"1234567 89",
        b"don't he'll I'M we'Re",
        b"it'",
        b"it's'",
        b"a/b//c\r\n/",
        "naïve Ünïcödé 中文字 ſ 'ſ".as_bytes(),
        "x'\u{17f}t K\u{212a}".as_bytes(),
        b"!!?? ...--- ",
        "é中".as_bytes(),
        b"",
    ];
    for (name, pattern) in [("o200k_base", O200K), ("cl100k_base", CL100K)] {
        let model = bundled(name, pattern);
        let mut checked = 0;
        for t in texts {
            for end in 0..=t.len() {
                // From the text's start and from two bytes back (sometimes inside a
                // character, which no token sequence completes).
                for start in [0, end.saturating_sub(2)] {
                    if start > 0 && t.is_ascii() {
                        continue;
                    }
                    assert_same_covers(&model, &t[start..end], name);
                    checked += 1;
                }
            }
        }
        assert!(checked > 100);
    }
}

/// The grouped cover search finds exactly the covers that trying every token finds.
fn assert_same_covers(model: &ByteModel, text: &[u8], what: &str) {
    let grouped = model.covers_by_groups(text).unwrap();
    let exhaustive = model.covers_exhaustive(text).unwrap();
    assert!(
        grouped == exhaustive,
        "{what}: covers differ after {:?}:\n{grouped:?}\n{exhaustive:?}",
        String::from_utf8_lossy(text)
    );
}

/// A seeded generator of numbers below its argument (a linear congruential one).
fn random_below(mut seed: u64) -> impl FnMut(usize) -> usize {
    move |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    }
}

/// A model of `vocab` under a class-based `pattern`.
fn class_based_model(vocab: Vocab, pattern: &str, probes: &[&str], depth: usize) -> ByteModel {
    let pre = PreTokenizer::Regex(Regex::tiktoken(pattern).unwrap());
    assert!(matches!(&pre, PreTokenizer::Regex(re) if re.is_class_based()));
    let tok = Tokenizer::new("r", vocab, pre, Vec::new()).unwrap();
    let probes = probes.iter().map(|p| p.to_string()).collect();
    ByteModel::new(Arc::new(tok), None, probes, depth).unwrap()
}

/// Holds the grouped cover search equal to trying every token after every prefix of six
/// random texts of 1 to `most` characters of `alphabet`; returns how many it checked.
fn check_random_texts(
    model: &ByteModel,
    alphabet: &[&str],
    most: usize,
    next: &mut impl FnMut(usize) -> usize,
    what: &str,
) -> usize {
    let mut checked = 0;
    for _ in 0..6 {
        let text: String = (0..1 + next(most))
            .map(|_| alphabet[next(alphabet.len())])
            .collect();
        let t = text.as_bytes();
        for end in 0..=t.len() {
            assert_same_covers(model, &t[..end], what);
            checked += 1;
        }
    }
    checked
}

/// The grouped cover search equals trying every token on random small vocabularies over an
/// alphabet that holds what the known patterns tell apart (contraction letters, both cases,
/// `ſ` which case-folds to `s`, apostrophes, digits, spaces, newlines, `/`, 2- and 3-byte
/// characters), under the r50k, cl100k, o200k and Llama-3 patterns, at every byte of random
/// texts.
#[test]
fn grouped_covers_equal_exhaustive_on_random_vocabularies() {
    const PATTERNS: [&str; 4] = [
        r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s",
        r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ];
    const ALPHABET: [&str; 16] = [
        "a", "b", "s", "l", "e", "S", "A", "ſ", "'", " ", "\n", "1", "/", ".", "é", "中",
    ];
    let mut next = random_below(0x5eed_u64);
    let mut checked = 0;
    for round in 0..24 {
        let pattern = PATTERNS[round % PATTERNS.len()];
        // Merges of random pairs of the alphabet's bytes and earlier tokens, in rank order.
        let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        let mut pool: Vec<Vec<u8>> = ALPHABET.iter().map(|c| c.as_bytes().to_vec()).collect();
        while toks.len() < 256 + 120 {
            let t = [
                pool[next(pool.len())].clone(),
                pool[next(pool.len())].clone(),
            ]
            .concat();
            if t.len() <= 6 && !toks.iter().any(|(b, _)| *b == t) {
                let id = toks.len() as u32;
                toks.push((t.clone(), id));
                pool.push(t);
            }
        }
        let vocab = Vocab::from_ranks(toks).unwrap();
        let probes = [
            " ", "\t", "\n", "a", "A", "0", ".", "'", "/", "s", "é", "中", "ſ",
        ];
        let model = class_based_model(vocab, pattern, &probes, 1 + round % 2);
        checked += check_random_texts(&model, &ALPHABET, 8, &mut next, &format!("pattern {round}"));
    }
    assert!(checked > 500);
}

/// The same on random vocabularies in which every token is what merging its bytes makes
/// (built like BPE training: each new token joins two existing ones, multi-byte characters
/// first), where the grouped search tries only the empty continuation after tokens that do
/// not end with white space, an apostrophe or an upper-case letter
/// (`empty_continuation_suffices`); the alphabet mixes upper-case letters with `中`, which
/// o200k's word pieces treat as both cases.
#[test]
fn grouped_covers_equal_exhaustive_on_reachable_random_vocabularies() {
    const PATTERNS: [&str; 3] = [
        r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    ];
    const ALPHABET: [&str; 14] = [
        "a", "s", "l", "A", "V", "中", "é", "'", " ", "\n", "1", ".", "/", "\t",
    ];
    let mut next = random_below(0xbee5_u64);
    let (mut checked, mut vocabularies) = (0, 0);
    for round in 0..30 {
        let pattern = PATTERNS[round % PATTERNS.len()];
        let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        let add = |toks: &mut Vec<(Vec<u8>, u32)>, t: Vec<u8>| {
            if !toks.iter().any(|(b, _)| *b == t) {
                let id = toks.len() as u32;
                toks.push((t, id));
            }
        };
        // Multi-byte characters first, a byte at a time.
        for c in ALPHABET {
            for end in 2..=c.len() {
                add(&mut toks, c.as_bytes()[..end].to_vec());
            }
        }
        let mut pool: Vec<Vec<u8>> = ALPHABET.iter().map(|c| c.as_bytes().to_vec()).collect();
        // A word piece `中A` ends there only before a lower-case letter (o200k).
        for t in ["中A", " 中A"] {
            add(&mut toks, t.as_bytes().to_vec());
            pool.push(t.as_bytes().to_vec());
        }
        while toks.len() < 256 + 24 + 140 {
            let t = [
                pool[next(pool.len())].clone(),
                pool[next(pool.len())].clone(),
            ]
            .concat();
            if t.len() <= 8 && !pool.contains(&t) {
                add(&mut toks, t.clone());
                pool.push(t);
            }
        }
        // Tokens that merging would not make are dropped (until none is left).
        let vocab = loop {
            let vocab = Vocab::from_ranks(toks.clone()).unwrap();
            if vocab.all_tokens_reached() == Some(true) {
                break vocab;
            }
            toks.retain(|&(_, id)| vocab.is_reached(id) == Some(true));
        };
        if toks.len() < 256 + 24 + 60 {
            continue;
        }
        vocabularies += 1;
        let probes = [
            " ", "\t", "\n", "a", "A", "0", ".", "'", "/", "s", "é", "中",
        ];
        let model = class_based_model(vocab, pattern, &probes, 1);
        checked += check_random_texts(
            &model,
            &ALPHABET,
            7,
            &mut next,
            &format!("reachable {round}"),
        );
    }
    assert!(
        vocabularies >= 10,
        "only {vocabularies} vocabularies with every token reached"
    );
    assert!(checked > 300);
}

#[test]
fn exp_nonpositive_matches_exp() {
    let mut x = 0.0f64;
    while x > -720.0 {
        let (got, want) = (exp_nonpositive(x), x.exp());
        if x >= -708.0 {
            assert!(
                (got - want).abs() <= 1e-14 * want,
                "exp({x}) = {want}, got {got}"
            );
        } else {
            assert_eq!(got, 0.0);
        }
        x -= 0.013_7;
    }
    assert_eq!(exp_nonpositive(0.0), 1.0);
    assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
}

#[test]
fn row_passes_equal_the_plain_loops() {
    // Rows of every length up to 40 (remainders of the 8-wide loops), with -inf, values
    // below exp's range, and the largest value anywhere.
    let mut next = random_below(7);
    for len in 1..=40 {
        for _ in 0..20 {
            let row: Vec<f64> = (0..len)
                .map(|_| match next(10) {
                    0 => f64::NEG_INFINITY,
                    1 => -750.0 - next(100) as f64,
                    _ => -(next(100_000) as f64) / 997.0,
                })
                .collect();
            let (max, bad) = row_max(&row);
            let want = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            assert_eq!((max, bad), (want, false), "{row:?}");
            let mut scaled = Vec::new();
            let total = scale_row(&row, max, &mut scaled);
            let plain: Vec<f64> = row.iter().map(|&v| exp_nonpositive(v - max)).collect();
            assert_eq!(scaled, plain, "{row:?}");
            let sum: f64 = plain.iter().sum();
            assert!((total - sum).abs() <= 1e-12 * sum, "{total} {sum}");
        }
    }
    let mut row = vec![-1.0; 19];
    row[17] = f64::NAN;
    assert!(row_max(&row).1);
    row[17] = 1e-6;
    assert_eq!(row_max(&row), (1e-6, true));
}

#[test]
fn non_canonical_prefix_is_a_cover() {
    let model = lookahead_model();
    let st = ByteState::new(model, Vec::new(), b"  a").unwrap();
    // enc("  aa") = [" ", " ", "aa"]: the path [" ", " "] carries the candidate "aa".
    let paths: Vec<Vec<u32>> = st.groups.iter().map(|g| st.tokens(g.node)).collect();
    assert!(paths.contains(&vec![32, 32]), "{paths:?}");
}

#[test]
fn distributions_sum_to_one_and_bad_input_is_an_error() {
    let mut st = ByteState::new(lookahead_model(), Vec::new(), b"a ").unwrap();
    uniform(&mut st);
    let lp = st.next_logprobs().unwrap();
    let total: f64 = lp.iter().map(|v| v.exp()).sum();
    assert!((total - 1.0).abs() < 1e-12);
    assert!(st.supply(0, vec![0.0; 3]).is_err());
    assert!(st.push(0x80).is_err()); // a lone continuation byte
    assert!(ByteState::new(lookahead_model(), vec![1 << 30], b"a").is_err());
}
