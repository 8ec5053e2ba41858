//! The server's answers to a peer that breaks the rules, byte by byte: connection errors
//! end in GOAWAY with the right code, stream errors reset only their stream, and the
//! connection goes on serving.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Response};
use std::future::poll_fn;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use verimesh_http2::{self as vh2, hpack};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let len = payload.len() as u32;
    out.put_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.put_u32(stream);
    out.put_slice(payload);
    out.to_vec()
}

struct Frame {
    kind: u8,
    flags: u8,
    stream: u32,
    payload: Vec<u8>,
}

/// A raw client talking to a verimesh server that answers every request with 200 at once,
/// or (`hold`) keeps every request open without answering.
struct Peer {
    io: DuplexStream,
    buf: Vec<u8>,
    encoder: hpack::Encoder,
}

impl Peer {
    async fn start(config: vh2::Config, hold: bool) -> Peer {
        let (a, b) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let mut server = vh2::server_handshake(b, config);
            let mut held = Vec::new();
            while let Some(Ok((req, mut respond))) = poll_fn(|cx| server.poll_accept(cx)).await {
                if hold {
                    held.push((req, respond));
                } else {
                    let _ = respond.send_response(Response::new(()), true);
                }
            }
        });
        Peer {
            io: a,
            buf: Vec::new(),
            encoder: hpack::Encoder::new(),
        }
    }

    /// Preface and empty SETTINGS, then the server's SETTINGS read (and acknowledged).
    async fn connected(config: vh2::Config, hold: bool) -> Peer {
        let mut peer = Peer::start(config, hold).await;
        peer.send(PREFACE).await;
        peer.send(&frame(SETTINGS, 0, 0, &[])).await;
        let first = peer.next().await.expect("server settings");
        assert_eq!((first.kind, first.flags), (SETTINGS, 0));
        peer.send(&frame(SETTINGS, 0x1, 0, &[])).await;
        peer
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("write");
    }

    /// The next frame from the server, or `None` when it closed the connection.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if self.buf.len() >= 9 {
                let len = usize::from(self.buf[0]) << 16
                    | usize::from(self.buf[1]) << 8
                    | usize::from(self.buf[2]);
                if self.buf.len() >= 9 + len {
                    let f = Frame {
                        kind: self.buf[3],
                        flags: self.buf[4],
                        stream: u32::from_be_bytes([
                            self.buf[5],
                            self.buf[6],
                            self.buf[7],
                            self.buf[8],
                        ]),
                        payload: self.buf[9..9 + len].to_vec(),
                    };
                    self.buf.drain(..9 + len);
                    return Some(f);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), self.io.read(&mut chunk))
                .await
                .expect("the server answers in time")
                .expect("read");
            if n == 0 {
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The next frame that is not a SETTINGS ACK or WINDOW_UPDATE.
    async fn next_significant(&mut self) -> Option<Frame> {
        loop {
            let f = self.next().await?;
            if f.kind == WINDOW_UPDATE || (f.kind == SETTINGS && f.flags & 0x1 != 0) {
                continue;
            }
            return Some(f);
        }
    }

    fn request_block(&mut self, path: &str, extra: &[(&'static str, &'static str)]) -> Bytes {
        let mut dst = BytesMut::new();
        let mut block = self.encoder.block(&mut dst);
        block.pseudo(hpack::Pseudo::Method, b"POST");
        block.pseudo(hpack::Pseudo::Scheme, b"http");
        block.pseudo(hpack::Pseudo::Authority, b"svc.test");
        block.pseudo(hpack::Pseudo::Path, path.as_bytes());
        for (n, v) in extra {
            block.header(&HeaderName::from_static(n), &HeaderValue::from_static(v));
        }
        dst.freeze()
    }

    async fn expect_goaway(&mut self, code: u32) {
        let f = self.next_significant().await.expect("a GOAWAY");
        assert_eq!(f.kind, GOAWAY, "expected GOAWAY, got frame type {}", f.kind);
        let got = u32::from_be_bytes([f.payload[4], f.payload[5], f.payload[6], f.payload[7]]);
        assert_eq!(
            got,
            code,
            "GOAWAY code; debug: {}",
            String::from_utf8_lossy(&f.payload[8..])
        );
        assert!(
            self.next().await.is_none(),
            "the connection closes after GOAWAY"
        );
    }

    async fn expect_reset(&mut self, stream: u32, code: u32) {
        let f = self.next_significant().await.expect("a RST_STREAM");
        assert_eq!(
            (f.kind, f.stream),
            (RST_STREAM, stream),
            "expected RST_STREAM"
        );
        let got = u32::from_be_bytes([f.payload[0], f.payload[1], f.payload[2], f.payload[3]]);
        assert_eq!(got, code);
    }

    /// A request that must still be served: the connection survived.
    async fn expect_served(&mut self, stream: u32) {
        let block = self.request_block("/ok", &[]);
        self.send(&frame(HEADERS, END_HEADERS | END_STREAM, stream, &block))
            .await;
        let f = self.next_significant().await.expect("a response");
        assert_eq!((f.kind, f.stream), (HEADERS, stream), "the response");
    }
}

#[tokio::test]
async fn a_wrong_preface_ends_the_connection() {
    let mut peer = Peer::start(vh2::Config::default(), false).await;
    peer.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let settings = peer.next().await.expect("server settings");
    assert_eq!(settings.kind, SETTINGS);
    peer.expect_goaway(0x1).await;
}

#[tokio::test]
async fn the_first_frame_must_be_settings() {
    let mut peer = Peer::start(vh2::Config::default(), false).await;
    peer.send(PREFACE).await;
    peer.send(&frame(PING, 0, 0, &[0; 8])).await;
    peer.next().await.expect("server settings");
    peer.expect_goaway(0x1).await;
}

#[tokio::test]
async fn a_ping_is_answered_with_its_payload() {
    let mut peer = Peer::connected(vh2::Config::default(), false).await;
    peer.send(&frame(PING, 0, 0, b"12345678")).await;
    let f = peer.next_significant().await.expect("ping ack");
    assert_eq!(
        (f.kind, f.flags, f.payload.as_slice()),
        (PING, 0x1, &b"12345678"[..])
    );
}

#[tokio::test]
async fn an_uppercase_field_name_resets_the_stream_and_keeps_the_table_in_step() {
    let mut peer = Peer::connected(vh2::Config::default(), false).await;
    // The valid fields are added to the peer's table; the bad one (a literal without
    // indexing: 0x00, name length, name, value length, value) makes the request malformed.
    let mut block = peer
        .request_block("/first", &[("x-indexed", "kept")])
        .to_vec();
    block.extend_from_slice(&[0x00, 5, b'X', b'-', b'B', b'A', b'D', 1, b'v']);
    peer.send(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block))
        .await;
    peer.expect_reset(1, 0x1).await;
    // The next request refers to entries the first block added: decoding it proves the
    // server's table kept up.
    let block = peer.request_block("/first", &[("x-indexed", "kept")]);
    assert!(block.len() < 10, "encoded from the table: {block:?}");
    peer.send(&frame(HEADERS, END_HEADERS | END_STREAM, 3, &block))
        .await;
    let f = peer.next_significant().await.expect("response");
    assert_eq!((f.kind, f.stream), (HEADERS, 3));
}

#[tokio::test]
async fn connection_specific_fields_make_a_request_malformed() {
    let mut peer = Peer::connected(vh2::Config::default(), false).await;
    let block = peer.request_block("/", &[("connection", "keep-alive")]);
    peer.send(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block))
        .await;
    peer.expect_reset(1, 0x1).await;
    peer.expect_served(3).await;
}

#[tokio::test]
async fn data_beyond_the_content_length_resets_the_stream() {
    let mut peer = Peer::connected(vh2::Config::default(), true).await;
    let block = peer.request_block("/", &[("content-length", "3")]);
    peer.send(&frame(HEADERS, END_HEADERS, 1, &block)).await;
    peer.send(&frame(DATA, END_STREAM, 1, b"four")).await;
    peer.expect_reset(1, 0x1).await;
}

#[tokio::test]
async fn streams_over_the_advertised_limit_are_refused() {
    let config = vh2::Config {
        max_concurrent_streams: 1,
        ..vh2::Config::default()
    };
    let mut peer = Peer::connected(config, true).await;
    // The server holds stream 1 open, so it still counts when stream 3 arrives.
    let block = peer.request_block("/a", &[]);
    peer.send(&frame(HEADERS, END_HEADERS, 1, &block)).await;
    let block = peer.request_block("/b", &[]);
    peer.send(&frame(HEADERS, END_HEADERS, 3, &block)).await;
    peer.expect_reset(3, 0x7).await;
}

#[tokio::test]
async fn data_on_an_idle_stream_is_a_connection_error() {
    let mut peer = Peer::connected(vh2::Config::default(), false).await;
    peer.send(&frame(DATA, 0, 5, b"x")).await;
    peer.expect_goaway(0x1).await;
}

#[tokio::test]
async fn a_window_past_two_to_the_31_is_a_flow_control_error() {
    let mut peer = Peer::connected(vh2::Config::default(), false).await;
    peer.send(&frame(WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes()))
        .await;
    peer.expect_goaway(0x3).await;
}

#[tokio::test]
async fn a_frame_over_the_maximum_size_is_a_connection_error() {
    let mut peer = Peer::connected(vh2::Config::default(), false).await;
    let block = peer.request_block("/", &[]);
    peer.send(&frame(HEADERS, END_HEADERS, 1, &block)).await;
    peer.send(&frame(DATA, 0, 1, &vec![0; 16_385])).await;
    loop {
        let f = peer.next_significant().await.expect("a frame");
        if f.kind == HEADERS || f.kind == RST_STREAM {
            continue;
        }
        assert_eq!(f.kind, GOAWAY);
        let code = u32::from_be_bytes([f.payload[4], f.payload[5], f.payload[6], f.payload[7]]);
        assert_eq!(code, 0x6);
        break;
    }
}

#[tokio::test]
async fn a_header_block_interrupted_by_another_frame_is_a_connection_error() {
    let mut peer = Peer::connected(vh2::Config::default(), false).await;
    let block = peer.request_block("/", &[]);
    peer.send(&frame(HEADERS, END_STREAM, 1, &block)).await;
    peer.send(&frame(PING, 0, 0, &[0; 8])).await;
    peer.expect_goaway(0x1).await;
}

#[tokio::test]
async fn data_past_a_stream_window_resets_only_that_stream() {
    let config = vh2::Config {
        stream_window: 1000,
        connection_window: 1 << 20,
        ..vh2::Config::default()
    };
    let mut peer = Peer::connected(config, true).await;
    let block = peer.request_block("/", &[]);
    peer.send(&frame(HEADERS, END_HEADERS, 1, &block)).await;
    peer.send(&frame(DATA, 0, 1, &[0; 1001])).await;
    peer.expect_reset(1, 0x3).await;
    // The connection's window is untouched by the reset stream's data: stream 3 still
    // gets its full window's worth accepted.
    let block = peer.request_block("/", &[]);
    peer.send(&frame(HEADERS, END_HEADERS, 3, &block)).await;
    peer.send(&frame(DATA, END_STREAM, 3, &[0; 1000])).await;
    peer.send(&frame(PING, 0, 0, b"pingpong")).await;
    let f = peer.next_significant().await.expect("ping ack");
    assert_eq!((f.kind, f.payload.as_slice()), (PING, &b"pingpong"[..]));
}

#[tokio::test]
async fn a_header_list_over_the_limit_gets_431() {
    let config = vh2::Config {
        max_header_list_size: 200,
        ..vh2::Config::default()
    };
    let mut peer = Peer::connected(config, false).await;
    let long = "v".repeat(300);
    let mut dst = BytesMut::new();
    let mut block = peer.encoder.block(&mut dst);
    block.pseudo(hpack::Pseudo::Method, b"GET");
    block.pseudo(hpack::Pseudo::Scheme, b"http");
    block.pseudo(hpack::Pseudo::Path, b"/");
    block.header(
        &HeaderName::from_static("x-long"),
        &HeaderValue::from_str(&long).expect("value"),
    );
    let block = dst.freeze();
    peer.send(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block))
        .await;
    let f = peer.next_significant().await.expect("response");
    assert_eq!((f.kind, f.stream), (HEADERS, 1));
    let mut decoder = hpack::Decoder::new(4096);
    let mut status = None;
    decoder
        .decode(&f.payload, 1 << 16, |field| {
            if let hpack::Field::Pseudo(hpack::Pseudo::Status, v) = field {
                status = Some(v);
            }
        })
        .expect("decodes");
    assert_eq!(status.as_ref().map(|v| v.as_bytes()), Some(&b"431"[..]));
    peer.expect_served(3).await;
}
