//! The frame layer (RFC 9113 sections 4 and 6): the 9-byte frame header, and writers that
//! append whole frames to a connection's output buffer.

use crate::error::Reason;
use bytes::{BufMut, BytesMut};

pub const HEADER_LEN: usize = 9;
/// The client connection preface (section 3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// SETTINGS_MAX_FRAME_SIZE's initial value and floor (section 6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The largest window a sender may have (section 6.9.1).
pub const MAX_WINDOW: i64 = (1 << 31) - 1;
/// Every window starts here, the connection's included (section 6.9.2).
pub const DEFAULT_WINDOW: u32 = 65_535;

pub mod kind {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const PRIORITY: u8 = 0x2;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const PUSH_PROMISE: u8 = 0x5;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const WINDOW_UPDATE: u8 = 0x8;
    pub const CONTINUATION: u8 = 0x9;
}

pub mod flag {
    pub const END_STREAM: u8 = 0x1;
    pub const ACK: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const PADDED: u8 = 0x8;
    pub const PRIORITY: u8 = 0x20;
}

/// A frame's fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
}

impl Head {
    /// Parses the header at the start of `buf` (at least `HEADER_LEN` bytes).
    pub fn parse(buf: &[u8]) -> Option<Head> {
        let b: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Head {
            len: usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]),
            kind: b[3],
            flags: b[4],
            // The reserved bit is ignored on receipt (section 4.1).
            stream: u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff,
        })
    }

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

/// Appends a frame header.
pub fn put_head(dst: &mut BytesMut, len: usize, kind: u8, flags: u8, stream: u32) {
    dst.put_slice(&head_bytes(len, kind, flags, stream));
}

/// A frame header's bytes (for writing over room left for it).
pub fn head_bytes(len: usize, kind: u8, flags: u8, stream: u32) -> [u8; HEADER_LEN] {
    debug_assert!(len <= MAX_MAX_FRAME_SIZE as usize);
    let len = len as u32;
    let id = (stream & 0x7fff_ffff).to_be_bytes();
    [
        (len >> 16) as u8,
        (len >> 8) as u8,
        len as u8,
        kind,
        flags,
        id[0],
        id[1],
        id[2],
        id[3],
    ]
}

/// Removes padding (section 6.1) from a DATA or HEADERS payload; `None` when the pad length
/// runs past the payload, a PROTOCOL_ERROR.
pub fn strip_padding(head: &Head, payload: &mut bytes::Bytes) -> Option<()> {
    if !head.has(flag::PADDED) {
        return Some(());
    }
    let pad = usize::from(*payload.first()?);
    let body_len = payload.len().checked_sub(1 + pad)?;
    *payload = payload.slice(1..1 + body_len);
    Some(())
}

/// A header block as HEADERS then CONTINUATION frames, each at most `max_frame` long.
pub fn put_header_block(
    dst: &mut BytesMut,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame: usize,
) {
    let mut chunks = block.chunks(max_frame.max(1));
    let first = chunks.next().unwrap_or(&[]);
    let more = block.len() > first.len();
    let mut flags = if end_stream { flag::END_STREAM } else { 0 };
    if !more {
        flags |= flag::END_HEADERS;
    }
    put_head(dst, first.len(), kind::HEADERS, flags, stream);
    dst.put_slice(first);
    let mut rest = chunks.peekable();
    while let Some(chunk) = rest.next() {
        let flags = if rest.peek().is_none() {
            flag::END_HEADERS
        } else {
            0
        };
        put_head(dst, chunk.len(), kind::CONTINUATION, flags, stream);
        dst.put_slice(chunk);
    }
}

pub fn put_data(dst: &mut BytesMut, stream: u32, data: &[u8], end_stream: bool) {
    let flags = if end_stream { flag::END_STREAM } else { 0 };
    put_head(dst, data.len(), kind::DATA, flags, stream);
    dst.put_slice(data);
}

pub fn put_window_update(dst: &mut BytesMut, stream: u32, increment: u32) {
    put_head(dst, 4, kind::WINDOW_UPDATE, 0, stream);
    dst.put_u32(increment & 0x7fff_ffff);
}

pub fn put_rst_stream(dst: &mut BytesMut, stream: u32, reason: Reason) {
    put_head(dst, 4, kind::RST_STREAM, 0, stream);
    dst.put_u32(reason.0);
}

pub fn put_ping(dst: &mut BytesMut, payload: [u8; 8], ack: bool) {
    put_head(dst, 8, kind::PING, if ack { flag::ACK } else { 0 }, 0);
    dst.put_slice(&payload);
}

pub fn put_goaway(dst: &mut BytesMut, last_stream: u32, reason: Reason, debug: &[u8]) {
    put_head(dst, 8 + debug.len(), kind::GOAWAY, 0, 0);
    dst.put_u32(last_stream & 0x7fff_ffff);
    dst.put_u32(reason.0);
    dst.put_slice(debug);
}

/// A 31-bit big-endian value at the start of a payload (stream ids, window increments).
pub fn read_u31(payload: &[u8]) -> Option<u32> {
    let b: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b) & 0x7fff_ffff)
}

pub fn read_u32(payload: &[u8]) -> Option<u32> {
    let b: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_head_round_trips_and_ignores_the_reserved_bit() {
        let mut buf = BytesMut::new();
        put_head(&mut buf, 0x01_02_03, kind::HEADERS, flag::END_HEADERS, 7);
        let mut bytes = buf.to_vec();
        assert_eq!(bytes, [1, 2, 3, 1, 4, 0, 0, 0, 7]);
        bytes[5] |= 0x80;
        let head = Head::parse(&bytes).expect("head");
        assert_eq!(
            head,
            Head {
                len: 0x01_02_03,
                kind: kind::HEADERS,
                flags: flag::END_HEADERS,
                stream: 7
            }
        );
        assert!(Head::parse(&bytes[..8]).is_none());
    }

    #[test]
    fn a_large_header_block_is_split_into_continuations() {
        let block = vec![0xaa; 40];
        let mut buf = BytesMut::new();
        put_header_block(&mut buf, 3, &block, true, 16);
        let mut rest = &buf[..];
        let mut seen = Vec::new();
        while let Some(h) = Head::parse(rest) {
            seen.push((h.kind, h.flags, h.len));
            rest = &rest[HEADER_LEN + h.len..];
        }
        assert_eq!(
            seen,
            vec![
                (kind::HEADERS, flag::END_STREAM, 16),
                (kind::CONTINUATION, 0, 16),
                (kind::CONTINUATION, flag::END_HEADERS, 8),
            ]
        );
    }

    #[test]
    fn padding_is_removed_and_overlong_padding_refused() {
        let head = Head {
            len: 6,
            kind: kind::DATA,
            flags: flag::PADDED,
            stream: 1,
        };
        let mut payload = bytes::Bytes::from_static(&[2, b'h', b'i', b'!', 0, 0]);
        strip_padding(&head, &mut payload).expect("valid padding");
        assert_eq!(&payload[..], b"hi!");
        let mut bad = bytes::Bytes::from_static(&[9, b'h', 0]);
        assert!(strip_padding(&head, &mut bad).is_none());
    }
}
