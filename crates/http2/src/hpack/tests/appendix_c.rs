//! Every example of RFC 7541 Appendix C (C.1 is in `integer.rs`): decoded, with the dynamic
//! table checked against the RFC's listing after each block, and, for C.3 and C.5, encoded.

use super::*;
use crate::hpack::Encoder;

type List = &'static [(&'static str, &'static str)];
type Table = &'static [(usize, &'static str)];

const REQUESTS: [List; 3] = [
    &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ],
    &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ],
    &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ],
];

const REQUEST_TABLES: [Table; 3] = [
    &[(57, ":authority: www.example.com")],
    &[
        (53, "cache-control: no-cache"),
        (57, ":authority: www.example.com"),
    ],
    &[
        (54, "custom-key: custom-value"),
        (53, "cache-control: no-cache"),
        (57, ":authority: www.example.com"),
    ],
];

const C3_BLOCKS: [&str; 3] = [
    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "8286 84be 5808 6e6f 2d63 6163 6865",
    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
];

const C4_BLOCKS: [&str; 3] = [
    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
];

const RESPONSES: [List; 3] = [
    &[
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ],
    &[
        (":status", "307"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ],
    &[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ],
];

const RESPONSE_TABLES: [Table; 3] = [
    &[
        (63, "location: https://www.example.com"),
        (65, "date: Mon, 21 Oct 2013 20:13:21 GMT"),
        (52, "cache-control: private"),
        (42, ":status: 302"),
    ],
    &[
        (42, ":status: 307"),
        (63, "location: https://www.example.com"),
        (65, "date: Mon, 21 Oct 2013 20:13:21 GMT"),
        (52, "cache-control: private"),
    ],
    &[
        (
            98,
            "set-cookie: foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
        (52, "content-encoding: gzip"),
        (65, "date: Mon, 21 Oct 2013 20:13:22 GMT"),
    ],
];

const C5_BLOCKS: [&str; 3] = [
    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
     2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70
     6c65 2e63 6f6d",
    "4803 3330 37c1 c0bf",
    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
     54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
     5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e
     3d31",
];

const C6_BLOCKS: [&str; 3] = [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
     2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
     77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
     9587 3160 65c0 03ed 4ee5 b106 3d50 07",
];

/// Decodes `blocks` in order with one decoder, checking the fields and the table after each.
fn decode_sequence(table_size: usize, blocks: [&str; 3], lists: [List; 3], tables: [Table; 3]) {
    let mut decoder = Decoder::new(table_size);
    for ((block, list), expected_table) in blocks.iter().zip(lists).zip(tables) {
        let (decoded, status) = decode(&mut decoder, &hex(block)).expect("valid block");
        assert_eq!(status, Decoded::default(), "{block}");
        assert_eq!(decoded, fields(list), "{block}");
        assert_eq!(decoder.dynamic_table(), table(expected_table), "{block}");
    }
}

#[test]
fn c_2_1_literal_with_indexing() {
    let mut decoder = Decoder::new(4096);
    let block = hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572");
    let (decoded, status) = decode(&mut decoder, &block).expect("valid block");
    assert_eq!(status, Decoded::default());
    assert_eq!(decoded, fields(&[("custom-key", "custom-header")]));
    assert_eq!(
        decoder.dynamic_table(),
        table(&[(55, "custom-key: custom-header")])
    );
}

#[test]
fn c_2_2_literal_without_indexing() {
    let mut decoder = Decoder::new(4096);
    let block = hex("040c 2f73 616d 706c 652f 7061 7468");
    let (decoded, _) = decode(&mut decoder, &block).expect("valid block");
    assert_eq!(decoded, fields(&[(":path", "/sample/path")]));
    assert_eq!(decoder.dynamic_table(), table(&[]));
}

#[test]
fn c_2_3_literal_never_indexed() {
    let mut decoder = Decoder::new(4096);
    let block = hex("1008 7061 7373 776f 7264 0673 6563 7265 74");
    let (decoded, _) = decode(&mut decoder, &block).expect("valid block");
    assert_eq!(decoded, fields(&[("password", "secret")]));
    // Marked so that a proxy's encoder keeps it never-indexed too.
    let Field::Header(_, value) = &decoded[0] else {
        panic!("a header field")
    };
    assert!(value.is_sensitive());
    assert_eq!(decoder.dynamic_table(), table(&[]));
}

#[test]
fn c_2_4_indexed() {
    let mut decoder = Decoder::new(4096);
    let (decoded, _) = decode(&mut decoder, &hex("82")).expect("valid block");
    assert_eq!(decoded, fields(&[(":method", "GET")]));
    assert_eq!(decoder.dynamic_table(), table(&[]));
}

#[test]
fn c_3_requests_without_huffman_decode() {
    decode_sequence(4096, C3_BLOCKS, REQUESTS, REQUEST_TABLES);
}

#[test]
fn c_4_requests_with_huffman_decode() {
    decode_sequence(4096, C4_BLOCKS, REQUESTS, REQUEST_TABLES);
}

#[test]
fn c_5_responses_without_huffman_decode() {
    decode_sequence(256, C5_BLOCKS, RESPONSES, RESPONSE_TABLES);
}

#[test]
fn c_6_responses_with_huffman_decode() {
    decode_sequence(256, C6_BLOCKS, RESPONSES, RESPONSE_TABLES);
}

#[test]
fn c_3_requests_encode_to_the_rfc_bytes() {
    let mut encoder = Encoder::new();
    for ((block, list), expected_table) in C3_BLOCKS.iter().zip(REQUESTS).zip(REQUEST_TABLES) {
        assert_eq!(encode(&mut encoder, &fields(list)), hex(block));
        assert_eq!(encoder.dynamic_table(), table(expected_table));
    }
}

/// The RFC's responses assume both tables start at 256 octets. An HTTP/2 encoder starts at
/// 4096 and must signal the peer's lower setting, so the first block here starts with a size
/// update to 256 (3f e1 01) that C.5.1 does not show; everything after it is the RFC's bytes.
#[test]
fn c_5_responses_encode_to_the_rfc_bytes() {
    let mut encoder = Encoder::new();
    encoder.set_max_table_size(256);
    let mut decoder = Decoder::new(256);
    for (n, ((block, list), expected_table)) in C5_BLOCKS
        .iter()
        .zip(RESPONSES)
        .zip(RESPONSE_TABLES)
        .enumerate()
    {
        let mut expected = if n == 0 { hex("3fe1 01") } else { Vec::new() };
        expected.extend(hex(block));
        let encoded = encode(&mut encoder, &fields(list));
        assert_eq!(encoded, expected, "response {}", n + 1);
        assert_eq!(encoder.dynamic_table(), table(expected_table));
        // And the update is one the decoder takes.
        let (decoded, _) = decode(&mut decoder, &encoded).expect("valid block");
        assert_eq!(decoded, fields(list));
        assert_eq!(decoder.dynamic_table(), table(expected_table));
    }
}
