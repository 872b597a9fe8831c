//! toksmith's engine: exact byte-level BPE tokenization, with no Python in it.
//!
//! * [`vocab`]: the BPE model and its merge rule (tiktoken ranks or a Hugging Face merge list).
//! * [`regex`]: pre-tokenizer patterns with each format's regex semantics, and the fast path.
//! * [`tokenizer`]: special/added tokens, pre-tokenization, encode and decode.
//! * [`tiktoken_file`], [`hf`]: the two file formats.

pub mod bytelevel;
pub mod bytelm;
pub mod counts;
pub mod dynamic;
pub mod error;
pub mod hf;
pub mod lexer;
mod piece_counts;
pub mod pool;
pub mod regex;
pub mod superbpe;
pub mod table;
pub mod tiktoken_file;
pub mod tokenizer;
pub mod train;
pub mod vocab;

pub use error::{Error, ErrorKind, Result};
/// JSON documents (`tokenizer.json` parts) as the engine passes them around.
pub use serde_json::Value as JsonValue;
pub use tokenizer::{AddedToken, PreTokenizer, Tokenizer};
pub use vocab::Vocab;
