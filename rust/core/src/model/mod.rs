//! Hugging Face models other than byte-level BPE, each encoding one piece of text into tokens
//! with byte spans inside it:
//!
//! * [`wordpiece`]: `WordPiece` (greedy longest match, BERT) and `WordLevel` (whole pieces).
//! * [`bpe`]: BPE over characters, as SentencePiece-converted files use it (`byte_fallback`,
//!   `unk_token` with `fuse_unk`, `continuing_subword_prefix`, `end_of_word_suffix`).
//! * [`unigram`]: `Unigram` (best-scoring segmentation, unknown runs fused, byte fallback).
//!
//! Byte-level BPE is not here: it is [`crate::Vocab`], whose merge starts from bytes.

pub mod bpe;
pub mod unigram;
pub mod wordpiece;

use crate::vocab::Sym;
use crate::{Error, Result};
use rustc_hash::FxHashMap;

pub use bpe::CharBpe;
pub use unigram::Unigram;
pub use wordpiece::{WordLevel, WordPiece};

/// A model that works on text (token strings), not on bytes.
pub enum TextModel {
    WordPiece(WordPiece),
    WordLevel(WordLevel),
    Bpe(CharBpe),
    Unigram(Unigram),
}

impl TextModel {
    /// The model's `type` in a `tokenizer.json` (BPE here is BPE over characters).
    pub fn name(&self) -> &'static str {
        match self {
            TextModel::WordPiece(_) => "WordPiece",
            TextModel::WordLevel(_) => "WordLevel",
            TextModel::Bpe(_) => "BPE over characters",
            TextModel::Unigram(_) => "Unigram",
        }
    }

    /// Encodes one piece into `out` (cleared first): ids with byte spans inside `piece`.
    /// `surface` (cleared first) gets the indices of tokens whose string in an encoding is
    /// their text, not the vocabulary's (Unigram's unknown tokens).
    pub fn encode(&self, piece: &str, out: &mut Vec<Sym>, surface: &mut Vec<usize>) -> Result<()> {
        out.clear();
        surface.clear();
        match self {
            TextModel::WordPiece(m) => m.encode(piece, out),
            TextModel::WordLevel(m) => m.encode(piece, out),
            TextModel::Bpe(m) => {
                m.encode(piece, out);
                Ok(())
            }
            TextModel::Unigram(m) => m.encode(piece, out, surface),
        }
    }
}

/// A token string -> id map.
pub type StringIds = FxHashMap<String, u32>;

fn sym(id: u32, start: usize, end: usize) -> Sym {
    Sym {
        id,
        start: start as u32,
        end: end as u32,
    }
}

/// The error `tokenizers` gives when a piece needs an unknown token that the model lacks.
fn missing_unk() -> Error {
    Error::value("encountered an unknown piece, and the model has no unk_token in its vocabulary")
}

#[cfg(test)]
mod tests;
