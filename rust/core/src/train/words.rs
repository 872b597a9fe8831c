//! Words as the merge loop sees them: distinct pieces (or SuperBPE chunks) as token ids, back
//! to back in one buffer, and the in-place merge of one pair in many words. Internal ids: the
//! 256 bytes in tie-rule order (`byte_tokens`), then merged tokens in creation order.

use crate::util::table::prefetch;

/// A pair of ids as one key: `left << 32 | right`.
#[inline]
pub fn key(pair: (u32, u32)) -> u64 {
    (pair.0 as u64) << 32 | pair.1 as u64
}

/// Byte order of the tie rule: bytes sorted by their byte-level character (GPT-2's alphabet).
pub(super) fn byte_rank() -> [u32; 256] {
    let mut bytes: Vec<u8> = (0..=255).collect();
    bytes.sort_by_key(|&b| {
        crate::pretokenize::bytelevel::encode(&[b])
            .chars()
            .next()
            .unwrap() as u32
    });
    let mut rank = [0u32; 256];
    for (r, &b) in bytes.iter().enumerate() {
        rank[b as usize] = r as u32;
    }
    rank
}

/// The 256 one-byte tokens by internal id (tie-rule order), where every merge list starts.
pub fn byte_tokens() -> Vec<Vec<u8>> {
    let rank = byte_rank();
    let mut token_bytes: Vec<Vec<u8>> = vec![Vec::new(); 256];
    for b in 0..256usize {
        token_bytes[rank[b] as usize] = vec![b as u8];
    }
    token_bytes
}

/// Words (distinct pieces or chunks as token ids) stored back to back in one buffer, so that
/// millions of words cost no allocation each: word `i` is `ids[start[i]..start[i] + len[i]]`.
/// Merging shortens a word in place.
#[derive(Default, Clone)]
pub struct Words {
    pub(super) ids: Vec<u32>,
    pub(super) start: Vec<usize>,
    pub(super) len: Vec<u32>,
}

impl Words {
    /// Appends a word that `fill` writes to the end of the buffer.
    pub fn push_with(&mut self, fill: impl FnOnce(&mut Vec<u32>)) {
        let start = self.ids.len();
        fill(&mut self.ids);
        self.start.push(start);
        self.len.push((self.ids.len() - start) as u32);
    }

    /// Words `i` at `ids[start[i]..start[i] + len[i]]`.
    pub fn from_parts(ids: Vec<u32>, start: Vec<usize>, len: Vec<u32>) -> Words {
        assert_eq!(start.len(), len.len(), "one start and one length per word");
        assert!(
            start
                .iter()
                .zip(&len)
                .all(|(&s, &n)| s + n as usize <= ids.len()),
            "words inside the ids"
        );
        Words { ids, start, len }
    }

    /// Appends all of `other`'s words.
    pub fn append(&mut self, other: &Words) {
        let shift = self.ids.len();
        self.ids.extend_from_slice(&other.ids);
        self.start.extend(other.start.iter().map(|s| s + shift));
        self.len.extend_from_slice(&other.len);
    }

    pub fn len(&self) -> usize {
        self.start.len()
    }

    pub fn is_empty(&self) -> bool {
        self.start.is_empty()
    }

    /// Word `i`.
    pub fn get(&self, i: usize) -> &[u32] {
        &self.ids[self.start[i]..self.start[i] + self.len[i] as usize]
    }

    /// Merges every `(a, b)` of word `i` into `new_id` in place, as the merge loop does, calling
    /// `change(pair key, +1 or -1)` for each pair count change around a replacement.
    pub fn merge_one(
        &mut self,
        i: usize,
        (a, b, new_id): (u32, u32, u32),
        change: impl FnMut(u64, i64),
    ) {
        let (s, n) = (self.start[i], self.len[i] as usize);
        self.len[i] = merge_word(&mut self.ids[s..s + n], a, b, new_id, change);
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u32]> {
        self.start
            .iter()
            .zip(&self.len)
            .map(|(&s, &n)| &self.ids[s..s + n as usize])
    }
}

/// Merges `(a, b)` into `new_id` in the words `pos` (sorted ids), appending each pair count
/// change as (word, pair, change) in word order. `ids` and `len` start at word `first` (`start`
/// is whole). Many words are split between threads (their cache misses are most of the work);
/// the changes come out in the same order either way, so they are applied exactly as on one
/// thread.
pub(super) fn merge_words(
    ids: &mut [u32],
    start: &[usize],
    len: &mut [u32],
    first: usize,
    pos: &[u32],
    (a, b, new_id): (u32, u32, u32),
    changes: &mut Vec<(u32, u64, i64)>,
) {
    const PARALLEL_MIN: usize = 1 << 11;
    let Some(&base) = start.get(first) else {
        return; // no words, so no positions
    };
    if pos.len() < PARALLEL_MIN {
        // The words are scattered: fetch the next ones' bounds and ids ahead of use (the loop is
        // otherwise bound by cache misses).
        const AHEAD: usize = 8;
        for (i, &wi) in pos.iter().enumerate() {
            if let Some(&w) = pos.get(i + 2 * AHEAD) {
                prefetch(&start[w as usize]);
                prefetch(&len[w as usize - first]);
            }
            if let Some(&w) = pos.get(i + AHEAD) {
                if let Some(id) = ids.get(start[w as usize] - base) {
                    prefetch(id);
                }
            }
            let (s, n) = (start[wi as usize] - base, &mut len[wi as usize - first]);
            *n = merge_word(&mut ids[s..s + *n as usize], a, b, new_id, |k, change| {
                changes.push((wi, k, change))
            });
        }
        return;
    }
    let (left, right) = pos.split_at(pos.len() / 2);
    let mid = right[0] as usize;
    let (ids_low, ids_high) = ids.split_at_mut(start[mid] - base);
    let (len_low, len_high) = len.split_at_mut(mid - first);
    let mut right_changes = Vec::new();
    crate::util::pool::pool(None).install(|| {
        rayon::join(
            || {
                merge_words(
                    ids_low,
                    start,
                    len_low,
                    first,
                    left,
                    (a, b, new_id),
                    changes,
                )
            },
            || {
                let (ids, len) = (ids_high, len_high);
                merge_words(
                    ids,
                    start,
                    len,
                    mid,
                    right,
                    (a, b, new_id),
                    &mut right_changes,
                )
            },
        )
    });
    changes.extend_from_slice(&right_changes);
}

/// Replaces every non-overlapping `(a, b)` in `word`, left to right, in one compacting pass,
/// recording the pair count changes around each replacement (the pair `(a, b)` itself is not
/// recorded, as in `tokenizers`). Returns the new length.
pub(super) fn merge_word(
    word: &mut [u32],
    a: u32,
    b: u32,
    new_id: u32,
    mut change: impl FnMut(u64, i64),
) -> u32 {
    let n = word.len();
    let (mut read, mut write) = (0, 0);
    while read < n {
        if read + 1 < n && word[read] == a && word[read + 1] == b {
            if write > 0 {
                let before = word[write - 1];
                change(key((before, a)), -1);
                change(key((before, new_id)), 1);
            }
            if read + 2 < n {
                let after = word[read + 2];
                change(key((b, after)), -1);
                change(key((new_id, after)), 1);
            }
            word[write] = new_id;
            read += 2;
        } else {
            word[write] = word[read];
            read += 1;
        }
        write += 1;
    }
    write as u32
}
