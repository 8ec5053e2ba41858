//! Encoder to decoder over a long pseudo-random run: the lists must come back as they went,
//! and the two dynamic tables must stay identical.

use super::*;
use crate::hpack::Encoder;

/// xorshift64: deterministic, and enough to shuffle a vocabulary.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("small")
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const NAMES: [&str; 14] = [
    "content-type",
    "accept",
    "user-agent",
    "cookie",
    "authorization",
    "date",
    "cache-control",
    "accept-encoding",
    "x-request-id",
    "x-b3-traceid",
    "x-forwarded-for",
    "x-envoy-attempt",
    "grpc-timeout",
    "te",
];

const VALUES: [&str; 10] = [
    "",
    "application/grpc",
    "gzip, deflate",
    "trailers",
    "no-cache",
    "Bearer eyJhbGciOiJIUzI1NiJ9",
    "10.0.0.1",
    "Mon, 21 Oct 2013 20:13:21 GMT",
    "1",
    "text/html; charset=utf-8",
];

fn value(rng: &mut Rng) -> HeaderValue {
    let text = match rng.below(10) {
        // Fresh values keep the table churning.
        0..=1 => format!("id-{}", rng.next() % 500),
        // Long values: some fit half the table, some do not fit it at all.
        2 => "L".repeat(100 + rng.below(5000)),
        _ => (*rng.pick(&VALUES)).to_owned(),
    };
    let mut value = HeaderValue::from_str(&text).expect("test value");
    value.set_sensitive(rng.below(10) == 0);
    value
}

fn list(rng: &mut Rng) -> Vec<Field> {
    let mut list = Vec::new();
    if rng.below(2) == 0 {
        let method = *rng.pick(&["GET", "POST", "PUT", "CONNECT"]);
        list.push(field(":method", method));
        let scheme = *rng.pick(&["http", "https"]);
        list.push(field(":scheme", scheme));
        let path = format!("/{}", ["", "index.html", "api/v1/items", "a"][rng.below(4)]);
        list.push(field(":path", &path));
        let authority = *rng.pick(&["svc.local", "example.com:8443"]);
        list.push(field(":authority", authority));
        if method == "CONNECT" {
            list.push(field(":protocol", "websocket"));
        }
    } else {
        let status = *rng.pick(&["200", "204", "302", "404", "503"]);
        list.push(field(":status", status));
    }
    for _ in 0..rng.below(12) {
        let name = if rng.below(6) == 0 {
            format!("x-custom-{}", rng.below(40))
        } else {
            (*rng.pick(&NAMES)).to_owned()
        };
        let name = HeaderName::from_bytes(name.as_bytes()).expect("test name");
        list.push(Field::Header(name, value(rng)));
    }
    list
}

#[test]
fn two_thousand_lists_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut encoder = Encoder::new();
    // The most this endpoint ever advertises; the encoder uses at most this too.
    let mut decoder = Decoder::new(4096);
    let sizes = [0, 1, 64, 100, 256, 1000, 4096, 8192, 1 << 20];
    let mut indexed = 0;
    for n in 0..2000 {
        if rng.below(40) == 0 {
            for _ in 0..=rng.below(3) {
                encoder.set_max_table_size(*rng.pick(&sizes));
            }
        }
        let sent = list(&mut rng);
        let block = encode(&mut encoder, &sent);
        indexed += block.iter().filter(|&&octet| octet >= 0xbe).count();
        let (received, status) = decode(&mut decoder, &block).expect("valid block");
        assert_eq!(status, Decoded::default(), "list {n}");
        assert_eq!(received, sent, "list {n}");
        for (got, want) in received.iter().zip(&sent) {
            if let (Field::Header(_, got), Field::Header(_, want)) = (got, want) {
                assert_eq!(got.is_sensitive(), want.is_sensitive(), "list {n}");
            }
        }
        assert_eq!(decoder.dynamic_table(), encoder.dynamic_table(), "list {n}");
    }
    // The run must exercise the dynamic table, not only literals.
    assert!(indexed > 1000, "{indexed} dynamic references");
}
