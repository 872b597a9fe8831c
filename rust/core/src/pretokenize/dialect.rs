//! Translating pre-tokenizer patterns between regex dialects: tiktoken's (PCRE-like) and
//! Oniguruma's (Hugging Face `tokenizers`), which read `X{n,m}+` differently.

/// Drops possessive markers (`?+`, `*+`, `++`, `}+`); only called on the proven heads above.
pub(super) fn strip_possessive(pattern: &str) -> String {
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
