//! Files of any size, encoded or counted in blocks: read a block, cut it at its last safe point,
//! encode the blocks of a round in parallel, carry the rest over to the next round.
//!
//! **Why the cuts are safe.** A cut goes right after a `\n` whose neighbours are both visible
//! ASCII characters (`!`..`~`), the one after it not `/`, e.g. `x;\nfoo`. For the known pattern families (GPT-2/r50k,
//! cl100k, o200k, Llama 3, Qwen2: the fast pre-tokenizer, `Regex::is_fast`), the pieces are the
//! same with or without the cut:
//! * No piece holds that `\n` and the visible character after it. Only whitespace alternatives
//!   (`\s*[\r\n]+`, `\s+(?!\S)`, `\s+`) can start at a `\n` (the letter alternatives take at most
//!   one non-newline prefix character, ` ?` or `[^\r\n\p{L}\p{N}]?`), and those never take a
//!   visible character; alternatives that reach a `\n` from before it
//!   (`[^\s\p{L}\p{N}]+[\r\n]*`, the whitespace ones) stop at it for the same reason, except
//!   o200k's `[^\s\p{L}\p{N}]+[\r\n/]*`, which goes on through a `/`: hence no cut before one.
//! * The piece that ends with the `\n` is the same whether text follows or not: before the
//!   `\n` is a visible character, so the whitespace run is that lone `\n`. With text after,
//!   `\s+(?!\S)` fails on it and `\s+` (or `\s*[\r\n]+`, or a punctuation run's `[\r\n]*`) takes
//!   it; at the end of a block `\s+(?!\S)` takes it: one piece `\n` either way. (Had a space
//!   come before the `\n`, `  \n` would be one piece at the end of a block but `  ` + `\n`
//!   before a letter in GPT-2's pattern: hence the visible character before it.)
//! * No pattern looks behind, so matching after the cut starts afresh exactly as it continues
//!   in the whole text.
//!
//! Special-token strings are ordinary text here (`encode_ordinary`): they hold no newline, so
//! no cut falls inside one anyway. Invalid UTF-8 becomes U+FFFD; a cut is at an ASCII byte, so
//! no invalid sequence spans it and blocks decode as the whole file would. Other patterns are
//! not cut: their file is one block. Memory: one round holds `threads` blocks of about
//! `block_size` bytes (a block grows past that until it has a cut), plus the output.

use super::Tokenizer;
use crate::pretokenize::steps::PreTokenizer;
use crate::util::pool;
use crate::{Error, Result};
use std::io::Read;

/// Default block size: big enough that the per-round overhead vanishes, small enough that a
/// round on every core stays a few tens of MB.
pub const BLOCK_SIZE: usize = 4 << 20;

/// Where `bytes` may be cut (see the module doc): the position right after the last `\n`
/// at `from` or later with a visible ASCII character on each side.
pub fn last_safe_cut(bytes: &[u8], from: usize) -> Option<usize> {
    let visible = |b: u8| b.is_ascii_graphic();
    (from.max(1)..bytes.len().saturating_sub(1))
        .rev()
        .find(|&i| {
            bytes[i] == b'\n'
                && visible(bytes[i - 1])
                && visible(bytes[i + 1])
                && bytes[i + 1] != b'/'
        })
        .map(|i| i + 1)
}

impl Tokenizer {
    /// Whether this tokenizer's pieces are the same across `last_safe_cut`s.
    pub fn cuts_blocks(&self) -> bool {
        matches!(&self.pre_tokenizer, PreTokenizer::Regex(re) if re.is_fast())
    }

    /// `encode_reader` of a file (`-`: standard input); errors name the file.
    pub fn encode_file(
        &self,
        path: &str,
        block_size: usize,
        num_threads: Option<usize>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Vec<u32>> {
        with_file(path, |r| {
            self.encode_reader(r, path, block_size, num_threads, stop)
        })
    }

    /// `count_reader` of a file (`-`: standard input); errors name the file.
    pub fn count_file(
        &self,
        path: &str,
        block_size: usize,
        num_threads: Option<usize>,
        stop: &dyn Fn() -> bool,
    ) -> Result<usize> {
        with_file(path, |r| {
            self.count_reader(r, path, block_size, num_threads, stop)
        })
    }

    /// `encode_ordinary` of the text `reader` gives, in blocks of about `block_size` bytes
    /// encoded in parallel; `stop` is asked between rounds (an `Interrupted` error if it says
    /// so).
    pub fn encode_reader(
        &self,
        reader: impl Read,
        name: &str,
        block_size: usize,
        num_threads: Option<usize>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Vec<u32>> {
        let mut out = Vec::new();
        let how = Reading {
            name,
            block_size,
            num_threads,
            stop,
        };
        self.for_each_block(
            reader,
            &how,
            |text| {
                let mut ids = Vec::with_capacity(text.len() / 4 + 1);
                self.encode_ordinary_into(text, &mut ids)?;
                Ok(ids)
            },
            |ids| out.extend_from_slice(&ids),
        )?;
        Ok(out)
    }

    /// `count_ordinary` of the text `reader` gives, as `encode_reader` reads it.
    pub fn count_reader(
        &self,
        reader: impl Read,
        name: &str,
        block_size: usize,
        num_threads: Option<usize>,
        stop: &dyn Fn() -> bool,
    ) -> Result<usize> {
        let mut n = 0;
        let how = Reading {
            name,
            block_size,
            num_threads,
            stop,
        };
        self.for_each_block(
            reader,
            &how,
            |text| self.count_ordinary(text),
            |count| n += count,
        )?;
        Ok(n)
    }

    /// Reads rounds of up to `threads` blocks, runs `work` on a round's blocks in parallel and
    /// hands the results to `sink` in order.
    fn for_each_block<R: Send>(
        &self,
        mut reader: impl Read,
        how: &Reading,
        work: impl Fn(&str) -> Result<R> + Sync + Send,
        mut sink: impl FnMut(R),
    ) -> Result<()> {
        let (name, stop, num_threads) = (how.name, how.stop, how.num_threads);
        let block_size = how.block_size.max(1);
        let cuts = self.cuts_blocks();
        let threads = pool::threads(num_threads);
        let mut carry = Vec::new();
        let mut eof = false;
        while !eof {
            let mut blocks = Vec::with_capacity(threads);
            while blocks.len() < threads && !eof {
                let mut block = std::mem::take(&mut carry);
                loop {
                    let before = block.len();
                    let read = read_some(&mut reader, &mut block, block_size, name, stop)?;
                    if read == 0 {
                        eof = true;
                        break;
                    }
                    // Only the new bytes (and the one before them) can hold a new cut.
                    if let Some(at) =
                        last_safe_cut(&block, before.saturating_sub(1)).filter(|_| cuts)
                    {
                        carry = block.split_off(at);
                        break;
                    }
                }
                if !block.is_empty() {
                    blocks.push(String::from_utf8_lossy(&block).into_owned());
                }
            }
            if stop() {
                return Err(Error::interrupted());
            }
            for result in pool::map_ordered(&blocks, num_threads, |b| work(b)) {
                sink(result?);
            }
        }
        Ok(())
    }
}

/// How `for_each_block` reads: the reader's name (for errors), the block size, the threads, and
/// the Ctrl-C check.
struct Reading<'a> {
    name: &'a str,
    block_size: usize,
    num_threads: Option<usize>,
    stop: &'a dyn Fn() -> bool,
}

/// Appends up to `limit` bytes of `reader` to `buf` (fewer only at its end); returns how many.
/// A read cut short by a signal asks `stop` (Ctrl-C while waiting on a pipe is seen at once).
fn read_some(
    reader: &mut impl Read,
    buf: &mut Vec<u8>,
    limit: usize,
    name: &str,
    stop: &dyn Fn() -> bool,
) -> Result<usize> {
    let start = buf.len();
    buf.resize(start + limit, 0);
    let mut filled = start;
    let mut result = Ok(());
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                if stop() {
                    result = Err(Error::interrupted());
                    break;
                }
            }
            Err(e) => {
                result = Err(Error::io(name, &e));
                break;
            }
        }
    }
    buf.truncate(filled);
    result.map(|()| filled - start)
}

fn with_file<T>(path: &str, f: impl FnOnce(&mut dyn Read) -> Result<T>) -> Result<T> {
    if path == "-" {
        return f(&mut std::io::stdin().lock());
    }
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    f(&mut file)
}

#[cfg(test)]
mod tests {
    use super::last_safe_cut;
    use crate::encode::{PreTokenizer, Tokenizer};
    use crate::pretokenize::regex::Regex;
    use crate::vocab::Vocab;

    #[test]
    fn cuts_only_between_visible_characters() {
        assert_eq!(last_safe_cut(b"a;\nfoo\nb", 0), Some(7));
        assert_eq!(last_safe_cut(b"a;\nfoo\nb", 8), None);
        assert_eq!(last_safe_cut(b"a \nfoo \n b\n\nc\r\nd\n", 0), None);
        assert_eq!(last_safe_cut(b"\nx", 0), None);
        assert_eq!(last_safe_cut(b"x;\n/y", 0), None);
    }

    #[test]
    fn blocks_encode_like_the_whole_text() {
        let mut ranks: Vec<(Vec<u8>, u32)> = (0..=255u8).map(|b| (vec![b], b as u32)).collect();
        for (i, t) in ["ab", "abc", " a", "\n\n", ";\n"].iter().enumerate() {
            ranks.push((t.as_bytes().to_vec(), 256 + i as u32));
        }
        let r50k =
            r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s";
        let o200k = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        for pattern in [r50k, o200k] {
            let pre = PreTokenizer::Regex(Regex::tiktoken(pattern).unwrap());
            let tok = Tokenizer::new("t", Vocab::from_ranks(ranks.clone()).unwrap(), pre, vec![])
                .unwrap();
            assert!(tok.cuts_blocks(), "a known family");
            same_as_whole(&tok);
        }
    }

    fn same_as_whole(tok: &Tokenizer) {
        let text = "x;\n/y\nabc;\nab  \nx\n\n y=1;\nab\u{e9}\n;\n\u{1F980}\n".repeat(30);
        let whole = tok.encode_ordinary(&text).unwrap();
        for block in [1, 2, 3, 7, 64, 1 << 20] {
            for threads in [Some(1), Some(3)] {
                let r = tok.encode_reader(text.as_bytes(), "t", block, threads, &|| false);
                assert_eq!(r.unwrap(), whole, "block size {block}");
                let n = tok.count_reader(text.as_bytes(), "t", block, threads, &|| false);
                assert_eq!(n.unwrap(), whole.len());
            }
        }
        let stopped = tok.count_reader(text.as_bytes(), "t", 4, None, &|| true);
        assert!(stopped.is_err());
    }
}
