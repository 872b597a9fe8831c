//! Count tables (`TKSCOUNT` files): any bytes load or give an error; a table that loads writes
//! back to bytes that load as the same table, and adding it to itself either doubles every
//! count or, past 2^64 - 1, is an error. Each input is tried twice: as a whole file, and as the
//! body of one (header and zlib stream added here, so that mutations reach the body's parser
//! instead of failing zlib's checksum).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io::Write;
use toksmith_core::count::PieceCounts;

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut file = b"TKSCOUNT\x01".to_vec();
    let mut z = flate2::write::ZlibEncoder::new(&mut file, flate2::Compression::fast());
    z.write_all(data).unwrap();
    z.finish().unwrap();
    check(&file);
});

fn check(data: &[u8]) {
    let Ok(counts) = PieceCounts::from_bytes(data, "fuzz") else {
        return;
    };
    for level in [0, 6] {
        let bytes = counts.to_bytes(level);
        let back = PieceCounts::from_bytes(&bytes, "fuzz").expect("its own bytes load");
        assert_eq!(back.kind, counts.kind);
        assert_eq!(back.stages, counts.stages);
        assert_eq!(back.tables, counts.tables);
    }
    let mut doubled = counts.clone();
    let overflows = counts
        .tables
        .iter()
        .any(|t| t.iter().any(|(_, n)| n.checked_mul(2).is_none()));
    match doubled.merge(counts.clone()) {
        Ok(()) => {
            assert!(!overflows, "a count past 2^64 - 1 was not reported");
            for (d, t) in doubled.tables.iter().zip(&counts.tables) {
                assert_eq!(d.len(), t.len());
                for (piece, n) in t.iter() {
                    assert_eq!(d.get(piece), Some(2 * n));
                }
            }
        }
        Err(e) => assert!(overflows, "merge failed without an overflow: {}", e.message),
    }
    let mut pruned = counts;
    pruned.prune(2, Some(3));
    for t in &pruned.tables {
        assert!(t.len() <= 3);
    }
}
