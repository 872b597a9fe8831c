//! Hand-written pre-tokenizers for the known pattern families, for ASCII text.
//!
//! `next_piece(family, text, pos)` returns where the piece starting at `pos` ends, exactly as the
//! family's regex would, or `None` as soon as the answer depends on a non-ASCII character whose
//! class it does not know (letters, digits, marks, case folding); the caller then asks the DFA
//! for this one piece. Whitespace is handled for all of Unicode (`space_len`), so runs of
//! spaces and newlines between non-ASCII words stay on the fast path.
//! Tests hold it equal to `fancy-regex` on random and adversarial text.

/// The pattern families with a hand-written lexer (tiktoken dialect).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// r50k / p50k / GPT-2.
    R50k,
    Cl100k,
    O200k,
    /// Llama-3 (also cl100k as Hugging Face converters write it).
    Llama3,
}

/// The byte at `i`: `Some(None)` at the end of the text, `None` for a non-ASCII byte.
#[inline(always)]
fn at(b: &[u8], i: usize) -> Option<Option<u8>> {
    match b.get(i) {
        None => Some(None),
        Some(&x) if x < 0x80 => Some(Some(x)),
        Some(_) => None,
    }
}

#[inline(always)]
fn is(x: Option<u8>, f: impl Fn(u8) -> bool) -> bool {
    x.is_some_and(f)
}

#[inline(always)]
fn letter(x: u8) -> bool {
    x.is_ascii_alphabetic()
}
#[inline(always)]
fn digit(x: u8) -> bool {
    x.is_ascii_digit()
}
#[inline(always)]
fn ascii_space(x: u8) -> bool {
    matches!(x, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}
/// `[^\s\p{L}\p{N}]` on ASCII.
#[inline(always)]
fn other(x: u8) -> bool {
    !ascii_space(x) && !x.is_ascii_alphanumeric()
}
/// `[^\r\n\p{L}\p{N}]` on ASCII.
#[inline(always)]
fn prefix(x: u8) -> bool {
    x != b'\r' && x != b'\n' && !x.is_ascii_alphanumeric()
}

/// Byte length of the whitespace character (Unicode `White_Space`) at `i`, or 0.
#[inline(always)]
pub fn space_len(b: &[u8], i: usize) -> usize {
    match b.get(i..) {
        Some([x, ..]) if ascii_space(*x) => 1,
        Some([0xc2, 0x85 | 0xa0, ..]) => 2,
        Some([0xe1, 0x9a, 0x80, ..]) => 3,
        Some([0xe2, 0x80, 0x80..=0x8a | 0xa8 | 0xa9 | 0xaf, ..]) => 3,
        Some([0xe2, 0x81, 0x9f, ..]) => 3,
        Some([0xe3, 0x80, 0x80, ..]) => 3,
        _ => 0,
    }
}

/// A run of whitespace from `p`: its end, the start of its last character, and the position
/// just after its last `\r` or `\n` (if any).
#[inline(always)]
fn space_run(b: &[u8], p: usize) -> (usize, usize, Option<usize>) {
    let (mut i, mut last, mut newline) = (p, p, None);
    loop {
        let n = space_len(b, i);
        if n == 0 {
            return (i, last, newline);
        }
        if b[i] == b'\n' || b[i] == b'\r' {
            newline = Some(i + 1);
        }
        last = i;
        i += n;
    }
}

/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)` (or case-sensitive) at `e`: the end of the contraction, or `e`.
#[inline(always)]
fn contraction(b: &[u8], e: usize, ignore_case: bool) -> Option<usize> {
    if at(b, e)? != Some(b'\'') {
        return Some(e);
    }
    // A non-ASCII letter may case-fold to one of these (U+017F folds to `s`): ask the DFA.
    let fold = |x: Option<u8>| {
        x.map(|x| {
            if ignore_case {
                x.to_ascii_lowercase()
            } else {
                x
            }
        })
    };
    let second = fold(at(b, e + 1)?);
    let end = match second {
        Some(b's' | b't' | b'm' | b'd') => e + 2,
        Some(b'r' | b'v') if fold(at(b, e + 2)?) == Some(b'e') => e + 3,
        Some(b'l') if fold(at(b, e + 2)?) == Some(b'l') => e + 3,
        _ => e,
    };
    Some(end)
}

#[inline(always)]
fn run(b: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> Option<usize> {
    while is(at(b, i)?, &f) {
        i += 1;
    }
    Some(i)
}

/// `\p{N}{1,3}` from the digit at `p`.
#[inline(always)]
fn up_to_three_digits(b: &[u8], p: usize) -> Option<usize> {
    let mut i = p + 1;
    while i < p + 3 && is(at(b, i)?, digit) {
        i += 1;
    }
    Some(i)
}

/// ` ?[^\s\p{L}\p{N}]+` then a run of `tail` characters, or `None` inside: no match here.
#[inline(always)]
fn punctuation(b: &[u8], p: usize, c: u8, tail: impl Fn(u8) -> bool) -> Option<Option<usize>> {
    let q = if c == b' ' { p + 1 } else { p };
    let i = run(b, q, other)?;
    Some(if i > q { Some(run(b, i, tail)?) } else { None })
}

/// The end of the piece that starts at `p` (`p < b.len()`), or `None`: ask the DFA.
#[inline]
pub fn next_piece(family: Family, b: &[u8], p: usize) -> Option<usize> {
    let c = at(b, p)??;
    match family {
        Family::O200k => o200k(b, p, c),
        Family::Cl100k | Family::Llama3 => cl100k(b, p, c, family == Family::Cl100k),
        Family::R50k => r50k(b, p, c),
    }
}

fn o200k(b: &[u8], p: usize, c: u8) -> Option<usize> {
    // [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?
    // and [^\r\n\p{L}\p{N}]?[\p{Lu}...]+[\p{Ll}...]*(?i:'s|...)?; on ASCII: upper* lower+ | upper+.
    let q = if prefix(c) { p + 1 } else { p };
    let upper_end = run(b, q, |x| x.is_ascii_uppercase())?;
    let lower_end = run(b, upper_end, |x| x.is_ascii_lowercase())?;
    if lower_end > upper_end || upper_end > q {
        return contraction(b, lower_end, true);
    }
    // \p{N}{1,3}
    if digit(c) {
        return up_to_three_digits(b, p);
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n/]*
    if let Some(end) = punctuation(b, p, c, |x| matches!(x, b'\r' | b'\n' | b'/'))? {
        return Some(end);
    }
    whitespace(b, p)
}

fn cl100k(b: &[u8], p: usize, c: u8, possessive_tail: bool) -> Option<usize> {
    // '(?i:[sdmt]|ll|ve|re)  (Llama-3: (?i:'s|'t|'re|'ve|'m|'ll|'d), the same strings)
    if c == b'\'' {
        let e = contraction(b, p, true)?;
        if e > p {
            return Some(e);
        }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    let q = if prefix(c) { p + 1 } else { p };
    let i = run(b, q, letter)?;
    if i > q {
        return Some(i);
    }
    // \p{N}{1,3}
    if digit(c) {
        return up_to_three_digits(b, p);
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    if let Some(end) = punctuation(b, p, c, |x| x == b'\r' || x == b'\n')? {
        return Some(end);
    }
    if possessive_tail {
        // \s++$|\s*[\r\n]|\s+(?!\S)|\s
        let (end, last, newline) = space_run(b, p);
        if end == b.len() {
            return Some(end);
        }
        if let Some(n) = newline {
            return Some(n);
        }
        return Some(if last > p { last } else { end });
    }
    whitespace(b, p)
}

fn r50k(b: &[u8], p: usize, c: u8) -> Option<usize> {
    // '(?:[sdmt]|ll|ve|re)
    if c == b'\'' {
        let e = contraction(b, p, false)?;
        if e > p {
            return Some(e);
        }
    }
    //  ?\p{L}++|  ?\p{N}++|  ?[^\s\p{L}\p{N}]++
    let q = if c == b' ' { p + 1 } else { p };
    for class in [letter as fn(u8) -> bool, digit, other] {
        let i = run(b, q, class)?;
        if i > q {
            return Some(i);
        }
    }
    // \s++$|\s+(?!\S)|\s
    let (end, last, _) = space_run(b, p);
    if end == b.len() {
        return Some(end);
    }
    Some(if last > p { last } else { end })
}

/// `\s*[\r\n]+|\s+(?!\S)|\s+` at `p` (o200k, Llama-3).
fn whitespace(b: &[u8], p: usize) -> Option<usize> {
    let (end, last, newline) = space_run(b, p);
    if let Some(n) = newline {
        // \s* backtracks to the last newline; [\r\n]+ takes it (nothing newline-like follows).
        return Some(n);
    }
    if end == b.len() || last == p {
        return Some(end);
    }
    Some(last)
}
