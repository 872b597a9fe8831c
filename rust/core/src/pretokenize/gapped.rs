//! SuperBPE's stage-2 pattern `HEAD| +(?!\S)` (text between its matches is a piece too) without
//! look-ahead: a hand-written ASCII scan that finds candidate starts 64 bytes at a time, and a
//! two-pattern DFA for the rest. Held equal to `fancy-regex` by randomized tests in `regex.rs`.

use regex_automata::hybrid::dfa::DFA;
use regex_automata::util::pool::Pool;
use regex_automata::Input;

/// Patterns `HEAD| +(?!\S)` that leave text between matches (SuperBPE's stage 2), for these
/// HEADs: they contain no look-around and cannot match the empty string.
pub(super) const GAPPED_HEADS: [&str; 1] = [r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*"];
pub(super) const SPACES_TAIL: &str = r"| +(?!\S)";

/// `HEAD| +(?!\S)` without look-ahead: a two-pattern DFA regex `[HEAD, ' +']`, leftmost-first
/// (so HEAD has priority at a position, as in the alternation). When the run of spaces wins it is
/// maximal and HEAD failed there; before a non-space the look-ahead alternative keeps all but
/// the last space, or fails for a single space (the search then goes on one byte later).
pub(super) struct GappedRegex {
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
    pub(super) fn new(pattern: &str) -> Option<GappedRegex> {
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
    pub(super) fn for_each_match(
        &self,
        text: &str,
        f: &mut impl FnMut(usize, usize),
    ) -> Option<usize> {
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
    pub(super) fn new(bytes: &'a [u8]) -> Starts<'a> {
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
pub(super) enum At {
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
pub(super) fn gapped_ascii_at(b: &[u8], p: usize) -> At {
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
pub(super) fn starts(b: &[u8], p: usize) -> u64 {
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
pub(super) fn class_masks(bytes: &[u8]) -> [u64; 5] {
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
pub(super) fn class_masks_scalar(bytes: &[u8]) -> [u64; 5] {
    let mut out = [0u64; 5];
    for (i, &b) in bytes.iter().enumerate() {
        let c = GAPPED_CLASSES[b as usize];
        for (k, class) in [DIGIT, SPACE, WHITE, PUNCT, HIGH].into_iter().enumerate() {
            out[k] |= ((c & class != 0) as u64) << i;
        }
    }
    out
}
