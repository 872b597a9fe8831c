//! Pre-tokenization: cutting text into the pieces that BPE merges inside of.
//!
//! * [`regex`]: [`regex::Regex`], a pre-tokenizer pattern with the semantics of the file format it
//!   came from (tiktoken's PCRE-like reading, or Oniguruma's for `tokenizer.json`), run by a
//!   hand-written lexer when the pattern is a known family, else by a general regex engine.
//! * [`lexer`]: the hand-written lexers of the known pattern families (o200k, cl100k, r50k and
//!   their variants), and the character classes they share.
//! * [`steps`]: the pre-tokenizer a tokenizer holds: a tiktoken regex, or Hugging Face steps
//!   (`Split` by a regex, a string or a class of characters, a final `ByteLevel` or
//!   `Metaspace`) that cut a text into pieces.
//! * [`dialect`]: rewriting patterns between tiktoken's and Oniguruma's readings of `X{n,m}+`.
//! * `gapped`: SuperBPE's stage-2 pattern `HEAD| +(?!\S)` without look-ahead (used by `regex`).
//! * [`bytelevel`]: the byte-level (GPT-2) map between bytes and printable characters.
//! * [`normalize`]: Hugging Face normalizers (NFC, Lowercase, Replace, ...) and the alignment of
//!   the normalized text back to the original.

pub mod bytelevel;
pub mod dialect;
mod gapped;
pub mod lexer;
pub mod normalize;
pub mod regex;
pub mod steps;
