//! `CorePieceCounts`: the engine's count table (`toksmith_core::count::PieceCounts`) as a
//! Python object; `toksmith.PieceTable` wraps it.

use crate::errors::{run, run_engine, to_py};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use toksmith_core::count::PieceCounts;

/// Not frozen: a trainer may take the counts out of a table made for it (no copy).
#[pyclass(module = "toksmith._toksmith")]
pub struct CorePieceCounts {
    pub table: PieceCounts,
}

#[pymethods]
impl CorePieceCounts {
    /// Reads the compact form; `origin` names it in error messages.
    #[staticmethod]
    #[pyo3(signature = (data, origin="<bytes>"))]
    fn from_bytes(py: Python<'_>, data: &[u8], origin: &str) -> PyResult<Self> {
        let table = run_engine(py, || PieceCounts::from_bytes(data, origin))?;
        Ok(CorePieceCounts { table })
    }

    #[pyo3(signature = (level=6))]
    fn to_bytes<'py>(&self, py: Python<'py>, level: u32) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = run(py, || self.table.to_bytes(level))?;
        Ok(PyBytes::new(py, &bytes))
    }

    #[staticmethod]
    fn load(py: Python<'_>, path: &str) -> PyResult<Self> {
        let table = run_engine(py, || PieceCounts::load(path))?;
        Ok(CorePieceCounts { table })
    }

    #[pyo3(signature = (path, level=6))]
    fn save(&self, py: Python<'_>, path: &str, level: u32) -> PyResult<()> {
        run_engine(py, || self.table.save(path, level))
    }

    /// A new table with the counts of both (the larger one is copied, the other added to it).
    fn add(&self, py: Python<'_>, other: PyRef<'_, CorePieceCounts>) -> PyResult<Self> {
        let (a, b) = (&self.table, &other.table);
        a.check_compatible(b).map_err(to_py)?;
        let table = run(py, || {
            let size = |t: &PieceCounts| t.tables.iter().map(|c| c.len()).sum::<usize>();
            let (big, small) = if size(a) >= size(b) { (a, b) } else { (b, a) };
            let mut sum = big.clone();
            sum.merge(small.clone()).map(|_| sum)
        })?;
        Ok(CorePieceCounts {
            table: table.map_err(to_py)?,
        })
    }

    #[pyo3(signature = (min_count=1, top_k=None))]
    fn pruned(&self, py: Python<'_>, min_count: u64, top_k: Option<usize>) -> PyResult<Self> {
        let table = run(py, || {
            let mut t = self.table.clone();
            t.prune(min_count, top_k);
            t
        })?;
        Ok(CorePieceCounts { table })
    }

    fn kind(&self) -> String {
        self.table.kind.clone()
    }

    /// `(kind, spec)` of each stage.
    fn stages(&self) -> Vec<(String, String)> {
        self.table
            .stages
            .iter()
            .map(|s| (s.kind.clone(), s.spec.clone()))
            .collect()
    }

    /// `(distinct pieces, total pieces)` per stage.
    fn stats(&self) -> Vec<(usize, u64)> {
        self.table
            .tables
            .iter()
            .map(|t| (t.len(), t.total()))
            .collect()
    }

    /// The counts of one stage as `{piece bytes: count}`.
    fn to_dict<'py>(&self, py: Python<'py>, stage: usize) -> PyResult<Bound<'py, PyDict>> {
        let t = self.table.tables.get(stage).ok_or_else(|| {
            pyo3::exceptions::PyIndexError::new_err(format!(
                "stage {stage} out of range: this table has {} stages",
                self.table.tables.len()
            ))
        })?;
        let d = PyDict::new(py);
        for (k, v) in t.iter() {
            d.set_item(PyBytes::new(py, k), v)?;
        }
        Ok(d)
    }

    fn equals(&self, other: PyRef<'_, CorePieceCounts>) -> bool {
        let (a, b) = (&self.table, &other.table);
        a.kind == b.kind
            && a.stages == b.stages
            && a.tables.iter().zip(&b.tables).all(|(x, y)| x == y)
    }
}
