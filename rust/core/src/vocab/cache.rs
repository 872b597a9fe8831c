//! Encoding pieces through small per-thread caches: [`PieceEncoder`] (`Vocab::with_encoder`,
//! `Vocab::encode_piece`) looks each piece up in this thread's direct-mapped caches (short
//! pieces, merged words, long rulers) before merging it.

use super::{load, short_key, Sym, Vocab, NO_PAIR, NO_TOKEN, SHORT_BYTES};

/// Small per-thread, direct-mapped caches in front of the vocabulary's hash maps: text is
/// Zipfian, and the caches stay in L1/L2 where the maps (and the pair table) do not.
/// * `short`: pieces of up to 7 bytes -> their token id, or a miss (not one token);
/// * `merged`: the other pieces of up to 23 bytes -> their ids, so a repeated word that needs
///   merging (most of them, in languages other than English) is merged once, not every time,
///   and one longer than 7 bytes that is a token costs no hash of its bytes.
struct PieceCache {
    uid: u64,
    short: Vec<(u64, u32)>,
    merged: Vec<Merged>,
    /// * `long`: longer pieces (up to `LONG_BYTES`) -> their ids: rulers and table borders
    ///   (`+-----+`, `/*****`) recur and cost thousands of instructions to merge each time.
    long: Vec<Long>,
}

const LONG_BITS: u32 = 12;
const LONG_BYTES: usize = 512;

#[derive(Clone, Default)]
struct Long {
    hash: u64,
    piece: Vec<u8>,
    ids: Vec<u32>,
}

const CACHE_BITS: u32 = 12;
const CACHE_MISS: u32 = u32::MAX - 1;
const MERGED_BITS: u32 = 14;
/// Longest piece and most ids a `merged` entry holds (one 64-byte cache line per entry).
const MERGED_BYTES: usize = 23;
const MERGED_IDS: usize = 10;

#[derive(Clone, Copy)]
struct Merged {
    /// The piece's bytes, zero-padded, with its length in the last byte (0: empty slot).
    key: [u64; 3],
    /// Its ids, `NO_TOKEN`-terminated when fewer than `MERGED_IDS`.
    ids: [u32; MERGED_IDS],
}

thread_local! {
    static PIECE_CACHE: std::cell::RefCell<PieceCache> = const {
        std::cell::RefCell::new(PieceCache {
            uid: 0,
            short: Vec::new(),
            merged: Vec::new(),
            long: Vec::new(),
        })
    };
}

impl PieceCache {
    /// The cache for vocabulary `uid`, emptied if it last served another one.
    fn for_vocab(&mut self, uid: u64) -> &mut PieceCache {
        if self.uid != uid {
            self.uid = uid;
            self.short.clear();
            self.short.resize(1 << CACHE_BITS, (0, 0));
            self.merged.clear();
            self.merged.resize(
                1 << MERGED_BITS,
                Merged {
                    key: [0; 3],
                    ids: [NO_TOKEN; MERGED_IDS],
                },
            );
            self.long.clear();
            self.long.resize(1 << LONG_BITS, Long::default());
        }
        self
    }
}

/// Up to 23 bytes and their length packed into three integers.
#[inline]
pub(super) fn merged_key(bytes: &[u8]) -> Option<[u64; 3]> {
    let n = bytes.len();
    if n > MERGED_BYTES {
        return None;
    }
    let word = |i: usize| {
        if n > i {
            load(&bytes[i..n.min(i + 8)])
        } else {
            0
        }
    };
    Some([word(0), word(8), word(16) | (n as u64) << 56])
}

#[inline]
fn merged_slot(key: &[u64; 3]) -> usize {
    let h = (key[0] ^ key[1].rotate_left(21) ^ key[2].rotate_left(42))
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - MERGED_BITS)) as usize
}

/// Encodes pre-tokens into ids with a vocabulary and this thread's caches (`Vocab::with_encoder`).
pub struct PieceEncoder<'a> {
    vocab: &'a Vocab,
    cache: Option<&'a mut PieceCache>,
    syms: Vec<Sym>,
}

impl PieceEncoder<'_> {
    /// Encode one pre-token; appends its token ids to `out`. Only cache hits are handled here
    /// (nearly every piece of real text): the rest is out of line, to keep this path short.
    #[inline]
    pub fn encode(&mut self, piece: &[u8], out: &mut Vec<u32>) {
        // (The empty piece's cache key would match an unused cache slot.)
        if piece.is_empty() {
            return;
        }
        let vocab = self.vocab;
        let Some(cache) = self.cache.as_deref_mut() else {
            return self.encode_uncached(piece, out);
        };
        if vocab.whole_piece_first {
            if let Some(id) = vocab.cached_short_id(cache, piece) {
                out.push(id);
                return;
            }
        }
        let Some(key) = merged_key(piece) else {
            return self.encode_long(piece, out);
        };
        let entry = &cache.merged[merged_slot(&key)];
        if entry.key == key {
            // (one push per id: a copy of a length known only here would call `memcpy`)
            for &id in &entry.ids {
                if id == NO_TOKEN {
                    break;
                }
                out.push(id);
            }
            return;
        }
        self.encode_merged_miss(piece, key, out)
    }

    fn encode_uncached(&mut self, piece: &[u8], out: &mut Vec<u32>) {
        let vocab = self.vocab;
        if let Some(id) = vocab
            .whole_piece_first
            .then(|| vocab.id_of(piece))
            .flatten()
        {
            out.push(id);
        } else {
            vocab.merge(piece, NO_PAIR, &mut self.syms);
            out.extend(self.syms.iter().map(|s| s.id));
        }
    }

    /// A piece of up to `MERGED_BYTES` that is not in the `merged` cache: a whole token (if
    /// longer than the `short` cache's keys) or merged, and remembered either way.
    #[inline(never)]
    fn encode_merged_miss(&mut self, piece: &[u8], key: [u64; 3], out: &mut Vec<u32>) {
        let vocab = self.vocab;
        let whole = vocab.whole_piece_first && piece.len() > SHORT_BYTES;
        match whole.then(|| vocab.ids.get(piece)).flatten() {
            Some(&id) => {
                self.syms.clear();
                self.syms.push(Sym {
                    id,
                    start: 0,
                    end: piece.len() as u32,
                });
            }
            None => vocab.merge(piece, NO_PAIR, &mut self.syms),
        }
        out.extend(self.syms.iter().map(|s| s.id));
        if self.syms.len() <= MERGED_IDS {
            let cache = self.cache.as_deref_mut().expect("called with a cache");
            let entry = &mut cache.merged[merged_slot(&key)];
            entry.key = key;
            entry.ids = [NO_TOKEN; MERGED_IDS];
            for (slot, sym) in entry.ids.iter_mut().zip(&self.syms) {
                *slot = sym.id;
            }
        }
    }

    /// A piece longer than `MERGED_BYTES`: a whole token, or through the `long` cache.
    #[inline(never)]
    fn encode_long(&mut self, piece: &[u8], out: &mut Vec<u32>) {
        let vocab = self.vocab;
        if let Some(&id) = vocab
            .whole_piece_first
            .then(|| vocab.ids.get(piece))
            .flatten()
        {
            out.push(id);
            return;
        }
        if piece.len() > LONG_BYTES {
            vocab.merge(piece, NO_PAIR, &mut self.syms);
            out.extend(self.syms.iter().map(|s| s.id));
            return;
        }
        let hash = {
            use std::hash::Hasher;
            let mut h = rustc_hash::FxHasher::default();
            h.write(piece);
            h.finish()
        };
        let cache = self.cache.as_deref_mut().expect("called with a cache");
        let entry = &mut cache.long[(hash >> (64 - LONG_BITS)) as usize];
        if entry.hash == hash && entry.piece == piece {
            out.extend_from_slice(&entry.ids);
            return;
        }
        vocab.merge(piece, NO_PAIR, &mut self.syms);
        out.extend(self.syms.iter().map(|s| s.id));
        entry.hash = hash;
        entry.piece.clear();
        entry.piece.extend_from_slice(piece);
        entry.ids.clear();
        entry.ids.extend(self.syms.iter().map(|s| s.id));
    }
}

impl Vocab {
    /// `id_of` through the per-thread cache for pieces of up to `SHORT_BYTES` (the encoding hot
    /// path); `None` for longer ones.
    #[inline]
    fn cached_short_id(&self, cache: &mut PieceCache, bytes: &[u8]) -> Option<u32> {
        let k = short_key(bytes)?;
        let slot = (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - CACHE_BITS)) as usize;
        let (key, id) = cache.short[slot];
        if key == k {
            return (id != CACHE_MISS).then_some(id);
        }
        let found = self.short_ids.get(&k).copied();
        cache.short[slot] = (k, found.unwrap_or(CACHE_MISS));
        found
    }

    /// Runs `f` with an encoder that uses this thread's piece caches, borrowed once for all the
    /// pieces `f` encodes (looking the thread-local up per piece costs a call in a shared library).
    pub fn with_encoder<R>(&self, f: impl FnOnce(&mut PieceEncoder) -> R) -> R {
        PIECE_CACHE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut cache) => f(&mut PieceEncoder {
                vocab: self,
                cache: Some(cache.for_vocab(self.uid)),
                syms: Vec::new(),
            }),
            // Already in use further up this thread's stack (a pool thread that picked up more
            // work while waiting): encode without the caches.
            Err(_) => f(&mut PieceEncoder {
                vocab: self,
                cache: None,
                syms: Vec::new(),
            }),
        })
    }

    /// Encode one pre-token; appends its token ids to `out`.
    pub fn encode_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        self.with_encoder(|enc| enc.encode(piece, out))
    }
}
