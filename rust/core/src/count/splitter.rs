//! How counting cuts a unit of text into pieces: a tiktoken-syntax regex, Hugging Face
//! pre-tokenizer steps, or a deterministic sample of units for either.

use crate::pretokenize::regex::Regex;
use crate::pretokenize::steps::{step_pieces, Step};
use crate::{Error, Result};

/// How training cuts a unit of text into pieces.
pub enum Splitter {
    /// A `Split` regex with Hugging Face's `Isolated` behaviour: the matches and the text
    /// between them are pieces (for patterns that match everything, just the matches).
    Regex(Regex),
    /// Hugging Face pre-tokenizer steps (`Digits`, `Split`, a final `ByteLevel`).
    Steps(Vec<Step>),
    /// Another splitter that sees only the units whose content hashes below `threshold` (a
    /// deterministic sample: every copy of a unit is in or out together, whatever the sharding).
    Sampled {
        inner: Box<Splitter>,
        threshold: u64,
    },
}

impl Splitter {
    /// This splitter on a fraction `rate` (0 to 1) of the units, chosen by content hash.
    pub fn sampled(self, rate: f64) -> Splitter {
        if rate >= 1.0 {
            return self;
        }
        Splitter::Sampled {
            inner: Box::new(self),
            threshold: (rate.max(0.0) * u64::MAX as f64) as u64,
        }
    }

    /// Calls `f` on every non-empty piece of `text`, in order.
    pub fn for_each_piece(&self, text: &str, mut f: impl FnMut(&[u8])) -> Result<()> {
        let bytes = text.as_bytes();
        match self {
            Splitter::Sampled { inner, threshold } => {
                use std::hash::{BuildHasher, BuildHasherDefault};
                // FxHash mixes weakly in the high bits of short inputs: finish with splitmix64.
                let h = BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(bytes);
                let mut z = h.wrapping_add(0x9e3779b97f4a7c15);
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
                z ^= z >> 31;
                if z < *threshold {
                    inner.for_each_piece(text, f)?;
                }
            }
            Splitter::Regex(re) => {
                let mut last = 0;
                re.for_each_match(text, |s, e| {
                    if s > last {
                        f(&bytes[last..s]);
                    }
                    if e > s {
                        f(&bytes[s..e]);
                    }
                    last = last.max(e);
                })?;
                if last < bytes.len() {
                    f(&bytes[last..]);
                }
            }
            Splitter::Steps(steps) => {
                let mut spaced = Vec::new();
                for p in step_pieces(steps, text, &|i| i == 0)? {
                    if p.prefix_space {
                        spaced.clear();
                        spaced.push(b' ');
                        spaced.extend_from_slice(&bytes[p.start..p.end]);
                        f(&spaced);
                    } else {
                        f(&bytes[p.start..p.end]);
                    }
                }
            }
        }
        Ok(())
    }
}

impl Splitter {
    /// A `Split` regex in tiktoken syntax, with the `pre_tokenizer` document that encodes like it.
    pub fn regex(pattern: &str) -> Result<(Splitter, serde_json::Value)> {
        Ok((
            Splitter::Regex(Regex::tiktoken(pattern)?),
            crate::formats::hf::split_pre_tokenizer(pattern),
        ))
    }

    /// A `tokenizer.json` `pre_tokenizer` document (JSON text).
    pub fn pre_tokenizer(json: &str) -> Result<(Splitter, serde_json::Value)> {
        let v: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| Error::format(format!("pre_tokenizer: invalid JSON: {e}")))?;
        Ok((
            Splitter::Steps(crate::formats::hf::parse_pre_tokenizer(&v)?),
            v,
        ))
    }
}
