//! The integer representation of RFC 7541 section 5.1: a value in the low bits of a first
//! octet (the prefix) and, when it does not fit there, in 7-bit groups that follow, least
//! significant first.

use bytes::{BufMut, BytesMut};

use super::DecodeError;

/// The largest integer the decoder accepts. Every integer HPACK carries is a length, an index
/// or a table size, and each is bounded far below this by the block length, the tables or
/// SETTINGS_HEADER_TABLE_SIZE (itself a 32-bit setting); the bound keeps the arithmetic in
/// range on every platform and stops a peer from sending an endless run of continuation octets.
pub(super) const MAX: u64 = u32::MAX as u64;

/// A 32-bit value needs at most five 7-bit groups after the prefix, the last one shifted 28.
const LAST_SHIFT: u32 = 28;

/// Reads an integer with a `prefix_bits`-bit prefix (1 to 8) from the front of `src`, and
/// advances `src` past it. The bits of the first octet above the prefix are ignored: the caller
/// has already read them as the representation's type.
pub(super) fn decode(src: &mut &[u8], prefix_bits: u32) -> Result<usize, DecodeError> {
    let (&first, mut rest) = src.split_first().ok_or(DecodeError::Truncated)?;
    let mask = (1u16 << prefix_bits) - 1;
    let prefix = u16::from(first) & mask;
    if prefix < mask {
        *src = rest;
        return Ok(usize::from(prefix));
    }
    let mut value = u64::from(prefix);
    let mut shift = 0;
    loop {
        let (&octet, tail) = rest.split_first().ok_or(DecodeError::Truncated)?;
        rest = tail;
        value += u64::from(octet & 0x7f) << shift;
        if value > MAX {
            return Err(DecodeError::IntegerOverflow);
        }
        if octet & 0x80 == 0 {
            break;
        }
        shift += 7;
        // Even a run of zero groups is refused here: it would only pad the encoding.
        if shift > LAST_SHIFT {
            return Err(DecodeError::IntegerOverflow);
        }
    }
    *src = rest;
    usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow)
}

/// Writes `value` with a `prefix_bits`-bit prefix (1 to 8); `flags` holds the bits of the first
/// octet above the prefix (the representation's type).
pub(super) fn encode(dst: &mut BytesMut, flags: u8, prefix_bits: u32, value: usize) {
    let mask = (1usize << prefix_bits) - 1;
    if value < mask {
        dst.put_u8(flags | low_octet(value));
        return;
    }
    dst.put_u8(flags | low_octet(mask));
    let mut rest = value - mask;
    while rest >= 0x80 {
        dst.put_u8(0x80 | low_octet(rest & 0x7f));
        rest >>= 7;
    }
    dst.put_u8(low_octet(rest));
}

/// The low eight bits of `value` (callers mask first when they need fewer).
fn low_octet(value: usize) -> u8 {
    (value & 0xff) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(flags: u8, prefix_bits: u32, value: usize) -> Vec<u8> {
        let mut dst = BytesMut::new();
        encode(&mut dst, flags, prefix_bits, value);
        dst.to_vec()
    }

    fn decoded(src: &[u8], prefix_bits: u32) -> Result<(usize, usize), DecodeError> {
        let mut rest = src;
        let value = decode(&mut rest, prefix_bits)?;
        Ok((value, src.len() - rest.len()))
    }

    /// RFC 7541 C.1.1: 10 with a 5-bit prefix fits in the prefix.
    #[test]
    fn c_1_1_ten_in_a_5_bit_prefix() {
        assert_eq!(encoded(0, 5, 10), [0b0000_1010]);
        // The three bits above the prefix belong to the representation, not the integer.
        assert_eq!(decoded(&[0b1110_1010], 5), Ok((10, 1)));
    }

    /// RFC 7541 C.1.2: 1337 with a 5-bit prefix is 31, then 154, then 10.
    #[test]
    fn c_1_2_1337_in_a_5_bit_prefix() {
        assert_eq!(encoded(0, 5, 1337), [0b0001_1111, 0b1001_1010, 0b0000_1010]);
        assert_eq!(
            decoded(&[0b0001_1111, 0b1001_1010, 0b0000_1010, 0xff], 5),
            Ok((1337, 3))
        );
    }

    /// RFC 7541 C.1.3: 42 starting at an octet boundary (an 8-bit prefix).
    #[test]
    fn c_1_3_42_in_an_8_bit_prefix() {
        assert_eq!(encoded(0, 8, 42), [42]);
        assert_eq!(decoded(&[42], 8), Ok((42, 1)));
    }

    #[test]
    fn prefix_boundaries_round_trip() {
        for prefix_bits in 1..=8 {
            let mask = (1usize << prefix_bits) - 1;
            for value in [
                0,
                1,
                mask - 1,
                mask,
                mask + 1,
                mask + 127,
                mask + 128,
                1 << 20,
            ] {
                let bytes = encoded(0, prefix_bits, value);
                assert_eq!(
                    decoded(&bytes, prefix_bits),
                    Ok((value, bytes.len())),
                    "{value}"
                );
            }
        }
    }

    #[test]
    fn flags_are_kept_above_the_prefix() {
        assert_eq!(encoded(0x40, 6, 70), [0x7f, 7]);
        assert_eq!(encoded(0x20, 5, 0), [0x20]);
    }

    #[test]
    fn the_largest_accepted_value_round_trips() {
        let max = usize::try_from(MAX).expect("usize holds 32 bits");
        for prefix_bits in 1..=8 {
            let bytes = encoded(0, prefix_bits, max);
            assert_eq!(decoded(&bytes, prefix_bits), Ok((max, bytes.len())));
        }
    }

    #[test]
    fn truncated_integers_are_refused() {
        assert_eq!(decoded(&[], 5), Err(DecodeError::Truncated));
        assert_eq!(decoded(&[0x1f], 5), Err(DecodeError::Truncated));
        assert_eq!(decoded(&[0x1f, 0x9a], 5), Err(DecodeError::Truncated));
    }

    #[test]
    fn integers_past_32_bits_are_refused() {
        // 2^32 exactly: one more than the bound.
        let over = usize::try_from(MAX + 1).expect("64-bit test host");
        assert_eq!(
            decoded(&encoded(0, 5, over), 5),
            Err(DecodeError::IntegerOverflow)
        );
        // Five groups of all ones after a full prefix: far past 2^32.
        assert_eq!(
            decoded(&[0x1f, 0xff, 0xff, 0xff, 0xff, 0x7f], 5),
            Err(DecodeError::IntegerOverflow)
        );
        // Zero groups add nothing but may not run on: the sixth one is refused.
        assert_eq!(
            decoded(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 5),
            Err(DecodeError::IntegerOverflow)
        );
        assert_eq!(
            decoded(&[0x1f, 0x80, 0x80, 0x80, 0x80, 0x00], 5),
            Ok((31, 6))
        );
    }
}
