//! Data-mixture inference from a BPE merge list (Hayase et al., 2024): what a linear program
//! needs to estimate the share of each category (language, code, domain) in a tokenizer's
//! training data.
//!
//! At merge step `t` the merged pair was the most frequent pair of the training data after
//! merges `1..t-1`. Each category's sample is pre-tokenized with the tokenizer's own
//! pre-tokenizer, counted, and the merge list is replayed on it with pair counts kept up to date
//! incrementally. At every step each category reports the merged pair's count and the pairs it
//! counts more often (those are the only ones that can make the step's constraint bind), at
//! most `top_k` of them, with a bound on the ones left out; every listed pair is then counted in
//! every category, so each row is a full constraint. The program itself is solved in Python.
//! To make its answer exact over all pairs, a [`Pricing`] pass replays the mixture at the
//! program's optimum as one more weighted sample and lists the pairs that still beat a merge by
//! more than its slack.
//!
//! * [`replay`]: [`CategoryReplay`], one category's (or a weighted mixture's) words, pair counts
//!   and top-pair heap.
//! * here: [`replay_mixture`] (the categories step by step, in parallel), [`merge_steps`] (a
//!   tokenizer's merge list as id triples) and [`splitter_for`] (its pre-tokenizer for
//!   counting).

pub mod replay;

pub use replay::{Above, CategoryReplay};

use crate::count::{PieceTable, Splitter};
use crate::encode::{PreTokenizer, Tokenizer};
use crate::pretokenize::regex::Regex;
use crate::train::pair_key;
use crate::vocab::Vocab;
use crate::{Error, Result};

/// What the linear program needs, for `steps` merges and `n` categories (category-major inside
/// each step: entry `t * n + i`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MixtureReplay {
    pub n_categories: usize,
    pub steps: usize,
    /// Count of merge `t`'s pair in category `i` just before merge `t`.
    pub merged: Vec<u64>,
    /// Every pair that no category listed at step `t` is counted at most `bound[t * n + i]` in
    /// category `i` (so the rows are all the constraints whenever this bound cannot bind).
    pub bound: Vec<u64>,
    /// Candidate rows: the step, the pair, and its count in each category (`n` per row).
    pub row_step: Vec<u32>,
    pub row_pair: Vec<(u32, u32)>,
    pub row_counts: Vec<u64>,
    /// Bytes of each category's sample.
    pub bytes: Vec<u64>,
}

/// The first `limit` merges of `vocab` as `(left, right, merged)` ids.
pub fn merge_steps(vocab: &Vocab, limit: usize) -> Result<Vec<(u32, u32, u32)>> {
    let mut steps = Vec::new();
    for (rank, &(a, b)) in vocab.merges().iter().take(limit).enumerate() {
        let joined = [
            vocab.token(a).unwrap_or_default(),
            vocab.token(b).unwrap_or_default(),
        ]
        .concat();
        let merged = vocab.id_of(&joined).ok_or_else(|| {
            Error::format(format!(
                "merges[{rank}]: the merged token {:?} is not in the vocabulary",
                String::from_utf8_lossy(&joined)
            ))
        })?;
        steps.push((a, b, merged));
    }
    Ok(steps)
}

/// The tokenizer's pre-tokenizer as a counting splitter. `source` is the `tokenizer.json` text
/// of a Hugging Face tokenizer (its steps are rebuilt from the document).
pub fn splitter_for(tok: &Tokenizer, source: Option<&str>) -> Result<Splitter> {
    if tok.normalizer().is_some() {
        return Err(Error::unsupported(
            "normalizer: mixture inference counts raw text; this tokenizer normalizes it first",
        ));
    }
    match (&tok.pre_tokenizer, source) {
        (PreTokenizer::Regex(re), _) => Ok(Splitter::Regex(Regex::tiktoken(re.pattern())?)),
        (PreTokenizer::Steps(_), Some(source)) => {
            let doc: serde_json::Value = serde_json::from_str(source)
                .map_err(|e| Error::format(format!("tokenizer.json: invalid JSON: {e}")))?;
            let steps = doc
                .get("pre_tokenizer")
                .map(crate::formats::hf::parse_pre_tokenizer)
                .transpose()?;
            Ok(Splitter::Steps(steps.unwrap_or_default()))
        }
        (PreTokenizer::Steps(_), None) => Err(Error::value(
            "pre_tokenizer: a tokenizer.json tokenizer needs its document",
        )),
    }
}

/// A mixture to check every pair against (exact pricing): `weights[i]` multiplies category
/// `i`'s counts (a proportion over its sample bytes), `slack[t]` is step `t`'s slack in the same
/// units. A pair is listed when its mixture count exceeds the merged pair's plus the slack.
pub struct Pricing<'a> {
    pub weights: &'a [f64],
    pub slack: &'a [f64],
}

/// Weights as integers, and the factor from the caller's units to them. The largest is `2^31`,
/// or less when the samples hold more than `2^31` bytes in all, so that no weighted count (at
/// most the bytes of all samples times the largest weight) passes `2^62`.
fn integer_weights(weights: &[f64], total_bytes: u64) -> Result<(Vec<u64>, f64)> {
    if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) {
        return Err(Error::value("weights: finite and not negative"));
    }
    let top = weights.iter().copied().fold(0.0, f64::max);
    if top == 0.0 {
        return Err(Error::value("weights: at least one must be positive"));
    }
    let largest = (1u64 << 31).min((1u64 << 62) / total_bytes.max(1)).max(1);
    let factor = largest as f64 / top;
    Ok((
        weights
            .iter()
            .map(|w| (w * factor).round() as u64)
            .collect(),
        factor,
    ))
}

/// Replays `steps` (see [`merge_steps`]) on every category's piece counts, side by side (one
/// thread per category). At each step every category lists up to `top_k` pairs counted more
/// often than the merged pair; with `pricing`, the mixture lists instead up to `top_k` pairs
/// that beat the merged pair by more than the step's slack (and `bound` stays empty).
/// `progress(steps_done)` returns false to stop.
pub fn replay_mixture(
    tables: &[PieceTable],
    byte_ids: &[u32; 256],
    steps: &[(u32, u32, u32)],
    top_k: usize,
    pricing: Option<Pricing<'_>>,
    num_threads: Option<usize>,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<MixtureReplay> {
    use rayon::prelude::*;
    if tables.is_empty() {
        return Err(Error::value("categories: at least one is needed"));
    }
    if top_k == 0 {
        return Err(Error::value("top_k: at least 1"));
    }
    let pool = crate::util::pool::pool(num_threads);
    let n = tables.len();
    // The mixture itself as one more replay, and each step's slack in its units.
    let mut mixture: Option<(CategoryReplay, Vec<u64>)> = match &pricing {
        None => None,
        Some(p) => {
            if p.weights.len() != n || p.slack.len() != steps.len() {
                return Err(Error::value(format!(
                    "pricing: {} weights for {n} categories, {} slacks for {} steps",
                    p.weights.len(),
                    p.slack.len(),
                    steps.len()
                )));
            }
            let total = tables
                .iter()
                .flat_map(|t| t.iter())
                .fold(0u64, |sum, (piece, n)| {
                    sum.saturating_add((piece.len() as u64).saturating_mul(n))
                });
            let (weights, factor) = integer_weights(p.weights, total)?;
            let parts: Vec<(&PieceTable, u64)> = tables.iter().zip(weights).collect();
            let slack = p
                .slack
                .iter()
                .map(|s| (s.max(0.0) * factor).floor() as u64)
                .collect();
            Some((CategoryReplay::weighted(&parts, byte_ids), slack))
        }
    };
    let mut cats: Vec<CategoryReplay> = pool.install(|| {
        tables
            .par_iter()
            .map(|t| CategoryReplay::new(t, byte_ids))
            .collect()
    });
    let mut out = MixtureReplay {
        n_categories: n,
        steps: steps.len(),
        bytes: cats.iter().map(|c| c.bytes).collect(),
        ..MixtureReplay::default()
    };
    let mut rows: Vec<u64> = Vec::new();
    for (t, &(a, b, new_id)) in steps.iter().enumerate() {
        let merged = pair_key((a, b));
        let above: Vec<Above> = match &mut mixture {
            Some((mix, slack)) => {
                let floor = mix.count(merged).saturating_add(slack[t]);
                vec![mix.above_floor(merged, floor, top_k)]
            }
            None => pool.install(|| {
                cats.par_iter_mut()
                    .map(|c| c.above(merged, top_k))
                    .collect()
            }),
        };
        out.merged.extend(cats.iter().map(|c| c.count(merged)));
        if mixture.is_none() {
            out.bound.extend(above.iter().map(|top| top.bound));
        }
        // The listed pairs of all categories, each once, in a fixed order.
        rows.clear();
        rows.extend(
            above
                .iter()
                .flat_map(|top| top.pairs.iter().map(|&(k, _)| k)),
        );
        rows.sort_unstable();
        rows.dedup();
        let counts: Vec<Vec<u64>> = pool.install(|| {
            cats.par_iter_mut()
                .map(|c| {
                    let counts = rows.iter().map(|&k| c.count(k)).collect();
                    c.apply((a, b, new_id));
                    counts
                })
                .collect()
        });
        if let Some((mix, _)) = &mut mixture {
            mix.apply((a, b, new_id));
        }
        for (r, &k) in rows.iter().enumerate() {
            out.row_step.push(t as u32);
            out.row_pair.push(((k >> 32) as u32, k as u32));
            out.row_counts.extend(counts.iter().map(|c| c[r]));
        }
        if (t + 1).is_multiple_of(64) && !progress(t + 1) {
            return Err(Error::interrupted());
        }
    }
    progress(steps.len());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_hold_every_pair_that_beats_the_merge_somewhere() {
        let identity: [u32; 256] = std::array::from_fn(|b| b as u32);
        let mut en = PieceTable::default();
        en.add(b"the", 10);
        en.add(b"he", 3);
        let mut fr = PieceTable::default();
        fr.add(b"le", 8);
        fr.add(b"les", 2);
        let id = |c: u8| c as u32;
        // Merge (l, e) first: English has (t, h) and (h, e) above it.
        let steps = [(id(b'l'), id(b'e'), 300), (id(b'h'), id(b'e'), 301)];
        let tables = [en, fr];
        let r =
            replay_mixture(&tables, &identity, &steps, 8, None, Some(1), &mut |_| true).unwrap();
        assert_eq!(r.bytes, vec![36, 22]);
        assert_eq!(r.merged, vec![0, 10, 13, 0]);
        assert_eq!(r.bound, vec![0, 10, 13, 0]);
        // Step 0: (h, e) 13 and (t, h) 10 in English, counted in French too; (e, s) in French
        // (2) is not above (l, e)'s 10. Step 1: French's (le, s) is above (h, e)'s 0 there.
        let pair = |x: u8, y: u8| (id(x), id(y));
        assert_eq!(r.row_step, vec![0, 0, 1]);
        assert_eq!(
            r.row_pair,
            vec![pair(b'h', b'e'), pair(b't', b'h'), (300, id(b's'))]
        );
        assert_eq!(r.row_counts, vec![13, 0, 10, 0, 0, 2]);
        let none = &mut |_| true;
        let stopped = replay_mixture(
            &[PieceTable::default()],
            &identity,
            &[],
            0,
            None,
            None,
            none,
        );
        assert!(stopped.is_err(), "top_k 0 is refused");
        // Pricing at an English-only mixture: step 0's merge (l, e) is beaten by (h, e) and
        // (t, h); with a slack of 11 only (h, e) (13) still beats it by more.
        let en_only = Pricing {
            weights: &[1.0, 0.0],
            slack: &[11.0, 0.0],
        };
        let p = replay_mixture(&tables, &identity, &steps, 8, Some(en_only), None, none).unwrap();
        assert_eq!(p.row_step, vec![0]);
        assert_eq!(p.row_pair, vec![pair(b'h', b'e')]);
        assert_eq!(p.row_counts, vec![13, 0]);
        assert!(p.bound.is_empty());
        // Weights stay below 2^62 in all, however large the samples.
        let (w, _) = integer_weights(&[1.0, 0.5], 1 << 40).unwrap();
        assert_eq!(w, vec![1 << 22, 1 << 21]);
        assert!(integer_weights(&[0.0, 0.0], 1).is_err());
        assert!(integer_weights(&[f64::NAN], 1).is_err());
    }
}
