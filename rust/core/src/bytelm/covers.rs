//! The covers after a text, one token at a time.
//!
//! How validity is decided: a cover `q + [tau]` ending at split `i` is valid when, for some
//! probe continuation `c`, the canonical encoding of `x[o..i] + tau + c` starts with `q + [tau]`
//! (`o`: a piece boundary that later bytes can no longer move). The probes are the empty string
//! and one character from a probe alphabet (after completing a partial UTF-8 character), so
//! pre-tokenizer look-ahead such as `\s+(?!\S)` is taken into account, and a prefix that is not
//! itself canonical (`[" ", " "]` before `"aa"`) still counts. This is exact when the
//! pre-tokenizer's piece boundaries depend on at most one character after a token and the probe
//! alphabet holds a representative of every character class the pattern distinguishes.
//! The encoding is not run whole: the text is cut into pieces, and the piece that holds the
//! split is checked with the pairwise merge check (`Vocab::is_valid_pair`: does `tau` pair with
//! the tokens on either side of it) instead of being merged; a cut that was already decided for
//! a token is not decided again for another continuation.
//!
//! `covers_exhaustive` tries every token this way (the definition the grouped search in
//! `groups` is tested against); `covers_after` memoises the covers by text for both.

use super::ByteModel;
use crate::encode::PreTokenizer;
use crate::Result;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// Valid paths (tokens from the origin) ending at a text's end, each with its valid next tokens.
pub(super) type Covers = Vec<(Vec<u32>, Vec<u32>)>;
/// One cover: a path and its last token.
type Cover = (Vec<u32>, u32);
/// Token ids held, and the covers by text.
pub(super) type CoverCache = (usize, FxHashMap<Vec<u8>, Arc<Covers>>);
/// The cover cache is emptied when it holds this many token ids.
const COVER_CACHE_IDS: usize = 1 << 24;

impl ByteModel {
    /// Calls `f` with each probe continuation of `s`: every string of at most `depth` probe
    /// characters, after the probe characters that complete the UTF-8 character `s` ends
    /// inside (if it does). A string that cannot become valid UTF-8 gets none. With
    /// `empty_only`, a UTF-8 `s` gets the empty continuation alone.
    pub(super) fn for_each_continuation(
        &self,
        s: &[u8],
        empty_only: bool,
        mut f: impl FnMut(&[u8]) -> Result<()>,
    ) -> Result<()> {
        let partial = match std::str::from_utf8(s) {
            Ok(_) => {
                let n = if empty_only {
                    1
                } else {
                    self.probe_strings.len()
                };
                for p in &self.probe_strings[..n] {
                    f(p)?;
                }
                return Ok(());
            }
            Err(e) if e.error_len().is_none() => s.len() - e.valid_up_to(),
            Err(_) => return Ok(()),
        };
        let tail = &s[s.len() - partial..];
        let mut completions: Vec<&[u8]> = self
            .probes
            .iter()
            .filter(|p| p.len() > partial && p.starts_with(tail))
            .map(|p| &p[partial..])
            .collect();
        // No probe character completes it: use any continuation bytes that do.
        let generic = generic_completion(tail);
        if completions.is_empty() {
            completions.extend(generic.as_deref());
        }
        let mut buf = Vec::new();
        for c in completions {
            for p in &self.probe_strings {
                buf.clear();
                buf.extend_from_slice(c);
                buf.extend_from_slice(p);
                f(&buf)?;
            }
        }
        Ok(())
    }

    /// The covers that start at the end of `text` (bytes from the origin, a piece boundary)
    /// with token `tau`: every token sequence `q` such that `q + [tau]` begins the canonical
    /// encoding of `text + tau + c` for a probe continuation `c`, and `q` decodes to `text`.
    pub(super) fn discover(
        &self,
        text: &[u8],
        tau: u32,
        sc: &mut Scratch,
        out: &mut Vec<Vec<u32>>,
    ) -> Result<()> {
        let Scratch {
            head,
            full,
            pieces,
            ids,
            heads,
            outcomes,
        } = sc;
        outcomes.clear();
        head.clear();
        head.extend_from_slice(text);
        head.extend_from_slice(self.bytes(tau));
        let split = text.len();
        let tau_end = head.len();
        full.clear();
        full.extend_from_slice(head);
        self.for_each_continuation(head, false, |c| {
            full.truncate(tau_end);
            full.extend_from_slice(c);
            let Ok(string) = std::str::from_utf8(full) else {
                return Ok(());
            };
            let PreTokenizer::Regex(re) = &self.tok.pre_tokenizer else {
                return self.discover_by_encoding(string, split, tau, out);
            };
            pieces.clear();
            re.for_each_match(string, |s, e| pieces.push((s, e)))?;
            // The piece that holds the split. Only where the pieces tile the text up to it do
            // byte offsets and token offsets agree; elsewhere encode the whole text.
            let mut at = 0;
            let Some(j) = pieces.iter().position(|&(s, e)| {
                let tiles = s == at;
                at = e;
                !tiles || e > split
            }) else {
                return self.discover_by_encoding(string, split, tau, out);
            };
            let (start, end) = pieces[j];
            if start > split {
                return self.discover_by_encoding(string, split, tau, out);
            }
            // A piece boundary inside `tau` leaves no token equal to it there.
            if end < tau_end {
                return Ok(());
            }
            // Continuations that leave the pieces before the split alone give the same tokens
            // before it (`enc(A)` after the earlier pieces): decide the left side once.
            let done = &pieces[..j];
            let k = match outcomes
                .iter()
                .position(|o| o.start == start && o.done == done)
            {
                Some(k) => k,
                None => {
                    let mut before = Vec::new();
                    let left = self.left_pairs(&full[start..split], tau, &mut before);
                    outcomes.push(Outcome {
                        done: done.to_vec(),
                        start,
                        left,
                        before,
                        emitted: false,
                    });
                    outcomes.len() - 1
                }
            };
            let o = &outcomes[k];
            if o.left == Some(false) || o.emitted {
                return Ok(());
            }
            let vocab = &self.tok.vocab;
            let piece = &full[start..end];
            // A piece looked up whole may be a token that merging would not make.
            let whole_is_token = vocab.whole_piece_first
                && vocab.all_tokens_reached() != Some(true)
                && vocab.id_of(piece).is_some();
            let fast = if o.left == Some(true) && !whole_is_token {
                self.right_pairs(&full[tau_end..end], tau, ids)
            } else {
                None
            };
            let before = match fast {
                Some(false) => return Ok(()),
                Some(true) => {
                    outcomes[k].emitted = true;
                    &outcomes[k].before
                }
                None => {
                    if !self.merged_split(piece, split - start, tau, ids) {
                        return Ok(());
                    }
                    &*ids
                }
            };
            // The pieces before lie inside `text`: their encoding is shared by every token.
            let q_head = match heads.iter().position(|(b, _)| b == done) {
                Some(h) => &heads[h].1,
                None => {
                    let mut enc = Vec::new();
                    for &(s, e) in done {
                        vocab.encode_piece(&full[s..e], &mut enc);
                    }
                    if heads.len() == HEAD_CACHE {
                        heads.remove(0);
                    }
                    heads.push((done.to_vec(), enc));
                    &heads[heads.len() - 1].1
                }
            };
            let q = [q_head.as_slice(), before].concat();
            if !out.contains(&q) {
                out.push(q);
            }
            Ok(())
        })
    }

    // A piece `A + tau + B` merges to `enc(A) + [tau] + enc(B)` exactly when `tau` pairs with
    // the last token of `enc(A)` and the first of `enc(B)`: with every token reached by merging
    // its own bytes, a token sequence is the merge result of its bytes when each adjacent pair
    // is (the `bpe` crate's theorem). The pairwise check (`Vocab::is_valid_pair`) needs no
    // merging; `None` where it cannot decide, and the piece is merged instead.

    /// The left half: `before` gets `enc(A)`.
    fn left_pairs(&self, a: &[u8], tau: u32, before: &mut Vec<u32>) -> Option<bool> {
        let vocab = &self.tok.vocab;
        vocab.encode_piece(a, before);
        match before.last() {
            // (A piece looked up whole may be a token that merging would not make.)
            Some(&l) if vocab.is_reached(l) != Some(true) => None,
            Some(&l) => vocab.is_valid_pair(l, tau),
            // Nothing before `tau` in its piece: it must be what merging its bytes makes.
            None => vocab.is_reached(tau).filter(|&reached| reached),
        }
    }

    /// The right half.
    fn right_pairs(&self, b: &[u8], tau: u32, after: &mut Vec<u32>) -> Option<bool> {
        after.clear();
        self.tok.vocab.encode_piece(b, after);
        match after.first() {
            Some(&r) if self.tok.vocab.is_reached(r) != Some(true) => None,
            Some(&r) => self.tok.vocab.is_valid_pair(tau, r),
            None => Some(true),
        }
    }

    /// Whether the merged `piece` has a token boundary at `at` followed by `tau`; if so, `ids`
    /// gets the tokens before it.
    pub(super) fn merged_split(
        &self,
        piece: &[u8],
        at: usize,
        tau: u32,
        ids: &mut Vec<u32>,
    ) -> bool {
        ids.clear();
        self.tok.vocab.encode_piece(piece, ids);
        match self.tokens_before(ids, at, tau) {
            Some(k) => {
                ids.truncate(k);
                true
            }
            None => false,
        }
    }

    /// How many of `ids` come before a token boundary at byte `at`, if `tau` follows it.
    pub(super) fn tokens_before(&self, ids: &[u32], at: usize, tau: u32) -> Option<usize> {
        let mut pos = 0;
        for (k, &t) in ids.iter().enumerate() {
            if pos == at {
                return (t == tau).then_some(k);
            }
            pos += self.bytes(t).len();
            if pos > at {
                break;
            }
        }
        None
    }

    /// `discover` for one continued text by encoding it whole (pre-tokenizers other than a
    /// regex, or pieces that skip bytes): the tokens before a token boundary at `split`, if
    /// `tau` follows it.
    fn discover_by_encoding(
        &self,
        string: &str,
        split: usize,
        tau: u32,
        out: &mut Vec<Vec<u32>>,
    ) -> Result<()> {
        let enc = self.tok.encode_ordinary(string)?;
        if let Some(k) = self.tokens_before(&enc, split, tau) {
            if !out.iter().any(|q| q[..] == enc[..k]) {
                out.push(enc[..k].to_vec());
            }
        }
        Ok(())
    }

    /// The covers whose last token starts at the end of `text` (bytes from the origin), each
    /// path with its valid last tokens in byte order. Memoised by `text`.
    pub(super) fn covers_after(&self, text: &[u8]) -> Result<Arc<Covers>> {
        if let Some(c) = self.covers.lock().expect("cache lock").1.get(text) {
            return Ok(c.clone());
        }
        let by_prefix = if self.class_based {
            self.covers_by_groups(text)?
        } else {
            self.covers_exhaustive(text)?
        };
        let by_prefix = Arc::new(by_prefix);
        let size: usize = by_prefix.iter().map(|(q, t)| q.len() + t.len()).sum();
        let mut cache = self.covers.lock().expect("cache lock");
        if cache.0 + size > COVER_CACHE_IDS {
            cache.1.clear();
            cache.0 = 0;
        }
        cache.0 += size;
        cache.1.insert(text.to_vec(), by_prefix.clone());
        Ok(by_prefix)
    }

    /// `covers_after` by trying every token on its own (`discover`), in parallel chunks kept in
    /// byte order: the definition that `covers_by_groups` is tested against.
    pub fn covers_exhaustive(&self, text: &[u8]) -> Result<Covers> {
        let chunks: Vec<Result<Vec<Cover>>> = crate::util::pool::pool(None).install(|| {
            self.sorted
                .par_chunks(1024)
                .map(|chunk| {
                    let mut out = Vec::new();
                    let mut found = Vec::new();
                    let mut scratch = Scratch::default();
                    for &tau in chunk {
                        self.discover(text, tau, &mut scratch, &mut found)?;
                        out.extend(found.drain(..).map(|q| (q, tau)));
                    }
                    Ok(out)
                })
                .collect()
        });
        let mut by_prefix: Covers = Vec::new();
        for chunk in chunks {
            for (q, tau) in chunk? {
                match by_prefix.iter_mut().find(|(p, _)| *p == q) {
                    Some((_, toks)) => toks.push(tau),
                    None => by_prefix.push((q, vec![tau])),
                }
            }
        }
        Ok(by_prefix)
    }
}

/// Byte ranges of pieces.
pub(super) type Spans = Vec<(usize, usize)>;

/// Reusable buffers for `ByteModel::discover`.
#[derive(Default)]
pub(super) struct Scratch {
    head: Vec<u8>,
    full: Vec<u8>,
    pieces: Spans,
    ids: Vec<u32>,
    /// Encodings of the pieces before the split, by their boundaries (recent ones).
    heads: Vec<(Spans, Vec<u32>)>,
    /// For the token being tried: what each way of cutting the text before it gave.
    outcomes: Vec<Outcome>,
}

/// The pieces before the split (`done`), the start of the piece that holds it, whether `tau`
/// pairs with the last token of `enc(A)` (`A` = that piece up to the split; `None`: undecided),
/// `enc(A)`, and whether the cover was already found this way.
struct Outcome {
    done: Spans,
    start: usize,
    left: Option<bool>,
    before: Vec<u32>,
    emitted: bool,
}
const HEAD_CACHE: usize = 16;

/// Continuation bytes that complete a partial UTF-8 character (the smallest valid ones).
fn generic_completion(tail: &[u8]) -> Option<Vec<u8>> {
    let need = match tail[0] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    for second in [0x80u8, 0x90, 0xA0] {
        let mut c = Vec::new();
        for k in tail.len()..need {
            c.push(if k == 1 { second } else { 0x80 });
        }
        let full = [tail, &c].concat();
        if std::str::from_utf8(&full).is_ok() {
            return Some(c);
        }
    }
    None
}
