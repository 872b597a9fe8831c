//! `.tiktoken` rank files: one `base64(token) rank` pair per line, optionally gzip-compressed.

use crate::util::error::quoted;
use crate::{Error, Result};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::io::Read;

/// The largest rank file read, compressed or not (o200k_base is 3.6 MB): a device such as
/// `/dev/zero` or a gzip bomb is refused after this much, not read until memory runs out.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Reads a rank file (plain or `.gz`, detected by content). `expected_sha256`, if given, is
/// checked against the uncompressed content, as tiktoken checks its downloads.
pub fn read(path: &str, expected_sha256: Option<&str>) -> Result<Vec<(Vec<u8>, u32)>> {
    let too_big = || {
        Error::format(format!(
            "{path}: more than {} MiB; not a rank file",
            MAX_FILE_BYTES >> 20
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
    let mut raw = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Error::io(path, &e))?;
    if raw.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let data = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| Error::format(format!("{path}: corrupt gzip data: {e}")))?;
        if out.len() as u64 > MAX_FILE_BYTES {
            return Err(too_big());
        }
        out
    } else {
        raw
    };
    if let Some(expected) = expected_sha256 {
        let actual: String = Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(Error::format(format!(
                "{path}: SHA-256 is {actual}, expected {expected}"
            )));
        }
    }
    parse(&data).map_err(|e| Error::new(e.kind, format!("{path}: {}", e.message)))
}

/// Parses rank-file contents. Empty lines are skipped, as tiktoken does.
pub fn parse(data: &[u8]) -> Result<Vec<(Vec<u8>, u32)>> {
    let mut out = Vec::new();
    for (number, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let at = |msg: String| Error::format(format!("line {}: {msg}", number + 1));
        let text = std::str::from_utf8(line).map_err(|_| at("not ASCII text".into()))?;
        let mut parts = text.split(' ');
        let (token, rank) = match (parts.next(), parts.next(), parts.next()) {
            (Some(t), Some(r), None) => (t, r),
            _ => {
                return Err(at(format!(
                    "expected `<base64 token> <rank>`, found {}",
                    quoted(text)
                )))
            }
        };
        let bytes = decode_token(token)
            .map_err(|e| at(format!("invalid base64 {}: {e}", quoted(token))))?;
        let rank: u32 = rank
            .parse()
            .map_err(|_| at(format!("invalid rank {}", quoted(rank))))?;
        out.push((bytes, rank));
    }
    if out.is_empty() {
        return Err(Error::format("no tokens (empty rank file)"));
    }
    let mut ranks: Vec<u32> = out.iter().map(|(_, r)| *r).collect();
    ranks.sort_unstable();
    if let Some(w) = ranks.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::format(format!(
            "rank {} is given to two tokens",
            w[0]
        )));
    }
    Ok(out)
}

/// A token's base64, read as leniently as tiktoken's loader (Python's `base64.b64decode`) reads
/// the files that ship: padding optional or in excess, unused trailing bits ignored, and a lone
/// `=` as the empty token (Whisper's `multilingual.tiktoken` gives it rank 50256).
fn decode_token(token: &str) -> std::result::Result<Vec<u8>, base64::DecodeError> {
    use base64::engine::{
        general_purpose, DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig,
    };
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    match general_purpose::STANDARD.decode(token) {
        Ok(bytes) => Ok(bytes),
        Err(strict) => {
            let data = token.trim_end_matches('=');
            if data.is_empty() && !token.is_empty() {
                return Ok(Vec::new());
            }
            LENIENT.decode(data).map_err(|_| strict)
        }
    }
}

/// Writes ranks as a `.tiktoken` file (plain text, rank order).
pub fn write(path: &str, tokens: &[(Vec<u8>, u32)]) -> Result<()> {
    let mut sorted: Vec<&(Vec<u8>, u32)> = tokens.iter().collect();
    sorted.sort_unstable_by_key(|(_, r)| *r);
    let mut out = String::new();
    for (bytes, rank) in sorted {
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(bytes));
        out.push(' ');
        out.push_str(&rank.to_string());
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|e| Error::io(path, &e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_name_the_line() {
        let e = super::parse(b"YQ== 0\nYg== x\n").unwrap_err();
        assert!(
            e.message.starts_with("line 2: invalid rank"),
            "{}",
            e.message
        );
        let e = super::parse(b"YQ== 0\n!!! 1\n").unwrap_err();
        assert!(
            e.message.starts_with("line 2: invalid base64"),
            "{}",
            e.message
        );
        let e = super::parse(b"YQ== 0\nYg== 0\n").unwrap_err();
        assert!(
            e.message.contains("rank 0 is given to two"),
            "{}",
            e.message
        );
        assert_eq!(
            super::parse(b"YQ== 0\n\nYg== 1").unwrap(),
            vec![(b"a".to_vec(), 0), (b"b".to_vec(), 1)]
        );
    }
}
