//! The engine's own thread pools, one per requested size, built once and reused.

use rayon::{ThreadPool, ThreadPoolBuilder};
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Runs `f` on every item and hands each result with its index to `sink` on the calling thread
/// (in completion order), so that the caller's own work on the results (building Python objects,
/// which only one thread may do) overlaps the encoding instead of following it.
///
/// The calling thread is one of the `num_threads`: it takes items like the pool's workers and runs
/// `sink` on their results between its own items. A consumer thread on top of `num_threads`
/// workers would instead wake up for every result on a core that a worker is using.
pub fn map_streaming<T: Sync, R: Send>(
    items: &[T],
    num_threads: Option<usize>,
    f: impl Fn(&T) -> R + Sync + Send,
    mut sink: impl FnMut(usize, R),
) {
    let threads = match num_threads {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let workers = threads.min(items.len()).saturating_sub(1);
    if workers == 0 {
        for (i, item) in items.iter().enumerate() {
            sink(i, f(item));
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let claim = || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        (i < items.len()).then_some(i)
    };
    let (f, claim) = (&f, &claim);
    let (tx, rx) = std::sync::mpsc::channel();
    pool(Some(workers)).in_place_scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            s.spawn(move |_| {
                while let Some(i) = claim() {
                    // The receiver lives until every sender is gone: sending cannot fail.
                    let _ = tx.send((i, f(&items[i])));
                }
            });
        }
        drop(tx);
        while let Some(i) = claim() {
            sink(i, f(&items[i]));
            for (i, r) in rx.try_iter() {
                sink(i, r);
            }
        }
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
