use super::cache::merged_key;
use super::merge::HEAP_THRESHOLD;
use super::*;

fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 33
}

/// A small random vocabulary over bytes a..d built by random merges.
fn random_vocab(seed: &mut u64) -> Vocab {
    let mut toks: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    for _ in 0..60 {
        // Concatenate two random tokens from the letters a..d and the tokens made so far.
        let mut pick = |toks: &Vec<Vec<u8>>| {
            let made = toks.len() - 256;
            let i = lcg(seed) as usize % (4 + made);
            if i < 4 {
                toks[97 + i].clone()
            } else {
                toks[256 + i - 4].clone()
            }
        };
        let (left, right) = (pick(&toks), pick(&toks));
        let t = [left, right].concat();
        if !toks.contains(&t) {
            toks.push(t);
        }
    }
    Vocab::from_ranks(
        toks.into_iter()
            .enumerate()
            .map(|(i, t)| (t, i as u32))
            .collect(),
    )
    .unwrap()
}

#[test]
fn empty_piece_encodes_to_nothing() {
    let v = random_vocab(&mut 3);
    let mut out = Vec::new();
    v.encode_piece(b"", &mut out);
    v.encode_piece(b"", &mut out);
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn pair_check_equals_merging_the_pair() {
    let mut seed = 11;
    let (mut decided, mut valid) = (0, 0);
    for _ in 0..30 {
        let v = random_vocab(&mut seed);
        let ids: Vec<u32> = (97..101).chain(256..v.id_bound() as u32).collect();
        for &l in &ids {
            for &r in &ids {
                let Some(ok) = v.is_valid_pair(l, r) else {
                    continue;
                };
                let joined = [v.token(l).unwrap(), v.token(r).unwrap()].concat();
                let mut out = Vec::new();
                v.encode_piece(&joined, &mut out);
                assert_eq!(ok, out == [l, r], "{l} {r} {out:?}");
                decided += 1;
                valid += ok as usize;
            }
        }
    }
    // Most pairs are decided, and both answers occur.
    assert!(
        decided > 30 * 2000 && valid > decided / 10 && valid < decided,
        "{decided} {valid}"
    );
}

#[test]
fn left_pairs_equal_the_pair_check() {
    let mut seed = 23;
    let (mut fixed, mut compared) = (0, 0);
    for _ in 0..30 {
        let v = random_vocab(&mut seed);
        let ids: Vec<u32> = (97..101).chain(256..v.id_bound() as u32).collect();
        for &l in &ids {
            let Some(lp) = v.left_pairs(l) else {
                continue;
            };
            fixed += 1;
            for &r in &ids {
                assert_eq!(lp.check(r), v.is_valid_pair(l, r), "{l} {r}");
                compared += 1;
            }
        }
    }
    assert!(
        fixed > 30 * 40 && compared > 30 * 2000,
        "{fixed} {compared}"
    );
}

#[test]
fn keys_pack_bytes_and_length() {
    let data: Vec<u8> = (1..=40).collect();
    for n in 0..=23 {
        let piece = &data[..n];
        let mut buf = [0u8; 24];
        buf[..n].copy_from_slice(piece);
        buf[23] = n as u8;
        let word = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().unwrap());
        assert_eq!(merged_key(piece), Some([word(0), word(8), word(16)]), "{n}");
        if n <= 7 {
            let mut short = [0u8; 8];
            short[..n].copy_from_slice(piece);
            short[7] = n as u8;
            assert_eq!(short_key(piece), Some(u64::from_le_bytes(short)));
        }
    }
    assert_eq!(short_key(&data[..8]), None);
    assert_eq!(merged_key(&data[..24]), None);
}

#[test]
fn heap_equals_linear() {
    let mut seed = 7u64;
    for _ in 0..200 {
        let v = random_vocab(&mut seed);
        let len = 1 + (lcg(&mut seed) % HEAP_THRESHOLD as u64) as usize;
        let piece: Vec<u8> = (0..len).map(|_| 97 + (lcg(&mut seed) % 4) as u8).collect();
        let init = |v: &Vocab| -> Vec<Sym> {
            piece
                .iter()
                .enumerate()
                .map(|(i, &b)| Sym {
                    id: v.byte_ids[b as usize],
                    start: i as u32,
                    end: i as u32 + 1,
                })
                .collect()
        };
        let (mut a, mut b) = (init(&v), init(&v));
        v.merge_linear(&mut a, NO_PAIR);
        v.merge_heap(&mut b, NO_PAIR);
        assert_eq!(a, b);
        let joined: Vec<u8> = a
            .iter()
            .flat_map(|s| v.token(s.id).unwrap().to_vec())
            .collect();
        assert_eq!(joined, piece);
    }
}

#[test]
fn tiktoken_rule_merges_any_split() {
    // "ab" (256), "bc" (257), "abc" (258): the split a+bc also reaches abc.
    let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
    toks.push((b"bc".to_vec(), 256));
    toks.push((b"abc".to_vec(), 257));
    let v = Vocab::from_ranks(toks).unwrap();
    let mut out = Vec::new();
    v.encode_piece(b"abcabc", &mut out);
    assert_eq!(out, vec![257, 257]);
    assert_eq!(
        v.merges(),
        &[(b'b' as u32, b'c' as u32), (b'a' as u32, 256)]
    );
}

#[test]
fn duplicate_tokens_are_rejected() {
    let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
    toks.push((b"a".to_vec(), 300));
    assert!(Vocab::from_ranks(toks)
        .err()
        .unwrap()
        .message
        .contains("twice"));
}

/// Ids that tables indexed by id cannot hold (past 2^31, or a sparse id space) are refused
/// before anything is allocated for them; gaps as large as real vocabularies have are fine.
#[test]
fn huge_or_sparse_ids_are_refused() {
    let bytes = || (0..=255u8).map(|b| (vec![b], b as u32)).collect::<Vec<_>>();
    for id in [u32::MAX - 1, 1 << 31, 50_000_000] {
        let mut toks = bytes();
        toks.push((b"ab".to_vec(), id));
        let err = Vocab::from_ranks(toks).err().expect("refused");
        assert_eq!(err.kind, crate::ErrorKind::Format);
        assert!(err.message.contains(&id.to_string()), "{}", err.message);
    }
    let mut toks = bytes();
    toks.push((b"ab".to_vec(), 100_000));
    assert!(Vocab::from_ranks(toks).is_ok());
}

/// A tiktoken special token whose id is an ordinary token's is refused (it would decode two
/// ways); one beside the vocabulary is fine.
#[test]
fn special_ids_do_not_collide_with_tokens() {
    use crate::encode::{AddedToken, PreTokenizer, Tokenizer};
    use crate::pretokenize::regex::Regex;
    let special = |id| AddedToken {
        content: "<|end|>".into(),
        id,
        special: true,
        normalized: false,
    };
    let make = |id| {
        let vocab = Vocab::from_ranks((0..=255u8).map(|b| (vec![b], b as u32)).collect()).unwrap();
        let pre = PreTokenizer::Regex(Regex::tiktoken(r"\S+|\s+").unwrap());
        Tokenizer::new("t", vocab, pre, vec![special(id)])
    };
    let err = make(97).err().expect("refused");
    assert!(
        err.message.contains("ordinary token \"a\""),
        "{}",
        err.message
    );
    assert!(make(256).is_ok());
    assert!(make(u32::MAX - 1).is_err());
}
