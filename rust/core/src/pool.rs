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

/// Runs `f` on every item in the pool and hands each result with its index to `sink` on the
/// calling thread as soon as it is ready (in completion order), so that the caller's own work on
/// the results (building Python objects, which only one thread may do) overlaps the encoding
/// instead of following it: with two threads that serial tail would otherwise cap the speed-up.
pub fn map_streaming<T: Sync, R: Send>(
    items: &[T],
    num_threads: Option<usize>,
    f: impl Fn(&T) -> R + Sync + Send,
    mut sink: impl FnMut(usize, R),
) {
    use rayon::prelude::*;
    if items.len() <= 1 || num_threads == Some(1) {
        for (i, item) in items.iter().enumerate() {
            sink(i, f(item));
        }
        return;
    }
    let pool = pool(num_threads);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            pool.install(|| {
                items
                    .par_iter()
                    .enumerate()
                    .with_min_len(1)
                    .for_each_with(tx, |tx, (i, item)| {
                        // The receiver lives until every sender is gone: sending cannot fail.
                        let _ = tx.send((i, f(item)));
                    })
            })
        });
        // Ends when the last sender is dropped, i.e. when every item is done.
        for (i, r) in rx {
            sink(i, r);
        }
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn map_streaming_hands_over_every_result_once() {
        let items: Vec<u64> = (0..1000).collect();
        for threads in [Some(1), Some(2), Some(4)] {
            let mut seen = vec![None; items.len()];
            super::map_streaming(
                &items,
                threads,
                |x| x * x,
                |i, r| {
                    assert!(seen[i].replace(r).is_none());
                },
            );
            let want: Vec<Option<u64>> = items.iter().map(|x| Some(x * x)).collect();
            assert_eq!(seen, want);
        }
    }
}
