//! Shards of a corpus on disk: a byte range of a file cut at line starts, and a block of lines
//! read elsewhere, each counted like a whole file.

use super::{count_stream, PieceTable, Splitter};
use crate::{Error, Result};
use std::io::{BufRead, Read, Seek, SeekFrom};

/// A byte range of a file as a shard of a corpus cut into lines: it holds the lines that
/// *start* in `[start, end)`, so consecutive ranges hold every line exactly once whatever the
/// cut points. The first partial line is skipped; the last line runs past `end` to its newline.
pub struct LineRange<R: BufRead> {
    inner: R,
    pos: u64,
    end: u64,
    last: Option<u8>,
    done: bool,
}

impl LineRange<std::io::BufReader<std::fs::File>> {
    pub fn open(path: &str, start: u64, end: u64) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
        LineRange::new(std::io::BufReader::with_capacity(1 << 20, file), start, end)
            .map_err(|e| Error::io(path, &e))
    }
}

impl<R: BufRead + Seek> LineRange<R> {
    pub fn new(mut inner: R, start: u64, end: u64) -> std::io::Result<Self> {
        let mut pos = 0;
        if start > 0 {
            // A line starts at `start` iff the byte before it is a newline.
            inner.seek(SeekFrom::Start(start - 1))?;
            pos = start - 1 + skip_line(&mut inner)?;
        }
        Ok(LineRange {
            inner,
            pos,
            end,
            last: None,
            done: pos >= end,
        })
    }
}

/// Consumes up to and including the next newline; returns the number of bytes consumed.
fn skip_line(r: &mut impl BufRead) -> std::io::Result<u64> {
    let mut n = 0u64;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(n);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(n + i as u64 + 1);
            }
            None => {
                let len = buf.len();
                r.consume(len);
                n += len as u64;
            }
        }
    }
}

impl<R: BufRead> Read for LineRange<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            self.done = true;
            return Ok(0);
        }
        let n = if self.pos < self.end {
            buf.len().min(out.len()).min((self.end - self.pos) as usize)
        } else if self.last == Some(b'\n') {
            self.done = true;
            return Ok(0);
        } else {
            // Past `end`: finish the line that started before it (the next call stops).
            let n = buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len(), |i| i + 1);
            n.min(out.len())
        };
        out[..n].copy_from_slice(&buf[..n]);
        self.inner.consume(n);
        self.pos += n as u64;
        self.last = Some(out[n - 1]);
        Ok(n)
    }
}

/// Counts the lines of `path` that start in `[start, end)` (see [`LineRange`]), one table per
/// splitter, like `count_files` does for whole files.
pub fn count_file_range(
    splitters: &[&Splitter],
    path: &str,
    start: u64,
    end: u64,
    num_threads: Option<usize>,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Result<Vec<PieceTable>> {
    let mut reader = LineRange::open(path, start, end)?;
    count_stream(splitters, path, &mut reader, num_threads, progress)
}

/// Counts a block of file text (whole lines; the last one may lack its newline) named `name`.
pub fn count_block(
    splitters: &[&Splitter],
    name: &str,
    mut block: &[u8],
    num_threads: Option<usize>,
) -> Result<Vec<PieceTable>> {
    count_stream(splitters, name, &mut block, num_threads, &mut |_| true)
}
