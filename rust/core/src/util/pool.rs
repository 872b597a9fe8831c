//! The engine's thread pools: one per thread count in use, clamped to the machine's cores, and
//! at most `MAX_POOLS` of them alive, so that no sequence of `num_threads` values can grow the
//! process's threads without bound (a pool no call uses any more ends its threads).

use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Pools kept alive at once (the most recently used ones).
const MAX_POOLS: usize = 4;

/// The cores this process may use.
pub fn max_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The thread count a call gets: `None` or 0 means every core; more than the cores is clamped
/// to them (the callers warn).
pub fn threads(num_threads: Option<usize>) -> usize {
    match num_threads {
        Some(n) if n > 0 => n.min(max_threads()),
        _ => max_threads(),
    }
}

/// A pool with `threads(num_threads)` workers, reused across calls.
///
/// After `fork()` the child has the parent's pools but none of their threads: work sent to
/// them would wait forever. So pools belong to the process that made them, and a child makes
/// its own (the parent's are leaked in the child, never dropped: their threads are not there
/// to be told to stop). Every parallel loop of the engine runs in one of these pools, never in
/// rayon's global pool, which cannot be replaced after a fork.
pub fn pool(num_threads: Option<usize>) -> Arc<ThreadPool> {
    // The process that made them, and the pools by size, most recently used last.
    type Pools = (u32, Vec<(usize, Arc<ThreadPool>)>);
    static POOLS: Mutex<Pools> = Mutex::new((0, Vec::new()));
    let n = threads(num_threads);
    let mut guard = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    let (owner, pools) = &mut *guard;
    if *owner != std::process::id() {
        std::mem::forget(std::mem::take(pools));
        *owner = std::process::id();
    }
    let pool = match pools.iter().position(|(size, _)| *size == n) {
        Some(i) => pools.remove(i).1,
        None => Arc::new(
            ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name(|i| format!("toksmith-{i}"))
                .build()
                .expect("cannot start threads"),
        ),
    };
    pools.push((n, pool.clone()));
    if pools.len() > MAX_POOLS {
        // Calls still running on it hold their own reference; its threads end after them.
        pools.remove(0);
    }
    pool
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
    let workers = threads(num_threads).min(items.len()).saturating_sub(1);
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
    pool(num_threads).in_place_scope(|s| {
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
    /// Any sequence of thread counts leaves at most `MAX_POOLS` pools, each of at most the
    /// machine's cores.
    #[test]
    fn pools_stay_bounded() {
        let cores = super::max_threads();
        for n in (0..50).chain([1_000_000, usize::MAX]) {
            let pool = super::pool(Some(n));
            assert!(pool.current_num_threads() <= cores);
            assert_eq!(pool.current_num_threads(), super::threads(Some(n)));
        }
        let again = super::pool(Some(1));
        assert!(std::sync::Arc::ptr_eq(&again, &super::pool(Some(1))));
    }

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
