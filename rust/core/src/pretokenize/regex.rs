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

use super::dialect::strip_possessive;
use super::gapped::GappedRegex;
use super::lexer::{next_piece, Classes, Family};
use crate::util::error::quoted;
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
            .map_err(|e| Error::value(format!("invalid pattern {}: {e}", quoted(pattern))))?;
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
            .map_err(|e| Error::value(format!("invalid pattern {}: {e}", quoted(pattern))))?;
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
                        let m = m.map_err(|e| {
                            Error::value(format!("regex {}: {e}", quoted(&self.pattern)))
                        })?;
                        f(at + m.start(), at + m.end());
                    }
                }
            }
            Engine::Gapped(gapped, fancy) => {
                if let Some(at) = gapped.for_each_match(text, &mut f) {
                    // The DFA gave up (its cache thrashed): finish slowly.
                    for m in fancy.find_iter(&text[at..]) {
                        let m = m.map_err(|e| {
                            Error::value(format!("regex {}: {e}", quoted(&self.pattern)))
                        })?;
                        f(at + m.start(), at + m.end());
                    }
                }
            }
            Engine::Fancy(re) => {
                for m in re.find_iter(text) {
                    let m = m.map_err(|e| {
                        Error::value(format!("regex {}: {e}", quoted(&self.pattern)))
                    })?;
                    f(m.start(), m.end());
                }
            }
            Engine::Onig(re) => onig_for_each_match(re, text, &self.pattern, f)?,
        }
        Ok(())
    }

    pub fn find_all(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        let mut out = Vec::new();
        self.for_each_match(text, |s, e| out.push((s, e)))?;
        Ok(out)
    }
}

/// `onig::Regex::find_iter` without its panic: a search that hits Oniguruma's limits (its retry
/// limit on a pattern that backtracks hard) is an error here, not an abort. Same matches: an
/// empty match right where the previous match ended is skipped by stepping one character.
fn onig_for_each_match(
    re: &onig::Regex,
    text: &str,
    pattern: &str,
    mut f: impl FnMut(usize, usize),
) -> Result<()> {
    let mut region = onig::Region::new();
    let (mut from, mut last_match_end) = (0, None);
    while from <= text.len() {
        region.clear();
        let found = re
            .search_with_param(
                text,
                from,
                text.len(),
                onig::SearchOptions::SEARCH_OPTION_NONE,
                Some(&mut region),
                onig::MatchParam::default(),
            )
            .map_err(|e| {
                Error::value(format!(
                    "regex {}: Oniguruma gave up on this text: {}",
                    quoted(pattern),
                    e.description()
                ))
            })?;
        let Some((s, e)) = found.and_then(|_| region.pos(0)) else {
            break;
        };
        if s == e && last_match_end == Some(e) {
            from += text[from..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        (from, last_match_end) = (e, Some(e));
        f(s, e);
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pretokenize::dialect::{onig_to_pcre, pcre_to_onig, strip_possessive};
    use crate::pretokenize::gapped::{
        class_masks, class_masks_scalar, gapped_ascii_at, starts, At, GAPPED_HEADS, SPACES_TAIL,
    };

    /// A pattern that backtracks past Oniguruma's retry limit gives an error, not a panic.
    #[test]
    fn oniguruma_giving_up_is_an_error() {
        let re = Regex::onig("(?:a|a)+b").unwrap();
        let text = format!("{}!", "a".repeat(5000));
        let err = re.find_all(&text).unwrap_err();
        assert!(err.message.contains("retry-limit"), "{}", err.message);
        // Empty matches next to a match are skipped exactly as `find_iter` skips them.
        let re = Regex::onig(r"\d*").unwrap();
        let ours = re.find_all("a12b3").unwrap();
        let theirs: Vec<(usize, usize)> = onig::Regex::new(r"\d*")
            .unwrap()
            .find_iter("a12b3")
            .collect();
        assert_eq!(ours, theirs);
    }

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
