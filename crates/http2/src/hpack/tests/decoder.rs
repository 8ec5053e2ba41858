//! The decoder's errors (connection errors) and its checks of the field list (stream
//! errors), with the dynamic table kept in step through the latter.

use super::*;
use crate::hpack::Malformed;

fn decode_err(block: &[u8]) -> DecodeError {
    decode(&mut Decoder::new(4096), block).expect_err("an invalid block")
}

/// A literal with incremental indexing and a new name, raw strings.
fn incremental(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x40, u8::try_from(name.len()).expect("short")];
    out.extend_from_slice(name.as_bytes());
    out.push(u8::try_from(value.len()).expect("short"));
    out.extend_from_slice(value);
    out
}

#[test]
fn truncated_integers_are_errors() {
    // An index whose prefix is all ones, then nothing, or a continuation that does not end.
    assert_eq!(decode_err(&[0xff]), DecodeError::Truncated);
    assert_eq!(decode_err(&[0xff, 0x80]), DecodeError::Truncated);
    // A string length likewise.
    assert_eq!(decode_err(&[0x40, 0x7f]), DecodeError::Truncated);
    // A size update likewise.
    assert_eq!(decode_err(&[0x3f]), DecodeError::Truncated);
}

#[test]
fn truncated_strings_are_errors() {
    assert_eq!(
        decode_err(&[0x40, 0x05, b'a', b'b']),
        DecodeError::Truncated
    );
    // The name is whole, the value is missing.
    assert_eq!(decode_err(&[0x40, 0x01, b'a']), DecodeError::Truncated);
    assert_eq!(
        decode_err(&[0x04, 0x03, b'/', b'a']),
        DecodeError::Truncated
    );
    // A Huffman string cut short.
    assert_eq!(
        decode_err(&[0x41, 0x8c, 0xf1, 0xe3]),
        DecodeError::Truncated
    );
}

#[test]
fn index_zero_is_an_error() {
    assert_eq!(decode_err(&[0x80]), DecodeError::InvalidIndex(0));
}

#[test]
fn indices_past_the_tables_are_errors() {
    assert_eq!(decode_err(&[0xbe]), DecodeError::InvalidIndex(62));
    // As a name reference too.
    assert_eq!(
        decode_err(&[0x7e, 0x01, b'a']),
        DecodeError::InvalidIndex(62)
    );
    assert_eq!(
        decode_err(&[0x0f, 0x2f, 0x01, b'a']),
        DecodeError::InvalidIndex(62)
    );
    let mut decoder = Decoder::new(4096);
    decode(&mut decoder, &incremental("x-a", b"1")).expect("valid block");
    assert!(decode(&mut decoder, &[0xbe]).is_ok());
    assert_eq!(
        decode(&mut decoder, &[0xbf]).expect_err("one entry only"),
        DecodeError::InvalidIndex(63)
    );
    // The static table ends at 61.
    assert!(decode(&mut Decoder::new(4096), &[0x80 | 61]).is_ok());
}

#[test]
fn huffman_with_eos_is_an_error() {
    // A name of four octets: EOS and two bits of padding.
    assert_eq!(
        decode_err(&[0x40, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]),
        DecodeError::InvalidHuffman
    );
}

#[test]
fn huffman_padding_of_eight_bits_or_more_is_an_error() {
    // Value "a" (00011) then eleven ones.
    assert_eq!(
        decode_err(&[0x04, 0x82, 0x1f, 0xff]),
        DecodeError::InvalidHuffman
    );
    // With three ones it is fine.
    let (decoded, _) = decode(&mut Decoder::new(4096), &[0x04, 0x81, 0x1f]).expect("valid");
    assert_eq!(decoded, fields(&[(":path", "a")]));
}

#[test]
fn huffman_padding_with_a_zero_bit_is_an_error() {
    assert_eq!(decode_err(&[0x04, 0x81, 0x1e]), DecodeError::InvalidHuffman);
}

#[test]
fn size_updates_above_the_advertised_maximum_are_errors() {
    // 4097 = 31 + 98 + 31 * 128.
    assert_eq!(
        decode_err(&hex("3fe2 1f")),
        DecodeError::TableSizeUpdateTooLarge {
            size: 4097,
            max: 4096
        }
    );
    assert!(decode(&mut Decoder::new(4096), &hex("3fe1 1f")).is_ok());
    assert_eq!(
        decode(&mut Decoder::new(100), &hex("3f46")).expect_err("101 > 100"),
        DecodeError::TableSizeUpdateTooLarge {
            size: 101,
            max: 100
        }
    );
}

#[test]
fn size_updates_after_a_field_are_errors() {
    assert_eq!(
        decode_err(&[0x82, 0x20]),
        DecodeError::TableSizeUpdateNotAtStart
    );
}

#[test]
fn two_size_updates_at_the_start_apply_in_order() {
    let mut decoder = Decoder::new(4096);
    decode(&mut decoder, &incremental("x-a", b"1")).expect("valid block");
    // Down to 0 (evicting "x-a"), back to 4096, then an index that no longer exists.
    assert_eq!(
        decode(&mut decoder, &hex("20 3fe1 1f be")).expect_err("entry evicted"),
        DecodeError::InvalidIndex(62)
    );
    let mut decoder = Decoder::new(4096);
    decode(&mut decoder, &incremental("x-a", b"1")).expect("valid block");
    let (decoded, _) = decode(&mut decoder, &hex("3f45 3f99 17 82")).expect("valid block");
    assert_eq!(decoded, fields(&[(":method", "GET")]));
    assert_eq!(decoder.dynamic_table(), table(&[(36, "x-a: 1")]));
}

#[test]
fn integer_overflow_is_an_error() {
    // A string length past 2^32.
    assert_eq!(
        decode_err(&[0x40, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        DecodeError::IntegerOverflow
    );
    // An index.
    assert_eq!(
        decode_err(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        DecodeError::IntegerOverflow
    );
    // A size update: refused as an overflow before it is compared with the maximum.
    assert_eq!(
        decode_err(&[0x3f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        DecodeError::IntegerOverflow
    );
}

#[test]
fn an_uppercase_name_is_malformed_and_the_table_stays_in_step() {
    let mut decoder = Decoder::new(4096);
    let mut block = vec![0x82];
    block.extend(incremental("X-Upper", b"a"));
    block.extend(incremental("x-after", b"b"));
    block.push(0x84);
    let (decoded, status) = decode(&mut decoder, &block).expect("decodes to the end");
    assert_eq!(decoded, fields(&[(":method", "GET")]));
    assert_eq!(
        status,
        Decoded {
            oversize: false,
            malformed: Some(Malformed::InvalidName)
        }
    );
    assert_eq!(
        decoder.dynamic_table(),
        table(&[(40, "x-after: b"), (40, "<InvalidName>")])
    );

    // The entry after the bad one is where the peer thinks it is.
    let (decoded, status) = decode(&mut decoder, &[0xbe]).expect("valid block");
    assert_eq!(decoded, fields(&[("x-after", "b")]));
    assert_eq!(status, Decoded::default());
    // The bad entry stays bad.
    let (decoded, status) = decode(&mut decoder, &[0x82, 0xbf, 0x84]).expect("valid block");
    assert_eq!(decoded, fields(&[(":method", "GET")]));
    assert_eq!(status.malformed, Some(Malformed::InvalidName));
    // And so does a field that borrows its name; it still takes its place in the table.
    let (decoded, status) = decode(&mut decoder, &[0x7f, 0x00, 0x01, b'c']).expect("valid");
    assert_eq!(decoded, []);
    assert_eq!(status.malformed, Some(Malformed::InvalidName));
    assert_eq!(
        decoder.dynamic_table(),
        table(&[
            (40, "<InvalidName>"),
            (40, "x-after: b"),
            (40, "<InvalidName>")
        ])
    );
    let (decoded, _) = decode(&mut decoder, &[0xbf]).expect("valid block");
    assert_eq!(decoded, fields(&[("x-after", "b")]));
}

#[test]
fn an_invalid_value_is_malformed_but_its_name_can_be_reused() {
    let mut decoder = Decoder::new(4096);
    let (decoded, status) = decode(&mut decoder, &incremental("x-v", b"a\nb")).expect("valid");
    assert_eq!(decoded, []);
    assert_eq!(status.malformed, Some(Malformed::InvalidValue));
    assert_eq!(decoder.dynamic_table(), table(&[(38, "x-v: <invalid>")]));
    // The name of entry 62 with a new, valid value.
    let (decoded, status) = decode(&mut decoder, &[0x7e, 0x02, b'o', b'k']).expect("valid");
    assert_eq!(decoded, fields(&[("x-v", "ok")]));
    assert_eq!(status, Decoded::default());
    let (_, status) = decode(&mut decoder, &[0xbf]).expect("valid block");
    assert_eq!(status.malformed, Some(Malformed::InvalidValue));
    // NUL and CR too, in literals without indexing.
    for bad in [&b"a\0"[..], b"a\r"] {
        let mut block = vec![0x00, 0x03];
        block.extend_from_slice(b"x-v");
        block.push(u8::try_from(bad.len()).expect("short"));
        block.extend_from_slice(bad);
        let (_, status) = decode(&mut decoder, &block).expect("valid block");
        assert_eq!(status.malformed, Some(Malformed::InvalidValue));
    }
}

#[test]
fn unknown_pseudo_headers_are_malformed() {
    let (decoded, status) =
        decode(&mut Decoder::new(4096), &incremental(":foo", b"a")).expect("valid");
    assert_eq!(decoded, []);
    assert_eq!(status.malformed, Some(Malformed::UnknownPseudo));
    // A Huffman-coded uppercase name is caught too: "A" is 100001, padded with ones.
    let (_, status) =
        decode(&mut Decoder::new(4096), &[0x00, 0x81, 0x87, 0x01, b'a']).expect("valid");
    assert_eq!(status.malformed, Some(Malformed::InvalidName));
}

#[test]
fn the_list_size_limit_stops_emission_but_not_decoding() {
    let mut decoder = Decoder::new(4096);
    // :method GET (42) + :path / (38) = 80, then 32 + 5 + 30 = 67 more.
    let mut block = vec![0x82, 0x84];
    block.extend(incremental("x-big", &[b'v'; 30]));
    block.extend(incremental("x-z", b"1"));
    block.push(0x86);
    let (decoded, status) = decode_limited(&mut decoder, &block, 100).expect("valid block");
    assert_eq!(decoded, fields(&[(":method", "GET"), (":path", "/")]));
    assert_eq!(
        status,
        Decoded {
            oversize: true,
            malformed: None
        }
    );
    let (entries, size) = decoder.dynamic_table();
    assert_eq!(size, 36 + 67);
    assert_eq!(entries[0], (36, "x-z: 1".to_owned()));
    // Both entries are where the peer put them.
    let (decoded, status) = decode_limited(&mut decoder, &[0xbe, 0xbf], 200).expect("valid");
    assert_eq!(decoded, fields(&[("x-z", "1"), ("x-big", &"v".repeat(30))]));
    assert_eq!(status, Decoded::default());
}

#[test]
fn the_list_size_limit_is_inclusive() {
    let (decoded, status) = decode_limited(&mut Decoder::new(4096), &[0x82], 42).expect("ok");
    assert_eq!((decoded.len(), status.oversize), (1, false));
    let (decoded, status) = decode_limited(&mut Decoder::new(4096), &[0x82], 41).expect("ok");
    assert_eq!((decoded.len(), status.oversize), (0, true));
}

#[test]
fn a_malformed_field_stops_emission_for_the_rest_of_the_block() {
    let mut block = incremental("Bad", b"1");
    block.extend([0x82, 0x00, 0x03]);
    block.extend_from_slice(b"x-c");
    block.extend([0x01, b'2']);
    let (decoded, status) = decode(&mut Decoder::new(4096), &block).expect("valid block");
    assert_eq!(decoded, []);
    assert_eq!(status.malformed, Some(Malformed::InvalidName));
}

#[test]
fn an_entry_larger_than_the_table_empties_it_and_is_still_emitted() {
    let mut decoder = Decoder::new(64);
    decode(&mut decoder, &incremental("x-a", b"1")).expect("valid block");
    let value = [b'v'; 40];
    let (decoded, _) = decode(&mut decoder, &incremental("x-b", &value)).expect("valid");
    assert_eq!(decoded, fields(&[("x-b", &"v".repeat(40))]));
    assert_eq!(decoder.dynamic_table(), table(&[]));
}
