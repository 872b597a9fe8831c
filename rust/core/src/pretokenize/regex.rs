//! Pre-tokenizer regexes, with the semantics of the file format they come from.
//!
//! * tiktoken patterns run on `fancy-regex`, the engine tiktoken itself uses (PCRE-like:
//!   possessive quantifiers, look-ahead).
//! * `tokenizer.json` patterns run on Oniguruma, the engine Hugging Face `tokenizers` uses.
//!   Its dialect differs: `X{1,3}+` means `(?:X{1,3})+`, not a possessive `{1,3}`.
//! * The known tiktoken pattern families (r50k, cl100k, o200k, Llama-3, Qwen2) get a fast path: a
//!   hand-written lexer (`lexer.rs`), and for the pieces it declines a lazy DFA over the
//!   pattern without its `\s+(?!\S)` alternative, plus a rule that gives the look-ahead's
//!   meaning back (see `FastRegex`). Tests hold both equal to `fancy-regex`.
//! * SuperBPE's stage-2 pattern `HEAD| +(?!\S)` (text between its matches is a piece too) gets a
//!   hand-written ASCII scan and a two-pattern DFA for the rest (see `GappedRegex`), also held
//!   equal to `fancy-regex` by a randomized test.

use crate::pretokenize::lexer::{next_piece, Classes, Family};
use crate::{Error, Result};
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::util::pool::Pool;
use regex_automata::{Anchored, Input};

type CachePool = Pool<
    Cache,
    Box<dyn Fn() -> Cache + Send + Sync + std::panic::RefUnwindSafe + std::panic::UnwindSafe>,
>;

/// The whitespace tail that the fast path knows how to emulate, and the alternatives before it
/// for which dropping the possessive markers is proven not to change any match.
const WHITESPACE_TAILS: [&str; 2] = [r"|\s+(?!\S)|\s+", r"|\s+(?!\S)|\s"];
const FAST_HEADS: [&str; 6] = [
    // r50k / p50k / gpt2
    r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$",
    // cl100k
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]",
    // o200k
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+",
    // Llama-3 (and cl100k as Hugging Face converters write it)
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+",
    // Qwen2
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+",
    // o200k without contraction suffixes (SuperBPE's stage 1)
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+",
];

pub struct Regex {
    pattern: String,
    engine: Engine,
}

enum Engine {
    Fast(Box<FastRegex>, fancy_regex::Regex),
    Gapped(Box<GappedRegex>, fancy_regex::Regex),
    Fancy(fancy_regex::Regex),
    Onig(onig::Regex),
}

impl Regex {
    /// A pattern from a tiktoken encoding (tiktoken's semantics).
    pub fn tiktoken(pattern: &str) -> Result<Regex> {
        let fancy = fancy_regex::RegexBuilder::new(pattern)
            .backtrack_limit(100_000_000)
            .build()
            .map_err(|e| Error::value(format!("invalid pattern {pattern:?}: {e}")))?;
        let engine = if let Some(fast) = FastRegex::new(pattern) {
            Engine::Fast(Box::new(fast), fancy)
        } else if let Some(gapped) = GappedRegex::new(pattern) {
            Engine::Gapped(Box::new(gapped), fancy)
        } else {
            Engine::Fancy(fancy)
        };
        Ok(Regex {
            pattern: pattern.to_string(),
            engine,
        })
    }

    /// A pattern from a `tokenizer.json` (Oniguruma's semantics, as in `tokenizers`).
    pub fn onig(pattern: &str) -> Result<Regex> {
        let re = onig::Regex::new(pattern)
            .map_err(|e| Error::value(format!("invalid pattern {pattern:?}: {e}")))?;
        Ok(Regex {
            pattern: pattern.to_string(),
            engine: Engine::Onig(re),
        })
    }

    /// Like `tiktoken`, but never the fast path (for differential tests).
    pub fn tiktoken_reference(pattern: &str) -> Result<Regex> {
        let mut re = Regex::tiktoken(pattern)?;
        re.engine = match re.engine {
            Engine::Fast(_, fancy) | Engine::Gapped(_, fancy) => Engine::Fancy(fancy),
            other => other,
        };
        Ok(re)
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn is_fast(&self) -> bool {
        matches!(self.engine, Engine::Fast(..))
    }

    /// Whether matches depend on each character only through the classes of `lexer::Classes`
    /// and the literals of the known pattern families (the fast path's patterns).
    pub fn is_class_based(&self) -> bool {
        self.is_fast()
    }

    /// Calls `f(start, end)` for each match, left to right, as `find_iter` would.
    pub fn for_each_match(&self, text: &str, mut f: impl FnMut(usize, usize)) -> Result<()> {
        match &self.engine {
            Engine::Fast(fast, fancy) => {
                let resume = fast.for_each_match(text, &mut f);
                if let Some(at) = resume {
                    // The DFA found no match at `at` (never for the known patterns): finish slowly.
                    for m in fancy.find_iter(&text[at..]) {
                        let m =
                            m.map_err(|e| Error::value(format!("regex {:?}: {e}", self.pattern)))?;
                        f(at + m.start(), at + m.end());
                    }
                }
            }
            Engine::Gapped(gapped, fancy) => {
                if let Some(at) = gapped.for_each_match(text, &mut f) {
                    // The DFA gave up (its cache thrashed): finish slowly.
                    for m in fancy.find_iter(&text[at..]) {
                        let m =
                            m.map_err(|e| Error::value(format!("regex {:?}: {e}", self.pattern)))?;
                        f(at + m.start(), at + m.end());
                    }
                }
            }
            Engine::Fancy(re) => {
                for m in re.find_iter(text) {
                    let m =
                        m.map_err(|e| Error::value(format!("regex {:?}: {e}", self.pattern)))?;
                    f(m.start(), m.end());
                }
            }
            Engine::Onig(re) => {
                for (start, end) in re.find_iter(text) {
                    f(start, end);
                }
            }
        }
        Ok(())
    }

    pub fn find_all(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        let mut out = Vec::new();
        self.for_each_match(text, |s, e| out.push((s, e)))?;
        Ok(out)
    }
}

/// `HEAD|\s+(?!\S)|\s+` without look-ahead: a two-pattern DFA `[HEAD, \s+]` (leftmost-first, so
/// HEAD has priority as in the alternation). When `\s+` wins, the run of whitespace is maximal and
/// HEAD failed here; the look-ahead alternative would have stopped one character short of a
/// following non-space, so a run of two or more characters gives back its last one.
struct FastRegex {
    family: Family,
    classes: &'static Classes,
    dfa: DFA,
    caches: CachePool,
}

impl FastRegex {
    fn new(pattern: &str) -> Option<FastRegex> {
        // Both tails mean the same: one character for a lone space, a run minus its last
        // character before a non-space, the whole run at the end.
        let head = WHITESPACE_TAILS
            .iter()
            .find_map(|tail| pattern.strip_suffix(tail))?;
        let family = [
            Family::R50k,
            Family::Cl100k,
            Family::O200k,
            Family::Llama3,
            Family::Qwen2,
            Family::O200kNoContractions,
        ][FAST_HEADS.iter().position(|h| *h == head)?];
        let head = strip_possessive(head);
        let dfa = DFA::builder()
            .configure(DFA::config().cache_capacity(8 << 20))
            .build_many(&[head.as_str(), r"\s+"])
            .ok()?;
        let for_pool = dfa.clone();
        let caches: CachePool = Pool::new(Box::new(move || for_pool.create_cache()));
        Some(FastRegex {
            family,
            classes: Classes::get(),
            dfa,
            caches,
        })
    }

    /// Returns the position where the DFA found no match, if any (the caller finishes there).
    fn for_each_match(&self, text: &str, f: &mut impl FnMut(usize, usize)) -> Option<usize> {
        // One copy of the loop per family, with the family a constant: its lexer is inlined
        // into the loop instead of called (and dispatched on) for every piece.
        match self.family {
            Family::R50k => self.lex(Family::R50k, text, f),
            Family::Cl100k => self.lex(Family::Cl100k, text, f),
            Family::O200k => self.lex(Family::O200k, text, f),
            Family::Llama3 => self.lex(Family::Llama3, text, f),
            Family::Qwen2 => self.lex(Family::Qwen2, text, f),
            Family::O200kNoContractions => self.lex(Family::O200kNoContractions, text, f),
        }
    }

    #[inline(always)]
    fn lex(&self, family: Family, text: &str, f: &mut impl FnMut(usize, usize)) -> Option<usize> {
        let mut cache = None; // taken from the pool only if the lexer declines a piece
        let mut pos = 0;
        let bytes = text.as_bytes();
        while pos < text.len() {
            // (A lexer answer always moves forward; the check guards against a bug looping.)
            if let Some(end) = next_piece(family, self.classes, bytes, pos).filter(|&e| e > pos) {
                f(pos, end);
                pos = end;
                continue;
            }
            let input = Input::new(bytes).range(pos..).anchored(Anchored::Yes);
            let cache = cache.get_or_insert_with(|| self.caches.get());
            let m = match self.dfa.try_search_fwd(cache, &input) {
                Ok(Some(m)) => m,
                _ => return Some(pos),
            };
            let mut end = m.offset();
            if m.pattern().as_usize() == 1 && end < text.len() {
                let last = text[..end].chars().next_back().map_or(0, char::len_utf8);
                if end - last > pos {
                    end -= last;
                }
            }
            f(pos, end);
            pos = end;
        }
        None
    }
}

/// Patterns `HEAD| +(?!\S)` that leave text between matches (SuperBPE's stage 2), for these
/// HEADs: they contain no look-around and cannot match the empty string.
const GAPPED_HEADS: [&str; 1] = [r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*"];
const SPACES_TAIL: &str = r"| +(?!\S)";

/// `HEAD| +(?!\S)` without look-ahead: a two-pattern DFA regex `[HEAD, ' +']`, leftmost-first
/// (so HEAD has priority at a position, as in the alternation). When the run of spaces wins it is
/// maximal and HEAD failed there; before a non-space the look-ahead alternative keeps all but
/// the last space, or fails for a single space (the search then goes on one byte later).
struct GappedRegex {
    re: std::sync::Arc<regex_automata::hybrid::regex::Regex>,
    caches: GappedCachePool,
}

type GappedCachePool = Pool<
    regex_automata::hybrid::regex::Cache,
    Box<
        dyn Fn() -> regex_automata::hybrid::regex::Cache
            + Send
            + Sync
            + std::panic::RefUnwindSafe
            + std::panic::UnwindSafe,
    >,
>;

impl GappedRegex {
    fn new(pattern: &str) -> Option<GappedRegex> {
        let head = pattern.strip_suffix(SPACES_TAIL)?;
        if !GAPPED_HEADS.contains(&head) {
            return None;
        }
        let re = regex_automata::hybrid::regex::Regex::builder()
            .dfa(DFA::config().cache_capacity(8 << 20))
            .build_many(&[head, " +"])
            .ok()?;
        let re = std::sync::Arc::new(re);
        let for_pool = re.clone();
        let caches: GappedCachePool = Pool::new(Box::new(move || for_pool.create_cache()));
        Some(GappedRegex { re, caches })
    }

    /// Calls `f` on each match; returns where it stopped if the DFA gave up. ASCII text is
    /// scanned by hand; the DFA takes over for one match wherever a decision needs a non-ASCII
    /// character.
    fn for_each_match(&self, text: &str, f: &mut impl FnMut(usize, usize)) -> Option<usize> {
        let bytes = text.as_bytes();
        let mut starts = Starts::new(bytes);
        let mut pos = 0;
        while let Some(q) = starts.first_from(pos) {
            let (start, end) = match gapped_ascii_at(bytes, q) {
                At::Match(end) => (q, end),
                At::None => {
                    pos = q + 1;
                    continue;
                }
                At::Declined => match self.search(text, q) {
                    Ok(Some(m)) => m,
                    Ok(None) => return None,
                    Err(()) => return Some(q),
                },
            };
            f(start, end);
            pos = end;
        }
        None
    }

    /// The DFA's leftmost match at or after `pos`, with the look-ahead's meaning restored.
    fn search(
        &self,
        text: &str,
        mut pos: usize,
    ) -> std::result::Result<Option<(usize, usize)>, ()> {
        let mut cache = self.caches.get();
        while pos < text.len() {
            let input = Input::new(text).range(pos..);
            let m = match self.re.try_search(&mut cache, &input) {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(None),
                Err(_) => return Err(()),
            };
            let (start, mut end) = (m.start(), m.end());
            if m.pattern().as_usize() == 1 {
                let non_space_follows = text[end..]
                    .chars()
                    .next()
                    .is_some_and(|c| !c.is_whitespace());
                if non_space_follows {
                    if end - start == 1 {
                        pos = start + 1;
                        continue;
                    }
                    end -= 1;
                }
            }
            return Ok(Some((start, end)));
        }
        Ok(None)
    }
}

/// The positions where a stage-2 match may start (`starts`), 64 at a time, left to right.
struct Starts<'a> {
    bytes: &'a [u8],
    /// `bits` covers `bytes[base..base + 64]`.
    base: usize,
    bits: u64,
}

impl<'a> Starts<'a> {
    fn new(bytes: &'a [u8]) -> Starts<'a> {
        Starts {
            bytes,
            base: 0,
            bits: starts(bytes, 0),
        }
    }

    /// The first candidate at or after `pos` (positions only move forward).
    fn first_from(&mut self, pos: usize) -> Option<usize> {
        if pos >= self.base + 64 {
            if pos >= self.bytes.len() {
                return None;
            }
            self.base = pos;
            self.bits = starts(self.bytes, pos);
        } else if pos > self.base {
            self.bits &= !0u64 << (pos - self.base);
        }
        while self.bits == 0 {
            self.base += 64;
            if self.base >= self.bytes.len() {
                return None;
            }
            self.bits = starts(self.bytes, self.base);
        }
        Some(self.base + self.bits.trailing_zeros() as usize)
    }
}

/// What `\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)` does at one position.
enum At {
    /// A match from there to this end.
    Match(usize),
    /// No match starts there.
    None,
    /// The answer needs a non-ASCII character.
    Declined,
}

/// White space as the stage-2 pattern's `\s` sees ASCII.
fn gapped_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// `[^\s\p{L}\p{N}]` on ASCII.
fn gapped_punct(c: u8) -> bool {
    c < 0x80 && !c.is_ascii_alphanumeric() && !gapped_ws(c)
}

/// The stage-2 pattern tried at `p` alone (the scalar rule; `starts` only skips positions).
fn gapped_ascii_at(b: &[u8], p: usize) -> At {
    // The end of a run of `class` from `i`, or None if a non-ASCII byte ends it.
    let run = |mut i: usize, class: &dyn Fn(u8) -> bool, max: usize| -> Option<usize> {
        let start = i;
        while i < b.len() && i - start < max && class(b[i]) {
            i += 1;
        }
        if i < b.len() && i - start < max && b[i] >= 0x80 {
            return None;
        }
        Some(i)
    };
    // ` ?[^\s\p{L}\p{N}]{2,}[\r\n/]*` from `q` (after the optional space).
    let punctuation = |q: usize| -> Option<Option<usize>> {
        let end = run(q, &gapped_punct, usize::MAX)?;
        if end - q < 2 {
            return Some(None);
        }
        let tail = end
            + b[end..]
                .iter()
                .take_while(|&&c| matches!(c, b'\r' | b'\n' | b'/'))
                .count();
        Some(Some(tail))
    };
    let c = b[p];
    if c >= 0x80 {
        return At::Declined;
    }
    if c.is_ascii_digit() {
        return match run(p, &|x: u8| x.is_ascii_digit(), 3) {
            Some(end) => At::Match(end),
            None => At::Declined,
        };
    }
    if c == b' ' {
        match punctuation(p + 1) {
            None => return At::Declined,
            Some(Some(end)) => return At::Match(end),
            Some(None) => {}
        }
        let end = p + b[p..].iter().take_while(|&&x| x == b' ').count();
        return match b.get(end) {
            None => At::Match(end),
            Some(&x) if x >= 0x80 => At::Declined,
            Some(&x) if gapped_ws(x) => At::Match(end),
            // A non-space follows: all but the last space, or nothing for a single one.
            Some(_) if end - p >= 2 => At::Match(end - 1),
            Some(_) => At::None,
        };
    }
    if gapped_punct(c) {
        return match punctuation(p) {
            None => At::Declined,
            Some(Some(end)) => At::Match(end),
            Some(None) => At::None,
        };
    }
    At::None
}

/// Byte classes for `starts` (bit flags).
const DIGIT: u8 = 1;
const SPACE: u8 = 2;
const WHITE: u8 = 4;
const PUNCT: u8 = 8;
const HIGH: u8 = 16;

const GAPPED_CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b >= 0x80 {
            HIGH
        } else if b.is_ascii_digit() {
            DIGIT
        } else if b == b' ' {
            SPACE | WHITE
        } else if matches!(b, b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
            WHITE
        } else if b.is_ascii_alphabetic() {
            0
        } else {
            PUNCT
        };
        c += 1;
    }
    t
};

/// Bit `i` is set if a match of the stage-2 pattern may start at `p + i` (0 ≤ i < 64, inside
/// `b`); every position where one does start is set. A match starts with a digit, a space
/// followed by anything but a letter or digit, or two punctuation marks; any non-ASCII byte is
/// a candidate too (the DFA decides there).
fn starts(b: &[u8], p: usize) -> u64 {
    let n = (b.len() - p).min(64);
    let [d, mut s, mut w, pu, h] = class_masks(&b[p..p + n]);
    // The class of the byte after the window; the end of the text counts as a space (a space
    // at the end starts a match, a lone punctuation mark there does not).
    let after = match b.get(p + 64) {
        _ if n < 64 => {
            s |= 1 << n;
            w |= 1 << n;
            0
        }
        Some(&c) => GAPPED_CLASSES[c as usize],
        None => SPACE | WHITE,
    };
    let next = |m: u64, class: u8| m >> 1 | ((after & class != 0) as u64) << 63;
    let starts = d
        | h
        | s & next(s | w | pu | h, SPACE | WHITE | PUNCT | HIGH)
        | pu & next(pu | h, PUNCT | HIGH);
    if n == 64 {
        starts
    } else {
        starts & ((1u64 << n) - 1)
    }
}

/// Masks of digits, spaces, white space, punctuation and non-ASCII bytes among at most 64 bytes
/// (bit `i` for `bytes[i]`).
fn class_masks(bytes: &[u8]) -> [u64; 5] {
    #[cfg(target_arch = "x86_64")]
    if bytes.len() >= 16 {
        let mut out = [0u64; 5];
        for at in (0..bytes.len()).step_by(16) {
            // The last 16 bytes when fewer than 16 are left: their top bits are the ones wanted.
            let from = at.min(bytes.len() - 16);
            let chunk: &[u8; 16] = bytes[from..from + 16].try_into().expect("16 bytes");
            for (o, m) in out.iter_mut().zip(class_masks_16(chunk)) {
                *o |= (m >> (at - from)) << at;
            }
        }
        return out;
    }
    class_masks_scalar(bytes)
}

/// `class_masks` of 16 bytes with SSE2 (part of every x86_64).
#[cfg(target_arch = "x86_64")]
#[inline]
fn class_masks_16(chunk: &[u8; 16]) -> [u64; 5] {
    use std::arch::x86_64::*;
    // SAFETY: the load reads exactly the 16 bytes of `chunk`; SSE2 is always there on x86_64.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr() as *const __m128i);
        let set = |c: u8| _mm_set1_epi8(c as i8);
        // Signed compares: bytes from 0x80 are negative, outside every ASCII range below.
        let in_range = |v: __m128i, lo: u8, hi: u8| {
            _mm_and_si128(
                _mm_cmpgt_epi8(v, set(lo - 1)),
                _mm_cmplt_epi8(v, set(hi + 1)),
            )
        };
        let mask = |v: __m128i| _mm_movemask_epi8(v) as u32 as u64;
        let digit = in_range(v, b'0', b'9');
        let space = _mm_cmpeq_epi8(v, set(b' '));
        let white = _mm_or_si128(space, in_range(v, b'\t', b'\r'));
        let letter = in_range(_mm_or_si128(v, set(0x20)), b'a', b'z');
        let high = mask(v);
        let word = mask(_mm_or_si128(_mm_or_si128(digit, white), letter));
        [
            mask(digit),
            mask(space),
            mask(white),
            !(word | high) & 0xffff,
            high,
        ]
    }
}

/// `class_masks` one byte at a time, through the class table.
fn class_masks_scalar(bytes: &[u8]) -> [u64; 5] {
    let mut out = [0u64; 5];
    for (i, &b) in bytes.iter().enumerate() {
        let c = GAPPED_CLASSES[b as usize];
        for (k, class) in [DIGIT, SPACE, WHITE, PUNCT, HIGH].into_iter().enumerate() {
            out[k] |= ((c & class != 0) as u64) << i;
        }
    }
    out
}

/// Drops possessive markers (`?+`, `*+`, `++`, `}+`); only called on the proven heads above.
fn strip_possessive(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let mut escaped = false;
    let mut in_class = false;
    while let Some(c) = chars.next() {
        out.push(c);
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            // `\p{..}` is one atom: its `}` does not close an interval.
            '\\' if matches!(chars.peek(), Some('p' | 'P')) => {
                for c in chars.by_ref() {
                    out.push(c);
                    if c == '}' {
                        break;
                    }
                }
            }
            '\\' => escaped = true,
            '[' => in_class = true,
            ']' => in_class = false,
            '?' | '*' | '+' | '}' if !in_class && chars.peek() == Some(&'+') => {
                chars.next();
            }
            _ => {}
        }
    }
    out
}

/// Rewrites an Oniguruma pattern into PCRE/tiktoken syntax with the same meaning:
/// `X{n,m}+` (Oniguruma: "one or more X{n,m}") becomes `(?:X{n,m})+`.
pub fn onig_to_pcre(pattern: &str) -> String {
    rewrite_interval_plus(pattern, |atom, interval| format!("(?:{atom}{interval})+"))
}

/// Rewrites a tiktoken (PCRE) pattern into Oniguruma syntax with the same meaning:
/// `X{n,m}+` (possessive) becomes the atomic group `(?>X{n,m})`.
pub fn pcre_to_onig(pattern: &str) -> String {
    rewrite_interval_plus(pattern, |atom, interval| format!("(?>{atom}{interval})"))
}

/// Finds each `ATOM{..}+` outside character classes and replaces it by `rewrite(ATOM, {..})`.
fn rewrite_interval_plus(pattern: &str, rewrite: impl Fn(&str, &str) -> String) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out: Vec<String> = Vec::new(); // one entry per atom (or literal piece of syntax)
    let mut i = 0;
    let mut group_starts: Vec<usize> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                // An escape, possibly with a braced argument (\p{L}, \x{41}).
                let mut j = (i + 2).min(chars.len());
                if j < chars.len()
                    && chars[j] == '{'
                    && matches!(chars[i + 1], 'p' | 'P' | 'x' | 'u')
                {
                    while j < chars.len() && chars[j] != '}' {
                        j += 1;
                    }
                    j = (j + 1).min(chars.len());
                }
                out.push(chars[i..j].iter().collect());
                i = j;
            }
            '[' => {
                let mut j = i + 1;
                let mut depth = 1;
                if j < chars.len() && chars[j] == '^' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && depth > 0 {
                    match chars[j] {
                        '\\' => j += 1,
                        '[' => depth += 1,
                        ']' => depth -= 1,
                        _ => {}
                    }
                    j += 1;
                }
                out.push(chars[i..j.min(chars.len())].iter().collect());
                i = j;
            }
            '(' => {
                group_starts.push(out.len());
                out.push("(".into());
                i += 1;
            }
            ')' => {
                out.push(")".into());
                if let Some(start) = group_starts.pop() {
                    let group: String = out.drain(start..).collect();
                    out.push(group);
                }
                i += 1;
            }
            '{' => {
                let close = chars[i..].iter().position(|&c| c == '}').map(|p| i + p);
                match close {
                    Some(j)
                        if chars[i + 1..j]
                            .iter()
                            .all(|c| c.is_ascii_digit() || *c == ',')
                            && j > i + 1 =>
                    {
                        let interval: String = chars[i..=j].iter().collect();
                        if chars.get(j + 1) == Some(&'+') && !out.is_empty() {
                            let atom = out.pop().unwrap();
                            out.push(rewrite(&atom, &interval));
                            i = j + 2;
                        } else {
                            let last = out.pop().unwrap_or_default();
                            out.push(last + &interval);
                            i = j + 1;
                        }
                    }
                    _ => {
                        out.push("{".into());
                        i += 1;
                    }
                }
            }
            _ => {
                out.push(c.to_string());
                i += 1;
            }
        }
    }
    out.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small seeded generator (no dependency) for the randomized differential tests.
    fn lcg<T>(mut seed: u64, cast: impl Fn(u64) -> T) -> impl FnMut() -> T {
        move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            cast(seed >> 33)
        }
    }

    /// The fast engine and `fancy-regex` find the same pieces in `count` texts of fewer than
    /// `max_len` random picks from `alphabet`.
    fn agree_on_random_texts(
        pattern: &str,
        alphabet: &[&str],
        seed: u64,
        count: usize,
        max_len: usize,
    ) {
        let fast = Regex::tiktoken(pattern).unwrap();
        let slow = Regex::tiktoken_reference(pattern).unwrap();
        let mut next = lcg(seed, |x| x as usize);
        for _ in 0..count {
            let len = next() % max_len;
            let text: String = (0..len)
                .map(|_| alphabet[next() % alphabet.len()])
                .collect();
            assert_eq!(
                fast.find_all(&text).unwrap(),
                slow.find_all(&text).unwrap(),
                "{pattern:?} on {text:?}"
            );
        }
    }

    #[test]
    fn interval_plus_rewrites() {
        let cl = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+";
        assert!(pcre_to_onig(cl).contains(r"|(?>\p{N}{1,3})|"));
        assert_eq!(onig_to_pcre(r"\p{N}{1,3}+|a"), r"(?:\p{N}{1,3})+|a");
        assert_eq!(onig_to_pcre(r"(ab){2}+x{3}"), r"(?:(ab){2})+x{3}");
        assert_eq!(onig_to_pcre(r"[{]{2}"), r"[{]{2}");
        assert_eq!(pcre_to_onig(r"a{1,3}"), r"a{1,3}");
    }

    #[test]
    fn strip_possessive_keeps_classes() {
        assert_eq!(
            strip_possessive(r"[+?]?+\p{L}++\p{N}{1,3}+[\r\n]*+"),
            r"[+?]?\p{L}+\p{N}{1,3}[\r\n]*"
        );
        assert_eq!(strip_possessive(r"\p{L}+|\p{N}{1,3}"), r"\p{L}+|\p{N}{1,3}");
    }

    /// Random strings over an alphabet that mixes every class the lexers decide on with the
    /// non-ASCII characters that make them step aside (letters, marks, digits, spaces, ſ).
    #[test]
    fn fast_equals_fancy_on_random_text() {
        let alphabet = [
            "a", "b", "Z", "Q", "'", "s", "S", "12", "345", "'ll", "'S", " \n", "\r\n", "t", "r",
            "e", "E", "v", "l", "L", "d", "m", "0", "7", " ", "  ", "\t", "\n", "\r", "\x0b",
            "\x0c", "!", ".", "/", "\x00", "-", "_", "é", "É", "ſ", "\u{301}", "ǅ", "ʰ", "日", "٣",
            "½", "\u{a0}", "\u{3000}", "\u{85}", "\u{2028}", "\u{1680}", "€", "😀", "\u{200b}",
        ];
        for (head, tail) in [(0, 1), (1, 1), (2, 0), (3, 0), (4, 0), (5, 0)] {
            let pattern = format!("{}{}", FAST_HEADS[head], WHITESPACE_TAILS[tail]);
            agree_on_random_texts(&pattern, &alphabet, 12345 + head as u64, 4000, 24);
        }
    }

    /// Random code points over all of Unicode (every plane, unassigned ones too), mixed with the
    /// ASCII that makes pieces end, for every family.
    #[test]
    fn fast_equals_fancy_on_random_code_points() {
        let mut next = lcg(987654321u64, |x| x as u32);
        for (head, tail) in [(0, 1), (1, 1), (2, 0), (3, 0), (4, 0), (5, 0)] {
            let pattern = format!("{}{}", FAST_HEADS[head], WHITESPACE_TAILS[tail]);
            let fast = Regex::tiktoken(&pattern).unwrap();
            let slow = Regex::tiktoken_reference(&pattern).unwrap();
            for _ in 0..3000 {
                let len = next() % 16;
                let text: String = (0..len)
                    .map(|_| match next() % 4 {
                        0 => char::from_u32(next() % 0x11_0000).unwrap_or('\u{fffd}'),
                        1 => char::from_u32(next() % 0x3000).unwrap_or(' '),
                        2 => b" \n\r\t'sS1a.A/"[(next() % 12) as usize] as char,
                        _ => char::from_u32(0x80 + next() % 0x780).unwrap(),
                    })
                    .collect();
                assert_eq!(
                    fast.find_all(&text).unwrap(),
                    slow.find_all(&text).unwrap(),
                    "{pattern:?} on {text:?}"
                );
            }
        }
    }

    #[test]
    fn gapped_equals_fancy_on_random_text() {
        let alphabet = [
            "a", "Z", "1", "234", " ", "  ", "   ", "\t", "\n", "\r\n", "!", ".", "/", "--", "é",
            "\x0b", "\x1c", "\x7f", "\x00", "5", "x", "?!", "\r", "٣", "½", "\u{a0}", "\u{3000}",
            "\u{85}", "€", "😀", "\u{301}", ": ", "://", " ..",
        ];
        let pattern = format!("{}{}", GAPPED_HEADS[0], SPACES_TAIL);
        assert!(matches!(
            Regex::tiktoken(&pattern).unwrap().engine,
            Engine::Gapped(..)
        ));
        agree_on_random_texts(&pattern, &alphabet, 777, 50000, 24);
    }

    #[test]
    fn gapped_equals_fancy_on_long_random_text() {
        // Long enough to cross several 64-byte windows of `starts`.
        let alphabet = [
            "abc", "Z", "1", "234", " ", "  ", "   ", "\t", "\n", "!", ".", "/", "--", "é", "x y",
            "\u{a0}", "\u{3000}", "٣", ": ", " ..", "(", ");", " (", "word ", "\r\n",
        ];
        let pattern = format!("{}{}", GAPPED_HEADS[0], SPACES_TAIL);
        agree_on_random_texts(&pattern, &alphabet, 4242, 3000, 120);
    }

    #[test]
    fn gapped_starts_hold_every_match_start() {
        // `starts` may only skip positions where the scalar rule finds nothing, from any window
        // start, near the end of the text or not; the SSE2 classes equal the table's.
        let bytes = b"ab 1  x\t!.?/\n\r:0 ( )--  \x0b\x0c\x1c\x7f\xc3\xa9\xe3\x80\x80Zz`{@[";
        let mut next = lcg(99u64, |x| x as usize);
        for _ in 0..3000 {
            let len = next() % 150;
            let b: Vec<u8> = (0..len).map(|_| bytes[next() % bytes.len()]).collect();
            for base in 0..b.len() {
                let bits = starts(&b, base);
                for p in base..b.len().min(base + 64) {
                    let may_start = !matches!(gapped_ascii_at(&b, p), At::None);
                    assert!(
                        !may_start || bits >> (p - base) & 1 == 1,
                        "position {p} from {base} in {:?}",
                        String::from_utf8_lossy(&b)
                    );
                }
                if b.len() - base < 64 {
                    assert_eq!(bits >> (b.len() - base), 0, "bits past the end");
                }
            }
            let window = &b[..b.len().min(64)];
            assert_eq!(class_masks(window), class_masks_scalar(window));
        }
    }

    #[test]
    fn fast_equals_fancy_on_tricky_text() {
        let heads_tails = [
            (FAST_HEADS[1], WHITESPACE_TAILS[1]),
            (FAST_HEADS[2], WHITESPACE_TAILS[0]),
            (FAST_HEADS[0], WHITESPACE_TAILS[1]),
            (FAST_HEADS[3], WHITESPACE_TAILS[0]),
            (FAST_HEADS[4], WHITESPACE_TAILS[0]),
        ];
        let texts = [
            "Hello  world\n\n  x  ",
            "a\t\t b",
            "  \u{3000}\u{3000}x",
            "12345 678\r\n\r\n y",
            "it's 'S THE'LL",
            "   ",
            " ",
            "x \n",
            "don't\u{a0}\u{a0}stop",
            "\u{300}\u{301}abc ABCdef",
            "€€ £ /x//\n",
            "Ünïcödé ÄBC ǅa ʰʰ 日本語 ٣٤٥٦ ½½ x\u{2028}\u{2029}y",
            "\u{301}\u{301}A\u{301}b \u{300}'s 'ſ ǅ'LL",
            "Москва 2024г. — ΑΘΗΝΑ αθήνα!",
            // letter runs scanned eight bytes at a time, ended by each byte next to a letter
            "internationalization ABCDEFGHIJKLMNOPQRSTUVWXYZ@[`{ abcdefghé12345678 xyzwvuts'LL",
            "abcdefg@abcdefgh[abcdefghi`ABCDEFGH{ZZZZZZZZ\u{80}aaaaaaaa\u{ff}",
        ];
        for (head, tail) in heads_tails {
            let pattern = format!("{head}{tail}");
            let fast = Regex::tiktoken(&pattern).unwrap();
            assert!(fast.is_fast());
            let slow = Regex::tiktoken_reference(&pattern).unwrap();
            for t in texts {
                assert_eq!(
                    fast.find_all(t).unwrap(),
                    slow.find_all(t).unwrap(),
                    "{pattern:?} on {t:?}"
                );
            }
        }
    }
}
