//! Hand-written pre-tokenizers for the known pattern families, for all of Unicode.
//!
//! `next_piece(family, classes, text, pos)` returns where the piece starting at `pos` ends,
//! exactly as the family's regex would. Characters are classified through `Classes`, a table
//! built from `regex-syntax`'s Unicode tables (the crate whose classes the reference regex engine,
//! `fancy-regex`, uses), so letters, marks, digits and spaces of every script stay on this path.
//! It returns `None` only where case folding would matter (a contraction such as `'s` followed by
//! a non-ASCII character); the caller then asks the DFA for that one piece.
//! Tests hold it equal to `fancy-regex` on random, adversarial and real text.

use std::sync::OnceLock;

/// The pattern families with a hand-written lexer (tiktoken dialect).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// r50k / p50k / GPT-2.
    R50k,
    Cl100k,
    O200k,
    /// Llama-3 (also cl100k as Hugging Face converters write it).
    Llama3,
    /// Qwen2: Llama-3 with single digits.
    Qwen2,
    /// o200k without its contraction suffixes (SuperBPE's stage 1).
    O200kNoContractions,
}

// Character classes, one bit each; the end of the text has none.
/// `\p{L}`
const L: u8 = 1;
/// `\p{N}`
const N: u8 = 2;
/// `\s` (Unicode `White_Space`)
const S: u8 = 4;
/// `[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]` (o200k's "upper" run)
const UP: u8 = 8;
/// `[\p{Ll}\p{Lm}\p{Lo}\p{M}]` (o200k's "lower" run)
const LO: u8 = 16;
/// `[\r\n]`
const NL: u8 = 32;
/// `[^\r\n\p{L}\p{N}]` (the optional character before a word)
const P: u8 = 64;
/// `[^\s\p{L}\p{N}]` (punctuation and symbols)
const O: u8 = 128;

/// The class bits of every code point: ASCII directly, the rest in 256-code-point blocks
/// (identical blocks shared), so the table stays small and the common scripts stay in cache.
pub struct Classes {
    ascii: [u8; 128],
    block_of: Vec<u16>,
    blocks: Vec<[u8; 256]>,
}

/// The classes of a regex-syntax character class, as inclusive code point ranges.
fn ranges(class: &str) -> Vec<(u32, u32)> {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::Parser::new()
        .parse(class)
        .expect("a valid Unicode class");
    match hir.kind() {
        HirKind::Class(Class::Unicode(c)) => c
            .ranges()
            .iter()
            .map(|r| (r.start() as u32, r.end() as u32))
            .collect(),
        other => panic!("{class} is not a Unicode class: {other:?}"),
    }
}

impl Classes {
    /// The shared table, built on first use (a few milliseconds).
    pub fn get() -> &'static Classes {
        static CLASSES: OnceLock<Classes> = OnceLock::new();
        CLASSES.get_or_init(Classes::build)
    }

    fn build() -> Classes {
        let mut all = vec![0u8; 0x11_0000];
        for (class, bit) in [
            (r"\p{L}", L),
            (r"\p{N}", N),
            (r"\s", S),
            (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", UP),
            (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", LO),
            (r"[\r\n]", NL),
            (r"[^\r\n\p{L}\p{N}]", P),
            (r"[^\s\p{L}\p{N}]", O),
        ] {
            for (start, end) in ranges(class) {
                for c in &mut all[start as usize..=end as usize] {
                    *c |= bit;
                }
            }
        }
        let mut ascii = [0u8; 128];
        ascii.copy_from_slice(&all[..128]);
        let mut blocks: Vec<[u8; 256]> = Vec::new();
        let mut index = std::collections::HashMap::new();
        let block_of = all
            .chunks(256)
            .map(|chunk| {
                let block: [u8; 256] = chunk.try_into().unwrap();
                *index.entry(block).or_insert_with(|| {
                    blocks.push(block);
                    (blocks.len() - 1) as u16
                })
            })
            .collect();
        Classes {
            ascii,
            block_of,
            blocks,
        }
    }

    /// The class bits of one character (which of the classes above it belongs to).
    pub fn bits_of(&self, c: char) -> u8 {
        let mut buf = [0u8; 4];
        self.at(c.encode_utf8(&mut buf).as_bytes(), 0).0
    }

    /// Whether `c` is in o200k's "upper" run class but not in its "lower" one (an upper- or
    /// title-case letter): whether a word piece may end with it depends on what follows it.
    pub fn is_upper_only(&self, c: char) -> bool {
        let bits = self.bits_of(c);
        bits & UP != 0 && bits & LO == 0
    }

    /// The class bits of the character at `i` and its length in bytes; `(0, 0)` at the end.
    /// `b` is valid UTF-8 and `i` a character boundary.
    #[inline(always)]
    fn at(&self, b: &[u8], i: usize) -> (u8, usize) {
        match b.get(i) {
            None => (0, 0),
            Some(&x) if x < 0x80 => (self.ascii[x as usize], 1),
            Some(&x) => self.non_ascii(b, i, x),
        }
    }

    #[inline]
    fn non_ascii(&self, b: &[u8], i: usize, lead: u8) -> (u8, usize) {
        let cont = |k: usize| (b[i + k] & 0x3f) as u32;
        let (c, n) = if lead < 0xe0 {
            (((lead & 0x1f) as u32) << 6 | cont(1), 2)
        } else if lead < 0xf0 {
            (((lead & 0x0f) as u32) << 12 | cont(1) << 6 | cont(2), 3)
        } else {
            (
                ((lead & 0x07) as u32) << 18 | cont(1) << 12 | cont(2) << 6 | cont(3),
                4,
            )
        };
        let block = self.block_of[(c >> 8) as usize] as usize;
        (self.blocks[block][(c & 0xff) as usize], n)
    }

    /// The end of the run of characters with any of `bits` from `i`.
    #[inline(always)]
    fn run(&self, b: &[u8], mut i: usize, bits: u8) -> usize {
        loop {
            let (c, n) = self.at(b, i);
            if c & bits == 0 {
                return i;
            }
            i += n;
        }
    }

    /// `run(b, i, L)`, eight ASCII bytes at a time while they are all letters.
    #[inline(always)]
    fn letters(&self, b: &[u8], mut i: usize) -> usize {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        while let Some(chunk) = b.get(i..i + 8) {
            let w = u64::from_le_bytes(chunk.try_into().unwrap());
            // Per byte: y = x | 0x20 is in a..=z exactly for ASCII letters; on 7-bit values
            // the additions set bit 7 for y >= 'a' and y > 'z' without carrying into the next byte.
            let y = (w | 0x2020_2020_2020_2020) & LOW7;
            let ascii_letter =
                (y + 0x1f1f_1f1f_1f1f_1f1f) & !(y + 0x0505_0505_0505_0505) & !w & HIGH;
            let n = (!ascii_letter & HIGH).trailing_zeros() as usize / 8;
            i += n;
            if n < 8 {
                break;
            }
        }
        self.run(b, i, L)
    }

    /// The end of up to `max` characters of class `N` from `i`.
    #[inline(always)]
    fn digits(&self, b: &[u8], mut i: usize, max: usize) -> usize {
        for _ in 0..max {
            let (c, n) = self.at(b, i);
            if c & N == 0 {
                break;
            }
            i += n;
        }
        i
    }
}

/// The byte at `i`: `Some(None)` at the end of the text, `None` for a non-ASCII byte.
#[inline(always)]
fn ascii_at(b: &[u8], i: usize) -> Option<Option<u8>> {
    match b.get(i) {
        None => Some(None),
        Some(&x) if x < 0x80 => Some(Some(x)),
        Some(_) => None,
    }
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` (or case-sensitive) at `e`: the end of the contraction, or `e`;
/// `None` if a non-ASCII character follows the apostrophe (it may case-fold to a letter here,
/// as U+017F folds to `s`: the DFA decides).
#[inline(always)]
fn contraction(b: &[u8], e: usize, ignore_case: bool) -> Option<usize> {
    if b.get(e) != Some(&b'\'') {
        return Some(e);
    }
    let fold = |x: Option<u8>| {
        x.map(|x| {
            if ignore_case {
                x.to_ascii_lowercase()
            } else {
                x
            }
        })
    };
    let second = fold(ascii_at(b, e + 1)?);
    let end = match second {
        Some(b's' | b't' | b'm' | b'd') => e + 2,
        Some(b'r' | b'v') if fold(ascii_at(b, e + 2)?) == Some(b'e') => e + 3,
        Some(b'l') if fold(ascii_at(b, e + 2)?) == Some(b'l') => e + 3,
        _ => e,
    };
    Some(end)
}

/// ` ?[^\s\p{L}\p{N}]+` then a run of the ASCII bytes in `tail`, or `None`: no match here.
#[inline(always)]
fn punctuation(t: &Classes, b: &[u8], p: usize, tail: &[u8]) -> Option<usize> {
    let q = if b[p] == b' ' { p + 1 } else { p };
    let mut i = t.run(b, q, O);
    if i == q {
        return None;
    }
    while i < b.len() && tail.contains(&b[i]) {
        i += 1;
    }
    Some(i)
}

/// A run of whitespace from `p`: its end, the start of its last character, and the position
/// just after its last `\r` or `\n` (if any).
#[inline(always)]
fn space_run(t: &Classes, b: &[u8], p: usize) -> (usize, usize, Option<usize>) {
    let (mut i, mut last, mut newline) = (p, p, None);
    loop {
        let (c, n) = t.at(b, i);
        if c & S == 0 {
            return (i, last, newline);
        }
        if c & NL != 0 {
            newline = Some(i + 1);
        }
        last = i;
        i += n;
    }
}

/// The end of the piece that starts at `p` (`p < b.len()`, a character boundary of the valid
/// UTF-8 `b`), or `None`: ask the DFA.
#[inline(always)]
pub fn next_piece(family: Family, t: &Classes, b: &[u8], p: usize) -> Option<usize> {
    match family {
        Family::O200k => o200k(t, b, p, true),
        Family::O200kNoContractions => o200k(t, b, p, false),
        Family::Cl100k => cl100k(t, b, p, true, 3),
        Family::Llama3 => cl100k(t, b, p, false, 3),
        Family::Qwen2 => cl100k(t, b, p, false, 1),
        Family::R50k => r50k(t, b, p),
    }
}

#[inline(always)]
fn o200k(t: &Classes, b: &[u8], p: usize, contractions: bool) -> Option<usize> {
    let suffix = |end: usize| {
        if contractions {
            contraction(b, end, true)
        } else {
            Some(end)
        }
    };
    // A1 = [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?
    // A2 = [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|...)?
    // tried in the regex's backtracking order: A1 with the optional prefix, A1 without, A2 with,
    // A2 without. Both need a letter or mark where they start.
    let (c, n) = t.at(b, p);
    let mut starts = [0; 2];
    let mut k = 0;
    if c & P != 0 && t.at(b, p + n).0 & (UP | LO) != 0 {
        starts[k] = p + n;
        k += 1;
    }
    if c & (UP | LO) != 0 {
        starts[k] = p;
        k += 1;
    }
    let mut a2 = None;
    for &s in &starts[..k] {
        match upper_then_lower(t, b, s) {
            Ok(end) => return suffix(end),
            // A1 failed, so no lower follows the upper run: A2 from here ends with that run.
            Err(upper_end) if upper_end > s && a2.is_none() => a2 = Some(upper_end),
            Err(_) => {}
        }
    }
    if let Some(end) = a2 {
        return suffix(end);
    }
    // \p{N}{1,3}
    if c & N != 0 {
        return Some(t.digits(b, p, 3));
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n/]*
    if let Some(end) = punctuation(t, b, p, b"\r\n/") {
        return Some(end);
    }
    Some(whitespace(t, b, p))
}

/// `UP* LO+` from `s`, backtracking as the regex does: the longest run of `UP` characters, then
/// the longest run of `LO`; if none follows, the `UP` run gives back characters until the next is
/// also `LO` (`Lm`, `Lo`, `M` are in both), which then ends the match alone.
/// `Err(end of the UP run)` if there is no match.
#[inline(always)]
fn upper_then_lower(t: &Classes, b: &[u8], s: usize) -> Result<usize, usize> {
    let (mut i, mut last_both_end) = (s, None);
    loop {
        let (c, n) = t.at(b, i);
        if c & UP == 0 {
            break;
        }
        i += n;
        if c & LO != 0 {
            last_both_end = Some(i);
        }
    }
    let w = t.run(b, i, LO);
    if w > i {
        Ok(w)
    } else {
        last_both_end.ok_or(i)
    }
}

/// cl100k (possessive), Llama-3 and Qwen2 (with `digits` as the longest number piece).
/// The first two characters are classified once and decide between the alternatives.
#[inline(always)]
fn cl100k(t: &Classes, b: &[u8], p: usize, possessive_tail: bool, digits: usize) -> Option<usize> {
    let (c, n) = t.at(b, p);
    // [^\r\n\p{L}\p{N}]?\p{L}+ without its prefix (the prefix is never a letter, so giving it
    // back cannot help)
    if c & L != 0 {
        return Some(t.letters(b, p + n));
    }
    // \p{N}{1,3}
    if c & N != 0 {
        return Some(t.digits(b, p, digits));
    }
    // '(?i:[sdmt]|ll|ve|re)  (Llama-3: (?i:'s|'t|'re|'ve|'m|'ll|'d), the same strings)
    if b[p] == b'\'' {
        let e = contraction(b, p, true)?;
        if e > p {
            return Some(e);
        }
    }
    if c & P != 0 {
        let (c2, n2) = t.at(b, p + n);
        // [^\r\n\p{L}\p{N}]\p{L}+
        if c2 & L != 0 {
            return Some(t.letters(b, p + n + n2));
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        let punctuation = if c & O != 0 {
            Some(p + n)
        } else if b[p] == b' ' && c2 & O != 0 {
            Some(p + n + n2)
        } else {
            None
        };
        if let Some(i) = punctuation {
            let mut i = t.run(b, i, O);
            while i < b.len() && matches!(b[i], b'\r' | b'\n') {
                i += 1;
            }
            return Some(i);
        }
    }
    if possessive_tail {
        // \s++$|\s*[\r\n]|\s+(?!\S)|\s
        let (end, last, newline) = space_run(t, b, p);
        if end == b.len() {
            return Some(end);
        }
        if let Some(n) = newline {
            return Some(n);
        }
        return Some(if last > p { last } else { end });
    }
    Some(whitespace(t, b, p))
}

#[inline(always)]
fn r50k(t: &Classes, b: &[u8], p: usize) -> Option<usize> {
    // '(?:[sdmt]|ll|ve|re)
    if b[p] == b'\'' {
        let e = contraction(b, p, false)?;
        if e > p {
            return Some(e);
        }
    }
    //  ?\p{L}++|  ?\p{N}++|  ?[^\s\p{L}\p{N}]++
    let q = if b[p] == b' ' { p + 1 } else { p };
    for class in [L, N, O] {
        let i = t.run(b, q, class);
        if i > q {
            return Some(i);
        }
    }
    // \s++$|\s+(?!\S)|\s
    let (end, last, _) = space_run(t, b, p);
    if end == b.len() {
        return Some(end);
    }
    Some(if last > p { last } else { end })
}

/// `\s*[\r\n]+|\s+(?!\S)|\s+` at `p` (o200k, Llama-3, Qwen2).
fn whitespace(t: &Classes, b: &[u8], p: usize) -> usize {
    let (end, last, newline) = space_run(t, b, p);
    if let Some(n) = newline {
        // \s* backtracks to the last newline; [\r\n]+ takes it (nothing newline-like follows).
        return n;
    }
    if end == b.len() || last == p {
        return end;
    }
    last
}
