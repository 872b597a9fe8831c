//! Exact byte-level probabilities from a token-level language model.
//!
//! Semantics (Phan et al. 2024, "Byte-Token Representation"; Hayase et al. 2025): the LM gives
//! a distribution over token sequences; a byte prefix `x` has probability
//! `P(x) = sum over covers t of x of P(t)`. A *cover* is a valid token sequence whose tokens
//! before the last decode to `x[..i]` and whose last token starts with `x[i..]` and runs to or
//! past the end of `x`. *Valid* means: a prefix of the canonical encoding of some string.
//! Real LMs also put mass on invalid sequences; that mass is ignored, and the next-byte
//! distribution is renormalised at every byte (`P(b | x) = P(xb) / (sum_b' P(xb') + P(x, EOS))`).
//! End of text can only follow the canonical encoding of `x` itself.
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
//! Every token is a candidate at every split, but under the known pre-tokenizer patterns
//! (`Regex::is_class_based`) tokens are not lexed one by one: a pattern sees a character only
//! through its character classes and a few literals, so tokens whose characters match class for
//! class and length for length (`lexer_key`; o200k_base: about 4,600 groups for 200k tokens)
//! cut every continued text at the same byte offsets. Each group is lexed once per
//! continuation (once only, where no continuation can re-cut its tokens:
//! `empty_continuation_suffices`) and only the pair checks are made per token, against the last
//! token of the text's last piece through a table of the pairs that can decide them
//! (`Vocab::left_pairs`). Tests hold this (`covers_by_groups`) equal to trying every token with
//! every continuation (`covers_exhaustive`), which other pre-tokenizers still use.
//!
//! The state is a tree of token paths (`Node`s) and, per path, the candidate last tokens
//! (`Group`: valid tokens in byte order, so every further byte narrows a contiguous range).
//! The language model is queried only for paths that end at a byte the stream has reached; the
//! caller supplies those distributions (`needed` / `supply`).

use crate::encode::{PreTokenizer, Step, Tokenizer};
use crate::pretokenize::lexer::Classes;
use crate::vocab::LeftPairs;
use crate::{Error, Result};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use std::sync::{Arc, Mutex, OnceLock};

/// Index of the end-of-text entry in a next-byte distribution.
pub const EOS_BIN: usize = 256;
const NONE: usize = usize::MAX;

/// What a byte-level model needs from a tokenizer: token bytes in byte order, and probes.
pub struct ByteModel {
    tok: Arc<Tokenizer>,
    /// Ordinary token ids sorted by their bytes: the tokens starting with any byte string form
    /// one contiguous range (a node of the vocabulary's byte trie).
    sorted: Vec<u32>,
    lmax: usize,
    /// Probe characters, and every string of at most `depth` of them (the empty one first).
    probes: Vec<Vec<u8>>,
    probe_strings: Vec<Vec<u8>>,
    n_ids: usize,
    /// First byte and length of every token by id (0 and 0 where there is none): reading an
    /// LM row visits every candidate token, and these flat tables keep that walk in cache.
    first_byte: Vec<u8>,
    token_len: Vec<u32>,
    eos: Option<u32>,
    /// The covers found after each text (from a piece boundary), shared by all states: the
    /// same text recurs when several ensembles or passes read the same bytes.
    covers: Mutex<CoverCache>,
    /// Whether the pre-tokenizer sees characters only through their `lexer::Classes` bits and a
    /// few literals (see `lexer_key`), so that tokens can be tried a group at a time.
    class_based: bool,
    /// Positions in `sorted` of the tokens that the pre-tokenizer cannot tell apart, one list
    /// per `lexer_key`, for 0, 1 or 2 leading characters kept as they are (built on first use).
    lex_groups: [OnceLock<Vec<Vec<u32>>>; 3],
}

/// Valid paths (tokens from the origin) ending at a text's end, each with its valid next tokens.
type Covers = Vec<(Vec<u32>, Vec<u32>)>;
/// One cover: a path and its last token.
type Cover = (Vec<u32>, u32);
/// Token ids held, and the covers by text.
type CoverCache = (usize, FxHashMap<Vec<u8>, Arc<Covers>>);
/// The cover cache is emptied when it holds this many token ids.
const COVER_CACHE_IDS: usize = 1 << 24;

impl ByteModel {
    pub fn new(
        tok: Arc<Tokenizer>,
        eos: Option<u32>,
        probes: Vec<String>,
        depth: usize,
    ) -> Result<ByteModel> {
        if let PreTokenizer::Steps(steps) = &tok.pre_tokenizer {
            // Encoding from a piece boundary inside the text must equal encoding the whole text.
            if steps.iter().any(|s| {
                matches!(
                    s,
                    Step::ByteLevel {
                        add_prefix_space: true,
                        ..
                    }
                )
            }) {
                return Err(Error::value(
                    "byte-level probabilities do not support ByteLevel add_prefix_space=true",
                ));
            }
        }
        let n_ids = tok.id_bound();
        if let Some(e) = eos {
            if e as usize >= n_ids || tok.token_bytes(e).is_none() {
                return Err(Error::key(format!("unknown eos token id {e}")));
            }
        }
        let mut sorted: Vec<u32> = tok
            .vocab
            .tokens()
            .filter(|&(b, id)| {
                !b.is_empty() && tok.vocab.is_mergeable(id) && tok.added_by_id(id).is_none()
            })
            .map(|(_, id)| id)
            .collect();
        sorted.sort_by(|&a, &b| tok.vocab.token(a).cmp(&tok.vocab.token(b)));
        let lmax = sorted
            .iter()
            .map(|&id| tok.vocab.token(id).map_or(0, <[u8]>::len))
            .max()
            .unwrap_or(0);
        for p in &probes {
            if p.chars().count() != 1 {
                return Err(Error::value(format!(
                    "each probe must be one character, got {p:?}"
                )));
            }
        }
        let probes: Vec<Vec<u8>> = probes.into_iter().map(String::into_bytes).collect();
        let mut probe_strings = vec![Vec::new()];
        let mut level = vec![Vec::new()];
        for _ in 0..depth {
            level = level
                .iter()
                .flat_map(|s: &Vec<u8>| probes.iter().map(move |p| [s.as_slice(), p].concat()))
                .collect();
            probe_strings.extend(level.iter().cloned());
        }
        let class_based =
            matches!(&tok.pre_tokenizer, PreTokenizer::Regex(re) if re.is_class_based());
        let token_of = |id: usize| tok.vocab.token(id as u32).unwrap_or(&[]);
        let first_byte = (0..n_ids)
            .map(|id| token_of(id).first().map_or(0, |&b| b))
            .collect();
        let token_len = (0..n_ids).map(|id| token_of(id).len() as u32).collect();
        Ok(ByteModel {
            first_byte,
            token_len,
            tok,
            sorted,
            lmax,
            probes,
            probe_strings,
            n_ids,
            eos,
            covers: Mutex::new((0, FxHashMap::default())),
            class_based,
            lex_groups: Default::default(),
        })
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tok
    }
    /// Length of the longest token (in bytes).
    pub fn max_token_len(&self) -> usize {
        self.lmax
    }
    /// Size of an LM distribution: one past the largest token id.
    pub fn n_ids(&self) -> usize {
        self.n_ids
    }

    fn bytes(&self, id: u32) -> &[u8] {
        self.tok.vocab.token(id).unwrap_or(&[])
    }

    /// Calls `f` with each probe continuation of `s`: every string of at most `depth` probe
    /// characters, after the probe characters that complete the UTF-8 character `s` ends
    /// inside (if it does). A string that cannot become valid UTF-8 gets none. With
    /// `empty_only`, a UTF-8 `s` gets the empty continuation alone.
    fn for_each_continuation(
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
    fn discover(
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
    fn merged_split(&self, piece: &[u8], at: usize, tau: u32, ids: &mut Vec<u32>) -> bool {
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
    fn tokens_before(&self, ids: &[u32], at: usize, tau: u32) -> Option<usize> {
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

    /// Whether the empty continuation finds every cover whose last token is `tau` (or a token
    /// with the same `lexer_key`), so the probe continuations need not be tried. It does when
    /// every token is what merging its bytes makes and `tau` ends with a complete character
    /// that is not white space, not an apostrophe and not an upper- or title-case letter.
    /// After such a character, a continuation `c` of `text + tau` can change neither the pieces
    /// before the split, nor where the split's piece starts, nor put a piece boundary inside
    /// `tau`: in the known patterns only white space (`\s+(?!\S)`), an apostrophe
    /// (contractions) or an upper-case run that still needs a lower-case letter (o200k's
    /// `[UP]*[LO]+`) let the next character decide an earlier boundary. `c` can only extend the
    /// split's piece by some `B`, and `enc(A + tau + B) = enc(A) + [tau] + enc(B)` needs `tau`
    /// to pair with the last token of `enc(A)`, which is exactly when
    /// `enc(A + tau) = enc(A) + [tau]`: the empty continuation's cover. Tests hold the grouped
    /// search equal to trying every token with every continuation.
    fn empty_continuation_suffices(&self, tau: u32) -> bool {
        if self.tok.vocab.all_tokens_reached() != Some(true) {
            return false;
        }
        let Ok(s) = std::str::from_utf8(self.bytes(tau)) else {
            return false;
        };
        let classes = Classes::get();
        s.chars()
            .next_back()
            .is_some_and(|ch| !ch.is_whitespace() && ch != '\'' && !classes.is_upper_only(ch))
    }

    /// The covers whose last token starts at the end of `text` (bytes from the origin), each
    /// path with its valid last tokens in byte order. Memoised by `text`.
    fn covers_after(&self, text: &[u8]) -> Result<Arc<Covers>> {
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
        let chunks: Vec<Result<Vec<Cover>>> = self
            .sorted
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
            .collect();
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

    /// `covers_after` for a class-based pre-tokenizer (the same result as `covers_exhaustive`):
    /// the tokens that the pre-tokenizer cannot tell apart after `text` (equal `lexer_key`) cut
    /// every continued text into the same pieces, so each group is lexed once per probe
    /// continuation and only the merge checks are made per token (`discover_group`).
    pub fn covers_by_groups(&self, text: &[u8]) -> Result<Covers> {
        let keep = match std::str::from_utf8(text) {
            Ok(s) => {
                let mut rev = s.chars().rev();
                match (rev.next(), rev.next()) {
                    (Some('\''), _) => 2,
                    (_, Some('\'')) => 1,
                    _ => 0,
                }
            }
            // Invalid inside: no token makes it UTF-8.
            Err(e) if e.error_len().is_some() => return Ok(Vec::new()),
            // It ends inside a character: only tokens that start with continuation bytes can
            // complete it (with any other, `text + tau` is not UTF-8): try those one by one.
            Err(_) => {
                let first = |id: u32| self.bytes(id)[0];
                let lo = self.sorted.partition_point(|&id| first(id) < 0x80);
                let hi = self.sorted.partition_point(|&id| first(id) < 0xC0);
                let mut found = Found::default();
                let mut scratch = Scratch::default();
                let mut qs = Vec::new();
                for (pos, &tau) in self.sorted.iter().enumerate().take(hi).skip(lo) {
                    self.discover(text, tau, &mut scratch, &mut qs)?;
                    for q in qs.drain(..) {
                        let qid = found.intern(&q);
                        found.hits.push((pos as u32, qid));
                    }
                }
                return Ok(self.assemble(vec![found]));
            }
        };
        // `text` is UTF-8: tokens that start with a continuation byte cannot follow it.
        let groups = self.lex_groups[keep].get_or_init(|| self.build_groups(keep));
        // Tokens that continue the text's last piece are checked against the last token of
        // that piece's encoding: one table of the pairs that can decide it, shared by all.
        let left = self.last_piece_token(text)?;
        let left = left.and_then(|l| self.tok.vocab.left_pairs(l));
        let founds: Vec<Result<Found>> = groups
            .par_chunks(64)
            .map(|chunk| {
                let mut found = Found::default();
                let mut sc = GroupScratch::default();
                for members in chunk {
                    self.discover_group(text, members, left.as_ref(), &mut sc, &mut found)?;
                }
                Ok(found)
            })
            .collect();
        let founds = founds.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(self.assemble(founds))
    }

    /// How many groups `covers_by_groups` tries after a text that does not end near an
    /// apostrophe, and the size of the largest (for cost reports).
    pub fn lex_group_stats(&self) -> (usize, usize) {
        let groups = self.lex_groups[0].get_or_init(|| self.build_groups(0));
        (groups.len(), groups.iter().map(Vec::len).max().unwrap_or(0))
    }

    /// The last token of the encoding of `text`'s last piece (`text` lexed on its own).
    fn last_piece_token(&self, text: &[u8]) -> Result<Option<u32>> {
        let (Ok(string), PreTokenizer::Regex(re)) =
            (std::str::from_utf8(text), &self.tok.pre_tokenizer)
        else {
            return Ok(None);
        };
        let mut last = None;
        re.for_each_match(string, |s, e| last = Some((s, e)))?;
        Ok(last.and_then(|(s, e)| {
            let mut ids = Vec::new();
            self.tok.vocab.encode_piece(&text[s..e], &mut ids);
            ids.last().copied()
        }))
    }

    /// Groups of positions in `sorted` with equal `lexer_key` (tokens that start with a
    /// continuation byte left out), in order of their first token.
    fn build_groups(&self, keep: usize) -> Vec<Vec<u32>> {
        let classes = Classes::get();
        let mut index: FxHashMap<Vec<u8>, usize> = FxHashMap::default();
        let mut groups: Vec<Vec<u32>> = Vec::new();
        for (pos, &id) in self.sorted.iter().enumerate() {
            let t = self.bytes(id);
            if t[0] & 0xC0 == 0x80 {
                continue;
            }
            let key = lexer_key(t, keep, classes);
            let g = *index.entry(key).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(pos as u32);
        }
        groups
    }

    /// The covers in the order `covers_exhaustive` gives them: paths by their first token in
    /// byte order (and, for one token, in the order its continuations found them), each with
    /// its tokens in byte order.
    fn assemble(&self, founds: Vec<Found>) -> Covers {
        // Paths numbered across the parts; the first path of each position, then the others.
        let mut all: Vec<Vec<u32>> = Vec::new();
        let mut index: FxHashMap<Vec<u32>, u32> = FxHashMap::default();
        let mut first = vec![u32::MAX; self.sorted.len()];
        let mut more: Vec<(u32, u32)> = Vec::new();
        for f in founds {
            let ids: Vec<u32> =
                f.qs.into_iter()
                    .map(|q| {
                        let n = all.len() as u32;
                        *index.entry(q.clone()).or_insert_with(|| {
                            all.push(q);
                            n
                        })
                    })
                    .collect();
            for (pos, qid) in f.hits {
                let slot = &mut first[pos as usize];
                if *slot == u32::MAX {
                    *slot = ids[qid as usize];
                } else {
                    more.push((pos, ids[qid as usize]));
                }
            }
        }
        more.sort_by_key(|&(pos, _)| pos); // stable: each position keeps its own order
        let mut count = vec![0usize; all.len()];
        for &q in first.iter().filter(|&&q| q != u32::MAX) {
            count[q as usize] += 1;
        }
        for &(_, q) in &more {
            count[q as usize] += 1;
        }
        let mut slot_of = vec![usize::MAX; all.len()];
        let mut by_prefix: Covers = Vec::new();
        let mut m = 0;
        let mut add = |qid: u32, tau: u32, by_prefix: &mut Covers| {
            let s = &mut slot_of[qid as usize];
            if *s == usize::MAX {
                *s = by_prefix.len();
                let toks = Vec::with_capacity(count[qid as usize]);
                by_prefix.push((all[qid as usize].clone(), toks));
            }
            by_prefix[*s].1.push(tau);
        };
        for (pos, &q) in first.iter().enumerate() {
            if q == u32::MAX {
                continue;
            }
            let tau = self.sorted[pos];
            add(q, tau, &mut by_prefix);
            while m < more.len() && more[m].0 as usize == pos {
                add(more[m].1, tau, &mut by_prefix);
                m += 1;
            }
        }
        by_prefix
    }

    /// `discover` for the tokens at `members` (positions in `sorted`, equal `lexer_key`) at
    /// once: every continued text `text + tau + c` is cut into the same pieces for each of
    /// them, so the first one's is used, and the left side `enc(A)` (inside `text`) and the
    /// right side `enc(B)` (inside `c`) are shared; only the pair checks, and the fallbacks
    /// that look at `tau` itself, are made per token. Hits go to `found`.
    fn discover_group(
        &self,
        text: &[u8],
        members: &[u32],
        left: Option<&LeftPairs<'_>>,
        sc: &mut GroupScratch,
        found: &mut Found,
    ) -> Result<()> {
        let GroupScratch {
            head,
            full,
            pieces,
            ids,
            after,
            outcomes,
            first,
            more,
            piece_buf,
        } = sc;
        outcomes.clear();
        first.clear();
        first.resize(members.len(), u32::MAX);
        more.clear();
        let rep = self.sorted[members[0] as usize];
        head.clear();
        head.extend_from_slice(text);
        head.extend_from_slice(self.bytes(rep));
        let split = text.len();
        let tau_end = head.len();
        full.clear();
        full.extend_from_slice(head);
        let vocab = &self.tok.vocab;
        let PreTokenizer::Regex(re) = &self.tok.pre_tokenizer else {
            return Err(Error::value("discover_group needs a regex pre-tokenizer"));
        };
        let whole_check = vocab.whole_piece_first && vocab.all_tokens_reached() != Some(true);
        // Records path `q` for member `m` unless it already has it.
        let mut record = |m: usize, qid: u32, found: &mut Found| {
            if first[m] == qid || more.contains(&(m as u32, qid)) {
                return;
            }
            if first[m] == u32::MAX {
                first[m] = qid;
            } else {
                more.push((m as u32, qid));
            }
            found.hits.push((members[m], qid));
        };
        let empty_only = self.empty_continuation_suffices(rep);
        self.for_each_continuation(head, empty_only, |c| {
            full.truncate(tau_end);
            full.extend_from_slice(c);
            let Ok(string) = std::str::from_utf8(full) else {
                return Ok(());
            };
            pieces.clear();
            re.for_each_match(string, |s, e| pieces.push((s, e)))?;
            let mut at = 0;
            let j = pieces.iter().position(|&(s, e)| {
                let tiles = s == at;
                at = e;
                !tiles || e > split
            });
            let by_encoding = match j {
                None => true,
                Some(j) => pieces[j].0 > split,
            };
            if by_encoding {
                for (m, &pos) in members.iter().enumerate() {
                    let tau = self.sorted[pos as usize];
                    piece_buf.clear();
                    piece_buf.extend_from_slice(text);
                    piece_buf.extend_from_slice(self.bytes(tau));
                    piece_buf.extend_from_slice(c);
                    // (UTF-8 like the first member's: the same bytes but for whole characters.)
                    let string = std::str::from_utf8(piece_buf).map_err(|_| {
                        Error::value("a group member gives a text that is not UTF-8")
                    })?;
                    let enc = self.tok.encode_ordinary(string)?;
                    if let Some(k) = self.tokens_before(&enc, split, tau) {
                        let qid = found.intern(&enc[..k]);
                        record(m, qid, found);
                    }
                }
                return Ok(());
            }
            let j = j.expect("checked");
            let (start, end) = pieces[j];
            if end < tau_end {
                return Ok(());
            }
            let done = &pieces[..j];
            let k = match outcomes
                .iter()
                .position(|o| o.start == start && o.done == done)
            {
                Some(k) => k,
                None => {
                    let mut before = Vec::new();
                    vocab.encode_piece(&full[start..split], &mut before);
                    // Members still open: those that pair with the last token of `enc(A)`
                    // (or where that is undecided).
                    let tau_of = |m: usize| self.sorted[members[m] as usize];
                    let pending: Vec<(u32, Option<bool>)> = match before.last() {
                        Some(&l) if vocab.is_reached(l) != Some(true) => {
                            (0..members.len() as u32).map(|m| (m, None)).collect()
                        }
                        Some(&l) => {
                            let check = |tau: u32| match left.filter(|p| p.left() == l) {
                                Some(pairs) => pairs.check(tau),
                                None => vocab.is_valid_pair(l, tau),
                            };
                            (0..members.len())
                                .filter_map(|m| match check(tau_of(m)) {
                                    Some(false) => None,
                                    left => Some((m as u32, left)),
                                })
                                .collect()
                        }
                        // Nothing before `tau` in its piece: it must be what merging its
                        // bytes makes (undecided where it is not; no lookup when all are).
                        None if vocab.all_tokens_reached() == Some(true) => {
                            (0..members.len() as u32).map(|m| (m, Some(true))).collect()
                        }
                        None => (0..members.len())
                            .map(|m| {
                                let left = vocab.is_reached(tau_of(m)).filter(|&reached| reached);
                                (m as u32, left)
                            })
                            .collect(),
                    };
                    let mut q = Vec::new();
                    for &(s, e) in done {
                        vocab.encode_piece(&full[s..e], &mut q);
                    }
                    let head_len = q.len();
                    q.extend_from_slice(&before);
                    outcomes.push(GroupOutcome {
                        done: done.to_vec(),
                        start,
                        q,
                        head_len,
                        pending,
                    });
                    outcomes.len() - 1
                }
            };
            let o = &mut outcomes[k];
            if o.pending.is_empty() {
                return Ok(());
            }
            // The right side: `enc(B)`, B = the rest of the piece after `tau` (inside `c`).
            after.clear();
            vocab.encode_piece(&full[tau_end..end], after);
            let right_first = after.first().copied();
            let right_reached = right_first.map(|r| vocab.is_reached(r) == Some(true));
            let fast_qid = found.intern(&o.q);
            let (q, head_len) = (&o.q, o.head_len);
            o.pending.retain(|&(m, left)| {
                let m = m as usize;
                let tau = self.sorted[members[m] as usize];
                let member_piece = |buf: &mut Vec<u8>| {
                    buf.clear();
                    buf.extend_from_slice(&full[start..split]);
                    buf.extend_from_slice(self.bytes(tau));
                    buf.extend_from_slice(&full[tau_end..end]);
                };
                let whole_is_token = whole_check && {
                    member_piece(piece_buf);
                    vocab.id_of(piece_buf).is_some()
                };
                let fast = if left == Some(true) && !whole_is_token {
                    match (right_first, right_reached) {
                        (None, _) => Some(true),
                        (Some(_), Some(false)) => None,
                        (Some(r), _) => vocab.is_valid_pair(tau, r),
                    }
                } else {
                    None
                };
                match fast {
                    Some(false) => true,
                    Some(true) => {
                        record(m, fast_qid, found);
                        false
                    }
                    None => {
                        member_piece(piece_buf);
                        if self.merged_split(piece_buf, split - start, tau, ids) {
                            let mut path = q[..head_len].to_vec();
                            path.extend_from_slice(ids);
                            let qid = found.intern(&path);
                            record(m, qid, found);
                        }
                        true
                    }
                }
            });
            Ok(())
        })
    }

    /// `[lo, hi)` narrowed to the tokens whose byte at `depth` is `b` (all tokens in the range
    /// share their first `depth` bytes).
    fn narrow(&self, toks: &[u32], lo: usize, hi: usize, depth: usize, b: u8) -> (usize, usize) {
        let slice = &toks[lo..hi];
        let key = |id: u32| {
            let t = self.bytes(id);
            if t.len() <= depth {
                -1i32
            } else {
                t[depth] as i32
            }
        };
        let a = slice.partition_point(|&id| key(id) < b as i32);
        let z = slice.partition_point(|&id| key(id) <= b as i32);
        (lo + a, lo + z)
    }
}

/// Byte ranges of pieces.
type Spans = Vec<(usize, usize)>;

/// Reusable buffers for `ByteModel::discover`.
#[derive(Default)]
struct Scratch {
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

/// Paths found by `discover_group` or one by one: `hits` holds (position in `sorted`, index in
/// `qs`) in the order each token found them.
#[derive(Default)]
struct Found {
    qs: Vec<Vec<u32>>,
    index: FxHashMap<Vec<u32>, u32>,
    hits: Vec<(u32, u32)>,
}

impl Found {
    fn intern(&mut self, q: &[u32]) -> u32 {
        if let Some(&i) = self.index.get(q) {
            return i;
        }
        let i = self.qs.len() as u32;
        self.qs.push(q.to_vec());
        self.index.insert(q.to_vec(), i);
        i
    }
}

/// Reusable buffers for `ByteModel::discover_group`.
#[derive(Default)]
struct GroupScratch {
    head: Vec<u8>,
    full: Vec<u8>,
    pieces: Spans,
    ids: Vec<u32>,
    after: Vec<u32>,
    outcomes: Vec<GroupOutcome>,
    /// Per member: the first path found, and further (member, path) pairs.
    first: Vec<u32>,
    more: Vec<(u32, u32)>,
    piece_buf: Vec<u8>,
}

/// `Outcome` for a group: the pieces before the split and the start of the one that holds it
/// are the same for every member; `q` = their encoding then `enc(A)` (`head_len`: the
/// first part's length); `pending`: the members (index, whether they pair with the last token
/// of `enc(A)`: `Some(true)` or undecided) for which no continuation has found `q` yet.
struct GroupOutcome {
    done: Spans,
    start: usize,
    q: Vec<u32>,
    head_len: usize,
    pending: Vec<(u32, Option<bool>)>,
}

/// The key under which the pre-tokenizer cannot tell tokens apart (for a class-based regex,
/// `Regex::is_class_based`): each character as its `Classes` bits and UTF-8 length, except
/// the characters that the known patterns name literally (space, apostrophe, `\r`, `\n`,
/// `/`) and the two characters after an apostrophe (contractions, also case-folded ones), kept
/// as they are, as are the first `keep` characters (the text before ends with an apostrophe
/// `keep` - 1 characters back) and an incomplete character at the end. Two tokens with equal
/// keys give texts `text + tau + c` whose characters match class for class and length for
/// length, so a regex built from those classes and literals cuts them at the same byte
/// offsets. A token that is not UTF-8 (but for its end) is a key of its own.
fn lexer_key(t: &[u8], keep: usize, classes: &Classes) -> Vec<u8> {
    let (valid, tail) = match std::str::from_utf8(t) {
        Ok(s) => (s, &[][..]),
        Err(e) if e.error_len().is_none() => (
            std::str::from_utf8(&t[..e.valid_up_to()]).expect("valid prefix"),
            &t[e.valid_up_to()..],
        ),
        Err(_) => return [&[0xFE], t].concat(),
    };
    let mut key = Vec::with_capacity(t.len() + 8);
    let mut raw_left = keep;
    let mut buf = [0u8; 4];
    for ch in valid.chars() {
        let raw = raw_left > 0 || matches!(ch, ' ' | '\'' | '\r' | '\n' | '/');
        raw_left = raw_left.saturating_sub(1);
        if ch == '\'' {
            raw_left = 2;
        }
        if raw {
            key.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        } else {
            key.extend_from_slice(&[0xFF, classes.bits_of(ch), ch.len_utf8() as u8]);
        }
    }
    key.extend_from_slice(tail);
    key
}

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
struct Group {
    node: usize,
    start: usize,
    toks: Vec<u32>,
    lo: usize,
    hi: usize,
}

/// The incremental state for one byte stream.
pub struct ByteState {
    model: Arc<ByteModel>,
    root_tokens: Vec<u32>,
    x: Vec<u8>,
    /// A piece boundary no later byte can move, and the one path node that ends there.
    origin: usize,
    origin_node: usize,
    nodes: Vec<Node>,
    children: FxHashMap<(usize, u32), usize>,
    groups: Vec<Group>,
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
        let mut root_tokens = context;
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
        let model = self.model.clone();
        let text = self.x[self.origin..].to_vec();
        let by_prefix = model.covers_after(&text)?;
        for (q, toks) in by_prefix.iter() {
            let node = self.insert(q);
            self.groups.push(Group {
                node,
                start: self.x.len(),
                lo: 0,
                hi: toks.len(),
                toks: toks.clone(),
            });
        }
        self.canonical = match std::str::from_utf8(&text) {
            Ok(t) => {
                let enc = model.tok.encode_ordinary(t)?;
                Some(self.insert(&enc))
            }
            Err(_) => None,
        };
        Ok(())
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
        let old_len = self.x.len();
        self.x.push(b);
        let model = self.model.clone();
        self.groups.retain_mut(|g| {
            let depth = old_len - g.start;
            (g.lo, g.hi) = model.narrow(&g.toks, g.lo, g.hi, depth, b);
            g.lo < g.hi
        });
        self.open_split()?;
        if self.groups.is_empty() && self.canonical.is_none() {
            return Err(Error::value(format!(
                "no valid token sequence decodes to this prefix (byte 0x{b:02x} at offset {old_len})"
            )));
        }
        self.advance_origin()?;
        self.free_unused();
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

/// `fn $name(args) -> R` that runs `$plain` (an `#[inline(always)]` loop written to vectorise)
/// compiled for AVX-512 or AVX2 where the CPU has it, else as it is: the same arithmetic, so the
/// same results (no fused multiply-add), 4 or 8 lanes wide.
macro_rules! with_widest_simd {
    ($name:ident, $plain:ident, ($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) -> $ret {
                    $plain($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) -> $ret {
                    $plain($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F, the only requirement of `avx512`.
                    return unsafe { avx512($($arg),*) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, the only requirement of `avx2`.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $plain($($arg),*)
        }
    };
}

// The largest value of an LM row, and whether any value is NaN or above 1e-9: eight lanes of
// comparisons instead of one chain.
with_widest_simd!(row_max, row_max_plain, (row: &[f64]) -> (f64, bool));

#[inline(always)]
fn row_max_plain(row: &[f64]) -> (f64, bool) {
    let mut max = [f64::NEG_INFINITY; 8];
    // `!(v <= 1e-9)` is true for NaN as well.
    let mut bad = [false; 8];
    let chunks = row.chunks_exact(8);
    for &v in chunks.remainder() {
        max[0] = if v > max[0] { v } else { max[0] };
        bad[0] |= !(v <= 1e-9);
    }
    for c in chunks {
        for j in 0..8 {
            max[j] = if c[j] > max[j] { c[j] } else { max[j] };
            bad[j] |= !(c[j] <= 1e-9);
        }
    }
    let top = max
        .iter()
        .fold(f64::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    (top, bad.iter().any(|&b| b))
}

/// `scaled[k] = exp(row[k] - max)` for a row whose largest value is `max` (at most 0), and
/// the sum of them, in one vectorised pass (`with_widest_simd`): 220 µs with AVX-512 and 370 µs
/// with AVX2 against 700 µs plain for an o200k row.
fn scale_row(row: &[f64], max: f64, scaled: &mut Vec<f64>) -> f64 {
    scaled.clear();
    scaled.resize(row.len(), 0.0);
    scale_row_wide(row, max, scaled)
}

with_widest_simd!(scale_row_wide, scale_row_plain, (row: &[f64], max: f64, scaled: &mut [f64]) -> f64);

#[inline(always)]
fn scale_row_plain(row: &[f64], max: f64, scaled: &mut [f64]) -> f64 {
    for (s, &v) in scaled.iter_mut().zip(row) {
        *s = exp_nonpositive(v - max);
    }
    // Eight running sums: one chain of additions would be latency-bound.
    let mut sums = [0f64; 8];
    let chunks = scaled.chunks_exact(8);
    let rest: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for (s, &v) in sums.iter_mut().zip(c) {
            *s += v;
        }
    }
    sums.iter().sum::<f64>() + rest
}

/// `exp(x)` for `x <= 0` (0 below -708), within 1e-14 relative: inlined arithmetic without
/// branches but the last select, about 1.7 times as fast as `f64::exp` (a libm call) over an
/// LM row here.
#[inline(always)]
fn exp_nonpositive(x: f64) -> f64 {
    // x = k ln 2 + r with |r| <= ln 2 / 2; adding 1.5 * 2^52 rounds x / ln 2 to the integer k
    // held in the low bits.
    const ROUND: f64 = 6755399441055744.0;
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let clamped = x.max(-708.0);
    let shifted = clamped * std::f64::consts::LOG2_E + ROUND;
    let k = shifted - ROUND;
    let r = (clamped - k * LN2_HI) - k * LN2_LO;
    let mut p = 1.0 / 39916800.0;
    for c in [
        1.0 / 3628800.0,
        1.0 / 362880.0,
        1.0 / 40320.0,
        1.0 / 5040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * r + c;
    }
    let scale = f64::from_bits((shifted.to_bits().wrapping_add(1023) & 0x7ff) << 52);
    if x < -708.0 {
        0.0
    } else {
        p * scale
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pretokenize::regex::Regex;
    use crate::vocab::Vocab;

    /// The look-ahead example: merges "  ", "aa", " a", "   " under ` ?a+|\s+(?!\S)|\s+`.
    fn lookahead_model() -> Arc<ByteModel> {
        let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        for t in [&b"  "[..], b"aa", b" a", b"   "] {
            let id = toks.len() as u32;
            toks.push((t.to_vec(), id));
        }
        let vocab = Vocab::from_ranks(toks).unwrap();
        let pre = PreTokenizer::Regex(Regex::tiktoken(r" ?a+|\s+(?!\S)|\s+").unwrap());
        let tok = Tokenizer::new("t", vocab, pre, Vec::new()).unwrap();
        let probes = vec!["a".to_string(), " ".to_string()];
        Arc::new(ByteModel::new(Arc::new(tok), None, probes, 2).unwrap())
    }

    fn uniform(st: &mut ByteState) {
        let n = st.model.n_ids();
        for node in st.needed() {
            st.supply(node, vec![-(n as f64).ln(); n]).unwrap();
        }
    }

    /// A bundled tiktoken vocabulary with its pattern (no special tokens).
    fn bundled(name: &str, pattern: &str) -> Arc<ByteModel> {
        let path = format!(
            "{}/../../python/toksmith/encodings/{name}.tiktoken.gz",
            env!("CARGO_MANIFEST_DIR")
        );
        let vocab =
            Vocab::from_ranks(crate::formats::tiktoken::read(&path, None).unwrap()).unwrap();
        let pre = PreTokenizer::Regex(Regex::tiktoken(pattern).unwrap());
        let tok = Tokenizer::new(name, vocab, pre, Vec::new()).unwrap();
        // `toksmith.bytelm.DEFAULT_PROBES`
        let probes = [
            " ", "\t", "\n", "a", "A", "0", ".", "'", "/", "s", "é", "中",
        ];
        let probes = probes.iter().map(|p| p.to_string()).collect();
        Arc::new(ByteModel::new(Arc::new(tok), None, probes, 1).unwrap())
    }

    /// The grouped cover search equals trying every token, on real and adversarial text cut at
    /// every byte (also inside UTF-8 characters), for o200k_base and cl100k_base.
    #[test]
    fn grouped_covers_equal_exhaustive_on_real_vocabularies() {
        const O200K: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        const CL100K: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s";
        let texts: [&[u8]; 14] = [
            b"The quick brown fox",
            b"def f(x):\n    return x",
            b"a   b\t\t c \n\n  d",
            b"x  ",
            b"1234567 89",
            b"don't he'll I'M we'Re",
            b"it'",
            b"it's'",
            b"a/b//c\r\n/",
            "naïve Ünïcödé 中文字 ſ 'ſ".as_bytes(),
            "x'\u{17f}t K\u{212a}".as_bytes(),
            b"!!?? ...--- ",
            "é中".as_bytes(),
            b"",
        ];
        for (name, pattern) in [("o200k_base", O200K), ("cl100k_base", CL100K)] {
            let model = bundled(name, pattern);
            let mut checked = 0;
            for t in texts {
                for end in 0..=t.len() {
                    // From the text's start and from two bytes back (sometimes inside a
                    // character, which no token sequence completes).
                    for start in [0, end.saturating_sub(2)] {
                        if start > 0 && t.is_ascii() {
                            continue;
                        }
                        assert_same_covers(&model, &t[start..end], name);
                        checked += 1;
                    }
                }
            }
            assert!(checked > 100);
        }
    }

    /// The grouped cover search finds exactly the covers that trying every token finds.
    fn assert_same_covers(model: &ByteModel, text: &[u8], what: &str) {
        let grouped = model.covers_by_groups(text).unwrap();
        let exhaustive = model.covers_exhaustive(text).unwrap();
        assert!(
            grouped == exhaustive,
            "{what}: covers differ after {:?}:\n{grouped:?}\n{exhaustive:?}",
            String::from_utf8_lossy(text)
        );
    }

    /// A seeded generator of numbers below its argument (a linear congruential one).
    fn random_below(mut seed: u64) -> impl FnMut(usize) -> usize {
        move |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        }
    }

    /// A model of `vocab` under a class-based `pattern`.
    fn class_based_model(vocab: Vocab, pattern: &str, probes: &[&str], depth: usize) -> ByteModel {
        let pre = PreTokenizer::Regex(Regex::tiktoken(pattern).unwrap());
        assert!(matches!(&pre, PreTokenizer::Regex(re) if re.is_class_based()));
        let tok = Tokenizer::new("r", vocab, pre, Vec::new()).unwrap();
        let probes = probes.iter().map(|p| p.to_string()).collect();
        ByteModel::new(Arc::new(tok), None, probes, depth).unwrap()
    }

    /// Holds the grouped cover search equal to trying every token after every prefix of six
    /// random texts of 1 to `most` characters of `alphabet`; returns how many it checked.
    fn check_random_texts(
        model: &ByteModel,
        alphabet: &[&str],
        most: usize,
        next: &mut impl FnMut(usize) -> usize,
        what: &str,
    ) -> usize {
        let mut checked = 0;
        for _ in 0..6 {
            let text: String = (0..1 + next(most))
                .map(|_| alphabet[next(alphabet.len())])
                .collect();
            let t = text.as_bytes();
            for end in 0..=t.len() {
                assert_same_covers(model, &t[..end], what);
                checked += 1;
            }
        }
        checked
    }

    /// The grouped cover search equals trying every token on random small vocabularies over an
    /// alphabet that holds what the known patterns tell apart (contraction letters, both cases,
    /// `ſ` which case-folds to `s`, apostrophes, digits, spaces, newlines, `/`, 2- and 3-byte
    /// characters), under the r50k, cl100k, o200k and Llama-3 patterns, at every byte of random
    /// texts.
    #[test]
    fn grouped_covers_equal_exhaustive_on_random_vocabularies() {
        const PATTERNS: [&str; 4] = [
            r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s",
            r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s",
            r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ];
        const ALPHABET: [&str; 16] = [
            "a", "b", "s", "l", "e", "S", "A", "ſ", "'", " ", "\n", "1", "/", ".", "é", "中",
        ];
        let mut next = random_below(0x5eed_u64);
        let mut checked = 0;
        for round in 0..24 {
            let pattern = PATTERNS[round % PATTERNS.len()];
            // Merges of random pairs of the alphabet's bytes and earlier tokens, in rank order.
            let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
            let mut pool: Vec<Vec<u8>> = ALPHABET.iter().map(|c| c.as_bytes().to_vec()).collect();
            while toks.len() < 256 + 120 {
                let t = [
                    pool[next(pool.len())].clone(),
                    pool[next(pool.len())].clone(),
                ]
                .concat();
                if t.len() <= 6 && !toks.iter().any(|(b, _)| *b == t) {
                    let id = toks.len() as u32;
                    toks.push((t.clone(), id));
                    pool.push(t);
                }
            }
            let vocab = Vocab::from_ranks(toks).unwrap();
            let probes = [
                " ", "\t", "\n", "a", "A", "0", ".", "'", "/", "s", "é", "中", "ſ",
            ];
            let model = class_based_model(vocab, pattern, &probes, 1 + round % 2);
            checked +=
                check_random_texts(&model, &ALPHABET, 8, &mut next, &format!("pattern {round}"));
        }
        assert!(checked > 500);
    }

    /// The same on random vocabularies in which every token is what merging its bytes makes
    /// (built like BPE training: each new token joins two existing ones, multi-byte characters
    /// first), where the grouped search tries only the empty continuation after tokens that do
    /// not end with white space, an apostrophe or an upper-case letter
    /// (`empty_continuation_suffices`); the alphabet mixes upper-case letters with `中`, which
    /// o200k's word pieces treat as both cases.
    #[test]
    fn grouped_covers_equal_exhaustive_on_reachable_random_vocabularies() {
        const PATTERNS: [&str; 3] = [
            r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s",
            r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
            r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ];
        const ALPHABET: [&str; 14] = [
            "a", "s", "l", "A", "V", "中", "é", "'", " ", "\n", "1", ".", "/", "\t",
        ];
        let mut next = random_below(0xbee5_u64);
        let (mut checked, mut vocabularies) = (0, 0);
        for round in 0..30 {
            let pattern = PATTERNS[round % PATTERNS.len()];
            let mut toks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
            let add = |toks: &mut Vec<(Vec<u8>, u32)>, t: Vec<u8>| {
                if !toks.iter().any(|(b, _)| *b == t) {
                    let id = toks.len() as u32;
                    toks.push((t, id));
                }
            };
            // Multi-byte characters first, a byte at a time.
            for c in ALPHABET {
                for end in 2..=c.len() {
                    add(&mut toks, c.as_bytes()[..end].to_vec());
                }
            }
            let mut pool: Vec<Vec<u8>> = ALPHABET.iter().map(|c| c.as_bytes().to_vec()).collect();
            // A word piece `中A` ends there only before a lower-case letter (o200k).
            for t in ["中A", " 中A"] {
                add(&mut toks, t.as_bytes().to_vec());
                pool.push(t.as_bytes().to_vec());
            }
            while toks.len() < 256 + 24 + 140 {
                let t = [
                    pool[next(pool.len())].clone(),
                    pool[next(pool.len())].clone(),
                ]
                .concat();
                if t.len() <= 8 && !pool.contains(&t) {
                    add(&mut toks, t.clone());
                    pool.push(t);
                }
            }
            // Tokens that merging would not make are dropped (until none is left).
            let vocab = loop {
                let vocab = Vocab::from_ranks(toks.clone()).unwrap();
                if vocab.all_tokens_reached() == Some(true) {
                    break vocab;
                }
                toks.retain(|&(_, id)| vocab.is_reached(id) == Some(true));
            };
            if toks.len() < 256 + 24 + 60 {
                continue;
            }
            vocabularies += 1;
            let probes = [
                " ", "\t", "\n", "a", "A", "0", ".", "'", "/", "s", "é", "中",
            ];
            let model = class_based_model(vocab, pattern, &probes, 1);
            checked += check_random_texts(
                &model,
                &ALPHABET,
                7,
                &mut next,
                &format!("reachable {round}"),
            );
        }
        assert!(
            vocabularies >= 10,
            "only {vocabularies} vocabularies with every token reached"
        );
        assert!(checked > 300);
    }

    #[test]
    fn exp_nonpositive_matches_exp() {
        let mut x = 0.0f64;
        while x > -720.0 {
            let (got, want) = (exp_nonpositive(x), x.exp());
            if x >= -708.0 {
                assert!(
                    (got - want).abs() <= 1e-14 * want,
                    "exp({x}) = {want}, got {got}"
                );
            } else {
                assert_eq!(got, 0.0);
            }
            x -= 0.013_7;
        }
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
    }

    #[test]
    fn row_passes_equal_the_plain_loops() {
        // Rows of every length up to 40 (remainders of the 8-wide loops), with -inf, values
        // below exp's range, and the largest value anywhere.
        let mut next = random_below(7);
        for len in 1..=40 {
            for _ in 0..20 {
                let row: Vec<f64> = (0..len)
                    .map(|_| match next(10) {
                        0 => f64::NEG_INFINITY,
                        1 => -750.0 - next(100) as f64,
                        _ => -(next(100_000) as f64) / 997.0,
                    })
                    .collect();
                let (max, bad) = row_max(&row);
                let want = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                assert_eq!((max, bad), (want, false), "{row:?}");
                let mut scaled = Vec::new();
                let total = scale_row(&row, max, &mut scaled);
                let plain: Vec<f64> = row.iter().map(|&v| exp_nonpositive(v - max)).collect();
                assert_eq!(scaled, plain, "{row:?}");
                let sum: f64 = plain.iter().sum();
                assert!((total - sum).abs() <= 1e-12 * sum, "{total} {sum}");
            }
        }
        let mut row = vec![-1.0; 19];
        row[17] = f64::NAN;
        assert!(row_max(&row).1);
        row[17] = 1e-6;
        assert_eq!(row_max(&row), (1e-6, true));
    }

    #[test]
    fn non_canonical_prefix_is_a_cover() {
        let model = lookahead_model();
        let st = ByteState::new(model, Vec::new(), b"  a").unwrap();
        // enc("  aa") = [" ", " ", "aa"]: the path [" ", " "] carries the candidate "aa".
        let paths: Vec<Vec<u32>> = st.groups.iter().map(|g| st.tokens(g.node)).collect();
        assert!(paths.contains(&vec![32, 32]), "{paths:?}");
    }

    #[test]
    fn distributions_sum_to_one_and_bad_input_is_an_error() {
        let mut st = ByteState::new(lookahead_model(), Vec::new(), b"a ").unwrap();
        uniform(&mut st);
        let lp = st.next_logprobs().unwrap();
        let total: f64 = lp.iter().map(|v| v.exp()).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!(st.supply(0, vec![0.0; 3]).is_err());
        assert!(st.push(0x80).is_err()); // a lone continuation byte
        assert!(ByteState::new(lookahead_model(), vec![1 << 30], b"a").is_err());
    }
}
