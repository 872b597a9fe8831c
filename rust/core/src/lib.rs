//! toksmith's engine: exact byte-level BPE tokenization, training and byte-level probabilities,
//! with no Python in it.
//!
//! One folder per job. Imports flow one way, from the bottom of this list to the top:
//!
//! * [`util`]: the process-wide thread pool, flat hash tables, the error type.
//! * [`pretokenize`]: cutting text into pieces: regexes with each file format's semantics, the
//!   hand-written lexers behind the fast path, the byte-level (GPT-2) character map.
//! * [`vocab`]: the BPE model (token bytes, pair table), the merge that encodes one piece, its
//!   per-thread caches, and which tokens may stand side by side in a canonical encoding.
//! * [`model`]: Hugging Face models other than byte-level BPE (WordPiece, WordLevel, BPE over
//!   characters), each encoding one piece into tokens.
//! * [`encode`]: [`Tokenizer`]: special / added tokens, pre-tokenizer steps, encode and decode.
//! * [`formats`]: the files users bring and get back: `.tiktoken` rank files and
//!   `tokenizer.json` (one file per pipeline stage).
//! * [`count`]: streaming, parallel pre-tokenize-and-count of a corpus into piece tables.
//! * [`report`]: the counting pass of `toksmith report` (corpora encoded, every per-token and
//!   per-word counter of the quality metrics accumulated on the pool).
//! * [`train`]: the BPE merge loop (Hugging Face's tie rule) and SuperBPE's two stages.
//! * [`mixture`]: data-mixture inference: a merge list replayed on category samples, with the
//!   pair counts its linear program needs.
//! * [`bytelm`]: a token-level LM turned into the exact byte-level one (covers, grouped cover
//!   search, state, the vectorised row passes).
//! * [`dynamic`]: batch-level dynamic merging of already-tokenized sequences.
//!
//! Text flows `text -> pieces -> ids` (pretokenize, vocab, encode); a corpus flows
//! `corpus -> counts -> merges -> vocab -> files` (count, train, formats).

pub mod bytelm;
pub mod count;
pub mod dynamic;
pub mod encode;
pub mod formats;
pub mod mixture;
pub mod model;
pub mod pretokenize;
pub mod report;
pub mod train;
pub mod util;
pub mod vocab;

/// JSON documents (`tokenizer.json` parts) as the engine passes them around.
pub use serde_json::Value as JsonValue;

pub use encode::{AddedRule, AddedToken, PreTokenizer, Tokenizer};
pub use util::error::{Error, ErrorKind, Result};
pub use vocab::Vocab;
