//! The counting pass behind `toksmith report`: corpora encoded with one or more tokenizers,
//! every counter the report's metrics need accumulated as the tokens come out, no id list kept
//! beyond one group of pieces.
//!
//! * [`words`]: words (whitespace runs, CJK characters alone), the cut of a text into pieces,
//!   and how tokens cover words.
//! * this file: [`Subject`] (a tokenizer and its token lengths), [`Counters`] (the sums of one
//!   tokenizer on one corpus) and [`Pass`], which takes a corpus text by text, cuts it into
//!   pieces and groups, and measures each group with every tokenizer on the thread pool.
//!
//! The cut is the one `python/toksmith/reference/report.py` makes: pieces end at the first
//! newline after `piece_chars` characters and never span two texts; groups are consecutive
//! pieces of at least `group_chars` characters. A group's word metrics count only when its
//! tokens spell it byte for byte (a normalizer may change the text).

pub mod words;

use crate::util::error::{Error, Result};
use crate::util::pool;
use crate::Tokenizer;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use words::{cut_pieces, for_each_word, Tally, WordTally};

/// How a tokenizer encodes a piece for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// tiktoken's `encode_ordinary`: special-token text is ordinary text.
    Ordinary,
    /// The `tokenizer.json` pipeline (added tokens split out first) with no post-processor.
    Hf,
}

/// A tokenizer being measured, with the byte length of each id (0 for an id with no bytes).
pub struct Subject {
    tok: Arc<Tokenizer>,
    flavour: Flavour,
    /// One byte per id (`u8::MAX`: see `lengths`), so that the table stays in cache beside the
    /// encoder's own.
    short: Vec<u8>,
    lengths: Vec<u32>,
}

impl Subject {
    pub fn new(tok: Arc<Tokenizer>, flavour: Flavour) -> Subject {
        let lengths: Vec<u32> = token_lengths(&tok)
            .into_iter()
            .map(|n| n.unwrap_or(0))
            .collect();
        let short = lengths
            .iter()
            .map(|&n| n.min(u8::MAX as u32) as u8)
            .collect();
        Subject {
            tok,
            flavour,
            short,
            lengths,
        }
    }

    /// Ids of the vocabulary: the length of [`Counters::counts`].
    pub fn id_bound(&self) -> usize {
        self.lengths.len()
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self.flavour {
            Flavour::Ordinary => self.tok.encode_ordinary(text),
            Flavour::Hf => Ok(self.tok.encode_hf(text)?.iter().map(|t| t.id).collect()),
        }
    }

    fn length(&self, id: u32) -> u64 {
        match self.short.get(id as usize) {
            Some(&u8::MAX) => self.lengths[id as usize] as u64,
            Some(&n) => n as u64,
            None => 0,
        }
    }
}

/// The byte length of every id below [`Tokenizer::id_bound`] (`None`: an id with no token).
pub fn token_lengths(tok: &Tokenizer) -> Vec<Option<u32>> {
    (0..tok.id_bound() as u32)
        .map(|id| tok.token_bytes(id).map(|b| b.len() as u32))
        .collect()
}

/// The sums of one tokenizer on one corpus (docs/report.md names what each metric divides).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    pub tokens: u64,
    pub bytes: u64,
    pub chars: u64,
    pub words: u64,
    /// Bytes, tokens and words of the groups whose tokens spell them byte for byte.
    pub aligned_bytes: u64,
    pub aligned_tokens: u64,
    pub aligned_words: u64,
    /// Over the aligned groups: tokens per word summed, words in one token, tokens that are
    /// exactly one whole word.
    pub word_tokens: u64,
    pub words_whole: u64,
    pub whole_word_tokens: u64,
    /// Wall time this tokenizer's passes took (encoding and counting).
    pub seconds: f64,
    /// How often each id occurs.
    pub counts: Vec<u64>,
}

/// What one piece gives: its ids, the bytes its tokens spell, its words, and its word tally
/// when its tokens spell it exactly.
struct PieceOut {
    ids: Vec<u32>,
    spelled: u64,
    words: u64,
    tally: Option<WordTally>,
}

/// One corpus going through the report: texts in, [`Counters`] per tokenizer out.
pub struct Pass {
    subjects: Vec<Subject>,
    counters: Vec<Counters>,
    piece_chars: usize,
    group_chars: u64,
    num_threads: Option<usize>,
    /// The pieces of the group being filled, one after the other, their byte ranges, and the
    /// characters in all.
    group: String,
    pieces: Vec<Range<usize>>,
    group_size: u64,
}

impl Pass {
    /// A pass measuring `subjects`, cutting pieces of about `piece_chars` characters and
    /// measuring them in groups of at least `group_chars` characters on `num_threads` threads.
    pub fn new(
        subjects: Vec<Subject>,
        piece_chars: usize,
        group_chars: usize,
        num_threads: Option<usize>,
    ) -> Result<Pass> {
        if piece_chars == 0 || group_chars == 0 {
            return Err(Error::value(
                "piece_chars and group_chars must be at least 1",
            ));
        }
        let counters = subjects
            .iter()
            .map(|s| Counters {
                counts: vec![0; s.id_bound()],
                ..Counters::default()
            })
            .collect();
        Ok(Pass {
            subjects,
            counters,
            piece_chars,
            group_chars: group_chars as u64,
            num_threads,
            group: String::new(),
            pieces: Vec::new(),
            group_size: 0,
        })
    }

    /// Adds one text (a file's block cut at a newline, or one text of a list): no piece spans
    /// two texts. Measures each group as it fills; `stop` is asked between pieces (on the
    /// calling thread) and ends the call with an `Interrupted` error when it says so. After an
    /// error the counters are incomplete: the pass is for throwing away.
    pub fn feed(&mut self, text: &str, stop: &dyn Fn() -> bool) -> Result<()> {
        let mut start = 0;
        for (end, chars) in cut_pieces(text, self.piece_chars) {
            let at = self.group.len();
            self.group.push_str(&text[start..end]);
            self.pieces.push(at..self.group.len());
            self.group_size += chars;
            start = end;
            if self.group_size >= self.group_chars {
                self.measure_group(stop)?;
            }
        }
        Ok(())
    }

    /// Measures the last, partly filled group; the counters are then complete.
    pub fn finish(&mut self, stop: &dyn Fn() -> bool) -> Result<()> {
        if !self.pieces.is_empty() {
            self.measure_group(stop)?;
        }
        Ok(())
    }

    pub fn counters(&self) -> &[Counters] {
        &self.counters
    }

    fn measure_group(&mut self, stop: &dyn Fn() -> bool) -> Result<()> {
        let group = std::mem::take(&mut self.group);
        let pieces = std::mem::take(&mut self.pieces);
        let chars = std::mem::take(&mut self.group_size);
        for (subject, counters) in self.subjects.iter().zip(self.counters.iter_mut()) {
            let started = Instant::now();
            let outs = measure_pieces(subject, &group, &pieces, self.num_threads, stop, counters)?;
            add_group(subject, counters, &group, &pieces, &outs);
            counters.chars += chars;
            counters.seconds += started.elapsed().as_secs_f64();
        }
        // Keep the buffers' memory for the next group.
        self.group = group;
        self.group.clear();
        self.pieces = pieces;
        self.pieces.clear();
        Ok(())
    }
}

/// Encodes and tallies every piece on the pool, in order; counts the ids into `counters` on the
/// calling thread as the pieces come in (while the pool works on the others).
fn measure_pieces(
    subject: &Subject,
    group: &str,
    pieces: &[Range<usize>],
    num_threads: Option<usize>,
    stop: &dyn Fn() -> bool,
    counters: &mut Counters,
) -> Result<Vec<PieceOut>> {
    let stopped = AtomicBool::new(false);
    let mut outs: Vec<Option<Result<PieceOut>>> = (0..pieces.len()).map(|_| None).collect();
    pool::map_streaming(
        pieces,
        num_threads,
        |range| {
            if stopped.load(Ordering::Relaxed) {
                return Err(Error::interrupted());
            }
            measure_piece(subject, &group[range.clone()])
        },
        |i, out| {
            if stop() {
                stopped.store(true, Ordering::Relaxed);
            }
            if let Ok(o) = &out {
                for &id in &o.ids {
                    if let Some(n) = counters.counts.get_mut(id as usize) {
                        *n += 1;
                    }
                }
            }
            outs[i] = Some(out);
        },
    );
    if stopped.load(Ordering::Relaxed) {
        return Err(Error::interrupted());
    }
    outs.into_iter()
        .map(|o| o.unwrap_or_else(|| Err(Error::interrupted())))
        .collect()
}

fn measure_piece(subject: &Subject, text: &str) -> Result<PieceOut> {
    let ids = subject.encode(text)?;
    // One walk over the words and the tokens; the tally is kept if the tokens spell the piece.
    let mut tally = Tally::new(ids.iter().map(|&id| subject.length(id)));
    let mut words = 0;
    for_each_word(text, |s, e| {
        words += 1;
        tally.word(s, e);
    });
    let (tally, spelled) = tally.finish();
    Ok(PieceOut {
        ids,
        spelled,
        words,
        tally: (spelled == text.len() as u64).then_some(tally),
    })
}

/// Adds one measured group (all but its ids and characters) to `c`.
fn add_group(
    subject: &Subject,
    c: &mut Counters,
    group: &str,
    pieces: &[Range<usize>],
    outs: &[PieceOut],
) {
    let bytes = group.len() as u64;
    let tokens: u64 = outs.iter().map(|o| o.ids.len() as u64).sum();
    let words: u64 = outs.iter().map(|o| o.words).sum();
    c.tokens += tokens;
    c.bytes += bytes;
    c.words += words;
    if tokens == 0 || outs.iter().map(|o| o.spelled).sum::<u64>() != bytes {
        return; // the tokens do not spell the group byte for byte: no word metrics
    }
    c.aligned_bytes += bytes;
    c.aligned_tokens += tokens;
    c.aligned_words += words;
    let mut sum = WordTally::default();
    if outs.iter().all(|o| o.tally.is_some()) {
        for o in outs {
            sum.add(o.tally.as_ref().unwrap_or(&WordTally::default()));
        }
    } else {
        // Pieces that are off by themselves but even out over the group: tally the group as
        // one stretch, tokens and words at their offsets in it.
        let ids = outs.iter().flat_map(|o| &o.ids);
        let mut tally = Tally::new(ids.map(|&id| subject.length(id)));
        for range in pieces {
            for_each_word(&group[range.clone()], |s, e| {
                tally.word(range.start + s, range.start + e)
            });
        }
        sum = tally.finish().0;
    }
    c.word_tokens += sum.word_tokens;
    c.words_whole += sum.words_whole;
    c.whole_word_tokens += sum.whole_word_tokens;
}

#[cfg(test)]
mod tests;
