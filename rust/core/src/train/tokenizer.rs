//! Trained merge lists made into tokenizers. Each goes through the `tokenizer.json` document it
//! is saved as (built in [`crate::formats::hf`]), so a trained tokenizer is exactly what its
//! saved file loads as.

use super::superbpe::{self, base_of, Filters, Phase, Stage1};
use super::train;
use crate::count::PieceTable;
use crate::encode::Tokenizer;
use crate::formats::hf::{self, extending_document, trained_document, HfExtras};
use crate::{Error, Result};
use serde_json::Value;

/// A trained tokenizer, with the `tokenizer.json` parts the engine does not model itself.
pub struct TrainedTokenizer {
    pub tokenizer: Tokenizer,
    pub hf: HfExtras,
}

impl TrainedTokenizer {
    fn from_document(doc: Value) -> Result<TrainedTokenizer> {
        let source = doc.to_string();
        let (tokenizer, hf) = hf::from_document(doc, source, "")?;
        Ok(TrainedTokenizer { tokenizer, hf })
    }
}

/// Learns BPE merges on `counts` (see [`train`]) and makes the tokenizer: bytes keep ids 0-255,
/// merged tokens follow in order of creation, `special_tokens` come last; `pre_tokenizer` is
/// the `tokenizer.json` pre-tokenizer the counts were cut with. `progress(merges_done)` returns
/// false to stop.
pub fn train_bpe_tokenizer(
    counts: PieceTable,
    pre_tokenizer: Value,
    vocab_size: usize,
    special_tokens: &[String],
    min_frequency: u64,
    progress: &mut dyn FnMut(usize) -> bool,
) -> Result<TrainedTokenizer> {
    let trained = train(
        counts,
        vocab_size,
        special_tokens.len(),
        min_frequency,
        progress,
    )?;
    TrainedTokenizer::from_document(trained_document(
        &trained.merges,
        pre_tokenizer,
        special_tokens,
    ))
}

/// Where SuperBPE's stage 2 starts from.
pub enum SuperBpeStart<'a> {
    /// Stage 1 trained on these piece counts up to the `transition` vocabulary size.
    Counts {
        counts: PieceTable,
        transition: usize,
    },
    /// An existing tokenizer, whose merge list is stage 1 and whose ids are all kept.
    Base {
        tokenizer: &'a Tokenizer,
        hf: Option<&'a HfExtras>,
    },
}

/// SuperBPE's settings beside its inputs.
pub struct SuperBpeSettings {
    /// Counts the 256 bytes, every merged token, a base's other tokens and the special tokens.
    pub vocab_size: usize,
    pub special_tokens: Vec<String>,
    pub min_frequency: u64,
    pub filters: Filters,
    pub num_threads: Option<usize>,
}

/// A SuperBPE tokenizer and what its training found.
pub struct SuperBpeTokenizer {
    pub trained: TrainedTokenizer,
    /// How many merges come from stage 1.
    pub stage1_len: usize,
    /// Ranks of stage-1 merges that occur in no stage-2 chunk (kept in the list).
    pub unused_stage1: Vec<usize>,
}

/// Trains SuperBPE: stage 1 from `start`, stage 2 on the `chunks` counted with
/// `stage2_pre_tokenizer` (which the tokenizer then uses). `progress(phase, done, total)`
/// returns false to stop.
pub fn train_superbpe_tokenizer(
    start: SuperBpeStart<'_>,
    chunks: PieceTable,
    stage2_pre_tokenizer: Value,
    settings: SuperBpeSettings,
    progress: &mut dyn FnMut(Phase, usize, usize) -> bool,
) -> Result<SuperBpeTokenizer> {
    let SuperBpeSettings {
        vocab_size,
        special_tokens,
        min_frequency,
        filters,
        num_threads,
    } = settings;
    let (stage1, base, totals) = match start {
        SuperBpeStart::Counts { counts, transition } => {
            let stage1_total = transition.saturating_sub(256 + special_tokens.len());
            let stage2_total = vocab_size.saturating_sub(transition);
            let stage1 = Stage1::Counts { counts, transition };
            (stage1, None, [stage1_total, chunks.len(), stage2_total])
        }
        SuperBpeStart::Base { tokenizer, hf } => {
            if tokenizer.normalizer().is_some() {
                return Err(Error::unsupported(
                    "normalizer: training from a tokenizer with a normalizer is not supported",
                ));
            }
            let mut base = base_of(tokenizer, hf);
            let merges = std::mem::take(&mut base.merges);
            let kept = 256 + merges.len() + base.extra + base.new_specials(&special_tokens);
            let totals = [0, chunks.len(), vocab_size.saturating_sub(kept)];
            (Stage1::Merges(merges), Some(base), totals)
        }
    };
    // Special tokens a base has already keep their ids and take no room.
    let n_special = match &base {
        Some(b) => b.new_specials(&special_tokens),
        None => special_tokens.len(),
    };
    let trained = superbpe::train_superbpe(
        stage1,
        chunks,
        vocab_size,
        n_special,
        base.as_ref().map_or(0, |b| b.extra),
        min_frequency,
        filters,
        num_threads,
        &mut |phase, done| progress(phase, done, totals[phase as usize]),
    )?;
    let doc = match base {
        Some(b) => extending_document(
            b.vocab,
            b.added,
            &trained.merges,
            stage2_pre_tokenizer,
            &special_tokens,
        ),
        None => trained_document(&trained.merges, stage2_pre_tokenizer, &special_tokens),
    };
    Ok(SuperBpeTokenizer {
        trained: TrainedTokenizer::from_document(doc)?,
        stage1_len: trained.stage1_len,
        unused_stage1: trained.unused_stage1,
    })
}
