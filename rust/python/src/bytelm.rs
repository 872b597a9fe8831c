//! Bindings of the byte-level probability engine (`toksmith_core::bytelm`): conversion only.

use crate::errors::{invalid, run_engine, to_py};
use crate::tokenizer::CoreTokenizer;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use std::sync::Arc;
use toksmith_core::bytelm::{ByteModel, ByteState};

/// A tokenizer prepared for byte-level probabilities (sorted tokens, probes, EOS id).
#[pyclass(frozen, module = "toksmith._toksmith")]
pub struct CoreByteModel {
    model: Arc<ByteModel>,
}

#[pymethods]
impl CoreByteModel {
    #[new]
    fn new(
        tokenizer: &CoreTokenizer,
        eos: Option<u32>,
        probes: Vec<String>,
        depth: usize,
    ) -> PyResult<Self> {
        let model = ByteModel::new(tokenizer.tok.clone(), eos, probes, depth).map_err(to_py)?;
        Ok(CoreByteModel {
            model: Arc::new(model),
        })
    }
    #[getter]
    fn n_ids(&self) -> usize {
        self.model.n_ids()
    }
    #[getter]
    fn max_token_len(&self) -> usize {
        self.model.max_token_len()
    }
}

/// The incremental per-stream state; the caller feeds it the LM's distributions.
#[pyclass(module = "toksmith._toksmith")]
pub struct CoreByteState {
    st: ByteState,
}

#[pymethods]
impl CoreByteState {
    #[new]
    fn new(
        py: Python<'_>,
        model: &CoreByteModel,
        context: Vec<u32>,
        prompt: Vec<u8>,
    ) -> PyResult<Self> {
        let model = model.model.clone();
        let st = run_engine(py, || ByteState::new(model, context, &prompt))?;
        Ok(CoreByteState { st })
    }

    /// Node ids whose next-token distributions are needed, with their token sequences.
    fn needed(&self) -> (Vec<usize>, Vec<Vec<u32>>) {
        let nodes = self.st.needed();
        let seqs = nodes.iter().map(|&n| self.st.tokens(n)).collect();
        (nodes, seqs)
    }

    /// Supplies `logprobs[k]` as the distribution after node `nodes[k]`.
    fn supply(
        &mut self,
        py: Python<'_>,
        nodes: Vec<usize>,
        logprobs: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<()> {
        let arr = logprobs.as_array();
        if arr.nrows() != nodes.len() {
            return Err(invalid(format!(
                "expected {} distributions, got {}",
                nodes.len(),
                arr.nrows()
            )));
        }
        let st = &mut self.st;
        let rows: Vec<(usize, Vec<f64>)> = nodes
            .into_iter()
            .zip(arr.rows())
            .map(|(n, r)| {
                let mut buf = st.row_buffer();
                match r.as_slice() {
                    Some(s) => buf.extend_from_slice(s),
                    None => buf.extend(r.iter()),
                }
                (n, buf)
            })
            .collect();
        run_engine(py, || st.supply_rows(rows))
    }

    /// log P(next byte | bytes so far): 256 bytes then end of text.
    fn next_logprobs<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let st = &mut self.st;
        let out = run_engine(py, || st.next_logprobs())?;
        Ok(out.to_vec().into_pyarray(py))
    }

    /// Appends bytes, all or none.
    fn push(&mut self, py: Python<'_>, data: Vec<u8>) -> PyResult<()> {
        let st = &mut self.st;
        run_engine(py, || st.push_all(&data))
    }

    /// Keeps only the first `len` bytes.
    fn truncate(&mut self, py: Python<'_>, len: usize) -> PyResult<()> {
        let st = &mut self.st;
        run_engine(py, || st.truncate(len))
    }

    #[getter]
    fn origin(&self) -> usize {
        self.st.origin()
    }

    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> Bound<'py, pyo3::types::PyBytes> {
        pyo3::types::PyBytes::new(py, self.st.bytes())
    }
}
