//! The engine's own thread pools, one per requested size, built once and reused.

use rayon::{ThreadPool, ThreadPoolBuilder};
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// A pool with `num_threads` workers (`None` or 0: one per core).
pub fn pool(num_threads: Option<usize>) -> Arc<ThreadPool> {
    static POOLS: OnceLock<Mutex<FxHashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();
    let n = match num_threads {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    pools
        .entry(n)
        .or_insert_with(|| {
            Arc::new(
                ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("toksmith-{i}"))
                    .build()
                    .expect("cannot start threads"),
            )
        })
        .clone()
}

/// Runs `f` on every item in the pool, keeping order.
pub fn map_ordered<T: Sync, R: Send>(
    items: &[T],
    num_threads: Option<usize>,
    f: impl Fn(&T) -> R + Sync + Send,
) -> Vec<R> {
    use rayon::prelude::*;
    if items.len() <= 1 || num_threads == Some(1) {
        return items.iter().map(f).collect();
    }
    pool(num_threads).install(|| items.par_iter().with_min_len(1).map(f).collect())
}

/// `map_ordered` for fallible work: the results in order, or the first error.
pub fn try_map_ordered<T: Sync, R: Send>(
    items: &[T],
    num_threads: Option<usize>,
    f: impl Fn(&T) -> crate::Result<R> + Sync + Send,
) -> crate::Result<Vec<R>> {
    map_ordered(items, num_threads, f).into_iter().collect()
}
