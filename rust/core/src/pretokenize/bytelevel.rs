//! GPT-2's byte-level alphabet: every byte maps to one printable Unicode character, so a
//! byte string can be stored in JSON as text (`tokenizer.json` vocabularies use it).

use std::sync::OnceLock;

struct Tables {
    byte_to_char: [char; 256],
    char_to_byte: rustc_hash::FxHashMap<char, u8>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        // Printable bytes map to themselves; the others are shifted to 256.. in byte order.
        let printable = |b: u32| {
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b)
        };
        let mut byte_to_char = ['\0'; 256];
        let mut next = 256u32;
        for b in 0..256u32 {
            byte_to_char[b as usize] = if printable(b) {
                char::from_u32(b).unwrap()
            } else {
                next += 1;
                char::from_u32(next - 1).unwrap()
            };
        }
        let char_to_byte = (0..256).map(|b| (byte_to_char[b], b as u8)).collect();
        Tables {
            byte_to_char,
            char_to_byte,
        }
    })
}

/// The byte-level text of a byte string (`b" hi"` -> `"Ġhi"`).
pub fn encode(bytes: &[u8]) -> String {
    let t = tables();
    bytes.iter().map(|&b| t.byte_to_char[b as usize]).collect()
}

/// The bytes of a byte-level string, or `None` if it holds a character outside the alphabet.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let t = tables();
    text.chars()
        .map(|c| t.char_to_byte.get(&c).copied())
        .collect()
}

/// Like Hugging Face's ByteLevel decoder: a token made only of alphabet characters
/// becomes its bytes, any other token (an added token such as `<|endoftext|>`) its UTF-8.
pub fn decode_lossless(text: &str) -> Vec<u8> {
    decode(text).unwrap_or_else(|| text.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_all_bytes() {
        let all: Vec<u8> = (0..=255).collect();
        let text = super::encode(&all);
        assert_eq!(text.chars().count(), 256);
        assert_eq!(super::decode(&text).unwrap(), all);
        assert_eq!(super::encode(b" hi\n"), "\u{120}hi\u{10a}");
    }
}
