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

use crate::error::{Error, Result};
use crate::regex::Regex;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::Read;

/// Distinct pieces with their counts.
#[derive(Default, Clone, Debug)]
pub struct PieceCounts {
    pub counts: FxHashMap<Vec<u8>, u64>,
}

impl PieceCounts {
    pub fn add_text(&mut self, re: &Regex, text: &str) -> Result<()> {
        let bytes = text.as_bytes();
        re.for_each_match(text, |s, e| {
            let piece = &bytes[s..e];
            match self.counts.get_mut(piece) {
                Some(c) => *c += 1,
                None => {
                    self.counts.insert(piece.to_vec(), 1);
                }
            }
        })
    }

    pub fn merge(&mut self, other: PieceCounts) {
        if other.counts.len() > self.counts.len() {
            let small = std::mem::replace(&mut self.counts, other.counts);
            for (k, v) in small {
                *self.counts.entry(k).or_insert(0) += v;
            }
        } else {
            for (k, v) in other.counts {
                *self.counts.entry(k).or_insert(0) += v;
            }
        }
    }

    /// Counts units of text in parallel; each unit is pre-tokenized on its own.
    pub fn from_units(
        re: &Regex,
        units: &[String],
        num_threads: Option<usize>,
    ) -> Result<PieceCounts> {
        let chunk = units
            .len()
            .div_ceil(crate::pool::pool(num_threads).current_num_threads() * 4)
            .max(1);
        let parts: Vec<&[String]> = units.chunks(chunk).collect();
        let counted = crate::pool::try_map_ordered(&parts, num_threads, |part| {
            let mut c = PieceCounts::default();
            for u in part.iter() {
                c.add_text(re, u)?;
            }
            Ok(c)
        });
        let mut total = PieceCounts::default();
        for c in counted? {
            total.merge(c);
        }
        Ok(total)
    }
}

/// Reads files in 2 MB blocks that end at a line break and counts their lines (with line endings)
/// in parallel, never holding a whole file. Invalid UTF-8 becomes U+FFFD; a file with NUL
/// bytes is refused as binary. `progress(bytes_done)` returns false to stop.
pub fn count_files(
    re: &Regex,
    paths: &[String],
    num_threads: Option<usize>,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<PieceCounts> {
    const BLOCK: usize = 2 << 20;
    let threads = crate::pool::pool(num_threads).current_num_threads().max(1);
    let mut total = PieceCounts::default();
    let mut done = 0u64;
    for path in paths {
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
        let mut carry: Vec<u8> = Vec::new();
        let mut eof = false;
        while !eof {
            // Read up to `threads` blocks, each cut after its last newline.
            let mut blocks: Vec<String> = Vec::with_capacity(threads);
            while blocks.len() < threads && !eof {
                let mut buf = std::mem::take(&mut carry);
                let start = buf.len();
                buf.resize(start + BLOCK, 0);
                let mut filled = start;
                while filled < buf.len() {
                    let n = file
                        .read(&mut buf[filled..])
                        .map_err(|e| Error::io(path, &e))?;
                    if n == 0 {
                        eof = true;
                        break;
                    }
                    filled += n;
                }
                buf.truncate(filled);
                if !eof {
                    if let Some(nl) = buf.iter().rposition(|&b| b == b'\n') {
                        carry = buf.split_off(nl + 1);
                    }
                }
                if buf.contains(&0) {
                    return Err(Error::format(format!(
                        "{path}: looks like a binary file (contains NUL bytes)"
                    )));
                }
                done += buf.len() as u64;
                // Valid UTF-8 is taken as is (no copy); invalid sequences become U+FFFD.
                blocks.push(
                    String::from_utf8(buf)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                );
            }
            let counted = crate::pool::try_map_ordered(&blocks, num_threads, |block| {
                let mut c = PieceCounts::default();
                for line in block.split_inclusive('\n') {
                    c.add_text(re, line)?;
                }
                Ok(c)
            });
            for c in counted? {
                total.merge(c);
            }
            if !progress(done) {
                return Err(Error::interrupted());
            }
        }
    }
    Ok(total)
}

/// Byte order of the tie rule: bytes sorted by their byte-level character (GPT-2's alphabet).
fn byte_rank() -> [u32; 256] {
    let mut bytes: Vec<u8> = (0..=255).collect();
    bytes.sort_by_key(|&b| crate::bytelevel::encode(&[b]).chars().next().unwrap() as u32);
    let mut rank = [0u32; 256];
    for (r, &b) in bytes.iter().enumerate() {
        rank[b as usize] = r as u32;
    }
    rank
}

struct Entry {
    count: u64,
    pair: (u32, u32),
    pos: Vec<u32>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Highest count first, then the smallest pair.
        self.count
            .cmp(&other.count)
            .then_with(|| other.pair.cmp(&self.pair))
    }
}

#[inline]
fn key(pair: (u32, u32)) -> u64 {
    (pair.0 as u64) << 32 | pair.1 as u64
}

/// The training result: merges in order, as pairs of token bytes.
pub struct Trained {
    pub merges: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Learns merges from piece counts. `vocab_size` counts the 256 bytes, the distinct merged
/// tokens and `n_special` special tokens. `progress(merges_done)` returns false to stop.
pub fn train(
    counts: PieceCounts,
    vocab_size: usize,
    n_special: usize,
    min_frequency: u64,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<Trained> {
    if vocab_size < 256 + n_special {
        return Err(Error::value(format!(
            "vocab_size {vocab_size} is too small: the 256 byte tokens and {n_special} special tokens need {}",
            256 + n_special
        )));
    }
    let rank = byte_rank();
    // Internal ids: 0..256 in tie-rule byte order, then merged tokens in creation order.
    let mut token_bytes: Vec<Vec<u8>> = vec![Vec::new(); 256];
    for b in 0..256usize {
        token_bytes[rank[b] as usize] = vec![b as u8];
    }
    let mut token_ids: FxHashMap<Vec<u8>, u32> = token_bytes
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();

    // Pieces become words of internal ids; the count table is consumed as we go (the result
    // does not depend on the order of words).
    let mut words: Vec<Vec<u32>> = Vec::with_capacity(counts.counts.len());
    let mut weights: Vec<u64> = Vec::with_capacity(counts.counts.len());
    for (piece, count) in counts.counts {
        words.push(piece.iter().map(|&b| rank[b as usize]).collect());
        weights.push(count);
    }

    let mut pair_counts: FxHashMap<u64, i64> = FxHashMap::default();
    let mut where_to_update: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
    for (i, w) in words.iter().enumerate() {
        for win in w.windows(2) {
            let k = key((win[0], win[1]));
            *pair_counts.entry(k).or_insert(0) += weights[i] as i64;
            let pos = where_to_update.entry(k).or_default();
            if pos.last() != Some(&(i as u32)) {
                pos.push(i as u32);
            }
        }
    }
    let mut queue: BinaryHeap<Entry> = BinaryHeap::with_capacity(where_to_update.len());
    let push_updates = |where_to_update: &mut FxHashMap<u64, Vec<u32>>,
                        pair_counts: &FxHashMap<u64, i64>,
                        queue: &mut BinaryHeap<Entry>| {
        for (k, mut pos) in where_to_update.drain() {
            let count = pair_counts[&k];
            if count > 0 {
                pos.sort_unstable();
                pos.dedup();
                pos.shrink_to_fit();
                queue.push(Entry {
                    count: count as u64,
                    pair: ((k >> 32) as u32, k as u32),
                    pos,
                });
            }
        }
    };
    push_updates(&mut where_to_update, &pair_counts, &mut queue);

    let mut merges: Vec<(u32, u32)> = Vec::new();
    let mut changes: Vec<(u64, i64)> = Vec::new();
    while token_ids.len() + n_special < vocab_size {
        let Some(mut top) = queue.pop() else { break };
        let current = pair_counts[&key(top.pair)];
        if top.count as i64 != current {
            top.count = current.max(0) as u64;
            queue.push(top);
            continue;
        }
        if top.count < 1 || min_frequency > top.count {
            break;
        }
        let (a, b) = top.pair;
        let new_bytes = [
            token_bytes[a as usize].as_slice(),
            token_bytes[b as usize].as_slice(),
        ]
        .concat();
        let new_id = match token_ids.get(&new_bytes) {
            Some(&id) => id,
            None => {
                let id = token_bytes.len() as u32;
                token_bytes.push(new_bytes.clone());
                token_ids.insert(new_bytes, id);
                id
            }
        };
        merges.push((a, b));
        for &wi in &top.pos {
            changes.clear();
            merge_word(&mut words[wi as usize], a, b, new_id, &mut changes);
            let weight = weights[wi as usize] as i64;
            for &(k, change) in &changes {
                *pair_counts.entry(k).or_insert(0) += change * weight;
                if change > 0 {
                    where_to_update.entry(k).or_default().push(wi);
                }
            }
        }
        push_updates(&mut where_to_update, &pair_counts, &mut queue);
        if merges.len().is_multiple_of(64) && !progress(merges.len()) {
            return Err(Error::interrupted());
        }
    }
    progress(merges.len());
    let merges = merges
        .into_iter()
        .map(|(a, b)| {
            (
                token_bytes[a as usize].clone(),
                token_bytes[b as usize].clone(),
            )
        })
        .collect();
    Ok(Trained { merges })
}

/// Replaces every non-overlapping `(a, b)` in `word`, left to right, in one compacting pass,
/// recording the pair count changes around each replacement (the pair `(a, b)` itself is not
/// recorded, as in `tokenizers`).
fn merge_word(word: &mut Vec<u32>, a: u32, b: u32, new_id: u32, changes: &mut Vec<(u64, i64)>) {
    let n = word.len();
    let (mut read, mut write) = (0, 0);
    while read < n {
        if read + 1 < n && word[read] == a && word[read + 1] == b {
            if write > 0 {
                let before = word[write - 1];
                changes.push((key((before, a)), -1));
                changes.push((key((before, new_id)), 1));
            }
            if read + 2 < n {
                let after = word[read + 2];
                changes.push((key((b, after)), -1));
                changes.push((key((new_id, after)), 1));
            }
            word[write] = new_id;
            read += 2;
        } else {
            word[write] = word[read];
            read += 1;
        }
        write += 1;
    }
    word.truncate(write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_follow_counts_and_ties() {
        let mut counts = PieceCounts::default();
        counts.counts.insert(b"abab".to_vec(), 3);
        counts.counts.insert(b"cd".to_vec(), 6);
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

/// The `tokenizer.json` document of a trained vocabulary: bytes keep ids 0-255 (byte value),
/// merged tokens follow in order of creation, special tokens come last. The pattern is given
/// in tiktoken (PCRE) syntax and written in Oniguruma's.
pub fn document(
    merges: &[(Vec<u8>, Vec<u8>)],
    pattern: &str,
    special_tokens: &[String],
) -> serde_json::Value {
    use crate::bytelevel::encode;
    use serde_json::{json, Map, Value};
    let mut vocab = Map::new();
    for b in 0..=255u8 {
        vocab.insert(encode(&[b]), json!(b));
    }
    // A pair merged twice (see the module note) keeps its last rank, as in `tokenizers`.
    let mut last_rank: FxHashMap<(&[u8], &[u8]), usize> = FxHashMap::default();
    for (i, (a, b)) in merges.iter().enumerate() {
        last_rank.insert((a.as_slice(), b.as_slice()), i);
        let s = encode(&[a.as_slice(), b.as_slice()].concat());
        if !vocab.contains_key(&s) {
            let id = vocab.len();
            vocab.insert(s, json!(id));
        }
    }
    let merge_list: Vec<Value> = merges
        .iter()
        .enumerate()
        .filter(|(i, (a, b))| last_rank[&(a.as_slice(), b.as_slice())] == *i)
        .map(|(_, (a, b))| json!([encode(a), encode(b)]))
        .collect();
    let mut added = Vec::new();
    for t in special_tokens {
        // A special token spelled like a learned token shares that token's id (as in `tokenizers`).
        let id = vocab
            .get(t)
            .and_then(Value::as_u64)
            .unwrap_or(vocab.len() as u64) as u32;
        vocab.insert(t.clone(), json!(id));
        added.push(crate::AddedToken {
            content: t.clone(),
            id,
            special: true,
            normalized: false,
        });
    }
    crate::hf::byte_level_bpe_document(vocab, merge_list, &added, pattern, false)
}
