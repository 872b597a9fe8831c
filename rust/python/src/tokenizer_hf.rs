//! The Hugging Face-flavoured calls of `CoreTokenizer` (behind `toksmith.Tokenizer`).

use pyo3::prelude::*;
use std::collections::HashMap;
use toksmith_core::formats::hf::HfEncoding;
use toksmith_core::util::pool;

use crate::errors::{run, run_engine, to_py};
use crate::tokenizer::CoreTokenizer;

#[pymethods]
impl CoreTokenizer {
    /// `(ids, tokens, offsets, type_ids, special_tokens_mask)` of one input (or pair).
    #[pyo3(signature = (text, pair=None, add_special_tokens=true))]
    fn hf_encode(
        &self,
        py: Python<'_>,
        text: &str,
        pair: Option<&str>,
        add_special_tokens: bool,
    ) -> PyResult<HfTuple> {
        let hf = self.hf()?;
        run(py, || hf.encode(&self.tok, text, pair, add_special_tokens))?
            .map(into_tuple)
            .map_err(to_py)
    }

    #[pyo3(signature = (texts, add_special_tokens=true, num_threads=None))]
    fn hf_encode_batch(
        &self,
        py: Python<'_>,
        texts: Vec<String>,
        add_special_tokens: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<HfTuple>> {
        let hf = self.hf()?;
        run_engine(py, || {
            pool::try_map_ordered(&texts, num_threads, |t| {
                hf.encode(&self.tok, t, None, add_special_tokens)
                    .map(into_tuple)
            })
        })
    }

    #[pyo3(signature = (ids, skip_special_tokens=true))]
    fn hf_decode(
        &self,
        py: Python<'_>,
        ids: Vec<u32>,
        skip_special_tokens: bool,
    ) -> PyResult<String> {
        let hf = self.hf()?;
        run_engine(py, || hf.decode(&self.tok, &ids, skip_special_tokens))
    }

    #[pyo3(signature = (batch, skip_special_tokens=true, num_threads=None))]
    fn hf_decode_batch(
        &self,
        py: Python<'_>,
        batch: Vec<Vec<u32>>,
        skip_special_tokens: bool,
        num_threads: Option<usize>,
    ) -> PyResult<Vec<String>> {
        let hf = self.hf()?;
        run_engine(py, || {
            pool::map_ordered(&batch, num_threads, |ids| {
                hf.decode(&self.tok, ids, skip_special_tokens)
            })
            .into_iter()
            .collect()
        })
    }

    fn token_to_id(&self, token: &str) -> PyResult<Option<u32>> {
        Ok(self.hf()?.token_to_id(&self.tok, token))
    }

    #[pyo3(signature = (with_added_tokens=true))]
    fn get_vocab_size(&self, with_added_tokens: bool) -> PyResult<usize> {
        Ok(self.hf()?.vocab_size(&self.tok, with_added_tokens))
    }

    fn id_to_token(&self, id: u32) -> PyResult<Option<String>> {
        Ok(self.hf()?.token_string(&self.tok, id))
    }

    /// `{token string: id}` of the vocabulary (and the added tokens if asked).
    #[pyo3(signature = (with_added_tokens=true))]
    fn get_vocab(&self, with_added_tokens: bool) -> PyResult<HashMap<String, u32>> {
        let hf = self.hf()?;
        let mut out: HashMap<String, u32> = hf
            .token_strings
            .iter()
            .enumerate()
            .filter_map(|(id, s)| s.clone().map(|s| (s, id as u32)))
            .collect();
        if with_added_tokens {
            out.extend(
                self.tok
                    .added_tokens()
                    .iter()
                    .map(|t| (t.content.clone(), t.id)),
            );
        }
        Ok(out)
    }
}

type HfTuple = (
    Vec<u32>,
    Vec<String>,
    Vec<(usize, usize)>,
    Vec<u32>,
    Vec<u32>,
);

fn into_tuple(e: HfEncoding) -> HfTuple {
    (
        e.ids,
        e.tokens,
        e.offsets,
        e.type_ids,
        e.special_tokens_mask,
    )
}
