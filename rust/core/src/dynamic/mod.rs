//! Batch dynamic merging (Feher, Vulić, Minixhofer 2024): BPE-style merging over a batch of
//! already tokenized sequences, to shorten them on the fly.
//!
//! Rule: repeatedly take the adjacent pair of tokens that occurs most often in the whole batch
//! (overlapping occurrences count: `a a a` holds `(a, a)` twice; ties go to the pair whose first
//! occurrence is earliest, by sequence then position), and replace it left to right,
//! non-overlapping, in every sequence. Pairs never straddle a word boundary and never involve a
//! special token. Tokens are identified by their bytes.
//!
//! Cost: O(N log N) overall. Tokens live in one flat array with links; each pair keeps the
//! ordered set of its occurrences; a max-heap of (count, earliest occurrence) is validated
//! lazily (entries are re-pushed whenever a pair gains an occurrence).

use crate::{Error, Result};
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

const NONE: u32 = u32::MAX;

/// One input sequence: token bytes ids (into `DynamicInput::tokens`), with word ids and
/// special flags per token.
pub struct Sequence {
    pub tokens: Vec<u32>,
    pub words: Vec<u32>,
    pub special: Vec<bool>,
}

/// When to stop merging.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stop {
    pub max_merges: Option<usize>,
    pub target_length: Option<usize>,
    /// Stop once the total length is at most `ceil(initial * (1 - r))`.
    pub target_reduction: Option<f64>,
}

/// A merge of the log: `left + right -> merged` (indices into `vocab`), seen `count` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Merge {
    pub left: u32,
    pub right: u32,
    pub merged: u32,
    pub count: u64,
}

pub struct DynamicResult {
    /// Distinct token bytes: the base tokens of the input first, then each new merged token.
    pub vocab: Vec<Vec<u8>>,
    /// Per sequence: `(vocab index, first base token, end base token)`.
    pub sequences: Vec<Vec<(u32, u32, u32)>>,
    pub log: Vec<Merge>,
    /// Total batch length before any merge and after each merge of the log.
    pub lengths: Vec<usize>,
    /// How each merged token instance was made, for replaying fewer merges per sequence.
    history: History,
    /// Per sequence: its first flat position and its final token instances.
    finals: Vec<(u32, Vec<u32>)>,
}

/// Token instances: the N base tokens, then one per replacement, made of two older instances.
struct History {
    tok: Vec<u32>,
    /// `(log index, left instance, right instance)` of merged instances (index - N).
    made: Vec<(u32, u32, u32)>,
    base: usize,
    end: Vec<u32>,
}

impl DynamicResult {
    /// The sequences as they stand after only the first `budgets[s]` merges of the log
    /// (each sequence its own budget): the log is a prefix-closed list, so this replays exactly.
    pub fn replay(&self, budgets: &[usize]) -> Result<Vec<Vec<(u32, u32, u32)>>> {
        if budgets.len() != self.finals.len() {
            return Err(Error::value(format!(
                "{} budgets for {} sequences",
                budgets.len(),
                self.finals.len()
            )));
        }
        let h = &self.history;
        let mut out = Vec::with_capacity(budgets.len());
        for ((start, finals), &budget) in self.finals.iter().zip(budgets) {
            let mut seq = Vec::with_capacity(finals.len());
            let mut stack: Vec<u32> = Vec::new();
            for &f in finals {
                stack.push(f);
                while let Some(i) = stack.pop() {
                    let i = i as usize;
                    if i >= h.base {
                        let (step, left, right) = h.made[i - h.base];
                        if step as usize >= budget {
                            // Made by a merge beyond this sequence's budget: undo it.
                            stack.extend([right, left]);
                            continue;
                        }
                    }
                    seq.push((
                        h.tok[i],
                        leftmost_base(h, i as u32) - start,
                        h.end[i] - start,
                    ));
                }
            }
            out.push(seq);
        }
        Ok(out)
    }
}

fn leftmost_base(h: &History, mut i: u32) -> u32 {
    while (i as usize) >= h.base {
        i = h.made[i as usize - h.base].1;
    }
    i
}

struct Pair {
    occurrences: BTreeSet<u32>,
}

struct State {
    tok: Vec<u32>,
    next: Vec<u32>,
    prev: Vec<u32>,
    end: Vec<u32>,
    word: Vec<u32>,
    special: Vec<bool>,
    pairs: FxHashMap<u64, Pair>,
    heap: BinaryHeap<(usize, Reverse<u32>, u64)>,
}

#[inline]
fn key(a: u32, b: u32) -> u64 {
    (a as u64) << 32 | b as u64
}

impl State {
    fn eligible(&self, p: u32, q: u32) -> bool {
        q != NONE
            && !self.special[p as usize]
            && !self.special[q as usize]
            && self.word[p as usize] == self.word[q as usize]
    }

    fn add(&mut self, p: u32, touched: &mut Vec<u64>) {
        let q = self.next[p as usize];
        if self.eligible(p, q) {
            let k = key(self.tok[p as usize], self.tok[q as usize]);
            self.pairs
                .entry(k)
                .or_insert_with(|| Pair {
                    occurrences: BTreeSet::new(),
                })
                .occurrences
                .insert(p);
            touched.push(k);
        }
    }

    fn remove(&mut self, p: u32) {
        let q = self.next[p as usize];
        if self.eligible(p, q) {
            let k = key(self.tok[p as usize], self.tok[q as usize]);
            if let Some(pair) = self.pairs.get_mut(&k) {
                pair.occurrences.remove(&p);
            }
        }
    }

    fn push(&mut self, k: u64) {
        if let Some(pair) = self.pairs.get(&k) {
            if let Some(&first) = pair.occurrences.first() {
                self.heap.push((pair.occurrences.len(), Reverse(first), k));
            }
        }
    }

    /// The best pair, validated: stale heap entries are re-pushed with their current priority.
    fn pop_best(&mut self) -> Option<(u64, usize)> {
        while let Some((count, Reverse(first), k)) = self.heap.pop() {
            let Some(pair) = self.pairs.get(&k) else {
                continue;
            };
            match pair.occurrences.first() {
                None => {
                    self.pairs.remove(&k);
                }
                Some(&f) if f == first && pair.occurrences.len() == count => {
                    return Some((k, count))
                }
                Some(_) => self.push(k),
            }
        }
        None
    }
}

/// Merges a batch. `token_bytes(i)` gives the bytes of input token id `i`.
pub fn merge_batch<'a>(
    token_bytes: &dyn Fn(u32) -> Option<&'a [u8]>,
    batch: &[Sequence],
    stop: Stop,
    cancelled: &dyn Fn() -> bool,
) -> Result<DynamicResult> {
    if batch.is_empty() {
        return Err(Error::value("the batch is empty"));
    }
    if let Some(s) = batch.iter().position(|s| s.tokens.is_empty()) {
        return Err(Error::value(format!("sequence {s} is empty")));
    }
    if stop
        .target_reduction
        .is_some_and(|r| !(0.0..1.0).contains(&r))
    {
        return Err(Error::value("target_reduction must be in [0, 1)"));
    }
    let total: usize = batch.iter().map(|s| s.tokens.len()).sum();
    let target = match (stop.target_length, stop.target_reduction) {
        (Some(t), Some(r)) => Some(t.max((total as f64 * (1.0 - r)).ceil() as usize)),
        (t, r) => t.or_else(|| r.map(|r| (total as f64 * (1.0 - r)).ceil() as usize)),
    };
    if total >= NONE as usize {
        return Err(Error::value("batch too large: more than 2^32 - 1 tokens"));
    }
    // Batch vocabulary: input tokens in order of first appearance.
    let mut vocab: Vec<Vec<u8>> = Vec::new();
    let mut index: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
    let mut local: FxHashMap<u32, u32> = FxHashMap::default();
    let mut st = State {
        tok: Vec::with_capacity(total),
        next: Vec::with_capacity(total),
        prev: Vec::with_capacity(total),
        end: Vec::with_capacity(total),
        word: Vec::with_capacity(total),
        special: Vec::with_capacity(total),
        pairs: FxHashMap::default(),
        heap: BinaryHeap::new(),
    };
    let mut starts = Vec::with_capacity(batch.len());
    let mut word_base = 0u32;
    for (s, seq) in batch.iter().enumerate() {
        let n = seq.tokens.len();
        if seq.words.len() != n || seq.special.len() != n {
            return Err(Error::value(format!(
                "sequence {s}: {n} tokens but {} word ids and {} special flags",
                seq.words.len(),
                seq.special.len()
            )));
        }
        let start = st.tok.len() as u32;
        starts.push(start);
        let mut max_word = 0u32;
        for (i, &t) in seq.tokens.iter().enumerate() {
            let bytes = token_bytes(t).ok_or_else(|| {
                Error::value(format!(
                    "sequence {s}, position {i}: token id {t} is out of range"
                ))
            })?;
            let id = *local.entry(t).or_insert_with(|| match index.get(bytes) {
                Some(&id) => id,
                None => {
                    vocab.push(bytes.to_vec());
                    index.insert(bytes.to_vec(), vocab.len() as u32 - 1);
                    vocab.len() as u32 - 1
                }
            });
            let p = start + i as u32;
            st.tok.push(id);
            st.prev.push(if i == 0 { NONE } else { p - 1 });
            st.next.push(if i + 1 == n { NONE } else { p + 1 });
            st.end.push(p + 1);
            if i > 0 && seq.words[i] < seq.words[i - 1] {
                return Err(Error::value(format!(
                    "sequence {s}: word ids must not decrease (position {i})"
                )));
            }
            max_word = max_word.max(seq.words[i]);
            st.word.push(word_base + seq.words[i]);
            st.special.push(seq.special[i]);
        }
        word_base = word_base.saturating_add(max_word).saturating_add(1);
    }
    // Initial count, in parallel: every eligible adjacent pair with its position, sorted by
    // pair then position, so each pair's ordered occurrence set is built from one sorted run.
    let occurrences: Vec<(u64, u32)> = crate::util::pool::pool(None).install(|| {
        use rayon::prelude::*;
        let st = &st;
        let mut found: Vec<(u64, u32)> = (0..total as u32)
            .into_par_iter()
            .with_min_len(4096)
            .filter_map(|p| {
                let q = st.next[p as usize];
                st.eligible(p, q)
                    .then(|| (key(st.tok[p as usize], st.tok[q as usize]), p))
            })
            .collect();
        found.par_sort_unstable();
        found
    });
    for run in occurrences.chunk_by(|a, b| a.0 == b.0) {
        let positions: BTreeSet<u32> = run.iter().map(|&(_, p)| p).collect();
        st.pairs.insert(
            run[0].0,
            Pair {
                occurrences: positions,
            },
        );
        st.push(run[0].0);
    }
    drop(occurrences);
    let mut touched = Vec::new();

    let mut history = History {
        tok: st.tok.clone(),
        made: Vec::new(),
        base: total,
        end: st.end.clone(),
    };
    let mut instance: Vec<u32> = (0..total as u32).collect();
    let mut log = Vec::new();
    let mut lengths = vec![total];
    let mut length = total;
    loop {
        if stop.max_merges.is_some_and(|m| log.len() >= m) || target.is_some_and(|t| length <= t) {
            break;
        }
        if log.len().is_multiple_of(256) && cancelled() {
            return Err(Error::interrupted());
        }
        let Some((k, count)) = st.pop_best() else {
            break;
        };
        let (left, right) = ((k >> 32) as u32, k as u32);
        let bytes = [
            vocab[left as usize].as_slice(),
            vocab[right as usize].as_slice(),
        ]
        .concat();
        let merged = match index.get(&bytes) {
            Some(&id) => id,
            None => {
                vocab.push(bytes.clone());
                index.insert(bytes, vocab.len() as u32 - 1);
                vocab.len() as u32 - 1
            }
        };
        let positions = st
            .pairs
            .remove(&k)
            .map(|p| p.occurrences)
            .unwrap_or_default();
        touched.clear();
        let mut done = 0;
        for p in positions {
            let q = st.next[p as usize];
            // An occurrence overlapped by the previous replacement is gone.
            if q == NONE || st.tok[p as usize] != left || st.tok[q as usize] != right {
                continue;
            }
            let before = st.prev[p as usize];
            if before != NONE {
                st.remove(before);
            }
            st.remove(q);
            let after = st.next[q as usize];
            st.tok[p as usize] = merged;
            st.next[p as usize] = after;
            st.end[p as usize] = st.end[q as usize];
            if after != NONE {
                st.prev[after as usize] = p;
            }
            history
                .made
                .push((log.len() as u32, instance[p as usize], instance[q as usize]));
            history.tok.push(merged);
            history.end.push(st.end[p as usize]);
            instance[p as usize] = (history.tok.len() - 1) as u32;
            st.prev[q as usize] = NONE;
            st.next[q as usize] = NONE;
            if before != NONE {
                st.add(before, &mut touched);
            }
            st.add(p, &mut touched);
            done += 1;
        }
        touched.sort_unstable();
        touched.dedup();
        for &t in &touched {
            st.push(t);
        }
        length -= done;
        log.push(Merge {
            left,
            right,
            merged,
            count: count as u64,
        });
        lengths.push(length);
    }

    let mut sequences = Vec::with_capacity(batch.len());
    let mut finals = Vec::with_capacity(batch.len());
    for &start in &starts {
        let (mut out, mut inst) = (Vec::new(), Vec::new());
        let mut p = start;
        while p != NONE {
            out.push((st.tok[p as usize], p - start, st.end[p as usize] - start));
            inst.push(instance[p as usize]);
            p = st.next[p as usize];
        }
        sequences.push(out);
        finals.push((start, inst));
    }
    Ok(DynamicResult {
        vocab,
        sequences,
        log,
        lengths,
        history,
        finals,
    })
}

/// Where merges may not cross.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundaries {
    /// The tokenizer's pre-tokens.
    PreTokens,
    /// Whitespace-delimited words (see `whitespace_words`).
    Words,
}

/// Merged tokens are their parts' bytes side by side: a model over token strings (`##` pieces,
/// `<0xNN>` bytes) has no such bytes.
fn byte_level_only(tok: &crate::Tokenizer) -> Result<()> {
    match tok.text_model() {
        Some(m) => Err(Error::unsupported(format!(
            "dynamic merging needs a byte-level BPE tokenizer; this tokenizer's model is {}",
            m.name()
        ))),
        None => Ok(()),
    }
}

/// The input sequences of a batch of texts, tokenized by `tok` (special tokens recognised).
pub fn sequences_from_texts(
    tok: &crate::Tokenizer,
    texts: &[String],
    boundaries: Boundaries,
) -> Result<Vec<Sequence>> {
    byte_level_only(tok)?;
    crate::util::pool::try_map_ordered(texts, None, |text| {
        let encoded = tok.encode_with_pieces(text)?;
        let tokens: Vec<u32> = encoded.iter().map(|t| t.0).collect();
        let special: Vec<bool> = encoded.iter().map(|t| t.2).collect();
        let words = match boundaries {
            Boundaries::PreTokens => encoded.iter().map(|t| t.1).collect(),
            Boundaries::Words => word_ids(tok, &tokens, &special)?,
        };
        Ok(Sequence {
            tokens,
            words,
            special,
        })
    })
}

/// Input sequences from ids, with word ids given or derived from whitespace.
pub fn sequences_from_ids(
    tok: &crate::Tokenizer,
    ids: Vec<Vec<u32>>,
    words: Option<Vec<Vec<u32>>>,
) -> Result<Vec<Sequence>> {
    byte_level_only(tok)?;
    if let Some(w) = &words {
        if w.len() != ids.len() {
            return Err(Error::value(format!(
                "{} sequences but {} word-id lists",
                ids.len(),
                w.len()
            )));
        }
    }
    let mut given = words.map(|w| w.into_iter());
    ids.into_iter()
        .map(|tokens| {
            let special: Vec<bool> = tokens
                .iter()
                .map(|&t| tok.added_by_id(t).is_some())
                .collect();
            let words = match given.as_mut().and_then(Iterator::next) {
                Some(w) => w,
                None => word_ids(tok, &tokens, &special)?,
            };
            Ok(Sequence {
                tokens,
                words,
                special,
            })
        })
        .collect()
}

fn word_ids(tok: &crate::Tokenizer, tokens: &[u32], special: &[bool]) -> Result<Vec<u32>> {
    let bytes: Vec<&[u8]> = tokens
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            tok.token_bytes(t)
                .ok_or_else(|| Error::value(format!("position {i}: token id {t} is out of range")))
        })
        .collect::<Result<_>>()?;
    Ok(whitespace_words(&bytes, special))
}

/// Word ids for `boundaries="words"`: a word starts at a special token, after one, at a token
/// that starts with ASCII whitespace, and after a token that ends with it.
pub fn whitespace_words(tokens: &[&[u8]], special: &[bool]) -> Vec<u32> {
    let mut words = Vec::with_capacity(tokens.len());
    let mut word = 0u32;
    for i in 0..tokens.len() {
        if i > 0 {
            let starts = tokens[i].first().is_some_and(u8::is_ascii_whitespace);
            let after = tokens[i - 1].last().is_some_and(u8::is_ascii_whitespace);
            if starts || after || special[i] || special[i - 1] {
                word += 1;
            }
        }
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seqs: &[&[u32]], stop: Stop) -> DynamicResult {
        let tokens: Vec<Vec<u8>> = vec![b"a".to_vec(), b"b".to_vec(), b" ".to_vec()];
        let batch: Vec<Sequence> = seqs
            .iter()
            .map(|s| {
                let toks: Vec<&[u8]> = s.iter().map(|&t| tokens[t as usize].as_slice()).collect();
                let special = vec![false; s.len()];
                Sequence {
                    tokens: s.to_vec(),
                    words: whitespace_words(&toks, &special),
                    special,
                }
            })
            .collect();
        merge_batch(
            &|t| tokens.get(t as usize).map(Vec::as_slice),
            &batch,
            stop,
            &|| false,
        )
        .unwrap()
    }

    #[test]
    fn overlapping_pairs_count_and_merge_left_to_right() {
        let r = run(&[&[0, 0, 0], &[0, 1, 2, 0, 1]], Stop::default());
        // (a, a) occurs twice (overlapping), (a, b) twice: tie, (a, a) occurs first.
        assert_eq!(r.log[0].count, 2);
        assert_eq!(r.vocab[r.log[0].merged as usize], b"aa");
        assert_eq!(r.lengths, vec![8, 7, 5, 4]);
        let words: Vec<Vec<u8>> = r.sequences[1]
            .iter()
            .map(|t| r.vocab[t.0 as usize].clone())
            .collect();
        assert_eq!(words, vec![b"ab".to_vec(), b" ".to_vec(), b"ab".to_vec()]);
        // Replaying the whole log gives the result; replaying none gives the input.
        assert_eq!(r.replay(&[3, 3]).unwrap(), r.sequences);
        let base = r.replay(&[0, 0]).unwrap();
        assert_eq!(base[0].len(), 3);
        assert_eq!(
            base[1].iter().map(|t| (t.1, t.2)).collect::<Vec<_>>(),
            vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
        );
    }
}
