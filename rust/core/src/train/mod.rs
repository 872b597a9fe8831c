//! Byte-level BPE training, with the merge rule of Hugging Face's `BpeTrainer`.
//!
//! 1. **Counting** (streaming, parallel): every unit of text (a line with its line ending, or an
//!    item of an iterator) is cut into pieces by the pre-tokenizer regex; distinct pieces are
//!    counted with 64-bit counts. Memory grows with the number of distinct pieces only.
//! 2. **Merging**: the rule of `tokenizers`' `BpeTrainer`, so the same counts, vocabulary size and
//!    `min_frequency` give the same merges in the same order:
//!    * pair counts are window counts (`a a a` holds `(a, a)` twice), weighted by piece counts;
//!    * the most frequent pair is merged; ties go to the smallest pair of ids, where ids order the
//!      256 bytes by their byte-level character (GPT-2's alphabet) and then merged tokens by
//!      creation;
//!    * a merge is applied to the pieces recorded with its queue entry; the merged pair's own count
//!      is not recounted, exactly as `BpeTrainer` does (this only matters when two different pairs
//!      make the same token string, and it is why the merge list may repeat a pair);
//!    * training stops at `vocab_size` (256 bytes + distinct merged tokens + special tokens), when
//!      no pair is left, or when the best count is below `min_frequency`.
//!
//! Files:
//! * [`words`]: words as token ids in one buffer, and merging one pair in many of them.
//! * [`queue`]: the queue's entries in tie-rule order, and the initial pair index.
//! * [`merger`]: [`Merger`], the merge loop itself (with exact pruning of rare pairs).
//! * [`tokenizer`]: a trained merge list made into a [`crate::Tokenizer`] (through the
//!   `tokenizer.json` it is saved as, so the two are the same tokenizer).
//! * [`superbpe`]: SuperBPE's two stages (stage-2 chunks, replaying stage 1, the filters).

mod merger;
mod queue;
pub mod superbpe;
pub mod tokenizer;
mod words;

pub use merger::Merger;
pub use tokenizer::{
    train_bpe_tokenizer, train_superbpe_tokenizer, SuperBpeSettings, SuperBpeStart,
    SuperBpeTokenizer, TrainedTokenizer,
};
pub use words::{byte_tokens, Words};

use crate::count::PieceTable;
use crate::{Error, Result};

/// The training result: merges in order, as pairs of token bytes.
pub struct Trained {
    pub merges: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Checks `vocab_size` against the 256 byte tokens and `n_special` special tokens.
pub fn check_vocab_size(vocab_size: usize, n_special: usize) -> Result<()> {
    if vocab_size < 256 + n_special {
        return Err(Error::value(format!(
            "vocab_size {vocab_size} is too small: the 256 byte tokens and {n_special} special tokens need {}",
            256 + n_special
        )));
    }
    Ok(())
}

/// Learns merges from piece counts. `vocab_size` counts the 256 bytes, the distinct merged
/// tokens and `n_special` special tokens. `progress(merges_done)` returns false to stop.
pub fn train(
    counts: PieceTable,
    vocab_size: usize,
    n_special: usize,
    min_frequency: u64,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Trained> {
    check_vocab_size(vocab_size, n_special)?;
    let mut merger = Merger::from_counts(counts);
    merger.run(vocab_size, n_special, min_frequency, &|_| true, progress)?;
    Ok(Trained {
        merges: merger.merge_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counting sort of a bucket equals a plain sort, on buckets of every size (windows made
    /// in word order, as the index makes them; few or many distinct second tokens).
    #[test]
    fn grouper_equals_sort() {
        let mut seed = 12345u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let mut grouper = Grouper::new(5000);
        for round in 0..200 {
            let len = next(3000) as usize;
            let distinct = [2, 40, 5000][round % 3];
            let mut word = 0u64;
            let mut bucket: Vec<u64> = (0..len)
                .map(|_| {
                    word += next(3);
                    next(distinct) << 32 | word
                })
                .collect();
            let mut expected = bucket.clone();
            expected.sort_unstable();
            grouper.sort(&mut bucket);
            assert_eq!(bucket, expected, "round {round}");
        }
    }

    #[test]
    fn merges_follow_counts_and_ties() {
        let mut counts = PieceTable::default();
        counts.add(b"abab", 3);
        counts.add(b"cd", 6);
        let t = train(counts.clone(), 259, 0, 1, &mut |_| true).unwrap();
        // (a,b) and (c,d) both count 6: (a,b) has the smaller ids. Then (c,d), then (ab,ab).
        assert_eq!(
            t.merges,
            vec![
                (b"a".to_vec(), b"b".to_vec()),
                (b"c".to_vec(), b"d".to_vec()),
                (b"ab".to_vec(), b"ab".to_vec())
            ]
        );
        assert!(train(counts, 100, 0, 1, &mut |_| true).is_err());
    }

    /// Random words over the bytes, skewed so that a few pairs are frequent and most are rare.
    fn skewed_words(n: usize, seed: u64) -> (Words, Vec<u64>) {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut words = Words::default();
        let mut weights = Vec::new();
        for _ in 0..n {
            let len = 2 + (next() % 7) as usize;
            words.push_with(|ids| {
                for _ in 0..len {
                    // min of two uniform draws: small ids are more frequent.
                    ids.push((next() % 200).min(next() % 200) as u32);
                }
            });
            weights.push(1 + next() % 5);
        }
        (words, weights)
    }

    fn merges_of(merger: &mut Merger, n_merges: usize) -> Vec<(u32, u32)> {
        let no_space = |t: &[u8]| !t.contains(&b' ');
        let made = merger.merges.len();
        merger
            .run(256 + made + n_merges, 0, 1, &no_space, &mut |_| true)
            .unwrap();
        merger.merges.clone()
    }

    #[test]
    fn pruning_rare_pairs_keeps_the_merges() {
        let (words, weights) = skewed_words(30_000, 7);
        for (planned, n_merges, starts_over) in [(150, 150, false), (20, 1500, true)] {
            let mut full =
                Merger::from_words(byte_tokens(), Vec::new(), words.clone(), weights.clone());
            let mut pruned = Merger::from_words_planned(
                byte_tokens(),
                Vec::new(),
                words.clone(),
                weights.clone(),
                planned,
            );
            assert!(pruned.pruning.is_some(), "enough rare pairs to prune");
            assert_eq!(
                merges_of(&mut pruned, n_merges),
                merges_of(&mut full, n_merges)
            );
            assert_eq!(pruned.pruning.is_none(), starts_over);
            assert_eq!(pruned.merge_bytes(), full.merge_bytes());
        }
    }

    /// A merge that makes a token again (here `ab`, which exists already while words still hold
    /// `a b`, as a replayed stage 1 can leave them) makes a pruned run start over: the pair
    /// `(c, ab)` was too rare to keep at first, and gains as much again from the merge.
    #[test]
    fn pruning_starts_over_when_a_token_is_made_again() {
        let (a, b, c, ab) = (200, 201, 202, 256); // ids that the skewed words do not use
        let build = |rare: u64, planned: Option<usize>| {
            let (mut words, mut weights) = skewed_words(30_000, 11);
            for _ in 0..50 {
                words.push_with(|ids| ids.extend([a, b, a, b]));
            }
            weights.extend(std::iter::repeat_n(1000, 50));
            words.push_with(|ids| ids.extend([c, ab]));
            weights.push(rare);
            words.push_with(|ids| ids.extend([c, a, b]));
            weights.push(rare);
            let mut tokens = byte_tokens();
            tokens.push([tokens[a as usize].clone(), tokens[b as usize].clone()].concat());
            let merges = vec![(a, b)];
            match planned {
                Some(n) => Merger::from_words_planned(tokens, merges, words, weights, n),
                None => Merger::from_words(tokens, merges, words, weights),
            }
        };
        let below = build(1, Some(100)).pruning.as_ref().expect("pruning").below;
        // Each half of (c, ab)'s count is below the threshold; together they are not.
        let rare = below - 1;
        let mut pruned = build(rare, Some(100));
        assert_eq!(pruned.pruning.as_ref().map(|p| p.below), Some(below));
        let mut full = build(rare, None);
        let merged = merges_of(&mut full, 400);
        assert_eq!(merged[1], (a, b), "the pair is merged again");
        assert!(
            merged.contains(&(c, ab)),
            "the pair that was too rare is merged"
        );
        assert_eq!(merges_of(&mut pruned, 400), merged);
        assert!(pruned.pruning.is_none(), "started over");
    }
}
