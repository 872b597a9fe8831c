use super::*;
use crate::pretokenize::regex::Regex;
use crate::vocab::Vocab;
use crate::PreTokenizer;

/// Single bytes plus "he", "ll", "hell", "hello", split at whitespace (as tests/test_report.py).
fn tiny() -> Subject {
    let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
    for t in [&b"he"[..], b"ll", b"hell", b"hello"] {
        let id = toks.len() as u32;
        toks.push((t.to_vec(), id));
    }
    let vocab = Vocab::from_ranks(toks).unwrap();
    let pre = PreTokenizer::Regex(Regex::tiktoken(r"\S+|\s+").unwrap());
    let tok = Tokenizer::new("tiny", vocab, pre, Vec::new()).unwrap();
    Subject::new(Arc::new(tok), Flavour::Ordinary)
}

fn run(texts: &[&str], piece_chars: usize, group_chars: usize, threads: usize) -> Counters {
    let mut pass = Pass::new(vec![tiny()], piece_chars, group_chars, Some(threads)).unwrap();
    for t in texts {
        pass.feed(t, &|| false).unwrap();
    }
    pass.finish(&|| false).unwrap();
    pass.counters()[0].clone()
}

fn without_time(mut c: Counters) -> Counters {
    c.seconds = 0.0;
    c
}

#[test]
fn counters_worked_out_by_hand() {
    // hello | ' ' | hell | x | '\n': 5 tokens, 12 bytes, 2 words; "hello" kept whole
    let c = run(&["hello hellx\n"], 1 << 16, 1 << 22, 1);
    assert_eq!(
        (c.tokens, c.bytes, c.chars, c.words),
        (5, 12, 12, 2),
        "{c:?}"
    );
    assert_eq!(
        (c.aligned_bytes, c.aligned_tokens, c.aligned_words),
        (12, 5, 2)
    );
    assert_eq!(
        (c.word_tokens, c.words_whole, c.whole_word_tokens),
        (3, 1, 1)
    );
    assert_eq!(
        (c.counts[259], c.counts[258], c.counts[b' ' as usize]),
        (1, 1, 1)
    );
    assert_eq!(c.counts.iter().sum::<u64>(), 5);
}

#[test]
fn no_word_runs_across_texts_or_pieces() {
    let c = run(&["hello", "hell", "x"], 1 << 16, 1 << 22, 1);
    assert_eq!((c.tokens, c.words, c.words_whole), (3, 3, 3));
    // pieces of one line each: the words stop at each piece's end
    let c = run(&["ab\ncd\nef"], 1, 1 << 22, 1);
    assert_eq!((c.words, c.chars), (3, 8));
}

#[test]
fn small_pieces_groups_and_threads_give_the_same_sums() {
    let text: String = (0..300)
        .map(|i| format!("line {i}: hello hellx éé 日本 {}\n", i * 7919))
        .collect();
    let whole = without_time(run(&[&text], 1 << 16, 1 << 22, 1));
    for (piece, group, threads) in [(1 << 16, 1 << 22, 2), (40, 1000, 2), (40, 1, 1), (1, 50, 2)] {
        let c = without_time(run(&[&text], piece, group, threads));
        assert_eq!(c, whole, "piece {piece}, group {group}, threads {threads}");
    }
}

#[test]
fn a_stop_request_ends_the_pass_with_interrupted() {
    let text = "hello world\n".repeat(100);
    let mut pass = Pass::new(vec![tiny(), tiny()], 10, 100, Some(2)).unwrap();
    let err = pass.feed(&text, &|| true).unwrap_err();
    assert_eq!(err.kind, crate::ErrorKind::Interrupted);
    assert!(Pass::new(vec![tiny()], 0, 1, None).is_err());
}

#[test]
fn token_lengths_past_a_byte_are_exact() {
    let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
    toks.push((vec![b'a'; 300], 256));
    toks.push((vec![b'b'; 255], 257));
    let vocab = Vocab::from_ranks(toks).unwrap();
    let pre = PreTokenizer::Regex(Regex::tiktoken(r"\S+|\s+").unwrap());
    let tok = Tokenizer::new("long", vocab, pre, Vec::new()).unwrap();
    let s = Subject::new(Arc::new(tok), Flavour::Ordinary);
    assert_eq!(
        (s.length(256), s.length(257), s.length(97), s.length(9999)),
        (300, 255, 1, 0)
    );
}
