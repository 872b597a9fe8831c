//! Words, pieces and how tokens cover words, for one stretch of text.
//!
//! A word is a maximal run of non-whitespace characters, except that each CJK character is a
//! word of its own (docs/report.md). Whitespace is what Python's `str.isspace()` accepts, so the
//! report's numbers do not depend on which side of the binding counted them.

/// Whether `c` is whitespace by Python's `str.isspace()` (every such code point is below
/// U+3001: tabs to carriage return, the four information separators U+001C..U+001F, space,
/// NEL, no-break space, Ogham space, the U+2000 spaces, the line and paragraph separators,
/// narrow no-break, medium mathematical and ideographic space).
pub fn is_space(c: char) -> bool {
    matches!(
        c as u32,
        0x09..=0x0D
            | 0x1C..=0x20
            | 0x85
            | 0xA0
            | 0x1680
            | 0x2000..=0x200A
            | 0x2028
            | 0x2029
            | 0x202F
            | 0x205F
            | 0x3000
    )
}

/// Whether `c` is a word by itself: Han, kana, bopomofo, CJK punctuation, fullwidth forms.
pub fn is_cjk(c: char) -> bool {
    matches!(
        c as u32,
        0x3001..=0x30FF
            | 0x3100..=0x312F
            | 0x31A0..=0x31FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xF900..=0xFAFF
            | 0xFF00..=0xFFEF
            | 0x20000..=0x3FFFF
    )
}

/// Calls `f(start, end)` with the byte span of every word of `text`, in order.
pub fn for_each_word(text: &str, mut f: impl FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // Most text is ASCII: decode a character only where a byte is not.
        let (c, len) = if b < 0x80 {
            (b as char, 1)
        } else {
            let c = text[i..].chars().next().unwrap_or('\u{FFFD}');
            (c, c.len_utf8())
        };
        if is_space(c) {
            if let Some(s) = start.take() {
                f(s, i);
            }
        } else if b >= 0x80 && is_cjk(c) {
            if let Some(s) = start.take() {
                f(s, i);
            }
            f(i, i + len);
        } else if start.is_none() {
            start = Some(i);
        }
        i += len;
    }
    if let Some(s) = start {
        f(s, bytes.len());
    }
}

/// The characters (code points) of `text`.
pub fn char_count(text: &str) -> u64 {
    // Every character has exactly one byte that is not a continuation byte (10xxxxxx).
    text.bytes().filter(|&b| (b as i8) >= -0x40).count() as u64
}

/// The byte offsets where `text` is cut into pieces: a piece ends at the first newline at or
/// after `piece_chars` characters from its start (inclusive), or at the end of the text. Returns
/// the end of each piece, with the characters in it.
pub fn cut_pieces(text: &str, piece_chars: usize) -> Vec<(usize, u64)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        // Step `piece_chars` characters forward, then look for the newline.
        let mut pos = start;
        let mut chars = 0usize;
        while pos < bytes.len() && chars < piece_chars {
            pos += 1;
            while pos < bytes.len() && (bytes[pos] as i8) < -0x40 {
                pos += 1;
            }
            chars += 1;
        }
        let end = match bytes[pos..].iter().position(|&b| b == b'\n') {
            Some(k) => pos + k + 1,
            None => bytes.len(),
        };
        out.push((end, chars as u64 + char_count(&text[pos..end])));
        start = end;
    }
    out
}

/// How the tokens of a stretch of text cover its words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WordTally {
    /// Sum over words of the tokens each word overlaps.
    pub word_tokens: u64,
    /// Words inside a single token.
    pub words_whole: u64,
    /// Tokens that overlap exactly one word, which lies wholly inside them.
    pub whole_word_tokens: u64,
}

impl WordTally {
    pub fn add(&mut self, other: &WordTally) {
        self.word_tokens += other.word_tokens;
        self.words_whole += other.words_whole;
        self.whole_word_tokens += other.whole_word_tokens;
    }
}

/// Tallies `words` (byte spans, in order, not overlapping) against tokens ending at `ends`
/// (exclusive byte offsets, non-decreasing, the last at or past every word). A word's first
/// token is the first that ends after its start, its last the first that ends after its last
/// byte; both only move forward, so one walk over tokens and words does it.
pub fn tally(ends: &[u64], words: impl IntoIterator<Item = (usize, usize)>) -> WordTally {
    let mut out = WordTally::default();
    let mut t = 0usize;
    // A token that holds a whole word and no other word so far; it counts unless the next word
    // touches it too.
    let mut candidate: Option<usize> = None;
    let mut prev_last: Option<usize> = None;
    for (start, end) in words {
        while t < ends.len() && ends[t] <= start as u64 {
            t += 1;
        }
        let first = t;
        let mut last = first;
        while last < ends.len() && ends[last] < end as u64 {
            last += 1;
        }
        if let Some(c) = candidate.take() {
            if c != first {
                out.whole_word_tokens += 1;
            }
        }
        out.word_tokens += (last - first + 1) as u64;
        if first == last {
            out.words_whole += 1;
            if prev_last != Some(first) {
                candidate = Some(first);
            }
        }
        prev_last = Some(last);
    }
    if candidate.is_some() {
        out.whole_word_tokens += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for_each_word(text, |s, e| out.push(&text[s..e]));
        out
    }

    #[test]
    fn words_are_runs_of_non_space_and_single_cjk_characters() {
        assert_eq!(words("  hello, world\n"), ["hello,", "world"]);
        assert_eq!(words("é 日本x\u{3000}y\u{1c}z"), ["é", "日", "本", "x", "y", "z"]);
        assert_eq!(words("a\u{a0}b\u{200b}c"), ["a", "b\u{200b}c"]);
        assert!(words(" \t\n").is_empty());
    }

    #[test]
    fn pieces_end_at_the_first_newline_after_the_limit() {
        assert_eq!(cut_pieces("ab\ncd\nef", 1), [(3, 3), (6, 3), (8, 2)]);
        assert_eq!(cut_pieces("ab\ncd\nef", 3), [(6, 6), (8, 2)]);
        // the limit counts characters, not bytes; a newline right at the limit ends the piece
        assert_eq!(cut_pieces("éé\nx", 2), [(5, 3), (6, 1)]);
        assert_eq!(cut_pieces("long line", 2), [(9, 9)]);
        assert!(cut_pieces("", 2).is_empty());
    }

    #[test]
    fn tally_counts_whole_words_and_whole_word_tokens() {
        // "hello hellx": tokens hello | ' ' | hell | x
        let t = tally(&[5, 6, 10, 11], [(0, 5), (6, 11)]);
        assert_eq!(
            t,
            WordTally {
                word_tokens: 3,
                words_whole: 1,
                whole_word_tokens: 1
            }
        );
        // one token "a b" holding two whole words: neither is a whole-word token
        let t = tally(&[3], [(0, 1), (2, 3)]);
        assert_eq!((t.words_whole, t.whole_word_tokens), (2, 0));
        // a token " a" holds the word a whole
        assert_eq!(tally(&[2], [(1, 2)]).whole_word_tokens, 1);
    }

    #[test]
    fn char_count_counts_code_points() {
        assert_eq!(char_count("aé日😀"), 4);
    }
}
