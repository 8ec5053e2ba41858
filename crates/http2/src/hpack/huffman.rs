//! Decoding of Huffman-coded string literals (RFC 7541 section 5.2, code in Appendix B).
//!
//! The code is canonical: ordered by length, then by symbol, each code is the previous one plus
//! one (shifted left when the length grows). So the codes of one length form a contiguous range,
//! and a window of the next 32 bits finds its symbol by comparing against the end of each
//! length's range. Codes of up to 8 bits, which cover the common text of header fields, skip
//! that search through a 256-entry table indexed by the next octet. The tables are built at
//! compile time from the RFC's list, and the build checks that the list is canonical and
//! complete, so a typing error in it fails compilation.
//!
//! The encoder never Huffman-codes (see `encoder.rs`), so only the tests encode.

use super::huffman_table::CODES;
use super::DecodeError;

/// The end-of-string symbol, which may only appear as padding.
const EOS: u16 = 256;

/// The longest code, in bits (EOS and a few control octets).
const MAX_LEN: u32 = 30;

/// Codes up to this long are found with one lookup.
const SHORT_LEN: u32 = 8;

/// Padding may fill at most the rest of the last octet.
const MAX_PADDING: u32 = 7;

/// The codes of one length above `SHORT_LEN`.
#[derive(Clone, Copy)]
struct Run {
    len: u32,
    /// The first code of this length, right-aligned.
    first_code: u32,
    /// Where the codes of this length start in `Tables::symbols`.
    first_index: usize,
    /// One past the last code of this length, left-aligned in 32 bits (2^32 for the last run,
    /// hence the `u64`). A window below it and at or above the previous run's limit starts
    /// with a code of this length; a run with no codes has the previous run's limit and never
    /// matches.
    limit: u64,
}

struct Tables {
    /// By the next 8 bits: the symbol and length of the code they start with when that code is
    /// at most 8 bits long, length 0 when it is longer.
    short: [(u8, u8); 256],
    /// One run for each length from `SHORT_LEN + 1` to `MAX_LEN`, in that order.
    runs: [Run; (MAX_LEN - SHORT_LEN) as usize],
    /// The symbols in code order.
    symbols: [u16; 257],
}

static TABLES: Tables = build_tables();

const fn build_tables() -> Tables {
    let mut short = [(0u8, 0u8); 256];
    let mut runs = [Run {
        len: 0,
        first_code: 0,
        first_index: 0,
        limit: 0,
    }; (MAX_LEN - SHORT_LEN) as usize];
    let mut symbols = [0u16; 257];
    let mut next_code: u32 = 0;
    let mut next_index = 0;
    let mut len = 1;
    while len <= MAX_LEN {
        let first_code = next_code;
        let first_index = next_index;
        let mut symbol = 0;
        while symbol < CODES.len() {
            let (code, code_len) = CODES[symbol];
            if code_len as u32 == len {
                assert!(code == next_code, "the Huffman table is not canonical");
                symbols[next_index] = symbol as u16;
                next_index += 1;
                next_code += 1;
                if len <= SHORT_LEN {
                    assert!(symbol < 256, "EOS must be a long code");
                    let spread = 1 << (SHORT_LEN - len);
                    let start = (code as usize) << (SHORT_LEN - len);
                    let mut i = 0;
                    while i < spread {
                        short[start + i] = (symbol as u8, len as u8);
                        i += 1;
                    }
                }
            }
            symbol += 1;
        }
        if len > SHORT_LEN {
            runs[(len - SHORT_LEN - 1) as usize] = Run {
                len,
                first_code,
                first_index,
                limit: (next_code as u64) << (32 - len),
            };
        }
        if len < MAX_LEN {
            next_code <<= 1;
        }
        len += 1;
    }
    assert!(
        next_index == CODES.len(),
        "a Huffman code length is out of range"
    );
    // Every 30-bit string starts with a code: no bit pattern is left undecodable.
    assert!(
        next_code == 1 << MAX_LEN,
        "the Huffman code is not complete"
    );
    Tables {
        short,
        runs,
        symbols,
    }
}

/// The symbol whose code starts `window` (the next 32 bits, left-aligned), and that code's
/// length.
fn lookup(window: u32) -> (u16, u32) {
    let (symbol, len) = TABLES.short[(window >> 24) as usize];
    if len != 0 {
        return (u16::from(symbol), u32::from(len));
    }
    for run in &TABLES.runs {
        if u64::from(window) < run.limit {
            // Cannot wrap (the window is at or above this run's start); if it did, `get`
            // would refuse the index rather than panic.
            let offset = ((window >> (32 - run.len)).wrapping_sub(run.first_code)) as usize;
            let symbol = TABLES
                .symbols
                .get(run.first_index.saturating_add(offset))
                .copied();
            return (symbol.unwrap_or(EOS), run.len);
        }
    }
    // Unreachable, the last run ends at 2^32; an all-ones window is EOS anyway.
    (EOS, MAX_LEN)
}

/// Appends the decoding of `src` to `dst`. Refuses EOS inside the string, padding longer than
/// 7 bits, and padding that is not a prefix of EOS (all ones), as section 5.2 requires.
pub(super) fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), DecodeError> {
    // No code is shorter than 5 bits.
    dst.reserve(src.len().saturating_mul(8) / 5);
    let mut input = src.iter();
    // The unread bits are the low `count` bits of `bits`, first bit highest.
    let mut bits: u64 = 0;
    let mut count: u32 = 0;
    loop {
        // Holding more than MAX_LEN bits while input remains means that a code longer than
        // what is held can only happen once the input is exhausted: then it is padding.
        while count <= 56 {
            match input.next() {
                Some(&octet) => {
                    bits = (bits << 8) | u64::from(octet);
                    count += 8;
                }
                None => break,
            }
        }
        if count == 0 {
            return Ok(());
        }
        // Past the end the window is filled with ones, so trailing padding reads as the start
        // of EOS, whose code is longer than any padding.
        let window = if count >= 32 {
            (bits >> (count - 32)) as u32
        } else {
            ((bits << (32 - count)) as u32) | (u32::MAX >> count)
        };
        let (symbol, len) = lookup(window);
        if len > count {
            let ones = (1u64 << count) - 1;
            return if count <= MAX_PADDING && bits & ones == ones {
                Ok(())
            } else {
                Err(DecodeError::InvalidHuffman)
            };
        }
        // EOS is the only symbol that is not an octet.
        let octet = u8::try_from(symbol).map_err(|_| DecodeError::InvalidHuffman)?;
        dst.push(octet);
        count -= len;
    }
}

/// Huffman-codes `src`, padding with ones. The encoder sends strings raw; this is the
/// reference the decoder is tested against.
#[cfg(test)]
pub(super) fn encode(src: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(src.len());
    let mut bits: u64 = 0;
    let mut count: u32 = 0;
    for &octet in src {
        let (code, len) = CODES[usize::from(octet)];
        bits = (bits << len) | u64::from(code);
        count += u32::from(len);
        while count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    if count > 0 {
        out.push(((bits << (8 - count)) as u8) | (0xff >> count));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|pair| {
                let pair = std::str::from_utf8(pair).expect("ascii");
                u8::from_str_radix(pair, 16).expect("hex digits")
            })
            .collect()
    }

    fn decoded(src: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        decode(src, &mut out)?;
        Ok(out)
    }

    /// Every Huffman string of RFC 7541 Appendix C.4 and C.6, both ways.
    #[test]
    fn appendix_c_strings() {
        let cases = [
            ("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"),
            ("no-cache", "a8eb 1064 9cbf"),
            ("custom-key", "25a8 49e9 5ba9 7d7f"),
            ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
            ("302", "6402"),
            ("307", "640e ff"),
            ("private", "aec3 771a 4b"),
            (
                "Mon, 21 Oct 2013 20:13:21 GMT",
                "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff",
            ),
            (
                "Mon, 21 Oct 2013 20:13:22 GMT",
                "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff",
            ),
            (
                "https://www.example.com",
                "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3",
            ),
            ("gzip", "9bd9 ab"),
            (
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
                "94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 \
                 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
            ),
        ];
        for (text, coded) in cases {
            assert_eq!(encode(text.as_bytes()), hex(coded), "encoding {text:?}");
            assert_eq!(
                decoded(&hex(coded)),
                Ok(text.as_bytes().to_vec()),
                "decoding {text:?}"
            );
        }
    }

    /// The compile-time checks again, in plain arithmetic: each code fits its length, the
    /// lengths fill the code space exactly (Kraft sum 1), and no code is a prefix of another.
    #[test]
    fn the_table_is_a_complete_prefix_code() {
        let mut kraft: u64 = 0;
        for &(code, len) in &CODES {
            assert!((5..=30).contains(&len));
            assert!(u64::from(code) < 1 << len);
            kraft += 1 << (30 - len);
        }
        assert_eq!(kraft, 1 << 30);
        for (a, &(code_a, len_a)) in CODES.iter().enumerate() {
            for &(code_b, len_b) in &CODES[a + 1..] {
                let shorter = len_a.min(len_b);
                assert_ne!(code_a >> (len_a - shorter), code_b >> (len_b - shorter));
            }
        }
        assert_eq!(CODES[usize::from(EOS)], (0x3fff_ffff, 30));
    }

    #[test]
    fn every_octet_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decoded(&encode(&all)), Ok(all.clone()));
        for octet in all {
            assert_eq!(decoded(&encode(&[octet])), Ok(vec![octet]), "{octet}");
            // Runs of one symbol stress the refill at every alignment.
            let run = vec![octet; 37];
            assert_eq!(decoded(&encode(&run)), Ok(run), "{octet}");
        }
        assert_eq!(decoded(&[]), Ok(Vec::new()));
    }

    #[test]
    fn eos_in_the_string_is_refused() {
        // EOS (30 ones) then two bits of padding.
        assert_eq!(decoded(&[0xff; 4]), Err(DecodeError::InvalidHuffman));
        // 'a' (00011), EOS, then padding: 5 + 30 + 5 = 40 bits.
        assert_eq!(
            decoded(&[0b0001_1111, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::InvalidHuffman)
        );
    }

    #[test]
    fn padding_longer_than_seven_bits_is_refused() {
        // 'a' (00011) then 11 bits of ones.
        assert_eq!(
            decoded(&[0b0001_1111, 0xff]),
            Err(DecodeError::InvalidHuffman)
        );
        // Eight bits of ones alone.
        assert_eq!(decoded(&[0xff]), Err(DecodeError::InvalidHuffman));
        // The same strings with the padding cut to 3 bits are fine.
        assert_eq!(decoded(&[0b0001_1111]), Ok(b"a".to_vec()));
    }

    #[test]
    fn padding_with_a_zero_bit_is_refused() {
        // 'a' (00011) then 110.
        assert_eq!(decoded(&[0b0001_1110]), Err(DecodeError::InvalidHuffman));
        // 'a' then 011.
        assert_eq!(decoded(&[0b0001_1011]), Err(DecodeError::InvalidHuffman));
        // '0' (00000) then 000: a code cut short, not padding.
        assert_eq!(decoded(&[0b0000_0000]), Err(DecodeError::InvalidHuffman));
    }
}
