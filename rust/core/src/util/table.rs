//! A small open-addressing hash table (linear probing, power-of-two size, never shrinks, no
//! removal) for the hot loops of training. Unlike a general hash map, the slot a key will be
//! looked up in can be prefetched: those loops make millions of independent lookups scattered
//! over tables far larger than the caches, so fetching a few keys ahead hides most misses.

/// Asks the CPU to bring `value` into cache (a hint: it never faults, and does nothing on
/// other architectures).
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching reads nothing architecturally; any address is allowed.
    #[allow(unused_unsafe)]
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(value as *const T as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// `n` copies of `value`, written out even when they are zeros. (`vec![0; n]` maps fresh
/// memory to the shared zero page, so a table that reads a slot before writing it takes a
/// second fault per page, and each such fault flushes the other cores' TLBs: several percent
/// of a training run.)
pub fn filled<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    v.resize(n, value);
    v
}

/// A key that fits the table: one value of its type marks a free slot.
pub trait Key: Copy + Eq {
    /// No real key has this value.
    const EMPTY: Self;
    /// A 64-bit mix of the key (its top bits pick the slot).
    fn mix(self) -> u64;
}

impl Key for u64 {
    const EMPTY: u64 = u64::MAX;
    #[inline]
    fn mix(self) -> u64 {
        self.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

impl Key for u128 {
    const EMPTY: u128 = 0;
    #[inline]
    fn mix(self) -> u64 {
        ((self as u64) ^ ((self >> 64) as u64).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
}

/// Values by key; at most half the slots are used.
pub struct Table<K: Key, V: Copy> {
    slots: Vec<(K, V)>,
    len: usize,
}

impl<K: Key, V: Copy + Default> Table<K, V> {
    /// Room for `n` keys before the first growth.
    pub fn with_capacity(n: usize) -> Self {
        Table {
            slots: filled(
                (2 * n).next_power_of_two().max(1 << 10),
                (K::EMPTY, V::default()),
            ),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn slot(&self, key: K) -> usize {
        (key.mix() >> (64 - self.slots.len().trailing_zeros())) as usize
    }

    /// Brings the slot where `key` would be found into cache.
    #[inline]
    pub fn prefetch(&self, key: K) {
        prefetch(&self.slots[self.slot(key)]);
    }

    /// The slot holding `key`, or the free slot where it would go.
    #[inline]
    fn find(&self, key: K) -> std::result::Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            match self.slots[i].0 {
                k if k == key => return Ok(i),
                k if k == K::EMPTY => return Err(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    pub fn get(&self, key: K) -> Option<V> {
        self.find(key).ok().map(|i| self.slots[i].1)
    }

    pub fn get_mut(&mut self, key: K) -> Option<&mut V> {
        self.find(key).ok().map(|i| &mut self.slots[i].1)
    }

    /// The value of `key`, inserted as `value` if the key is absent.
    pub fn get_or_insert(&mut self, key: K, value: V) -> &mut V {
        debug_assert!(key != K::EMPTY);
        let i = match self.find(key) {
            Ok(i) => i,
            Err(i) if 2 * (self.len + 1) <= self.slots.len() => {
                self.slots[i] = (key, value);
                self.len += 1;
                i
            }
            Err(_) => {
                self.grow();
                return self.get_or_insert(key, value);
            }
        };
        &mut self.slots[i].1
    }

    fn grow(&mut self) {
        let bigger = filled(2 * self.slots.len(), (K::EMPTY, V::default()));
        for (key, value) in std::mem::replace(&mut self.slots, bigger) {
            if key != K::EMPTY {
                let Err(i) = self.find(key) else {
                    unreachable!("keys are distinct")
                };
                self.slots[i] = (key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn agrees_with_a_hash_map_through_growth() {
        let mut table: Table<u64, i64> = Table::with_capacity(4);
        let mut map: HashMap<u64, i64> = HashMap::new();
        let mut x = 0x1234_5678_u64;
        for step in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few distinct keys at first (repeats), then many (growth); a run of adjacent keys.
            let key = if step < 20_000 { x % 500 } else { x % 40_000 };
            *table.get_or_insert(key, 0) += 1;
            *map.entry(key).or_insert(0) += 1;
            if step % 997 == 0 {
                table.prefetch(key);
                assert_eq!(table.get(key + 1), map.get(&(key + 1)).copied());
            }
        }
        assert_eq!(table.len(), map.len());
        for (&k, &v) in &map {
            assert_eq!(table.get(k), Some(v));
        }
        assert_eq!(table.get(u64::MAX - 1), None);
        let mut wide: Table<u128, u32> = Table::with_capacity(1);
        for i in 1..5000u128 {
            assert_eq!(*wide.get_or_insert(i << 70 | i, i as u32), i as u32);
        }
        assert_eq!(wide.get(3 << 70 | 3), Some(3));
        assert_eq!(wide.get(3), None);
        if let Some(v) = wide.get_mut(7 << 70 | 7) {
            *v = 0;
        }
        assert_eq!(wide.get(7 << 70 | 7), Some(0));
    }
}
