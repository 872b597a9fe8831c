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
pub use words::{byte_tokens, key as pair_key, Words};

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
}
