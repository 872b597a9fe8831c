//! Pre-tokenizers as a tokenizer holds them: a tiktoken regex, or Hugging Face pre-tokenizer
//! steps (`Split` by a regex, a string or a class of characters, and a final `ByteLevel` or
//! `Metaspace`) that cut a text into [`Piece`]s.

use super::regex::Regex;
use crate::Result;

/// How a `Split` step treats the pattern's matches (Hugging Face `SplitDelimiterBehavior`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitBehavior {
    Removed,
    Isolated,
    MergedWithPrevious,
    MergedWithNext,
    Contiguous,
}

pub enum Matcher {
    Regex(Regex),
    Literal(String),
    /// Each character of a class is one match (as `tokenizers` splits on a `char` predicate).
    Chars(CharClass),
    /// `Whitespace`'s `\w+|[^\w\s]+`, read as the `regex` crate reads it (as `tokenizers` runs
    /// it; its `\w` has the join controls, Oniguruma's has not).
    Words,
}

/// The `Whitespace` pattern, compiled once.
fn words_regex() -> &'static regex_automata::meta::Regex {
    static RE: std::sync::OnceLock<regex_automata::meta::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex_automata::meta::Regex::new(r"\w+|[^\w\s]+").expect("valid pattern"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CharClass {
    /// `char::is_numeric` (`Digits`).
    Numeric,
    /// `char::is_whitespace` (`WhitespaceSplit`, `BertPreTokenizer`).
    Whitespace,
    /// ASCII punctuation or a Unicode `P*` category (`Punctuation`, `BertPreTokenizer`).
    Punctuation,
    /// One character (`CharDelimiterSplit`).
    Char(char),
    /// A space or the `Metaspace` replacement: the spaces it replaces, and itself.
    MetaSpace(char),
}

impl CharClass {
    fn contains(self, c: char) -> bool {
        match self {
            CharClass::Numeric => c.is_numeric(),
            CharClass::Whitespace => c.is_whitespace(),
            CharClass::Punctuation => {
                use unicode_categories::UnicodeCategories;
                c.is_ascii_punctuation() || c.is_punctuation()
            }
            CharClass::Char(d) => c == d,
            CharClass::MetaSpace(r) => c == ' ' || c == r,
        }
    }
}

/// When `Metaspace` puts its replacement before a piece that does not start with one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrependScheme {
    Always,
    /// Only before the piece that starts the input.
    First,
    Never,
}

/// One Hugging Face pre-tokenizer step.
pub enum Step {
    Split {
        matcher: Matcher,
        behavior: SplitBehavior,
        invert: bool,
    },
    /// Prefix a space to pieces that lack one; optionally split with the GPT-2 pattern.
    /// Always the last step: it turns pieces into byte-level text.
    ByteLevel {
        add_prefix_space: bool,
        regex: Option<Regex>,
    },
    /// Spaces become `replacement`, which may be prefixed to the piece, and optionally starts
    /// each piece. Always the last step: the model sees the replaced text (`Piece::prefix_space`
    /// then stands for a virtual `replacement`).
    Metaspace {
        replacement: char,
        prepend: PrependScheme,
        split: bool,
    },
}

pub enum PreTokenizer {
    Regex(Regex),
    Steps(Vec<Step>),
}

/// A piece of text to merge: `text[start..end]`, with a virtual leading space (or `Metaspace`
/// replacement) if `prefix_space`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub start: usize,
    pub end: usize,
    pub prefix_space: bool,
}

/// The pieces that Hugging Face pre-tokenizer steps cut from a text; `at_origin(i)` tells
/// whether byte `i` of `text` is where the whole input starts (`Metaspace`'s `first` scheme).
pub fn step_pieces(
    steps: &[Step],
    text: &str,
    at_origin: &dyn Fn(usize) -> bool,
) -> Result<Vec<Piece>> {
    let mut pieces = vec![Piece {
        start: 0,
        end: text.len(),
        prefix_space: false,
    }];
    for step in steps {
        let mut next = Vec::with_capacity(pieces.len());
        for p in pieces {
            step.apply(text, p, &mut next, at_origin)?;
        }
        pieces = next;
    }
    pieces.retain(|p| p.end > p.start || p.prefix_space);
    Ok(pieces)
}

impl Step {
    /// Splits one piece; pieces reaching a step never carry a prefix space (ByteLevel and
    /// Metaspace are last).
    fn apply(
        &self,
        text: &str,
        piece: Piece,
        out: &mut Vec<Piece>,
        at_origin: &dyn Fn(usize) -> bool,
    ) -> Result<()> {
        let slice = &text[piece.start..piece.end];
        if slice.is_empty() {
            return Ok(());
        }
        match self {
            Step::Split {
                matcher,
                behavior,
                invert,
            } => {
                let matches = find_matches(matcher, slice)?;
                for (s, e) in split_by(matches, *behavior, *invert) {
                    if e > s {
                        out.push(Piece {
                            start: piece.start + s,
                            end: piece.start + e,
                            prefix_space: false,
                        });
                    }
                }
            }
            Step::ByteLevel {
                add_prefix_space,
                regex,
            } => {
                let prefix = *add_prefix_space && !slice.starts_with(' ');
                match regex {
                    None => out.push(Piece {
                        prefix_space: prefix,
                        ..piece
                    }),
                    Some(re) => {
                        // The regex sees the text with its prefix space; map matches back.
                        let owned;
                        let seen = if prefix {
                            owned = format!(" {slice}");
                            owned.as_str()
                        } else {
                            slice
                        };
                        let shift = usize::from(prefix);
                        for (s, e) in split_by(
                            find_matches_regex(re, seen)?,
                            SplitBehavior::Isolated,
                            false,
                        ) {
                            if e > s {
                                let start = piece.start + s.saturating_sub(shift);
                                let end = piece.start + e - shift;
                                out.push(Piece {
                                    start,
                                    end,
                                    prefix_space: prefix && s == 0,
                                });
                            }
                        }
                    }
                }
            }
            Step::Metaspace {
                replacement,
                prepend,
                split,
            } => {
                let starts_replaced = slice.starts_with([' ', *replacement]);
                let prefix = !starts_replaced
                    && match prepend {
                        PrependScheme::Always => true,
                        PrependScheme::First => at_origin(piece.start),
                        PrependScheme::Never => false,
                    };
                let spans = if *split {
                    let matches =
                        find_matches(&Matcher::Chars(CharClass::MetaSpace(*replacement)), slice)?;
                    split_by(matches, SplitBehavior::MergedWithNext, false)
                } else {
                    vec![(0, slice.len())]
                };
                for (s, e) in spans {
                    out.push(Piece {
                        start: piece.start + s,
                        end: piece.start + e,
                        prefix_space: prefix && s == 0,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Hugging Face `Pattern::find_matches`: the text cut into matches and gaps, in order.
fn find_matches(matcher: &Matcher, text: &str) -> Result<Vec<((usize, usize), bool)>> {
    match matcher {
        Matcher::Regex(re) => find_matches_regex(re, text),
        Matcher::Literal(lit) => {
            let mut spans = Vec::new();
            let mut prev = 0;
            for (s, m) in text.match_indices(lit.as_str()) {
                if s > prev {
                    spans.push(((prev, s), false));
                }
                spans.push(((s, s + m.len()), true));
                prev = s + m.len();
            }
            if prev < text.len() {
                spans.push(((prev, text.len()), false));
            }
            Ok(spans)
        }
        Matcher::Words => {
            let mut spans = Vec::new();
            let mut prev = 0;
            for m in words_regex().find_iter(text) {
                if m.start() > prev {
                    spans.push(((prev, m.start()), false));
                }
                spans.push(((m.start(), m.end()), true));
                prev = m.end();
            }
            if prev < text.len() {
                spans.push(((prev, text.len()), false));
            }
            Ok(spans)
        }
        Matcher::Chars(class) => {
            let mut spans = Vec::new();
            let mut prev = 0;
            for (i, c) in text.char_indices() {
                if class.contains(c) {
                    if i > prev {
                        spans.push(((prev, i), false));
                    }
                    spans.push(((i, i + c.len_utf8()), true));
                    prev = i + c.len_utf8();
                }
            }
            if prev < text.len() {
                spans.push(((prev, text.len()), false));
            }
            Ok(spans)
        }
    }
}

fn find_matches_regex(re: &Regex, text: &str) -> Result<Vec<((usize, usize), bool)>> {
    let mut spans = Vec::new();
    let mut prev = 0;
    re.for_each_match(text, |s, e| {
        if s > prev {
            spans.push(((prev, s), false));
        }
        spans.push(((s, e), true));
        prev = e;
    })?;
    if prev < text.len() {
        spans.push(((prev, text.len()), false));
    }
    Ok(spans)
}

/// Hugging Face `NormalizedString::split`: which spans survive as pieces.
fn split_by(
    matches: Vec<((usize, usize), bool)>,
    behavior: SplitBehavior,
    invert: bool,
) -> Vec<(usize, usize)> {
    let matches = matches.into_iter().map(|(o, m)| (o, m != invert));
    match behavior {
        SplitBehavior::Isolated => matches.map(|(o, _)| o).collect(),
        SplitBehavior::Removed => matches.filter(|(_, m)| !m).map(|(o, _)| o).collect(),
        SplitBehavior::Contiguous => {
            let mut out: Vec<(usize, usize)> = Vec::new();
            let mut previous = false;
            for (o, m) in matches {
                match out.last_mut() {
                    Some(last) if m == previous => last.1 = o.1,
                    _ => out.push(o),
                }
                previous = m;
            }
            out
        }
        SplitBehavior::MergedWithPrevious => {
            let mut out: Vec<(usize, usize)> = Vec::new();
            let mut previous = false;
            for (o, m) in matches {
                match out.last_mut() {
                    Some(last) if m && !previous => last.1 = o.1,
                    _ => out.push(o),
                }
                previous = m;
            }
            out
        }
        SplitBehavior::MergedWithNext => {
            let mut out: Vec<(usize, usize)> = Vec::new();
            let mut previous = false;
            let all: Vec<_> = matches.collect();
            for (o, m) in all.into_iter().rev() {
                match out.last_mut() {
                    Some(last) if m && !previous => last.0 = o.0,
                    _ => out.push(o),
                }
                previous = m;
            }
            out.reverse();
            out
        }
    }
}
