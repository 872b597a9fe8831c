//! The incremental state of one byte stream ([`ByteState`]).
//!
//! The state is a tree of token paths (`Node`s) and, per path, the candidate last tokens
//! (`Group`: valid tokens in byte order, so every further byte narrows a contiguous range).
//! The language model is queried only for paths that end at a byte the stream has reached; the
//! caller supplies those distributions (`needed` / `supply`).

use super::covers::Covers;
use super::simd::{exp_nonpositive, row_max, scale_row};
use super::{ByteModel, EOS_BIN};
use crate::encode::Tokenizer;
use crate::{Error, Result};
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::Arc;

const NONE: usize = usize::MAX;

/// A valid token path: `parent`'s tokens plus `token`, decoding to `x[..end]`.
struct Node {
    parent: usize,
    token: u32,
    /// Number of tokens in the full sequence (context included).
    ntok: usize,
    end: usize,
    /// log P(sequence) relative to the root.
    logw: Option<f64>,
    /// The LM's next-token log-probabilities after this sequence, the largest of them, and
    /// every probability divided by the largest (`exp(dist - dist_max)`, computed once per row:
    /// each later byte reads some of them again).
    dist: Option<Vec<f64>>,
    dist_max: f64,
    scaled: Vec<f64>,
}

/// The valid last tokens after a path ending at `start`: `toks[lo..hi]` start with
/// `x[start..]` (in byte order, so each further byte narrows the range).
pub(super) struct Group {
    pub(super) node: usize,
    start: usize,
    toks: Vec<u32>,
    lo: usize,
    hi: usize,
}

/// The incremental state for one byte stream.
pub struct ByteState {
    pub(super) model: Arc<ByteModel>,
    /// The fixed tokens the state was made with (to rebuild it: `truncate`).
    context: Vec<u32>,
    root_tokens: Vec<u32>,
    x: Vec<u8>,
    /// A piece boundary no later byte can move, and the one path node that ends there.
    origin: usize,
    origin_node: usize,
    nodes: Vec<Node>,
    children: FxHashMap<(usize, u32), usize>,
    pub(super) groups: Vec<Group>,
    /// The canonical encoding of `x`, if `x` is UTF-8 (end of text may follow only it).
    canonical: Option<usize>,
    /// Nodes that currently hold a distribution (so unused ones can be freed).
    with_dist: Vec<usize>,
    /// Buffers of freed rows, for the next rows (`row_buffer`, and `scaled`).
    spare: Vec<Vec<f64>>,
}

/// How many freed row buffers a state keeps.
const SPARE_ROWS: usize = 8;

impl ByteState {
    /// A state after `context` tokens (fixed, e.g. BOS or a fill-in-the-middle scaffold) and
    /// the bytes of `prompt`.
    pub fn new(model: Arc<ByteModel>, context: Vec<u32>, prompt: &[u8]) -> Result<ByteState> {
        for &t in &context {
            if t as usize >= model.n_ids || model.tok.token_bytes(t).is_none() {
                return Err(Error::key(format!("unknown token id {t} in the context")));
            }
        }
        let valid_len = match std::str::from_utf8(prompt) {
            Ok(_) => prompt.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => {
                return Err(Error::value(format!(
                    "the prompt is not UTF-8: invalid byte at offset {}",
                    e.valid_up_to()
                )))
            }
        };
        // Tokens before a stable piece boundary near the end of the prompt are fixed.
        let head = std::str::from_utf8(&prompt[..valid_len]).expect("checked");
        let origin = stable_boundary(&model.tok, head)?;
        let mut root_tokens = context.clone();
        root_tokens.extend(model.tok.encode_ordinary(&head[..origin])?);
        let mut st = ByteState {
            origin,
            origin_node: 0,
            x: prompt[..origin].to_vec(),
            nodes: vec![Node {
                parent: NONE,
                token: 0,
                ntok: root_tokens.len(),
                end: origin,
                logw: Some(0.0),
                dist: None,
                dist_max: f64::NEG_INFINITY,
                scaled: Vec::new(),
            }],
            children: FxHashMap::default(),
            context,
            root_tokens,
            model,
            groups: Vec::new(),
            canonical: None,
            with_dist: Vec::new(),
            spare: Vec::new(),
        };
        st.open_split()?;
        for &b in &prompt[origin..] {
            st.push(b)?;
        }
        Ok(st)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.x
    }

    /// The byte offset before which tokens are fixed.
    pub fn origin(&self) -> usize {
        self.origin
    }

    /// The full token sequence (context included) of a node.
    pub fn tokens(&self, node: usize) -> Vec<u32> {
        let mut rev = Vec::new();
        let mut n = node;
        while self.nodes[n].parent != NONE {
            rev.push(self.nodes[n].token);
            n = self.nodes[n].parent;
        }
        let mut out = self.root_tokens.clone();
        out.extend(rev.into_iter().rev());
        out
    }

    /// The node for `tokens` after the origin node, created (with its ancestors) if new.
    fn insert(&mut self, tokens: &[u32]) -> usize {
        let mut n = self.origin_node;
        for &t in tokens {
            n = match self.children.get(&(n, t)) {
                Some(&c) => c,
                None => {
                    let c = self.nodes.len();
                    self.nodes.push(Node {
                        parent: n,
                        token: t,
                        ntok: self.nodes[n].ntok + 1,
                        end: self.nodes[n].end + self.model.bytes(t).len(),
                        logw: None,
                        dist: None,
                        dist_max: f64::NEG_INFINITY,
                        scaled: Vec::new(),
                    });
                    self.children.insert((n, t), c);
                    c
                }
            };
        }
        n
    }

    /// Finds the covers whose last token starts at the end of `x`: one group of candidate
    /// tokens per valid path that ends there. Also records the canonical path of `x`.
    fn open_split(&mut self) -> Result<()> {
        let text = &self.x[self.origin..];
        let split = self.model.covers_after(text)?;
        let canonical = match std::str::from_utf8(text) {
            Ok(t) => Some(self.model.tok.encode_ordinary(t)?),
            Err(_) => None,
        };
        self.open_split_with(&split, canonical.as_deref());
        Ok(())
    }

    /// Adds the groups of `split` (`covers_after` of the bytes after the origin) and records
    /// `canonical`, the canonical encoding of those bytes when they are UTF-8.
    fn open_split_with(&mut self, split: &Covers, canonical: Option<&[u32]>) {
        for (q, toks) in split.iter() {
            let node = self.insert(q);
            self.groups.push(Group {
                node,
                start: self.x.len(),
                lo: 0,
                hi: toks.len(),
                toks: toks.clone(),
            });
        }
        self.canonical = canonical.map(|enc| self.insert(enc));
    }

    /// Nodes whose distribution the LM must supply before `next_logprobs`: paths that carry
    /// candidate tokens or end text, and the ancestors their weights depend on.
    pub fn needed(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut seen = FxHashSet::default();
        for n in self.required() {
            if self.nodes[n].dist.is_none() && seen.insert(n) {
                out.push(n);
            }
            let mut a = n;
            while self.nodes[a].logw.is_none() {
                a = self.nodes[a].parent;
                if self.nodes[a].dist.is_none() && seen.insert(a) {
                    out.push(a);
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn required(&self) -> Vec<usize> {
        let mut r: Vec<usize> = self.groups.iter().map(|g| g.node).collect();
        if self.model.eos.is_some() {
            r.extend(self.canonical);
        }
        r.sort_unstable();
        r.dedup();
        r
    }

    /// An empty buffer for an LM row to be given to `supply` (one a freed row left, if any,
    /// so copying the row in touches no fresh memory).
    pub fn row_buffer(&mut self) -> Vec<f64> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf
    }

    /// The LM's next-token log-probabilities after node `node`'s tokens. Values above 0 up
    /// to 1e-9 (rounding in a log-softmax) count as 0; larger ones, NaN, and a row whose
    /// probabilities do not sum to 1 (within 1e-4 in the log) are an error.
    pub fn supply(&mut self, node: usize, logprobs: Vec<f64>) -> Result<()> {
        self.supply_rows(vec![(node, logprobs)])
    }

    /// `supply` for one LM call's rows. Every row is checked for NaN and positive values
    /// before any is scaled, so the error names the first such row (a sign of logits), not
    /// a row that merely fails the normalisation check. Errors name the row's index.
    // (`!(log_total.abs() <= 1e-4)` on purpose: NaN fails the check too.)
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    pub fn supply_rows(&mut self, rows: Vec<(usize, Vec<f64>)>) -> Result<()> {
        let in_row = |k: usize, m: String| Error::value(format!("row {k} of the LM's output: {m}"));
        let mut maxima = Vec::with_capacity(rows.len());
        for (k, (node, logprobs)) in rows.iter().enumerate() {
            if *node >= self.nodes.len() {
                return Err(in_row(k, format!("no node {node}")));
            }
            if logprobs.len() != self.model.n_ids {
                return Err(in_row(
                    k,
                    format!(
                        "a distribution has {} entries, the vocabulary has {}",
                        logprobs.len(),
                        self.model.n_ids
                    ),
                ));
            }
            let (max, bad) = row_max(logprobs);
            if bad {
                let (i, v) = logprobs
                    .iter()
                    .enumerate()
                    .find(|(_, &v)| v.is_nan() || v > 1e-9)
                    .expect("there is one");
                return Err(in_row(
                    k,
                    if v.is_nan() {
                        format!("the LM returned NaN at token id {i}")
                    } else {
                        format!(
                            "the LM returned positive values ({v} at token id {i}); it must \
                             return log-probabilities (log_softmax), not logits"
                        )
                    },
                ));
            }
            maxima.push(max);
        }
        for (k, ((node, mut logprobs), max)) in rows.into_iter().zip(maxima).enumerate() {
            if max > 0.0 {
                logprobs.iter_mut().for_each(|v| *v = v.min(0.0));
            }
            let max = max.min(0.0);
            let mut scaled = match std::mem::take(&mut self.nodes[node].scaled) {
                v if v.capacity() > 0 => v,
                _ => self.spare.pop().unwrap_or_default(),
            };
            // The same pass sums the probabilities (times exp(-max)) for the normalisation check.
            let log_total = scale_row(&logprobs, max, &mut scaled).ln() + max;
            if !(log_total.abs() <= 1e-4) {
                return Err(in_row(
                    k,
                    format!(
                        "the LM's distribution is not normalised: its probabilities sum to \
                         {:.6}; return log-probabilities (log_softmax of the logits)",
                        log_total.exp()
                    ),
                ));
            }
            if self.nodes[node].dist.is_none() {
                self.with_dist.push(node);
            }
            let n = &mut self.nodes[node];
            n.scaled = scaled;
            n.dist = Some(logprobs);
            n.dist_max = max;
        }
        Ok(())
    }

    fn weight(&mut self, node: usize) -> Result<f64> {
        if let Some(w) = self.nodes[node].logw {
            return Ok(w);
        }
        let parent = self.nodes[node].parent;
        let pw = self.weight(parent)?;
        let tok = self.nodes[node].token as usize;
        let w = match &self.nodes[parent].dist {
            Some(d) => pw + d[tok],
            None => return Err(Error::value("a needed distribution was not supplied")),
        };
        self.nodes[node].logw = Some(w);
        Ok(w)
    }

    /// log P(next byte | x) for bytes 0..=255 and end of text (index 256).
    pub fn next_logprobs(&mut self) -> Result<[f64; 257]> {
        let mut weights = Vec::with_capacity(self.groups.len());
        for gi in 0..self.groups.len() {
            let w = self.weight(self.groups[gi].node)?;
            if self.nodes[self.groups[gi].node].dist.is_none() {
                return Err(Error::value("a needed distribution was not supplied"));
            }
            weights.push(w);
        }
        let eos = match (self.model.eos, self.canonical) {
            (Some(eos), Some(node)) => {
                let w = self.weight(node)?;
                let Some(dist) = &self.nodes[node].dist else {
                    return Err(Error::value("a needed distribution was not supplied"));
                };
                Some(w + dist[eos as usize])
            }
            _ => None,
        };
        // Terms are shifted by a bound of the largest one (each row's largest value plus its
        // path's weight), so one pass sums them; only if every term is below the bound by more
        // than exp can resolve is the true largest term found and the sums made again.
        let mut bound = eos.unwrap_or(f64::NEG_INFINITY);
        for (g, &w) in self.groups.iter().zip(&weights) {
            bound = bound.max(w + self.nodes[g.node].dist_max);
        }
        if bound == f64::NEG_INFINITY {
            return Err(Error::value(
                "the language model gives probability 0 to every valid continuation of this prefix",
            ));
        }
        let mut sums = self.bin_sums(&weights, eos, bound);
        if sums.iter().all(|&s| s == 0.0) {
            let mut max = eos.unwrap_or(f64::NEG_INFINITY);
            self.for_each_term(&weights, |v, _| max = max.max(v));
            if max == f64::NEG_INFINITY {
                return Err(Error::value(
                    "the language model gives probability 0 to every valid continuation of this prefix",
                ));
            }
            sums = self.bin_sums_exact(&weights, eos, max);
        }
        let lt = sums.iter().sum::<f64>().ln();
        let mut out = [f64::NEG_INFINITY; 257];
        for (o, s) in out.iter_mut().zip(sums) {
            if s > 0.0 {
                *o = s.ln() - lt;
            }
        }
        Ok(out)
    }

    /// The sum of `exp(term - shift)` per next byte (and end of text), for terms at most
    /// `shift`: per group, its row's scaled probabilities times one factor, summed by runs of
    /// tokens with the same next byte (a new split's tokens are in byte order).
    fn bin_sums(&self, weights: &[f64], eos: Option<f64>, shift: f64) -> [f64; 257] {
        let model = &self.model;
        let mut sums = [0f64; 257];
        for (g, &w) in self.groups.iter().zip(weights) {
            let node = &self.nodes[g.node];
            let factor = exp_nonpositive(w + node.dist_max - shift);
            if factor == 0.0 {
                continue;
            }
            let depth = self.x.len() - g.start;
            let scaled = &node.scaled;
            let toks = &g.toks[g.lo..g.hi];
            if depth == 0 {
                let mut at = 0;
                while at < toks.len() {
                    let bin = model.first_byte[toks[at] as usize];
                    let run = toks[at..].partition_point(|&t| model.first_byte[t as usize] == bin);
                    let (mut a, mut b) = (0.0, 0.0);
                    let pairs = toks[at..at + run].chunks_exact(2);
                    let last = pairs
                        .remainder()
                        .first()
                        .map_or(0.0, |&t| scaled[t as usize]);
                    for pair in pairs {
                        a += scaled[pair[0] as usize];
                        b += scaled[pair[1] as usize];
                    }
                    sums[bin as usize] += factor * (a + b + last);
                    at += run;
                }
                continue;
            }
            for &tau in toks {
                if model.token_len[tau as usize] as usize > depth {
                    sums[model.bytes(tau)[depth] as usize] += factor * scaled[tau as usize];
                }
            }
        }
        if let Some(v) = eos {
            sums[EOS_BIN] += exp_nonpositive(v - shift);
        }
        sums
    }

    /// The sums of `bin_sums` from the log-probabilities, for when `bin_sums`'s shortcut
    /// underflows (every term more than exp's range below the bound).
    fn bin_sums_exact(&self, weights: &[f64], eos: Option<f64>, shift: f64) -> [f64; 257] {
        let mut sums = [0f64; 257];
        self.for_each_term(weights, |v, bin| sums[bin as usize] += (v - shift).exp());
        if let Some(v) = eos {
            sums[EOS_BIN] += (v - shift).exp();
        }
        sums
    }

    /// Calls `f(log weight, next byte)` for every candidate last token of every group, in
    /// order (the log-space path that `bin_sums` falls back to).
    fn for_each_term(&self, weights: &[f64], mut f: impl FnMut(f64, u8)) {
        let model = &self.model;
        for (g, &w) in self.groups.iter().zip(weights) {
            let depth = self.x.len() - g.start;
            let dist = self.nodes[g.node].dist.as_deref().expect("checked");
            let toks = &g.toks[g.lo..g.hi];
            if depth == 0 {
                for &tau in toks {
                    f(w + dist[tau as usize], model.first_byte[tau as usize]);
                }
                continue;
            }
            for &tau in toks {
                if model.token_len[tau as usize] as usize > depth {
                    f(w + dist[tau as usize], model.bytes(tau)[depth]);
                }
            }
        }
    }

    /// Appends one byte.
    pub fn push(&mut self, b: u8) -> Result<()> {
        // Everything that can fail or refuse the byte runs before the state changes, so a
        // refused byte leaves it as it was.
        let old_len = self.x.len();
        let model = self.model.clone();
        let narrowed: Vec<(usize, usize)> = self
            .groups
            .iter()
            .map(|g| model.narrow(&g.toks, g.lo, g.hi, old_len - g.start, b))
            .collect();
        let mut text = self.x[self.origin..].to_vec();
        text.push(b);
        let split = model.covers_after(&text)?;
        let canonical = match std::str::from_utf8(&text) {
            Ok(t) => Some(model.tok.encode_ordinary(t)?),
            Err(_) => None,
        };
        if split.is_empty() && canonical.is_none() && narrowed.iter().all(|(lo, hi)| lo >= hi) {
            return Err(Error::value(format!(
                "no valid token sequence decodes to this prefix (byte 0x{b:02x} at offset {old_len})"
            )));
        }
        self.x.push(b);
        let mut bounds = narrowed.into_iter();
        self.groups.retain_mut(|g| {
            (g.lo, g.hi) = bounds.next().expect("one bound per group");
            g.lo < g.hi
        });
        self.open_split_with(&split, canonical.as_deref());
        self.advance_origin()?;
        self.free_unused();
        Ok(())
    }

    /// Appends `data`, all of it or none: when a byte is refused, the state goes back to what
    /// it was before the call (rebuilt from its bytes, so the LM may be asked again).
    pub fn push_all(&mut self, data: &[u8]) -> Result<()> {
        let old_len = self.x.len();
        for (i, &b) in data.iter().enumerate() {
            if let Err(e) = self.push(b) {
                if i > 0 {
                    self.truncate(old_len)?;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Drops the bytes after the first `len`: the state a fresh one after the same context and
    /// bytes would be (distributions the LM gave are not kept).
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len > self.x.len() {
            return Err(Error::value(format!(
                "cannot keep {len} bytes of a state that holds {}",
                self.x.len()
            )));
        }
        if len < self.x.len() {
            let prompt = self.x[..len].to_vec();
            *self = ByteState::new(self.model.clone(), self.context.clone(), &prompt)?;
        }
        Ok(())
    }

    /// Moves the origin to a later stable piece boundary when every path passes through one
    /// node that ends there (a node is its token sequence, so equal paths share it).
    fn advance_origin(&mut self) -> Result<()> {
        let valid_len = match std::str::from_utf8(&self.x[self.origin..]) {
            Ok(s) => s.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = std::str::from_utf8(&self.x[self.origin..self.origin + valid_len])
            .expect("valid prefix");
        let cut = self.origin + stable_boundary(&self.model.tok, text)?;
        if cut <= self.origin || self.groups.iter().any(|g| g.start < cut) {
            return Ok(());
        }
        let mut common = NONE;
        for n in self.required() {
            let mut a = n;
            while self.nodes[a].end > cut {
                a = self.nodes[a].parent;
            }
            if self.nodes[a].end != cut || (common != NONE && common != a) {
                return Ok(());
            }
            common = a;
        }
        if common != NONE {
            self.origin = cut;
            self.origin_node = common;
            // Paths that no longer pass through the origin are dead.
            self.children.retain(|_, c| self.nodes[*c].end > cut);
        }
        Ok(())
    }

    /// Frees distributions no longer needed for weights or candidate tokens.
    fn free_unused(&mut self) {
        let mut keep = FxHashSet::default();
        for n in self.required() {
            keep.insert(n);
            let mut a = n;
            while self.nodes[a].logw.is_none() {
                a = self.nodes[a].parent;
                keep.insert(a);
            }
        }
        let mut with_dist = std::mem::take(&mut self.with_dist);
        with_dist.retain(|&n| {
            if keep.contains(&n) {
                true
            } else {
                // Both buffers are kept for the next rows: a fresh 1.6 MB one costs page faults.
                let dist = self.nodes[n].dist.take().unwrap_or_default();
                let scaled = std::mem::take(&mut self.nodes[n].scaled);
                for buf in [dist, scaled] {
                    if self.spare.len() < SPARE_ROWS {
                        self.spare.push(buf);
                    }
                }
                false
            }
        });
        self.with_dist = with_dist;
    }
}

/// The start of the third-to-last piece of `text` (0 if there are fewer than four): piece
/// boundaries that far back do not move when bytes are appended for the pre-tokenizer
/// patterns in use (look-ahead reaches one character, contractions one piece).
fn stable_boundary(tok: &Tokenizer, text: &str) -> Result<usize> {
    let pieces = tok.pieces(text)?;
    if pieces.len() < 4 {
        return Ok(0);
    }
    Ok(pieces[pieces.len() - 3].start)
}
