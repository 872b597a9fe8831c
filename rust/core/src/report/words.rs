//! Words, pieces and how tokens cover words, for one stretch of text.
//!
//! A word is a maximal run of non-whitespace characters, except that each CJK character is a
//! word of its own (docs/report.md). Whitespace is what Python's `str.isspace()` accepts, so the
//! report's numbers do not depend on which side of the binding counted them.

/// Whether `c` is whitespace by Python's `str.isspace()` (every such code point is below
/// U+3001: tabs to carriage return, the four information separators U+001C..U+001F, space,
/// NEL, no-break space, Ogham space, the U+2000 spaces, the line and paragraph separators,
/// narrow no-break, medium mathematical and ideographic space).
pub const fn is_space(c: char) -> bool {
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

/// Which ASCII bytes are whitespace (by [`is_space`]).
const ASCII_SPACE: [bool; 128] = {
    let mut t = [false; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = is_space(b as u8 as char);
        b += 1;
    }
    t
};

/// Calls `f(start, end)` with the byte span of every word of `text`, in order.
pub fn for_each_word(text: &str, mut f: impl FnMut(usize, usize)) {
    let bytes = text.as_bytes();
    // The start of the word being read, if any.
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        // Most text is ASCII: 64 bytes at a time, the words' edges from a bit mask.
        if i + 64 <= bytes.len() && bytes[i..i + 64].is_ascii() {
            let mut in_word = 0u64;
            for (k, &b) in bytes[i..i + 64].iter().enumerate() {
                in_word |= u64::from(!ASCII_SPACE[b as usize]) << k;
            }
            // Bit k set where byte k differs from the one before: a word starts or ends there.
            let mut edges = in_word ^ ((in_word << 1) | u64::from(start.is_some()));
            while edges != 0 {
                let k = edges.trailing_zeros() as usize;
                edges &= edges - 1;
                if in_word >> k & 1 == 1 {
                    start = Some(i + k);
                } else if let Some(s) = start.take() {
                    f(s, i + k);
                }
            }
            i += 64;
            continue;
        }
        let b = bytes[i];
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
            // ASCII stretches in one step (a byte is a character there).
            let n = (piece_chars - chars).min(bytes.len() - pos);
            let ascii = bytes[pos..pos + n]
                .iter()
                .position(|&b| b >= 0x80)
                .unwrap_or(n);
            pos += ascii;
            chars += ascii;
            if ascii == n {
                continue;
            }
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

/// Tallies words (byte spans, in order, not overlapping) against tokens given by their byte
/// lengths, in order from offset 0. A word's first token is the first that ends after its start,
/// its last the first that ends after its last byte; the next word's first token is at or after
/// this one's last, so one walk over the tokens serves every word. The tally holds only if the
/// tokens spell the words' text: [`Tally::finish`] also returns the bytes the tokens spell.
pub struct Tally<I> {
    lengths: I,
    /// The current token and its end (exclusive; `u64::MAX` past the last token).
    t: usize,
    end: u64,
    /// The bytes of the tokens up to the current one.
    spelled: u64,
    /// A token that holds a whole word and no other word so far; it counts unless the next
    /// word touches it too.
    candidate: Option<usize>,
    prev_last: Option<usize>,
    out: WordTally,
}

impl<I: Iterator<Item = u64>> Tally<I> {
    pub fn new(mut lengths: I) -> Self {
        let first = lengths.next();
        Tally {
            lengths,
            t: 0,
            end: first.unwrap_or(u64::MAX),
            spelled: first.unwrap_or(0),
            candidate: None,
            prev_last: None,
            out: WordTally::default(),
        }
    }

    fn advance(&mut self) {
        self.t += 1;
        self.end = match self.lengths.next() {
            Some(n) if self.end != u64::MAX => {
                self.spelled += n;
                self.spelled
            }
            _ => u64::MAX,
        };
    }

    /// Adds the word spanning bytes `start..end`.
    pub fn word(&mut self, start: usize, end: usize) {
        while self.end <= start as u64 {
            self.advance();
        }
        let first = self.t;
        while self.end < end as u64 {
            self.advance();
        }
        let last = self.t;
        if let Some(c) = self.candidate.take() {
            if c != first {
                self.out.whole_word_tokens += 1;
            }
        }
        self.out.word_tokens += (last - first + 1) as u64;
        if first == last {
            self.out.words_whole += 1;
            if self.prev_last != Some(first) {
                self.candidate = Some(first);
            }
        }
        self.prev_last = Some(last);
    }

    /// The tally, and the bytes all the tokens spell.
    pub fn finish(mut self) -> (WordTally, u64) {
        if self.candidate.is_some() {
            self.out.whole_word_tokens += 1;
        }
        let spelled = match self.end {
            u64::MAX => self.spelled,
            _ => self.spelled + self.lengths.sum::<u64>(),
        };
        (self.out, spelled)
    }
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
        assert_eq!(
            words("é 日本x\u{3000}y\u{1c}z"),
            ["é", "日", "本", "x", "y", "z"]
        );
        assert_eq!(words("a\u{a0}b\u{200b}c"), ["a", "b\u{200b}c"]);
        assert!(words(" \t\n").is_empty());
    }

    /// Words one character at a time: the definition, plainly.
    fn slow_words(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            if is_space(c) || is_cjk(c) {
                if let Some(s) = start.take() {
                    out.push((s, i));
                }
                if is_cjk(c) {
                    out.push((i, i + c.len_utf8()));
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            out.push((s, text.len()));
        }
        out
    }

    #[test]
    fn words_of_long_random_text_match_the_definition() {
        let alphabet = [
            "a", "bc", " ", "  ", "\n", "\t", "\u{1c}", ".", "é", "日", "\u{3000}", "\u{a0}", "😀",
        ];
        let mut state = 12345u64;
        for len in [0, 1, 63, 64, 65, 200, 1000] {
            for _ in 0..50 {
                let mut text = String::new();
                while text.len() < len {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    // mostly ASCII, so that whole 64-byte blocks occur
                    let k = (state >> 33) as usize % (alphabet.len() * 3);
                    text.push_str(alphabet[if k < alphabet.len() { k } else { k % 6 }]);
                }
                let mut got = Vec::new();
                for_each_word(&text, |s, e| got.push((s, e)));
                assert_eq!(got, slow_words(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn pieces_end_at_the_first_newline_after_the_limit() {
        assert_eq!(cut_pieces("ab\ncd\nef", 1), [(3, 3), (6, 3), (8, 2)]);
        assert_eq!(cut_pieces("ab\ncd\nef", 3), [(6, 6), (8, 2)]);
        // the limit counts characters, not bytes; a newline right at the limit ends the piece
        assert_eq!(cut_pieces("éé\nx", 2), [(5, 3), (6, 1)]);
        assert_eq!(cut_pieces("long line", 2), [(9, 9)]);
        assert_eq!(cut_pieces("aé日b\nc\nd", 4), [(8, 5), (11, 3)]);
        assert_eq!(cut_pieces("aé日b\nc\nd", 5), [(10, 7), (11, 1)]);
        assert!(cut_pieces("", 2).is_empty());
    }

    fn tally(lengths: &[u64], words: &[(usize, usize)]) -> WordTally {
        let mut t = Tally::new(lengths.iter().copied());
        for &(s, e) in words {
            t.word(s, e);
        }
        let (tally, spelled) = t.finish();
        assert_eq!(spelled, lengths.iter().sum::<u64>());
        tally
    }

    #[test]
    fn tally_counts_whole_words_and_whole_word_tokens() {
        // "hello hellx": tokens hello | ' ' | hell | x
        let t = tally(&[5, 1, 4, 1], &[(0, 5), (6, 11)]);
        assert_eq!(
            t,
            WordTally {
                word_tokens: 3,
                words_whole: 1,
                whole_word_tokens: 1
            }
        );
        // one token "a b" holding two whole words: neither is a whole-word token
        let t = tally(&[3], &[(0, 1), (2, 3)]);
        assert_eq!((t.words_whole, t.whole_word_tokens), (2, 0));
        // a token " a" holds the word a whole
        assert_eq!(tally(&[2], &[(1, 2)]).whole_word_tokens, 1);
        // tokens of no bytes are skipped, as by a search for the first token ending after
        assert_eq!(tally(&[0, 2, 0, 1], &[(0, 2), (2, 3)]).word_tokens, 2);
    }

    #[test]
    fn char_count_counts_code_points() {
        assert_eq!(char_count("aé日😀"), 4);
    }
}
