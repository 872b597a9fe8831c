//! The models on tiny vocabularies, against hand-worked segmentations (the Python tests hold
//! them equal to `tokenizers` on trained ones).

use super::{CharBpe, StringIds, TextModel, Unigram, WordLevel, WordPiece};
use crate::vocab::Sym;

fn ids(tokens: &[&str]) -> StringIds {
    tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i as u32))
        .collect()
}

/// `(id, start, end)` of each token, and the surface-string indices.
fn run(model: &TextModel, piece: &str) -> (Vec<(u32, u32, u32)>, Vec<usize>) {
    let (mut out, mut surface) = (Vec::<Sym>::new(), Vec::new());
    model.encode(piece, &mut out, &mut surface).unwrap();
    (
        out.iter().map(|s| (s.id, s.start, s.end)).collect(),
        surface,
    )
}

#[test]
fn wordpiece_takes_the_longest_prefix_and_gives_up_whole() {
    let m = TextModel::WordPiece(WordPiece {
        ids: ids(&["[UNK]", "un", "##aff", "##able", "a", "##a"]),
        unk: Some(0),
        prefix: "##".into(),
        max_chars: 8,
    });
    assert_eq!(run(&m, "unaffable").0, vec![(0, 0, 9)]); // 9 characters > 8
    let m = match m {
        TextModel::WordPiece(w) => TextModel::WordPiece(WordPiece {
            max_chars: 100,
            ..w
        }),
        _ => unreachable!(),
    };
    assert_eq!(
        run(&m, "unaffable").0,
        vec![(1, 0, 2), (2, 2, 5), (3, 5, 9)]
    );
    assert_eq!(run(&m, "aaa").0, vec![(4, 0, 1), (5, 1, 2), (5, 2, 3)]);
    assert_eq!(run(&m, "unx").0, vec![(0, 0, 3)]);
    let no_unk = TextModel::WordLevel(WordLevel {
        ids: ids(&["a"]),
        unk: None,
    });
    let mut out = Vec::new();
    assert!(no_unk.encode("b", &mut out, &mut Vec::new()).is_err());
}

fn char_bpe(tokens: &[&str], merges: &[(&str, &str)]) -> CharBpe {
    let ids = ids(tokens);
    let merges = merges
        .iter()
        .enumerate()
        .map(|(rank, (a, b))| {
            let merged = ids[&format!("{a}{b}")];
            ((ids[*a], ids[*b]), (rank as u32, merged))
        })
        .collect();
    CharBpe {
        ids,
        merges,
        unk: None,
        fuse_unk: false,
        byte_tokens: None,
        prefix: None,
        suffix: None,
        whole_piece_first: false,
    }
}

#[test]
fn character_bpe_merges_by_rank_then_leftmost() {
    // ranks: "b c" first, then "a b" (blocked: b is taken), then "a bc".
    let m = char_bpe(
        &["a", "b", "c", "bc", "ab", "abc"],
        &[("b", "c"), ("a", "b"), ("a", "bc")],
    );
    assert_eq!(run(&TextModel::Bpe(m), "abc").0, vec![(5, 0, 3)]);
    let m = char_bpe(&["a", "aa"], &[("a", "a")]);
    assert_eq!(
        run(&TextModel::Bpe(m), "aaaaa").0,
        vec![(1, 0, 2), (1, 2, 4), (0, 4, 5)]
    );
}

#[test]
fn character_bpe_falls_back_to_bytes_then_to_fused_unknowns() {
    let mut tokens = vec!["<unk>", "a"];
    let bytes: Vec<String> = (0..=255u8).map(|b| format!("<0x{b:02X}>")).collect();
    tokens.extend(bytes.iter().map(String::as_str).filter(|t| *t != "<0x83>"));
    let mut m = char_bpe(&tokens, &[]);
    m.unk = Some(0);
    m.fuse_unk = true;
    // Without byte tokens: "☃☃" is one fused unknown.
    assert_eq!(
        run(&TextModel::Bpe(char_bpe_with_unk()), "a☃☃a").0,
        vec![(1, 0, 1), (0, 1, 7), (1, 7, 8)]
    );
    // With them: "é" (C3 A9) becomes two byte tokens of one byte each; "☃" (E2 98 83) lacks
    // <0x83>, so it is unknown.
    m.byte_tokens = Some(Box::new(std::array::from_fn(|b| {
        m.ids.get(format!("<0x{b:02X}>").as_str()).copied()
    })));
    let id = |t: &str| m.ids[t];
    let (c3, a9) = (id("<0xC3>"), id("<0xA9>"));
    let m = TextModel::Bpe(m);
    assert_eq!(run(&m, "é").0, vec![(c3, 0, 1), (a9, 1, 2)]);
    assert_eq!(run(&m, "☃a").0, vec![(0, 0, 3), (1, 3, 4)]);
}

fn char_bpe_with_unk() -> CharBpe {
    let mut m = char_bpe(&["<unk>", "a"], &[]);
    m.unk = Some(0);
    m.fuse_unk = true;
    m
}

fn unigram(vocab: &[(&str, f64)], unk: Option<u32>, byte_fallback: bool) -> TextModel {
    let scores: Vec<f64> = vocab.iter().map(|v| v.1).collect();
    TextModel::Unigram(Unigram {
        ids: ids(&vocab.iter().map(|v| v.0).collect::<Vec<_>>()),
        max_len: vocab.iter().map(|v| v.0.len()).max().unwrap(),
        min_score: scores.iter().copied().fold(f64::INFINITY, f64::min),
        scores,
        unk,
        byte_fallback,
    })
}

#[test]
fn unigram_takes_the_best_total_score_and_fuses_unknowns() {
    let m = unigram(
        &[
            ("<unk>", 0.0),
            ("a", -1.0),
            ("b", -1.0),
            ("ab", -3.0),
            ("abc", -1.5),
            ("c", -1.0),
        ],
        Some(0),
        false,
    );
    // "ab" alone (-3) loses to "a" + "b" (-2); "abc" (-1.5) beats "a" "b" "c" (-3).
    assert_eq!(run(&m, "ab").0, vec![(1, 0, 1), (2, 1, 2)]);
    assert_eq!(run(&m, "abc").0, vec![(4, 0, 3)]);
    // Unknown characters cost min - 10 each and fuse; their string is their text.
    assert_eq!(
        run(&m, "a☃☃b"),
        (vec![(1, 0, 1), (0, 1, 7), (2, 7, 8)], vec![1])
    );
    let no_unk = unigram(&[("a", -1.0)], None, false);
    assert!(no_unk
        .encode("b", &mut Vec::new(), &mut Vec::new())
        .is_err());
}

#[test]
fn unigram_byte_fallback_gives_each_byte_the_whole_span() {
    let mut vocab = vec![("<unk>", 0.0), ("a", -1.0)];
    let bytes: Vec<String> = (0..=255u8).map(|b| format!("<0x{b:02X}>")).collect();
    vocab.extend(bytes.iter().map(|b| (b.as_str(), -5.0)));
    let m = unigram(&vocab, Some(0), true);
    let byte = |b: u8| 2 + b as u32;
    assert_eq!(run(&m, "é").0, vec![(byte(0xC3), 0, 2), (byte(0xA9), 0, 2)]);
}
