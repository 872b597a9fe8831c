//! The covers after a text for class-based pre-tokenizers, a group of tokens at a time.
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

use super::covers::{Covers, Scratch, Spans};
use super::ByteModel;
use crate::encode::PreTokenizer;
use crate::pretokenize::lexer::Classes;
use crate::vocab::LeftPairs;
use crate::{Error, Result};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

impl ByteModel {
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
        let founds: Vec<Result<Found>> = crate::util::pool::pool(None).install(|| {
            groups
                .par_chunks(64)
                .map(|chunk| {
                    let mut found = Found::default();
                    let mut sc = GroupScratch::default();
                    for members in chunk {
                        self.discover_group(text, members, left.as_ref(), &mut sc, &mut found)?;
                    }
                    Ok(found)
                })
                .collect()
        });
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
}

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
