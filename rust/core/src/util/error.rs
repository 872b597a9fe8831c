//! One error type for the engine. Every message names what was wrong and where
//! (file, line, JSON field), so the bindings can pass it to users unchanged.

use std::fmt;

/// What kind of failure this is; the Python bindings map each kind to an exception class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file could not be read or written.
    Io,
    /// A file does not exist.
    NotFound,
    /// A file was found but its contents are malformed (bad base64, duplicate rank, bad JSON...).
    Format,
    /// A valid `tokenizer.json` uses a component toksmith does not implement.
    Unsupported,
    /// A bad argument: unknown token, bad regex, disallowed special token, ...
    Value,
    /// A lookup of something that does not exist (unknown token id or token string).
    Key,
    /// A long call was stopped by its caller (Ctrl-C).
    Interrupted,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn format(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Format, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn value(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Value, message)
    }
    pub fn key(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Key, message)
    }
    pub fn interrupted() -> Self {
        Self::new(ErrorKind::Interrupted, "interrupted")
    }
    pub fn io(path: &str, err: &std::io::Error) -> Self {
        let kind = if err.kind() == std::io::ErrorKind::NotFound {
            ErrorKind::NotFound
        } else {
            ErrorKind::Io
        };
        Self::new(kind, format!("{path}: {err}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// A user's value quoted for an error message, cut to its first 80 characters: a message must
/// stay short whatever the input (a malformed line of a 300 MB file is quoted, not copied).
pub fn quoted(value: &str) -> String {
    let (head, rest) = cut(value);
    format!("{head:?}{rest}")
}

/// [`quoted`] without the quotes (for values that carry their own, like JSON).
pub fn shortened(value: &str) -> String {
    let (head, rest) = cut(value);
    format!("{head}{rest}")
}

fn cut(value: &str) -> (&str, String) {
    const MOST: usize = 80;
    match value.char_indices().nth(MOST) {
        None => (value, String::new()),
        Some((at, _)) => (&value[..at], format!("... ({} bytes in all)", value.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn quoted_values_stay_short() {
        assert_eq!(quoted("ab"), "\"ab\"");
        let long = "é".repeat(10_000);
        let q = quoted(&long);
        assert!(q.len() < 250, "{q}");
        assert!(q.ends_with("(20000 bytes in all)"));
    }
}
