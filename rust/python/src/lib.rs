//! Python bindings of toksmith: argument conversion, GIL release and error mapping only.
//! Every algorithm lives in `toksmith-core`. One file per job:
//!
//! * `tokenizer.rs`: `CoreTokenizer` (loading, tiktoken-flavoured encode and decode);
//!   `tokenizer_hf.rs`: its Hugging Face-flavoured calls; `count.rs`: token counts and the
//!   per-token bytes of streaming decoding.
//! * `dynamic.rs`: batch dynamic merging (`CoreTokenizer.merge_batch`, `CoreDynamic`).
//! * `counts.rs`: `CorePieceCounts`, piece counts that travel (files, pickling, merging).
//! * `train.rs`: `CoreTrainer`, counting and (Super)BPE training.
//! * `mixture.rs`: `CoreMixture`, a merge list replayed on category samples.
//! * `report.rs`: `CoreReportPass`, the counting pass of `toksmith report`.
//! * `bytelm.rs`: `CoreByteModel` / `CoreByteState`, byte-level probabilities.
//! * `errors.rs`: engine errors as Python exceptions.

mod bytelm;
mod count;
mod counts;
mod dynamic;
mod errors;
mod mixture;
mod report;
mod tokenizer;
mod tokenizer_hf;
mod train;

use pyo3::prelude::*;

#[pymodule]
fn _toksmith(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<tokenizer::CoreTokenizer>()?;
    m.add_class::<dynamic::CoreDynamic>()?;
    m.add_class::<train::CoreTrainer>()?;
    m.add_class::<bytelm::CoreByteModel>()?;
    m.add_class::<bytelm::CoreByteState>()?;
    m.add_class::<counts::CorePieceCounts>()?;
    m.add_class::<mixture::CoreMixture>()?;
    m.add_class::<report::CoreReportPass>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
