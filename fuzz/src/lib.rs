//! What the fuzz targets share: the bundled encodings (loaded once), the tiktoken patterns, and
//! a reference BPE (tiktoken's own `byte_pair_merge`, written plainly) that the engine's merge
//! is held equal to.

use std::collections::HashMap;
use std::sync::OnceLock;
use toksmith_core::encode::{AddedToken, PreTokenizer, Tokenizer};
use toksmith_core::pretokenize::regex::Regex;
use toksmith_core::Vocab;

/// tiktoken's cl100k_base pattern (as in python/toksmith/patterns.py).
pub const CL100K: &str = concat!(
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+",
    r"|\s++$|\s*[\r\n]|\s+(?!\S)|\s"
);

/// tiktoken's o200k_base pattern (as in python/toksmith/patterns.py).
pub const O200K: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}",
    r"| ?[^\s\p{L}\p{N}]+[\r\n/]*",
    r"|\s*[\r\n]+",
    r"|\s+(?!\S)",
    r"|\s+"
);

/// A bundled encoding: the tokenizer (fast pre-tokenizer), the reference regex (fancy-regex
/// only), and the ranks for the reference BPE.
pub struct Encoding {
    pub name: &'static str,
    pub tokenizer: Tokenizer,
    pub reference: Regex,
    pub ranks: HashMap<Vec<u8>, u32>,
    pub specials: Vec<(String, u32)>,
}

fn load(name: &'static str, pattern: &str, specials: &[(&str, u32)]) -> Encoding {
    let path = format!(
        "{}/../python/toksmith/encodings/{name}.tiktoken.gz",
        env!("CARGO_MANIFEST_DIR")
    );
    let tokens = toksmith_core::formats::tiktoken::read(&path, None)
        .unwrap_or_else(|e| panic!("loading {path}: {}", e.message));
    let ranks: HashMap<Vec<u8>, u32> = tokens.iter().cloned().collect();
    let vocab = Vocab::from_ranks(tokens).expect("bundled vocabulary");
    let regex = Regex::tiktoken(pattern).expect("bundled pattern");
    assert!(
        regex.is_fast(),
        "{name}: the pattern should take the fast path"
    );
    let added = specials
        .iter()
        .map(|&(content, id)| AddedToken {
            content: content.to_string(),
            id,
            special: true,
            normalized: false,
        })
        .collect();
    let tokenizer =
        Tokenizer::new(name, vocab, PreTokenizer::Regex(regex), added).expect("bundled tokenizer");
    Encoding {
        name,
        tokenizer,
        reference: Regex::tiktoken_reference(pattern).expect("bundled pattern"),
        ranks,
        specials: specials
            .iter()
            .map(|&(s, id)| (s.to_string(), id))
            .collect(),
    }
}

/// cl100k_base and o200k_base, loaded on first use.
pub fn encodings() -> &'static [Encoding] {
    static ENCODINGS: OnceLock<Vec<Encoding>> = OnceLock::new();
    ENCODINGS.get_or_init(|| {
        vec![
            load(
                "cl100k_base",
                CL100K,
                &[
                    ("<|endoftext|>", 100257),
                    ("<|fim_prefix|>", 100258),
                    ("<|fim_middle|>", 100259),
                    ("<|fim_suffix|>", 100260),
                    ("<|endofprompt|>", 100276),
                ],
            ),
            load(
                "o200k_base",
                O200K,
                &[("<|endoftext|>", 199999), ("<|endofprompt|>", 200018)],
            ),
        ]
    })
}

/// tiktoken's `byte_pair_encode`: the whole piece if it is a token, else its bytes merged by
/// lowest rank of the concatenation (leftmost among equals) until no neighbours make a token.
/// `None` if some byte of the piece has no token (the engine then drops it).
pub fn reference_bpe(ranks: &HashMap<Vec<u8>, u32>, piece: &[u8]) -> Option<Vec<u32>> {
    if let Some(&r) = ranks.get(piece) {
        return Some(vec![r]);
    }
    if piece.is_empty() {
        return Some(Vec::new());
    }
    // parts[i] = (start of part i, rank of merging part i with part i + 1).
    let rank_of = |s: usize, e: usize| ranks.get(&piece[s..e]).copied().unwrap_or(u32::MAX);
    let mut parts: Vec<(usize, u32)> = (0..piece.len())
        .map(|i| {
            let r = if i + 2 <= piece.len() {
                rank_of(i, i + 2)
            } else {
                u32::MAX
            };
            (i, r)
        })
        .collect();
    parts.push((piece.len(), u32::MAX));
    loop {
        let (mut min, mut at) = (u32::MAX, usize::MAX);
        for (i, &(_, r)) in parts[..parts.len() - 1].iter().enumerate() {
            if r < min {
                (min, at) = (r, i);
            }
        }
        if min == u32::MAX {
            break;
        }
        parts.remove(at + 1);
        let merged_rank = |parts: &Vec<(usize, u32)>, i: usize| {
            if i + 2 < parts.len() {
                rank_of(parts[i].0, parts[i + 2].0)
            } else {
                u32::MAX
            }
        };
        parts[at].1 = merged_rank(&parts, at);
        if at > 0 {
            parts[at - 1].1 = merged_rank(&parts, at - 1);
        }
    }
    parts
        .windows(2)
        .map(|w| ranks.get(&piece[w[0].0..w[1].0]).copied())
        .collect()
}

/// The engine's ids for `text` equal tiktoken's: pieces from the reference regex, each merged
/// by [`reference_bpe`] (pieces longer than `max_piece` bytes are left to the round trip).
pub fn check_against_reference(
    tok: &Tokenizer,
    reference: &Regex,
    ranks: &HashMap<Vec<u8>, u32>,
    text: &str,
    ids: &[u32],
    max_piece: usize,
) {
    let pieces = match reference.find_all(text) {
        Ok(p) => p,
        Err(_) => return, // backtrack limit: nothing to compare with
    };
    let mut expected = Vec::with_capacity(ids.len());
    for (s, e) in pieces {
        if e - s > max_piece {
            return;
        }
        match reference_bpe(ranks, &text.as_bytes()[s..e]) {
            Some(r) => expected.extend(r),
            None => return,
        }
    }
    assert_eq!(
        ids,
        &expected[..],
        "{}: engine ids differ from tiktoken's merge on {text:?}",
        tok.name
    );
}
