//! What every job shares and none owns.
//!
//! * [`error`]: the engine's one error type ([`crate::Error`]): a kind and a message that names
//!   the file, line or field.
//! * [`pool`]: the process-wide rayon thread pools (one per thread count) and ordered parallel
//!   maps over them.
//! * [`table`]: a flat open-addressing hash table for integer keys, and prefetch helpers.

pub mod error;
pub mod pool;
pub mod table;
