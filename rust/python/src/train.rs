//! `CoreTrainer`: piece counting and (Super)BPE training, with progress bars and Ctrl-C.

use pyo3::prelude::*;
use toksmith_core::count;
use toksmith_core::train::{self, superbpe, SuperBpeSettings, SuperBpeStart};

use crate::counts::CorePieceCounts;
use crate::errors::{interrupted, invalid, run, run_engine, to_py};
use crate::tokenizer::CoreTokenizer;
use toksmith_core::count::{PieceCounts, StageSpec};

/// One way of cutting training text into pieces, with the `pre_tokenizer` document that the
/// trained tokenizer gets, and the pieces counted so far.
struct Stage {
    spec: StageSpec,
    splitter: count::Splitter,
    pre_tokenizer: toksmith_core::JsonValue,
    counts: count::PieceTable,
}

impl Stage {
    /// `("regex", pattern)`: a `Split` regex in tiktoken syntax; `("pre_tokenizer", json)`: a
    /// `tokenizer.json` pre-tokenizer.
    fn new(kind: &str, spec: &str) -> PyResult<Stage> {
        let (splitter, pre_tokenizer) = match kind {
            "regex" => count::Splitter::regex(spec),
            "pre_tokenizer" => count::Splitter::pre_tokenizer(spec),
            other => return Err(invalid(format!("unknown stage kind {other:?}"))),
        }
        .map_err(to_py)?;
        Ok(Stage {
            spec: StageSpec {
                kind: kind.to_string(),
                spec: spec.to_string(),
            },
            splitter,
            pre_tokenizer,
            counts: Default::default(),
        })
    }
}

/// Piece counting and (Super)BPE training. Counting can be fed files and batches of text units,
/// cut by one splitter (BPE) or two (SuperBPE stage 1 and stage 2) in the same pass; `train` and
/// `train_superbpe` run the merge loops. Long calls release the GIL, show progress and stop on
/// Ctrl-C.
#[pyclass(module = "toksmith._toksmith")]
pub(crate) struct CoreTrainer {
    stages: Vec<Stage>,
    /// Count iterator items line by line (SuperBPE: no token continues past a newline).
    by_line: bool,
    progress: bool,
}

/// Gives memory freed by the worker threads back to the system (glibc keeps it per thread
/// arena otherwise), so building the trained tokenizer does not stack on top of it.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
}

fn bar(show: bool, total: u64, message: &'static str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let style = indicatif::ProgressStyle::with_template(
        "{msg:<16} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} (ETA {eta})",
    )
    .expect("valid template");
    indicatif::ProgressBar::new(total)
        .with_style(style)
        .with_message(message)
}

#[pymethods]
impl CoreTrainer {
    #[new]
    /// `samples[i]`: the fraction of units (lines) that stage `i` counts (default: all).
    #[pyo3(signature = (stages, by_line=false, progress=true, samples=None))]
    fn new(
        stages: Vec<(String, String)>,
        by_line: bool,
        progress: bool,
        samples: Option<Vec<f64>>,
    ) -> PyResult<Self> {
        if stages.is_empty() {
            return Err(invalid("at least one pre-tokenizer stage is needed"));
        }
        let samples = samples.unwrap_or_else(|| vec![1.0; stages.len()]);
        if samples.len() != stages.len() || samples.iter().any(|&r| !(r > 0.0 && r <= 1.0)) {
            return Err(invalid("samples: one fraction in (0, 1] per stage"));
        }
        let stages = stages
            .iter()
            .zip(samples)
            .map(|((k, s), rate)| {
                let mut stage = Stage::new(k, s)?;
                stage.splitter = stage.splitter.sampled(rate);
                Ok(stage)
            })
            .collect::<PyResult<_>>()?;
        Ok(CoreTrainer {
            stages,
            by_line,
            progress,
        })
    }

    /// Counts the lines of these files (streamed, in parallel).
    #[pyo3(signature = (paths, num_threads=None))]
    fn add_files(
        &mut self,
        py: Python<'_>,
        paths: Vec<String>,
        num_threads: Option<usize>,
    ) -> PyResult<()> {
        let total: u64 = paths
            .iter()
            .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
            .sum();
        let bar = bar(self.progress, total, "counting pieces");
        bar.set_style(bar.style().template("{msg:<16} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} (ETA {eta})").expect("valid template"));
        let splitters: Vec<&count::Splitter> = self.stages.iter().map(|s| &s.splitter).collect();
        let counts = run(py, || {
            count::count_files(&splitters, &paths, num_threads, &mut |done| {
                bar.set_position(done);
                !interrupted()
            })
        })?;
        bar.finish_and_clear();
        self.absorb(counts.map_err(to_py)?)?;
        release_free_memory();
        Ok(())
    }

    /// Counts the lines of `path` that start in the byte range `[start, end)` (a shard).
    #[pyo3(signature = (path, start, end, num_threads=None))]
    fn add_file_range(
        &mut self,
        py: Python<'_>,
        path: String,
        start: u64,
        end: u64,
        num_threads: Option<usize>,
    ) -> PyResult<()> {
        let splitters: Vec<&count::Splitter> = self.stages.iter().map(|s| &s.splitter).collect();
        let counts = run(py, || {
            toksmith_core::count::count_file_range(
                &splitters,
                &path,
                start,
                end,
                num_threads,
                &mut |_| !interrupted(),
            )
        })?;
        self.absorb(counts.map_err(to_py)?)?;
        Ok(())
    }

    /// Counts a block of file text (whole lines) read elsewhere; `name` is for error messages.
    #[pyo3(signature = (name, block, num_threads=None))]
    fn add_block(
        &mut self,
        py: Python<'_>,
        name: &str,
        block: &[u8],
        num_threads: Option<usize>,
    ) -> PyResult<()> {
        let splitters: Vec<&count::Splitter> = self.stages.iter().map(|s| &s.splitter).collect();
        let counts = run_engine(py, || {
            toksmith_core::count::count_block(&splitters, name, block, num_threads)
        })?;
        self.absorb(counts)?;
        Ok(())
    }

    /// Hands the counts over as a count table labelled `kind` (the trainer is left empty).
    fn take_table(&mut self, kind: &str) -> CorePieceCounts {
        let stages = self.stages.iter().map(|s| s.spec.clone()).collect();
        let tables = self
            .stages
            .iter_mut()
            .map(|s| std::mem::take(&mut s.counts))
            .collect();
        CorePieceCounts {
            table: PieceCounts::new(kind, stages, tables),
        }
    }

    /// Adds a count table made with the same stages (checked) to the counts: a copy, or with
    /// `consume` the table's own counts (it is left empty; for tables nobody else holds).
    #[pyo3(signature = (table, consume=false))]
    fn add_table(
        &mut self,
        py: Python<'_>,
        mut table: PyRefMut<'_, CorePieceCounts>,
        consume: bool,
    ) -> PyResult<()> {
        let t = &mut table.table;
        let mine = PieceCounts::new(
            &t.kind,
            self.stages.iter().map(|s| s.spec.clone()).collect(),
            vec![Default::default(); self.stages.len()],
        );
        mine.check_compatible(t).map_err(to_py)?;
        let counts = if consume {
            t.tables.iter_mut().map(std::mem::take).collect()
        } else {
            run(py, || t.tables.clone())?
        };
        self.absorb(counts)?;
        Ok(())
    }

    /// Counts a batch of text units (each pre-tokenized on its own, or line by line).
    #[pyo3(signature = (units, num_threads=None))]
    fn add_units(
        &mut self,
        py: Python<'_>,
        units: Vec<String>,
        num_threads: Option<usize>,
    ) -> PyResult<()> {
        let splitters: Vec<&count::Splitter> = self.stages.iter().map(|s| &s.splitter).collect();
        let by_line = self.by_line;
        let counts = run_engine(py, || {
            count::count_texts(&splitters, &units, by_line, num_threads)
        })?;
        self.absorb(counts)?;
        Ok(())
    }

    /// Learns BPE merges on the first stage's counts (consuming them: a trainer trains once)
    /// and returns the trained tokenizer.
    #[pyo3(signature = (vocab_size, special_tokens, min_frequency=1))]
    fn train(
        &mut self,
        py: Python<'_>,
        vocab_size: usize,
        special_tokens: Vec<String>,
        min_frequency: u64,
    ) -> PyResult<CoreTokenizer> {
        let counts = self.take_counts(0)?;
        let merges = vocab_size.saturating_sub(256 + special_tokens.len());
        let bar = bar(self.progress, merges as u64, "merging");
        let pre_tokenizer = self.stages[0].pre_tokenizer.clone();
        let trained = run(py, || {
            train::train_bpe_tokenizer(
                counts,
                pre_tokenizer,
                vocab_size,
                &special_tokens,
                min_frequency,
                &mut |done| {
                    bar.set_position(done as u64);
                    !interrupted()
                },
            )
        })?;
        bar.finish_and_clear();
        release_free_memory();
        let trained = trained.map_err(to_py)?;
        Ok(CoreTokenizer::new(trained.tokenizer, Some(trained.hf)))
    }

    /// SuperBPE: stage 1 on the first stage's counts up to `transition` (or `base`'s merge
    /// list), stage 2 on the last stage's chunks. Returns `(tokenizer, number of stage-1
    /// merges, ranks of stage-1 merges unused in stage 2)`.
    #[pyo3(signature = (vocab_size, transition, special_tokens, min_frequency=1, max_words=Some(4), reject_colon_space=true, base=None, num_threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn train_superbpe(
        &mut self,
        py: Python<'_>,
        vocab_size: usize,
        transition: usize,
        special_tokens: Vec<String>,
        min_frequency: u64,
        max_words: Option<usize>,
        reject_colon_space: bool,
        base: Option<PyRef<'_, CoreTokenizer>>,
        num_threads: Option<usize>,
    ) -> PyResult<(CoreTokenizer, usize, Vec<usize>)> {
        if base.is_none() && self.stages.len() < 2 {
            return Err(invalid(
                "SuperBPE needs a stage-1 and a stage-2 pre-tokenizer, or a base tokenizer",
            ));
        }
        let chunks = self.take_counts(self.stages.len() - 1)?;
        let start = match &base {
            Some(b) => SuperBpeStart::Base {
                tokenizer: &b.tok,
                hf: b.hf.as_deref(),
            },
            None => SuperBpeStart::Counts {
                counts: self.take_counts(0)?,
                transition,
            },
        };
        let settings = SuperBpeSettings {
            vocab_size,
            special_tokens,
            min_frequency,
            filters: superbpe::Filters {
                max_words,
                reject_colon_space,
            },
            num_threads,
        };
        let pre_tokenizer = self.stages[self.stages.len() - 1].pre_tokenizer.clone();
        let show = self.progress;
        let bars = [
            bar(show, 0, "stage 1 merging"),
            bar(show, 0, "replaying chunks"),
            bar(show, 0, "stage 2 merging"),
        ];
        let trained = run(py, || {
            train::train_superbpe_tokenizer(
                start,
                chunks,
                pre_tokenizer,
                settings,
                &mut |phase, done, total| {
                    let i = phase as usize;
                    for b in &bars[..i] {
                        if !b.is_finished() {
                            b.finish_and_clear();
                        }
                    }
                    bars[i].set_length(total as u64);
                    bars[i].set_position(done as u64);
                    !interrupted()
                },
            )
        })?;
        for b in &bars {
            b.finish_and_clear();
        }
        release_free_memory();
        let trained = trained.map_err(to_py)?;
        let tok = CoreTokenizer::new(trained.trained.tokenizer, Some(trained.trained.hf));
        Ok((tok, trained.stage1_len, trained.unused_stage1))
    }

    /// `(distinct pieces, total pieces)` counted so far, per stage.
    fn stats(&self) -> Vec<(usize, u64)> {
        self.stages
            .iter()
            .map(|s| (s.counts.len(), s.counts.total()))
            .collect()
    }
}

impl CoreTrainer {
    fn absorb(&mut self, counts: Vec<count::PieceTable>) -> PyResult<()> {
        for (stage, c) in self.stages.iter_mut().zip(counts) {
            stage.counts.merge(c).map_err(to_py)?;
        }
        Ok(())
    }

    fn take_counts(&mut self, stage: usize) -> PyResult<count::PieceTable> {
        let counts = std::mem::take(&mut self.stages[stage].counts);
        if counts.is_empty() {
            return Err(invalid(
                "empty corpus: no text to learn from (or this trainer already trained)",
            ));
        }
        Ok(counts)
    }
}
