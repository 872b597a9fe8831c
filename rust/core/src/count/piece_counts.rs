//! Count tables that travel: the piece counts of one or more pre-tokenizer stages, with the
//! stage specs that made them, mergeable across shards of a corpus and serializable.
//!
//! Training needs only the distinct pieces and their counts, and counts add up: the table of
//! a corpus is the sum of the tables of its shards, so shards can be counted anywhere (other
//! processes, other machines) and merged in any order. Tables made with different pre-tokenizers
//! do not add up to anything meaningful and are refused.
//!
//! File format (version 1): the magic `TKSCOUNT`, a version byte, then one zlib stream holding
//! the kind (a label such as `bpe`), the stages (kind and spec of each), then for each stage
//! its distinct pieces in byte order, front-coded (length of the prefix shared with the
//! previous piece, then the rest) with their counts; all integers are LEB128 varints. Sorting
//! makes the bytes independent of hash order and lets neighbours share prefixes.

use super::PieceTable;
use crate::{Error, Result};
use std::io::{Read, Write};

const MAGIC: &[u8; 8] = b"TKSCOUNT";
const VERSION: u8 = 1;

/// One pre-tokenizer stage as the caller described it: `kind` (`regex` or `pre_tokenizer`) and
/// its text (a pattern or a JSON document).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageSpec {
    pub kind: String,
    pub spec: String,
}

/// Piece counts of each stage, with what made them.
#[derive(Clone, Debug, Default)]
pub struct PieceCounts {
    /// What the table is for (`bpe`, `superbpe`): tables of different kinds do not add.
    pub kind: String,
    pub stages: Vec<StageSpec>,
    pub tables: Vec<PieceTable>,
}

impl PieceCounts {
    pub fn new(kind: &str, stages: Vec<StageSpec>, tables: Vec<PieceTable>) -> PieceCounts {
        debug_assert_eq!(stages.len(), tables.len());
        PieceCounts {
            kind: kind.to_string(),
            stages,
            tables,
        }
    }

    /// Why `other` cannot be added to this table, if it cannot.
    pub fn check_compatible(&self, other: &PieceCounts) -> Result<()> {
        if self.kind != other.kind {
            return Err(Error::value(format!(
                "cannot add piece counts of different kinds: {:?} and {:?}",
                self.kind, other.kind
            )));
        }
        if self.stages.len() != other.stages.len() {
            return Err(Error::value(format!(
                "cannot add piece counts with {} and {} pre-tokenizer stages",
                self.stages.len(),
                other.stages.len()
            )));
        }
        for (i, (a, b)) in self.stages.iter().zip(&other.stages).enumerate() {
            if a != b {
                return Err(Error::value(format!(
                    "cannot add piece counts made with different pre-tokenizers: stage {} is {} {:?} in one and {} {:?} in the other",
                    i + 1,
                    a.kind,
                    a.spec,
                    b.kind,
                    b.spec
                )));
            }
        }
        Ok(())
    }

    /// Adds `other`'s counts to this table's.
    pub fn merge(&mut self, other: PieceCounts) -> Result<()> {
        self.check_compatible(&other)?;
        for (t, o) in self.tables.iter_mut().zip(other.tables) {
            t.merge(o)?;
        }
        Ok(())
    }

    /// Keeps, in every stage, the pieces counted at least `min_count` times and, of those, the
    /// `top_k` most frequent (ties to the smaller bytes). Training on a pruned table is an
    /// approximation: the dropped pieces' pairs are missing from the pair counts.
    pub fn prune(&mut self, min_count: u64, top_k: Option<usize>) {
        for t in &mut self.tables {
            if min_count > 1 {
                t.retain(|_, c| c >= min_count);
            }
            if let Some(k) = top_k {
                t.keep_top(k);
            }
        }
    }

    /// The compact form: see the module note. `level`: zlib level, 0 (none) to 9 (smallest).
    pub fn to_bytes(&self, level: u32) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.push(VERSION);
        let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::new(level.min(9)));
        let mut buf = Vec::with_capacity(1 << 16);
        put_bytes(&mut buf, self.kind.as_bytes());
        put_varint(&mut buf, self.stages.len() as u64);
        for s in &self.stages {
            put_bytes(&mut buf, s.kind.as_bytes());
            put_bytes(&mut buf, s.spec.as_bytes());
        }
        for t in &self.tables {
            let mut items: Vec<(&[u8], u64)> = t.iter().collect();
            crate::util::pool::pool(None).install(|| {
                use rayon::slice::ParallelSliceMut;
                items.par_sort_unstable_by(|a, b| a.0.cmp(b.0))
            });
            put_varint(&mut buf, items.len() as u64);
            let mut prev: &[u8] = &[];
            for (piece, count) in items {
                let shared = prev.iter().zip(piece).take_while(|(a, b)| a == b).count();
                put_varint(&mut buf, shared as u64);
                put_bytes(&mut buf, &piece[shared..]);
                put_varint(&mut buf, count);
                prev = piece;
                if buf.len() >= 1 << 16 {
                    z.write_all(&buf).expect("writing to memory");
                    buf.clear();
                }
            }
        }
        z.write_all(&buf).expect("writing to memory");
        z.finish().expect("writing to memory")
    }

    /// Reads the compact form; `origin` (a file name) goes into error messages.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<PieceCounts> {
        let bad =
            |what: &str| Error::format(format!("{origin}: not a toksmith count table: {what}"));
        if bytes.len() < MAGIC.len() + 1 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("missing the TKSCOUNT header"));
        }
        let version = bytes[MAGIC.len()];
        if version != VERSION {
            return Err(Error::format(format!(
                "{origin}: count table format version {version} is not supported (this toksmith reads version {VERSION})"
            )));
        }
        let mut z = flate2::bufread::ZlibDecoder::new(&bytes[MAGIC.len() + 1..]);
        let mut body = Vec::new();
        z.read_to_end(&mut body).map_err(|e| {
            Error::format(format!("{origin}: corrupt or truncated count table ({e})"))
        })?;
        if !z.into_inner().is_empty() {
            return Err(bad("trailing bytes after the data"));
        }
        let mut r = Reader {
            data: &body,
            pos: 0,
            origin,
        };
        let kind = r.string("kind")?;
        let n_stages = r.varint()? as usize;
        if n_stages == 0 || n_stages > 16 {
            return Err(bad(&format!("{n_stages} stages")));
        }
        let mut stages = Vec::with_capacity(n_stages);
        for _ in 0..n_stages {
            stages.push(StageSpec {
                kind: r.string("stage kind")?,
                spec: r.string("stage spec")?,
            });
        }
        let mut tables = Vec::with_capacity(n_stages);
        for stage in 0..n_stages {
            let n = r.varint()? as usize;
            // Every entry takes at least 3 bytes: bounds the allocation on corrupt input.
            let mut t = PieceTable::default();
            t.reserve(n.min(r.left() / 3));
            let mut prev: Vec<u8> = Vec::new();
            for i in 0..n {
                let shared = r.varint()? as usize;
                let rest = r.bytes()?;
                let count = r.varint()?;
                if shared > prev.len() {
                    return Err(r.corrupt(&format!("stage {} entry {i}: bad prefix", stage + 1)));
                }
                // Sorted and distinct: the new piece differs from the previous one right
                // after the shared prefix, and is larger there.
                let larger = match (prev.get(shared), rest.first()) {
                    (_, None) => false,
                    (None, Some(_)) => i == 0 || shared == prev.len(),
                    (Some(p), Some(n)) => n > p,
                };
                if !larger || count == 0 {
                    return Err(r.corrupt(&format!(
                        "stage {} entry {i}: pieces out of order, empty or with a zero count",
                        stage + 1
                    )));
                }
                prev.truncate(shared);
                prev.extend_from_slice(rest);
                t.add(&prev, count);
            }
            tables.push(t);
        }
        if r.left() != 0 {
            return Err(bad("trailing bytes after the tables"));
        }
        Ok(PieceCounts {
            kind,
            stages,
            tables,
        })
    }

    /// Writes the compact form to `path` (through a temporary file, renamed at the end, so a
    /// crash never leaves a half-written table under that name).
    pub fn save(&self, path: &str, level: u32) -> Result<()> {
        let bytes = self.to_bytes(level);
        let tmp = format!("{path}.tmp{}", std::process::id());
        std::fs::write(&tmp, &bytes).map_err(|e| Error::io(path, &e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(path, &e)
        })
    }

    pub fn load(path: &str) -> Result<PieceCounts> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
        PieceCounts::from_bytes(&bytes, path)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    origin: &'a str,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    fn corrupt(&self, what: &str) -> Error {
        Error::format(format!(
            "{}: corrupt count table at byte {} of the data: {what}",
            self.origin, self.pos
        ))
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.data.get(self.pos) else {
                return Err(self.corrupt("unexpected end"));
            };
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("varint too long"))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.varint()? as usize;
        if n > self.left() {
            return Err(self.corrupt("unexpected end"));
        }
        let b = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    fn string(&mut self, field: &str) -> Result<String> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| self.corrupt(&format!("{field} is not UTF-8")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::LineRange;

    fn table(items: &[(&str, u64)]) -> PieceCounts {
        let mut c = PieceTable::default();
        for &(p, n) in items {
            c.add(p.as_bytes(), n);
        }
        PieceCounts::new(
            "bpe",
            vec![StageSpec {
                kind: "regex".into(),
                spec: r"\w+".into(),
            }],
            vec![c],
        )
    }

    #[test]
    fn round_trip_and_corruption() {
        let t = table(&[
            ("hello", 3),
            ("help", 1),
            ("a", 1 << 40),
            ("\u{e9}t\u{e9}", 2),
        ]);
        let bytes = t.to_bytes(6);
        let back = PieceCounts::from_bytes(&bytes, "x").unwrap();
        assert_eq!(back.tables[0], t.tables[0]);
        assert_eq!(back.stages, t.stages);
        assert_eq!(back.kind, "bpe");
        for cut in [0, 5, 9, bytes.len() / 2, bytes.len() - 1] {
            let e = PieceCounts::from_bytes(&bytes[..cut], "f.counts").unwrap_err();
            assert!(e.message.starts_with("f.counts:"), "{}", e.message);
        }
        let mut flipped = bytes.clone();
        let i = bytes.len() - 6;
        flipped[i] ^= 0x55;
        assert!(PieceCounts::from_bytes(&flipped, "f").is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(PieceCounts::from_bytes(&longer, "f").is_err());
    }

    #[test]
    fn merge_checks_stages() {
        let mut a = table(&[("x", 1)]);
        let b = table(&[("x", 2), ("y", 1)]);
        a.merge(b).unwrap();
        assert_eq!(a.tables[0].get(b"x"), Some(3));
        let mut c = table(&[("x", 1)]);
        c.stages[0].spec = r"\S+".into();
        let e = a.merge(c).unwrap_err();
        assert!(
            e.message.contains("different pre-tokenizers"),
            "{}",
            e.message
        );
    }

    #[test]
    fn prune_keeps_top_k() {
        let mut t = table(&[("a", 5), ("b", 5), ("c", 1), ("d", 7)]);
        t.prune(2, Some(2));
        let mut kept: Vec<_> = t.tables[0].keys().map(<[u8]>::to_vec).collect();
        kept.sort();
        assert_eq!(kept, vec![b"a".to_vec(), b"d".to_vec()]);
    }

    #[test]
    fn line_ranges_cover_every_line_once() {
        let text = b"ab\ncd\n\nefg\nh".to_vec();
        for cut1 in 0..=text.len() {
            for cut2 in cut1..=text.len() {
                let mut all = Vec::new();
                for (s, e) in [(0, cut1), (cut1, cut2), (cut2, text.len())] {
                    let mut r =
                        LineRange::new(std::io::Cursor::new(&text), s as u64, e as u64).unwrap();
                    let mut small = [0u8; 2];
                    loop {
                        let n = r.read(&mut small).unwrap();
                        if n == 0 {
                            break;
                        }
                        all.extend_from_slice(&small[..n]);
                    }
                }
                assert_eq!(all, text, "cuts {cut1} {cut2}");
            }
        }
    }
}
