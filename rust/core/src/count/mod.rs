//! Counting a corpus: every unit of text cut into pieces, distinct pieces counted with 64-bit
//! counts. Memory grows with the number of distinct pieces, never with the corpus.
//!
//! * [`splitter`]: [`Splitter`], how a unit of text is cut (a regex, `tokenizer.json` steps, or
//!   a deterministic sample of units).
//! * [`piece_table`]: [`PieceTable`], one stage's `{piece: count}` in one arena, built for cache
//!   misses.
//! * [`parallel`]: streaming, parallel counting of texts, files and readers into piece tables.
//! * [`shard`]: shards of a file (byte ranges cut at line starts) and blocks of lines.
//! * [`piece_counts`]: [`PieceCounts`], the piece tables of each stage with the stage specs that
//!   made them: what crosses processes and machines (mergeable, serializable).

pub mod parallel;
pub mod piece_counts;
pub mod piece_table;
pub mod shard;
pub mod splitter;

pub use parallel::{count_files, count_reader, count_stream, count_texts};
pub use piece_counts::{PieceCounts, StageSpec};
pub use piece_table::{PieceTable, Pieces, Rows};
pub use shard::{count_block, count_file_range, LineRange};
pub use splitter::Splitter;
