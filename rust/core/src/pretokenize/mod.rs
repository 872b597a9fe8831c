//! Pre-tokenization: cutting text into the pieces that BPE merges inside of.
//!
//! * [`regex`]: [`regex::Regex`], a pre-tokenizer pattern with the semantics of the file format it
//!   came from (tiktoken's PCRE-like reading, or Oniguruma's for `tokenizer.json`), run by a
//!   hand-written lexer when the pattern is a known family, else by a general regex engine.
//! * [`lexer`]: the hand-written lexers of the known pattern families (o200k, cl100k, r50k and
//!   their variants), and the character classes they share.
//! * [`bytelevel`]: the byte-level (GPT-2) map between bytes and printable characters.

pub mod bytelevel;
pub mod dialect;
mod gapped;
pub mod lexer;
pub mod regex;
