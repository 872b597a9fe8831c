//! `PieceTable`: distinct pieces (byte strings) with 64-bit counts, in one arena.
//!
//! Counting a corpus looks pieces up tens of millions of times in a table of millions of
//! distinct pieces, so the table is built for cache misses, not for generality:
//!
//! * every distinct piece is one *row* of an arena (`Vec<u8>`): its count (8 bytes, little
//!   endian), its length (4 bytes) and its bytes, rows back to back in insertion order; nothing
//!   is allocated per piece, and consuming the table walks the arena in order;
//! * an open-addressing index (linear probing, power-of-two size, at most 3/4 full) of 8-byte
//!   slots, each the row's offset (40 bits) and 24 bits of the piece's hash (never 0; an empty
//!   slot is 0), so a lookup costs one slot miss and one row miss, and both can be prefetched:
//!   counting hashes a batch of pieces and fetches their slots ahead of the probes.

use super::Splitter;
use crate::util::error::quoted;
use crate::util::table::prefetch;
use crate::{Error, Result};

/// Bytes before a row's piece: count (u64) and length (u32).
const HEADER: usize = 12;
const TAG_BITS: u32 = 24;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;

/// Distinct pieces with their counts.
#[derive(Default, Clone)]
pub struct PieceTable {
    /// Rows: count, length, bytes (see the module note).
    arena: Vec<u8>,
    /// `offset << 24 | tag`, or 0 when free; empty, or a power of two long.
    slots: Vec<u64>,
    len: usize,
}

/// The hash of a piece: 8 bytes at a time (the last 8 overlapping the ones before), each
/// folded in by a 64×64→128-bit multiply; shorter pieces in one word. Whole-word loads only
/// (no bytes copied into a buffer and read back).
#[inline]
fn hash(bytes: &[u8]) -> u64 {
    const K1: u64 = 0x9E37_79B9_7F4A_7C15;
    const K2: u64 = 0xD6E8_FEB8_6659_FD93;
    #[inline]
    fn fold(a: u64, b: u64) -> u64 {
        let p = (a as u128).wrapping_mul(b as u128);
        (p as u64) ^ ((p >> 64) as u64)
    }
    #[inline]
    fn word(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
    }
    #[inline]
    fn half(b: &[u8], at: usize) -> u64 {
        u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as u64
    }
    let n = bytes.len();
    let mut h = (n as u64).wrapping_mul(K1);
    if n > 8 {
        let mut i = 0;
        while i + 8 < n {
            h = fold(h ^ word(bytes, i), K2);
            i += 8;
        }
        h = fold(h ^ word(bytes, n - 8), K2);
    } else {
        let w = if n >= 4 {
            half(bytes, 0) | half(bytes, n - 4) << 32
        } else if n > 0 {
            bytes[0] as u64 | (bytes[n / 2] as u64) << 8 | (bytes[n - 1] as u64) << 16
        } else {
            0
        };
        h = fold(h ^ w, K2);
    }
    fold(h ^ K1, K1)
}

/// The slot tag of a hash: its low 24 bits, never 0.
#[inline]
fn tag(h: u64) -> u64 {
    (h & TAG_MASK) | 1
}

impl PieceTable {
    /// An empty table with room for `n` pieces.
    pub fn with_capacity(n: usize) -> PieceTable {
        let mut t = PieceTable::default();
        t.reserve(n);
        t
    }

    /// The number of distinct pieces.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes room for `additional` more distinct pieces without growing the index.
    pub fn reserve(&mut self, additional: usize) {
        let need = self.len + additional;
        if need * 4 > self.slots.len() * 3 {
            self.rebuild_index(need);
        }
    }

    #[inline]
    fn count_at(&self, row: usize) -> u64 {
        u64::from_le_bytes(self.arena[row..row + 8].try_into().expect("8 bytes"))
    }

    #[inline]
    fn piece_at(&self, row: usize) -> &[u8] {
        let n = u32::from_le_bytes(self.arena[row + 8..row + 12].try_into().expect("4 bytes"));
        &self.arena[row + HEADER..row + HEADER + n as usize]
    }

    #[inline]
    fn home(&self, h: u64) -> usize {
        // The top bits pick the slot (the low ones make the tag).
        let bits = self.slots.len().trailing_zeros();
        (h >> (64 - bits)) as usize
    }

    /// Fetches the slot of hash `h` into the cache.
    #[inline]
    fn prefetch_slot(&self, h: u64) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(h)]);
        }
    }

    /// Fetches the row that the slot of hash `h` points at (if its tag matches) into the cache.
    #[inline]
    fn prefetch_row(&self, h: u64) {
        if !self.slots.is_empty() {
            let s = self.slots[self.home(h)];
            if s & TAG_MASK == tag(h) {
                prefetch(&self.arena[(s >> TAG_BITS) as usize]);
            }
        }
    }

    /// The slot holding `piece` (Ok) or the free slot where it would go (Err).
    #[inline]
    fn find(&self, piece: &[u8], h: u64) -> std::result::Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let t = tag(h);
        let mut i = self.home(h);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return Err(i);
            }
            if s & TAG_MASK == t && self.piece_at((s >> TAG_BITS) as usize) == piece {
                return Ok(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// The count of `piece`, if counted.
    pub fn get(&self, piece: &[u8]) -> Option<u64> {
        if self.slots.is_empty() {
            return None;
        }
        self.find(piece, hash(piece))
            .ok()
            .map(|i| self.count_at((self.slots[i] >> TAG_BITS) as usize))
    }

    /// Adds `n` to the count of `piece`.
    #[inline]
    pub fn add(&mut self, piece: &[u8], n: u64) {
        self.add_hashed(piece, hash(piece), n);
    }

    #[inline]
    fn add_hashed(&mut self, piece: &[u8], h: u64, n: u64) {
        // Counting adds ones: it cannot reach 2^64 (see `merge` for tables that could).
        self.add_saturating(piece, h, n);
    }

    /// Adds `n` to the count of `piece` (hash `h`), stopping at 2^64 - 1; returns whether it
    /// had to stop there.
    #[inline]
    fn add_saturating(&mut self, piece: &[u8], h: u64, n: u64) -> bool {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.rebuild_index(self.len + 1);
        }
        match self.find(piece, h) {
            Ok(i) => {
                let row = (self.slots[i] >> TAG_BITS) as usize;
                let (c, overflow) = self.count_at(row).overflowing_add(n);
                let c = if overflow { u64::MAX } else { c };
                self.arena[row..row + 8].copy_from_slice(&c.to_le_bytes());
                overflow
            }
            Err(i) => {
                let row = self.arena.len();
                assert!(row < 1 << (64 - TAG_BITS), "piece table over 1 TB");
                let len = u32::try_from(piece.len()).expect("a piece of 4 GB or more");
                self.arena.extend_from_slice(&n.to_le_bytes());
                self.arena.extend_from_slice(&len.to_le_bytes());
                self.arena.extend_from_slice(piece);
                self.slots[i] = (row as u64) << TAG_BITS | tag(h);
                self.len += 1;
                false
            }
        }
    }

    /// Adds `pieces` (byte ranges of `bytes`, with their hashes), fetching rows a few pieces
    /// ahead (their slots were fetched when they were hashed).
    fn add_batch(&mut self, bytes: &[u8], pieces: &[(u32, u32, u64)]) {
        const AHEAD: usize = 4;
        for (k, &(s, e, h)) in pieces.iter().enumerate() {
            if let Some(&(_, _, ahead)) = pieces.get(k + AHEAD) {
                self.prefetch_row(ahead);
            }
            self.add_hashed(&bytes[s as usize..e as usize], h, 1);
        }
    }

    /// Counts the pieces of `text`.
    pub fn add_text(&mut self, splitter: &Splitter, text: &str) -> Result<()> {
        self.add_texts(splitter, std::iter::once(text))
    }

    /// Counts the pieces of every text: pieces are hashed and their slots fetched in batches,
    /// ahead of the probes (the lookups are cache misses, independent of each other).
    pub fn add_texts<'a>(
        &mut self,
        splitter: &Splitter,
        texts: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        const BATCH: usize = 32;
        let mut bytes: Vec<u8> = Vec::with_capacity(1 << 12);
        let mut pieces: Vec<(u32, u32, u64)> = Vec::with_capacity(BATCH);
        for text in texts {
            splitter.for_each_piece(text, |piece| {
                if pieces.len() == BATCH || bytes.len() + piece.len() > u32::MAX as usize {
                    self.add_batch(&bytes, &pieces);
                    pieces.clear();
                    bytes.clear();
                }
                let h = hash(piece);
                self.prefetch_slot(h);
                let s = bytes.len() as u32;
                bytes.extend_from_slice(piece);
                pieces.push((s, bytes.len() as u32, h));
            })?;
        }
        self.add_batch(&bytes, &pieces);
        Ok(())
    }

    /// Adds `other`'s counts (the smaller table into the larger one). Counts are 64-bit: a sum
    /// past 2^64 - 1 (only tables built from outside counts get there) is an error, and the
    /// table is then left with that piece's count at the maximum.
    pub fn merge(&mut self, mut other: PieceTable) -> Result<()> {
        if other.len > self.len {
            std::mem::swap(self, &mut other);
        }
        let mut overflow = None;
        for (piece, n) in other.iter() {
            if self.add_saturating(piece, hash(piece), n) && overflow.is_none() {
                overflow = Some(String::from_utf8_lossy(piece).into_owned());
            }
        }
        match overflow {
            Some(piece) => Err(Error::value(format!(
                "piece counts overflow: the count of {} passes 2^64 - 1",
                quoted(&piece)
            ))),
            None => Ok(()),
        }
    }

    /// The total number of pieces counted (at most 2^64 - 1).
    pub fn total(&self) -> u64 {
        self.iter().fold(0u64, |sum, (_, n)| sum.saturating_add(n))
    }

    /// Every piece with its count, in the order they were first counted.
    pub fn iter(&self) -> Rows<'_> {
        Rows {
            arena: &self.arena,
            pos: 0,
            left: self.len,
        }
    }

    /// Every distinct piece.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter().map(|(p, _)| p)
    }

    /// The pieces without the index (freed at once), to be walked in order.
    pub fn into_pieces(self) -> Pieces {
        Pieces {
            arena: self.arena,
            len: self.len,
        }
    }

    /// Keeps the pieces for which `keep(piece, count)` holds (in their order).
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8], u64) -> bool) {
        let mut arena = Vec::new();
        let mut len = 0;
        for (piece, n) in self.iter() {
            if keep(piece, n) {
                arena.extend_from_slice(&n.to_le_bytes());
                arena.extend_from_slice(&(piece.len() as u32).to_le_bytes());
                arena.extend_from_slice(piece);
                len += 1;
            }
        }
        arena.shrink_to_fit();
        self.arena = arena;
        self.len = len;
        self.slots = Vec::new();
        self.rebuild_index(len);
    }

    /// Keeps the `k` most frequent pieces (ties to the smaller bytes).
    pub fn keep_top(&mut self, k: usize) {
        if self.len <= k {
            return;
        }
        let mut all: Vec<(&[u8], u64)> = self.iter().collect();
        all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        all.truncate(k);
        let mut top = PieceTable::with_capacity(k);
        for (piece, n) in all {
            top.add(piece, n);
        }
        *self = top;
    }

    /// A new index for at least `n` pieces (at most 3/4 full), filled from the arena.
    fn rebuild_index(&mut self, n: usize) {
        let size = (n * 4 / 3 + 1).next_power_of_two().max(1 << 8);
        if size <= self.slots.len() && !self.slots.is_empty() {
            return;
        }
        self.slots = crate::util::table::filled(size, 0);
        // Rows in batches: hash each and fetch its slot, then place them.
        const BATCH: usize = 16;
        let mask = size - 1;
        let mut batch: Vec<(usize, u64)> = Vec::with_capacity(BATCH);
        let mut row = 0;
        while row < self.arena.len() || !batch.is_empty() {
            if batch.len() == BATCH || row == self.arena.len() {
                for &(at, h) in &batch {
                    let mut i = self.home(h);
                    while self.slots[i] != 0 {
                        i = (i + 1) & mask;
                    }
                    self.slots[i] = (at as u64) << TAG_BITS | tag(h);
                }
                batch.clear();
                continue;
            }
            let piece = self.piece_at(row);
            let h = hash(piece);
            prefetch(&self.slots[self.home(h)]);
            batch.push((row, h));
            row += HEADER + piece.len();
        }
    }
}

/// Rows of an arena, in order.
pub struct Rows<'a> {
    arena: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for Rows<'a> {
    type Item = (&'a [u8], u64);

    #[inline]
    fn next(&mut self) -> Option<(&'a [u8], u64)> {
        if self.left == 0 {
            return None;
        }
        let row = &self.arena[self.pos..];
        let n = u64::from_le_bytes(row[..8].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(row[8..12].try_into().expect("4 bytes")) as usize;
        self.pos += HEADER + len;
        self.left -= 1;
        Some((&row[HEADER..HEADER + len], n))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Rows<'_> {}

/// The pieces of a consumed table, in the order they were first counted.
pub struct Pieces {
    arena: Vec<u8>,
    len: usize,
}

impl Pieces {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn iter(&self) -> Rows<'_> {
        Rows {
            arena: &self.arena,
            pos: 0,
            left: self.len,
        }
    }
}

impl<'a> IntoIterator for &'a PieceTable {
    type Item = (&'a [u8], u64);
    type IntoIter = Rows<'a>;

    fn into_iter(self) -> Rows<'a> {
        self.iter()
    }
}

impl FromIterator<(Vec<u8>, u64)> for PieceTable {
    fn from_iter<I: IntoIterator<Item = (Vec<u8>, u64)>>(items: I) -> Self {
        let mut t = PieceTable::default();
        for (piece, n) in items {
            t.add(&piece, n);
        }
        t
    }
}

/// Same pieces with the same counts, in any order.
impl PartialEq for PieceTable {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().all(|(p, n)| other.get(p) == Some(n))
    }
}

impl Eq for PieceTable {}

impl std::fmt::Debug for PieceTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(p, n)| (String::from_utf8_lossy(p), n)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts are 64-bit: a merge that would pass 2^64 - 1 is an error (and saturates), never a
    /// silent wrap-around.
    #[test]
    fn merged_counts_past_2_64_are_an_error() {
        let mut a = PieceTable::default();
        a.add(b"hi", u64::MAX - 1);
        a.add(b"ok", 5);
        let mut b = PieceTable::default();
        b.add(b"hi", 2);
        b.add(b"ok", 1);
        let err = a.merge(b).unwrap_err();
        assert!(err.message.contains("\"hi\""), "{}", err.message);
        assert_eq!(a.get(b"hi"), Some(u64::MAX));
        assert_eq!(a.get(b"ok"), Some(6));
        assert_eq!(a.total(), u64::MAX);
    }
    use std::collections::HashMap;

    /// A small xorshift generator: the tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn random_piece(rng: &mut Rng) -> Vec<u8> {
        let len = match rng.below(10) {
            0 => 0,
            1..=6 => rng.below(8),
            7 | 8 => rng.below(40),
            _ => rng.below(3000),
        } as usize;
        // A small alphabet, so pieces repeat and share prefixes.
        (0..len)
            .map(|_| b"ab\0\xff "[rng.below(5) as usize])
            .collect()
    }

    fn check(t: &PieceTable, want: &HashMap<Vec<u8>, u64>) {
        assert_eq!(t.len(), want.len());
        assert_eq!(t.is_empty(), want.is_empty());
        let got: HashMap<Vec<u8>, u64> = t.iter().map(|(p, n)| (p.to_vec(), n)).collect();
        assert_eq!(&got, want);
        for (p, &n) in want {
            assert_eq!(t.get(p), Some(n));
        }
        assert_eq!(t.total(), want.values().sum::<u64>());
        assert_eq!(t.get(b"never counted: not in the alphabet"), None);
    }

    #[test]
    fn matches_a_hash_map() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for round in 0..20 {
            let mut t = PieceTable::default();
            let mut want: HashMap<Vec<u8>, u64> = HashMap::new();
            let n = 1 + rng.below(if round % 4 == 0 { 20_000 } else { 2_000 });
            for _ in 0..n {
                let p = random_piece(&mut rng);
                let k = 1 + rng.below(1 << 40);
                t.add(&p, k);
                *want.entry(p).or_insert(0) += k;
            }
            check(&t, &want);
            // Merging: into a smaller, larger or empty table.
            let mut other = PieceTable::default();
            let mut want2 = want.clone();
            for _ in 0..rng.below(5_000) {
                let p = random_piece(&mut rng);
                other.add(&p, 3);
                *want2.entry(p).or_insert(0) += 3;
            }
            let mut a = t.clone();
            a.merge(other.clone()).unwrap();
            check(&a, &want2);
            let mut b = other.clone();
            b.merge(t.clone()).unwrap();
            check(&b, &want2);
            assert_eq!(a, b);
            let mut c = PieceTable::default();
            c.merge(t.clone()).unwrap();
            check(&c, &want);
            // Retain, then keep counting.
            let limit = 1 << 39;
            a.retain(|p, n| n >= limit || p.is_empty());
            want2.retain(|p, n| *n >= limit || p.is_empty());
            check(&a, &want2);
            for _ in 0..1000 {
                let p = random_piece(&mut rng);
                a.add(&p, 1);
                *want2.entry(p).or_insert(0) += 1;
            }
            check(&a, &want2);
            let back: PieceTable = want2.clone().into_iter().collect();
            assert_eq!(back, a);
            let pieces = a.into_pieces();
            assert_eq!(pieces.len(), want2.len());
            assert_eq!(
                pieces
                    .iter()
                    .map(|(p, n)| (p.to_vec(), n))
                    .collect::<HashMap<_, _>>(),
                want2
            );
        }
    }

    #[test]
    fn colliding_tags_and_long_pieces() {
        // Pieces whose hashes share the tag: found by search, they must stay apart.
        let mut by_tag: HashMap<u64, Vec<Vec<u8>>> = HashMap::new();
        let mut i = 0u64;
        let same = loop {
            let p = i.to_le_bytes().to_vec();
            let group = by_tag.entry(tag(hash(&p))).or_default();
            group.push(p);
            if group.len() == 3 {
                break group.clone();
            }
            i += 1;
        };
        let mut t = PieceTable::default();
        for (k, p) in same.iter().enumerate() {
            t.add(p, k as u64 + 1);
        }
        for (k, p) in same.iter().enumerate() {
            assert_eq!(t.get(p), Some(k as u64 + 1));
        }
        // Long pieces differing only at the end, and the empty piece.
        let long = vec![b'x'; 100_000];
        let mut long2 = long.clone();
        *long2.last_mut().unwrap() = b'y';
        t.add(&long, 1);
        t.add(&long2, 2);
        t.add(b"", 5);
        t.add(&long, 1);
        assert_eq!(t.get(&long), Some(2));
        assert_eq!(t.get(&long2), Some(2));
        assert_eq!(t.get(b""), Some(5));
        assert_eq!(t.len(), 6);
        t.keep_top(2);
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(b""), Some(5));
        assert_eq!(t.get(&same[2]), Some(3));
    }

    #[test]
    fn counts_texts_like_one_piece_at_a_time() {
        let (splitter, _) = Splitter::regex(r" ?\w+| ?[^\w\s]+|\s+").unwrap();
        let text = "the cat, the dog; the end.\n".repeat(50) + "a b c d e f g";
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut batched = PieceTable::default();
        batched.add_texts(&splitter, lines.iter().copied()).unwrap();
        let mut one = PieceTable::default();
        for line in &lines {
            splitter.for_each_piece(line, |p| one.add(p, 1)).unwrap();
        }
        assert_eq!(batched, one);
        assert_eq!(batched.get(b"the"), Some(50));
        assert_eq!(batched.get(b" the"), Some(100));
    }
}
