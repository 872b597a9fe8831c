//! Streaming, parallel pre-tokenize-and-count: files are read in 2 MB blocks that end at a line
//! break, the blocks are shared out among the counting threads, and each thread counts into
//! its own table; the tables are merged once at the end.

use super::{PieceTable, Splitter};
use crate::{Error, Result};
use std::io::Read;

/// Count tables filled in parallel, `slots` per splitter: worker `(stage, slot)` counts its
/// splitter's pieces into its own table (in `count_texts` every `slot`-th batch; when reading
/// files, whichever block is next, see `count_shared`), and each splitter's tables are merged
/// once at the end. The threads are shared out among the splitters, so with as many splitters
/// as threads (SuperBPE's two stages on two cores) the stages run side by side over the same
/// text, one main table each.
struct Accumulators {
    slots: usize,
    /// Table of worker `(stage, slot)` at `stage * slots + slot`.
    parts: Vec<PieceTable>,
}

impl Accumulators {
    fn new(threads: usize, splitters: usize) -> Accumulators {
        let slots = (threads / splitters.max(1)).max(1);
        Accumulators {
            slots,
            parts: vec![PieceTable::default(); slots * splitters],
        }
    }

    /// Counts `batches` (at most `slots` of them) with every splitter, in parallel:
    /// `count(table, splitter, batch)` adds one batch's pieces to one table.
    fn count<T: Sync>(
        &mut self,
        splitters: &[&Splitter],
        batches: &[T],
        num_threads: Option<usize>,
        count: impl Fn(&mut PieceTable, &Splitter, &T) -> Result<()> + Sync + Send,
    ) -> Result<()> {
        use rayon::prelude::*;
        debug_assert!(batches.len() <= self.slots);
        let slots = self.slots;
        crate::util::pool::pool(num_threads).install(|| {
            self.parts
                .par_iter_mut()
                .enumerate()
                .with_max_len(1)
                .try_for_each(|(i, table)| match batches.get(i % slots) {
                    Some(batch) => count(table, splitters[i / slots], batch),
                    None => Ok(()),
                })
        })
    }

    /// One table per splitter (merged in parallel across splitters).
    fn total(self, num_threads: Option<usize>) -> Result<Vec<PieceTable>> {
        use rayon::prelude::*;
        let mut parts = self.parts;
        crate::util::pool::pool(num_threads).install(|| {
            parts
                .par_chunks_mut(self.slots)
                .map(|tables| {
                    let mut total = std::mem::take(&mut tables[0]);
                    for t in &mut tables[1..] {
                        total.merge(std::mem::take(t))?;
                    }
                    Ok(total)
                })
                .collect()
        })
    }
}

/// Counts units of text in parallel, one table per splitter; each unit is pre-tokenized on its
/// own, or each of its lines (with their endings) when `by_line`.
pub fn count_texts(
    splitters: &[&Splitter],
    units: &[String],
    by_line: bool,
    num_threads: Option<usize>,
) -> Result<Vec<PieceTable>> {
    let threads = crate::util::pool::pool(num_threads)
        .current_num_threads()
        .max(1);
    let mut accumulators = Accumulators::new(threads, splitters.len());
    let chunk = units.len().div_ceil(accumulators.slots).max(1);
    let parts: Vec<&[String]> = units.chunks(chunk).collect();
    accumulators.count(splitters, &parts, num_threads, |table, splitter, part| {
        if by_line {
            table.add_texts(splitter, part.iter().flat_map(|u| u.split_inclusive('\n')))
        } else {
            table.add_texts(splitter, part.iter().map(String::as_str))
        }
    })?;
    accumulators.total(num_threads)
}

/// Reads files in 2 MB blocks that end at a line break and counts their lines (with line endings)
/// in parallel, one table per splitter, never holding a whole file. Invalid UTF-8 becomes
/// U+FFFD; a file with NUL bytes is refused as binary. `progress(bytes_done)` returns false to
/// stop.
pub fn count_files(
    splitters: &[&Splitter],
    paths: &[String],
    num_threads: Option<usize>,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Vec<PieceTable>> {
    let mut total = vec![PieceTable::default(); splitters.len()];
    let mut done = 0u64;
    for path in paths {
        let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
        count_reader(
            splitters,
            path,
            &mut file,
            num_threads,
            &mut total,
            &mut done,
            progress,
        )?;
    }
    Ok(total)
}

/// `count_files` on one stream of text named `name` (a byte range of a file, a block): its own
/// count tables, one per splitter.
pub fn count_stream(
    splitters: &[&Splitter],
    name: &str,
    reader: &mut dyn Read,
    num_threads: Option<usize>,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Vec<PieceTable>> {
    let mut total = vec![PieceTable::default(); splitters.len()];
    let mut done = 0;
    count_reader(
        splitters,
        name,
        reader,
        num_threads,
        &mut total,
        &mut done,
        progress,
    )?;
    Ok(total)
}

/// `count_files` on one stream of text named `name` (a file, a byte range of one, a block):
/// adds its lines to `total` (one table per splitter) and the bytes read to `done`.
pub fn count_reader(
    splitters: &[&Splitter],
    name: &str,
    reader: &mut dyn Read,
    num_threads: Option<usize>,
    total: &mut [PieceTable],
    done: &mut u64,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<()> {
    let threads = crate::util::pool::pool(num_threads)
        .current_num_threads()
        .max(1);
    let mut accumulators = Accumulators::new(threads, splitters.len());
    let slots = accumulators.slots;
    let mut blocks = Blocks {
        name,
        reader,
        carry: Vec::new(),
        eof: false,
    };
    if threads < accumulators.parts.len() {
        // Fewer threads than splitters: one after the other, here.
        while let Some(block) = blocks.next(done)? {
            for (i, table) in accumulators.parts.iter_mut().enumerate() {
                table.add_texts(splitters[i / slots], block.split_inclusive('\n'))?;
            }
            if !progress(*done) {
                return Err(Error::interrupted());
            }
        }
    } else {
        let helpers = count_shared(
            splitters,
            &mut blocks,
            slots,
            &mut accumulators.parts,
            done,
            progress,
        )?;
        for (stage, helper) in helpers.into_iter().enumerate() {
            for table in helper {
                accumulators.parts[stage * slots].merge(table)?;
            }
        }
    }
    for (t, c) in total.iter_mut().zip(accumulators.total(num_threads)?) {
        t.merge(c)?;
    }
    Ok(())
}

/// Blocks waiting to be counted, one task per block and splitter, shared by the counting
/// threads (see `count_shared`).
struct Tasks {
    /// Per splitter: the blocks it has yet to count, oldest first.
    pending: Vec<std::collections::VecDeque<std::sync::Arc<String>>>,
    /// No more blocks will come (the text is read, or reading or counting failed).
    closed: bool,
}

/// The shared queue of `count_shared`: its tasks, a signal for the counting threads (`work`:
/// a block came, or the queue closed) and one for the reader (`room`: a block was taken).
struct Queue {
    tasks: std::sync::Mutex<Tasks>,
    work: std::sync::Condvar,
    room: std::sync::Condvar,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tasks> {
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// No more blocks; with `abandon`, the pending ones are dropped too (an error or a stop).
    fn close(&self, abandon: bool) {
        let mut t = self.lock();
        t.closed = true;
        if abandon {
            t.pending.iter_mut().for_each(|p| p.clear());
        }
        self.work.notify_all();
        self.room.notify_all();
    }
}

/// Closes the queue if a counting thread panics, so that the reader and the other threads do
/// not wait for it (the panic is raised again when the thread is joined).
struct CloseOnPanic<'a>(&'a Queue);

impl Drop for CloseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close(true);
        }
    }
}

/// Counts `blocks` with every splitter on one thread per table (`parts[stage * slots + slot]`),
/// fed through a short shared queue: a thread counts its own splitter's next block, and when
/// there is none it helps another splitter into a table of its own (returned per splitter, to
/// be merged), so a splitter that is cheaper than the others does not leave its core idle.
/// Reading overlaps counting.
fn count_shared(
    splitters: &[&Splitter],
    blocks: &mut Blocks<'_>,
    slots: usize,
    parts: &mut [PieceTable],
    done: &mut u64,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Vec<Vec<PieceTable>>> {
    /// Blocks read ahead of the slowest splitter.
    const AHEAD: usize = 4;
    let queue = Queue {
        tasks: std::sync::Mutex::new(Tasks {
            pending: vec![Default::default(); splitters.len()],
            closed: false,
        }),
        work: std::sync::Condvar::new(),
        room: std::sync::Condvar::new(),
    };
    std::thread::scope(|scope| -> Result<Vec<Vec<PieceTable>>> {
        let workers: Vec<_> = parts
            .iter_mut()
            .enumerate()
            .map(|(i, table)| {
                let (own, queue) = (i / slots, &queue);
                scope.spawn(move || -> Result<Vec<Option<PieceTable>>> {
                    let _closes = CloseOnPanic(queue);
                    let mut helped: Vec<Option<PieceTable>> = vec![None; splitters.len()];
                    loop {
                        let (stage, block) = {
                            let mut t = queue.lock();
                            loop {
                                // Its own splitter first, else the one furthest behind.
                                let stage =
                                    Some(own).filter(|&s| !t.pending[s].is_empty()).or_else(|| {
                                        (0..t.pending.len())
                                            .filter(|&s| !t.pending[s].is_empty())
                                            .max_by_key(|&s| t.pending[s].len())
                                    });
                                if let Some(stage) = stage {
                                    let block = t.pending[stage].pop_front().expect("pending");
                                    queue.room.notify_one();
                                    break (stage, block);
                                }
                                if t.closed {
                                    return Ok(helped);
                                }
                                t = queue.work.wait(t).unwrap_or_else(|e| e.into_inner());
                            }
                        };
                        let into = if stage == own {
                            &mut *table
                        } else {
                            helped[stage].get_or_insert_with(PieceTable::default)
                        };
                        if let Err(e) =
                            into.add_texts(splitters[stage], block.split_inclusive('\n'))
                        {
                            queue.close(true);
                            return Err(e);
                        }
                    }
                })
            })
            .collect();
        let mut feed = || -> Result<()> {
            while let Some(block) = blocks.next(done)? {
                let block = std::sync::Arc::new(block);
                let mut t = queue.lock();
                while !t.closed && t.pending.iter().any(|p| p.len() >= AHEAD) {
                    t = queue.room.wait(t).unwrap_or_else(|e| e.into_inner());
                }
                if t.closed {
                    return Ok(()); // a worker stopped on an error: see below
                }
                t.pending
                    .iter_mut()
                    .for_each(|p| p.push_back(block.clone()));
                drop(t);
                queue.work.notify_all();
                if !progress(*done) {
                    return Err(Error::interrupted());
                }
            }
            Ok(())
        };
        let fed = feed();
        queue.close(fed.is_err());
        let mut result = fed.map(|()| vec![Vec::new(); splitters.len()]);
        for worker in workers {
            let counted = worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            match (&mut result, counted) {
                (Ok(helpers), Ok(helped)) => {
                    for (stage, table) in helped.into_iter().enumerate() {
                        helpers[stage].extend(table);
                    }
                }
                (Ok(_), Err(e)) => result = Err(e),
                (Err(_), _) => {}
            }
        }
        result
    })
}

/// Text read in 2 MB blocks that end at a line break.
struct Blocks<'a> {
    name: &'a str,
    reader: &'a mut dyn Read,
    /// The start of the next block (after the last newline of the previous one).
    carry: Vec<u8>,
    eof: bool,
}

impl Blocks<'_> {
    const SIZE: usize = 2 << 20;

    /// The next block, its length added to `done`. Invalid UTF-8 becomes U+FFFD; NUL bytes
    /// are refused (a binary file).
    fn next(&mut self, done: &mut u64) -> Result<Option<String>> {
        if self.eof {
            return Ok(None);
        }
        let mut buf = std::mem::take(&mut self.carry);
        let start = buf.len();
        buf.resize(start + Self::SIZE, 0);
        let mut filled = start;
        while filled < buf.len() {
            let n = match self.reader.read(&mut buf[filled..]) {
                // A signal arrived (Ctrl-C is seen at the next progress call): read on.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => other.map_err(|e| Error::io(self.name, &e))?,
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        if !self.eof {
            if let Some(nl) = buf.iter().rposition(|&b| b == b'\n') {
                self.carry = buf.split_off(nl + 1);
            }
        }
        if buf.contains(&0) {
            return Err(Error::format(format!(
                "{}: looks like a binary file (contains NUL bytes)",
                self.name
            )));
        }
        if buf.is_empty() && self.eof {
            return Ok(None);
        }
        *done += buf.len() as u64;
        // Valid UTF-8 is taken as is (no copy); invalid sequences become U+FFFD.
        Ok(Some(String::from_utf8(buf).unwrap_or_else(|e| {
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counting a stream of several blocks on shared threads (each helping the other splitter
    /// when its own is ahead) gives the same tables as counting it on one thread, for any
    /// number of threads; stopping through `progress` ends every thread.
    #[test]
    fn shared_counting_equals_one_thread() {
        let words = [
            "the", " cat", " 12345", "  ", "(x->y)", " ==", "\t\tif", " é中", ".\n", "\n",
        ];
        let mut seed = 7u64;
        let mut text = String::new();
        while text.len() < 5 << 20 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(words[(seed >> 33) as usize % words.len()]);
        }
        let (cheap, _) =
            Splitter::regex(r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]{2,}[\r\n/]*| +(?!\S)").unwrap();
        // A look-ahead pattern runs on fancy-regex, far slower than the stage-2 scan: the
        // scan's thread finishes early and helps.
        let (dear, _) = Splitter::regex(r"\w+(?=\s)|\s+|[^\w\s]+|\w+").unwrap();
        let splitters = [&dear, &cheap];
        let count = |threads: usize| {
            count_stream(
                &splitters,
                "text",
                &mut text.as_bytes(),
                Some(threads),
                &mut |_| true,
            )
            .unwrap()
        };
        let sorted = |t: &PieceTable| {
            let mut rows: Vec<(Vec<u8>, u64)> = t.iter().map(|(p, n)| (p.to_vec(), n)).collect();
            rows.sort();
            rows
        };
        let one: Vec<_> = count(1).iter().map(sorted).collect();
        assert!(one[0].len() > 10 && one[1].len() > 10);
        for threads in [2, 3, 4] {
            let shared: Vec<_> = count(threads).iter().map(sorted).collect();
            assert_eq!(shared, one, "{threads} threads");
        }
        let mut blocks = 0;
        let stopped = count_stream(
            &splitters,
            "text",
            &mut text.as_bytes(),
            Some(2),
            &mut |_| {
                blocks += 1;
                blocks < 2
            },
        );
        assert!(matches!(stopped, Err(e) if e.kind == crate::util::error::ErrorKind::Interrupted));
    }
}
