//! Config responses as gRPC message bytes built from shared pieces, so that one encoding of a
//! resource (or of a whole outbound view) is referenced by every stream sending it instead of
//! copied into each stream's buffer.
//!
//! Why not tonic's encoder: it copies each message into a per-stream buffer that keeps the
//! capacity of the largest message for the life of the stream, so a thousand proxies that
//! once received a 1 MB config held a gigabyte between them. Here a response is a list of
//! `Bytes`: a small head of its own (version, nonce, …) and the shared encodings, which
//! hyper/h2 write without copying; what a stream holds is reference counts.
//!
//! The bytes are exactly what prost encodes for the same `ConfigResponse` (fields in number
//! order; tested in `tests`), so the proxy decodes them with its generated code.

use bytes::{BufMut, Bytes, BytesMut};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

/// Field numbers of `ConfigResponse` and `Resource` (proto/verimesh/config/v1/config.proto).
mod field {
    pub(super) const VERSION: u32 = 1;
    pub(super) const NONCE: u32 = 2;
    pub(super) const FULL: u32 = 4;
    pub(super) const BASE_VERSION: u32 = 5;
    pub(super) const RESOURCES: u32 = 6;
    pub(super) const REMOVED: u32 = 7;
    pub(super) const RESOURCE_NAME: u32 = 1;
    pub(super) const RESOURCE_VERSION: u32 = 2;
    pub(super) const RESOURCE_JSON: u32 = 3;
}

/// Shared pieces shorter than this are copied into the response's own bytes: a piece of its
/// own costs a `Bytes` and an HTTP/2 DATA frame header, more than copying a small one.
const SHARE_FROM: usize = 2048;

/// The encoding of one `resources` entry of a `ConfigResponse` (tag, length, and the
/// `Resource` message).
pub(crate) fn resource_entry(name: &str, version: &str, json: &[u8]) -> Bytes {
    let fields = string_field_len(field::RESOURCE_NAME, name)
        + string_field_len(field::RESOURCE_VERSION, version)
        + string_field_len(field::RESOURCE_JSON, json);
    let mut buf = BytesMut::with_capacity(1 + encoded_len_varint(fields as u64) + fields + 4);
    encode_key(field::RESOURCES, WireType::LengthDelimited, &mut buf);
    encode_varint(fields as u64, &mut buf);
    put_string(&mut buf, field::RESOURCE_NAME, name.as_bytes());
    put_string(&mut buf, field::RESOURCE_VERSION, version.as_bytes());
    put_string(&mut buf, field::RESOURCE_JSON, json);
    buf.freeze()
}

/// One gRPC message (the 5-byte prefix and a `ConfigResponse`) as chunks to write in order.
#[derive(Debug, Default)]
pub(crate) struct Message {
    pub(crate) chunks: Vec<Bytes>,
}

impl Message {
    /// Bytes on the wire (before TLS and HTTP/2 framing).
    pub(crate) fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }
}

/// Builds one response message in field order: [`Self::head`] first, then resource entries,
/// then removed names.
#[derive(Debug, Default)]
pub(crate) struct ResponseWriter {
    done: Vec<Bytes>,
    open: BytesMut,
}

impl ResponseWriter {
    /// Fields 1–5. Empty strings and `false` are left out, as prost does.
    pub(crate) fn head(version: &str, nonce: &str, full: bool, base_version: &str) -> Self {
        let mut w = Self::default();
        for (tag, value) in [(field::VERSION, version), (field::NONCE, nonce)] {
            put_string(&mut w.open, tag, value.as_bytes());
        }
        if full {
            encode_key(field::FULL, WireType::Varint, &mut w.open);
            w.open.put_u8(1);
        }
        put_string(&mut w.open, field::BASE_VERSION, base_version.as_bytes());
        w
    }

    /// Already-encoded `resources` entries (one, or several back to back).
    pub(crate) fn entries(&mut self, encoded: &Bytes) {
        if encoded.len() < SHARE_FROM {
            self.open.extend_from_slice(encoded);
            return;
        }
        if !self.open.is_empty() {
            self.done.push(self.open.split().freeze());
        }
        self.done.push(encoded.clone());
    }

    /// One `removed` name.
    pub(crate) fn removed(&mut self, name: &str) {
        put_string_always(&mut self.open, field::REMOVED, name.as_bytes());
    }

    /// The message with its gRPC prefix (uncompressed, then the length).
    pub(crate) fn finish(mut self) -> Message {
        if !self.open.is_empty() {
            self.done.push(self.open.split().freeze());
        }
        let len: usize = self.done.iter().map(Bytes::len).sum();
        let mut chunks = Vec::with_capacity(self.done.len());
        let mut parts = self.done.into_iter();
        // The prefix joins the first chunk when that one is small (the usual head).
        let first = parts.next().unwrap_or_default();
        let mut prefix = BytesMut::with_capacity(5 + first.len().min(SHARE_FROM));
        prefix.put_u8(0);
        prefix.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
        if first.len() < SHARE_FROM {
            prefix.extend_from_slice(&first);
            chunks.push(prefix.freeze());
        } else {
            chunks.push(prefix.freeze());
            chunks.push(first);
        }
        chunks.extend(parts);
        Message { chunks }
    }
}

fn string_field_len(tag: u32, value: impl AsRef<[u8]>) -> usize {
    let len = value.as_ref().len();
    if len == 0 {
        return 0;
    }
    prost::encoding::key_len(tag) + encoded_len_varint(len as u64) + len
}

/// A singular proto3 string/bytes field: left out when empty.
fn put_string(buf: &mut BytesMut, tag: u32, value: &[u8]) {
    if !value.is_empty() {
        put_string_always(buf, tag, value);
    }
}

/// An element of a repeated string field: always written.
fn put_string_always(buf: &mut BytesMut, tag: u32, value: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(value.len() as u64, buf);
    buf.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use verimesh_api::config::v1::{ConfigResponse, Resource};

    fn resource(name: &str, json_len: usize) -> Resource {
        Resource {
            name: name.into(),
            version: format!("v-{name}"),
            json: Bytes::from(vec![b'x'; json_len]),
        }
    }

    fn ours(r: &ConfigResponse) -> Vec<u8> {
        let mut w = ResponseWriter::head(&r.version, &r.nonce, r.full, &r.base_version);
        for res in &r.resources {
            w.entries(&resource_entry(&res.name, &res.version, &res.json));
        }
        for name in &r.removed {
            w.removed(name);
        }
        let m = w.finish();
        let bytes: Vec<u8> = m.chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(bytes.len(), m.len());
        bytes
    }

    fn prost_framed(r: &ConfigResponse) -> Vec<u8> {
        let body = r.encode_to_vec();
        let mut out = vec![0];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn responses_encode_as_prost_does() {
        let cases = [
            ConfigResponse::default(),
            ConfigResponse {
                version: "v2".into(),
                nonce: "7".into(),
                full: true,
                resources: vec![resource("core", 10), resource("service/a", 5000)],
                ..Default::default()
            },
            ConfigResponse {
                version: "v3".into(),
                nonce: "8".into(),
                base_version: "v2".into(),
                resources: vec![
                    resource("cluster/x", 0),
                    resource("service/b", 300),
                    resource("service/c", 70_000),
                ],
                removed: vec!["service/a".into(), String::new()],
                ..Default::default()
            },
        ];
        for r in cases {
            assert_eq!(ours(&r), prost_framed(&r), "{r:?}");
        }
    }

    #[test]
    fn large_entries_are_shared_not_copied() {
        let big = resource("service/big", 100_000);
        let entry = resource_entry(&big.name, &big.version, &big.json);
        let mut w = ResponseWriter::head("v1", "1", true, "");
        w.entries(&entry);
        let m = w.finish();
        assert!(
            m.chunks.iter().any(|c| c.as_ptr() == entry.as_ptr()),
            "the shared entry is one of the chunks"
        );
        // Prefix and head in one chunk, the shared entry in the next.
        assert_eq!(m.chunks.len(), 2);
    }
}
