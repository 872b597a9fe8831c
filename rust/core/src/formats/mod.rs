//! The files users bring and get back.
//!
//! * [`tiktoken`]: `.tiktoken` rank files (base64 token, rank per line; plain or gzip).
//! * [`hf`]: Hugging Face `tokenizer.json`, read into a [`crate::Tokenizer`] plus what the engine
//!   does not model itself (post-processor, decoder settings), and written back.

pub mod hf;
pub mod tiktoken;
