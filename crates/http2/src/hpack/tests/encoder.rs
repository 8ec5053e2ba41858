//! The encoder's policy: what goes indexed, what goes literal, what enters the table, and the
//! table size updates.

use http::header::{ACCEPT, ACCEPT_ENCODING, AUTHORIZATION};

use super::*;
use crate::hpack::Encoder;

fn sensitive(value: &'static str) -> HeaderValue {
    let mut value = HeaderValue::from_static(value);
    value.set_sensitive(true);
    value
}

/// A raw string literal: length then octets.
fn raw(text: &str) -> Vec<u8> {
    let mut out = vec![u8::try_from(text.len()).expect("short test string")];
    out.extend_from_slice(text.as_bytes());
    out
}

#[test]
fn static_fields_are_indexed() {
    let mut encoder = Encoder::new();
    let list = vec![
        field(":method", "GET"),
        field(":method", "POST"),
        field(":path", "/"),
        field(":path", "/index.html"),
        field(":scheme", "http"),
        field(":scheme", "https"),
        field(":status", "200"),
        field(":status", "404"),
        field(":status", "500"),
        field("accept-encoding", "gzip, deflate"),
        Field::Header(ACCEPT, HeaderValue::from_static("")),
    ];
    assert_eq!(
        encode(&mut encoder, &list),
        [0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x8d, 0x8e, 0x90, 0x93]
    );
    assert_eq!(encoder.dynamic_table(), table(&[]));
}

#[test]
fn sensitive_values_are_never_indexed() {
    let mut encoder = Encoder::new();
    let list = vec![
        Field::Header(AUTHORIZATION, sensitive("Bearer abc")),
        Field::Header(HeaderName::from_static("x-secret"), sensitive("s3")),
        // Even a static table match is not used for a sensitive value.
        Field::Header(ACCEPT_ENCODING, sensitive("gzip, deflate")),
    ];
    let mut expected = vec![0x1f, 23 - 15];
    expected.extend(raw("Bearer abc"));
    expected.push(0x10);
    expected.extend(raw("x-secret"));
    expected.extend(raw("s3"));
    expected.extend([0x1f, 16 - 15]);
    expected.extend(raw("gzip, deflate"));
    assert_eq!(encode(&mut encoder, &list), expected);
    // Not added: the second time costs the same octets.
    assert_eq!(encode(&mut encoder, &list), expected);
    assert_eq!(encoder.dynamic_table(), table(&[]));

    let mut decoder = Decoder::new(4096);
    let (decoded, _) = decode(&mut decoder, &expected).expect("valid block");
    assert_eq!(decoded, list);
    for field in &decoded {
        let Field::Header(_, value) = field else {
            panic!("header fields only")
        };
        assert!(value.is_sensitive(), "{field:?}");
    }
    // A proxy re-encoding what it decoded keeps it out of its table as well.
    assert_eq!(encode(&mut Encoder::new(), &decoded), expected);
}

#[test]
fn a_sensitive_value_does_not_use_a_matching_dynamic_entry() {
    let mut encoder = Encoder::new();
    let plain = Field::Header(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
    encode(&mut encoder, std::slice::from_ref(&plain));
    assert_eq!(encode(&mut encoder, std::slice::from_ref(&plain)), [0xbe]);
    let secret = Field::Header(AUTHORIZATION, sensitive("Bearer abc"));
    let mut expected = vec![0x1f, 23 - 15];
    expected.extend(raw("Bearer abc"));
    assert_eq!(encode(&mut encoder, &[secret]), expected);
}

#[test]
fn literals_reference_names_in_the_dynamic_table() {
    let mut encoder = Encoder::new();
    let first = encode(&mut encoder, &fields(&[("x-trace", "a")]));
    let mut expected = vec![0x40];
    expected.extend(raw("x-trace"));
    expected.extend(raw("a"));
    assert_eq!(first, expected);
    // The name is entry 62 now; the new value is indexed with it.
    let mut expected = vec![0x40 | 62];
    expected.extend(raw("b"));
    assert_eq!(encode(&mut encoder, &fields(&[("x-trace", "b")])), expected);
    // The newest entry with the name is used: "x-trace: b" is 62, "x-trace: a" is 63.
    let mut expected = vec![0x40 | 62];
    expected.extend(raw("c"));
    assert_eq!(encode(&mut encoder, &fields(&[("x-trace", "c")])), expected);
    assert_eq!(
        encode(&mut encoder, &fields(&[("x-trace", "a")])),
        [0x80 | 64]
    );
    // A :protocol value, absent from the static table, is kept like a custom header.
    let protocol = encode(&mut encoder, &fields(&[(":protocol", "websocket")]));
    let mut expected = vec![0x40];
    expected.extend(raw(":protocol"));
    expected.extend(raw("websocket"));
    assert_eq!(protocol, expected);
    assert_eq!(
        encode(&mut encoder, &fields(&[(":protocol", "websocket")])),
        [0xbe]
    );
}

/// Entries of at most half the table are indexed; bigger ones go without indexing.
#[test]
fn only_entries_up_to_half_the_table_are_indexed() {
    let name = "x-big";
    let fits = "v".repeat(2048 - 32 - name.len());
    let too_big = "w".repeat(2049 - 32 - name.len());
    let mut encoder = Encoder::new();
    let block = encode(&mut encoder, &fields(&[(name, &fits)]));
    assert_eq!(block[0], 0x40);
    assert_eq!(encoder.dynamic_table().1, 2048);
    let block = encode(&mut encoder, &fields(&[(name, &too_big)]));
    // Without indexing, the name by its dynamic index (62: 15 + 47 on a 4-bit prefix).
    assert_eq!(block[..2], [0x0f, 62 - 15]);
    assert_eq!(encoder.dynamic_table().1, 2048);
    // A static name keeps its static index in a literal without indexing.
    let block = encode(&mut encoder, &fields(&[("user-agent", &too_big)]));
    assert_eq!(block[..2], [0x0f, 58 - 15]);
}

#[test]
fn evicted_entries_leave_the_lookup_maps() {
    let mut encoder = Encoder::new();
    encoder.set_max_table_size(256);
    let mut decoder = Decoder::new(256);
    for round in 0..40 {
        let list = fields(&[
            ("x-name", &format!("value-{round}")),
            (&format!("x-name-{}", round % 7), "v"),
        ]);
        let block = encode(&mut encoder, &list);
        let (decoded, _) = decode(&mut decoder, &block).expect("valid block");
        assert_eq!(decoded, list);
        assert_eq!(decoder.dynamic_table(), encoder.dynamic_table());
        let entries = encoder.dynamic_table().0.len();
        let (field_keys, name_keys) = encoder.map_sizes();
        assert!(
            field_keys <= entries,
            "{field_keys} keys for {entries} entries"
        );
        assert!(
            name_keys <= entries,
            "{name_keys} keys for {entries} entries"
        );
    }
    // "x-name: value-0" is long gone: sending it again is a literal, not a stale index. Its
    // name is still found, though evictions of older "x-name" entries went by: the newest,
    // "x-name: value-39", is 63 (the last list added it, then "x-name-4: v").
    let block = encode(&mut encoder, &fields(&[("x-name", "value-0")]));
    assert_eq!(block[..2], [0x40 | 63, 0x00]);
    let (decoded, _) = decode(&mut decoder, &block).expect("valid block");
    assert_eq!(decoded, fields(&[("x-name", "value-0")]));
}

#[test]
fn a_zero_table_size_is_signalled_and_empties_the_table() {
    let mut encoder = Encoder::new();
    encode(
        &mut encoder,
        &fields(&[("x-a", "1"), (":authority", "example.com")]),
    );
    assert_eq!(encoder.dynamic_table().0.len(), 2);
    encoder.set_max_table_size(0);
    let block = encode(&mut encoder, &fields(&[("x-a", "1")]));
    let mut expected = vec![0x20, 0x00];
    expected.extend(raw("x-a"));
    expected.extend(raw("1"));
    assert_eq!(block, expected);
    assert_eq!(encoder.dynamic_table(), table(&[]));
    assert_eq!(encoder.map_sizes(), (0, 0));
    // Signalled once only.
    assert_eq!(
        encode(&mut encoder, &fields(&[("x-a", "1")])),
        expected[1..]
    );
}

#[test]
fn down_and_up_between_blocks_signals_the_smallest_then_the_final_size() {
    let mut encoder = Encoder::new();
    let mut decoder = Decoder::new(4096);
    let first = fields(&[("x-a", &"a".repeat(60)), ("x-b", "b")]);
    decode(&mut decoder, &encode(&mut encoder, &first)).expect("valid block");
    encoder.set_max_table_size(100);
    encoder.set_max_table_size(3000);
    let block = encode(&mut encoder, &fields(&[("x-b", "b")]));
    // 100 = 31 + 69; 3000 = 31 + 25 + 23 * 128. The 100 evicted "x-a" (95 octets) but kept
    // "x-b: b" (36), now at index 62.
    assert_eq!(block, hex("3f45 3f99 17 be"));
    let (decoded, _) = decode(&mut decoder, &block).expect("valid block");
    assert_eq!(decoded, fields(&[("x-b", "b")]));
    assert_eq!(decoder.dynamic_table(), table(&[(36, "x-b: b")]));
    assert_eq!(encoder.dynamic_table(), table(&[(36, "x-b: b")]));

    // Down and back to where it was: both are still signalled.
    encoder.set_max_table_size(100);
    encoder.set_max_table_size(4096);
    assert_eq!(encode(&mut encoder, &[]), hex("3f45 3fe1 1f"));
    // Two decreases: only the final (smallest) one.
    encoder.set_max_table_size(200);
    encoder.set_max_table_size(150);
    assert_eq!(encode(&mut encoder, &[]), hex("3f77"));
    // A peer allowing more than 4096 changes nothing: the encoder stays at 4096.
    encoder.set_max_table_size(4096);
    assert_eq!(encode(&mut encoder, &[]), hex("3fe1 1f"));
    encoder.set_max_table_size(1 << 20);
    assert_eq!(encode(&mut encoder, &[]), Vec::<u8>::new());
}
