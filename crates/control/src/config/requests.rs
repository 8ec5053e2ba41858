//! The requests of a config stream (hello, ACKs, NACKs) decoded from the HTTP/2 request body.
//!
//! Why not tonic's `Streaming`: its buffer keeps the capacity of the largest message for the
//! life of the stream, and the largest is the hello, which after a reconnect names every
//! resource the proxy holds (some 200 KB in a mesh of 1,000 services) — a thousand proxies
//! reconnecting to a restarted control plane would hold 200 MB of empty buffers. Here the
//! buffer goes with the message it held (what arrived of the next message is moved to a buffer of
//! its own size).

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Body;
use prost::Message;
use std::pin::Pin;
use tonic::Status;
use verimesh_api::config::v1::ConfigRequest;

/// gRPC's message prefix: a compression flag and a big-endian length.
const PREFIX: usize = 5;

/// A buffer larger than this is replaced after a message unless it holds more than this.
const KEEP: usize = 8 << 10;

/// A stream's requests, one message at a time.
pub(crate) struct Requests {
    body: Pin<Box<UnsyncBoxBody<Bytes, Status>>>,
    buf: BytesMut,
    max_message: usize,
}

impl Requests {
    pub(crate) fn new<B>(body: B, max_message: usize) -> Self
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Self {
            body: Box::pin(
                body.map_err(|e| Status::from_error(e.into()))
                    .boxed_unsync(),
            ),
            buf: BytesMut::new(),
            max_message: max_message.max(1),
        }
    }

    /// The next request, or `None` when the proxy ended its side. Cancel safe: what has
    /// arrived stays buffered for the next call.
    pub(crate) async fn message(&mut self) -> Result<Option<ConfigRequest>, Status> {
        loop {
            if let Some(request) = self.decode()? {
                return Ok(Some(request));
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    // Trailers carry nothing for us; the stream ends after them.
                    if let Ok(mut data) = frame.into_data() {
                        self.buf.reserve(data.remaining());
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            self.buf.extend_from_slice(chunk);
                            let n = chunk.len();
                            data.advance(n);
                        }
                    }
                }
                Some(Err(status)) => return Err(status),
                None if self.buf.is_empty() => return Ok(None),
                None => return Err(Status::internal("the request ended inside a message")),
            }
        }
    }

    /// One whole message off the buffer, if there is one.
    fn decode(&mut self) -> Result<Option<ConfigRequest>, Status> {
        let Some(prefix) = self.buf.get(..PREFIX) else {
            return Ok(None);
        };
        if prefix[0] != 0 {
            return Err(Status::unimplemented(
                "compressed requests are not accepted",
            ));
        }
        let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
        if len > self.max_message {
            return Err(Status::resource_exhausted(format!(
                "a request of {len} bytes is over the limit of {}",
                self.max_message
            )));
        }
        if self.buf.len() < PREFIX + len {
            // Room for the rest at once, rather than growing step by step.
            self.buf.reserve(PREFIX + len - self.buf.len());
            return Ok(None);
        }
        let message = self.buf.split_to(PREFIX + len);
        if self.buf.capacity() > KEEP && self.buf.len() <= KEEP {
            // Let the large allocation go with `message` (see the module comment); what
            // arrived of the next message moves to a buffer of its size.
            self.buf = BytesMut::from(&self.buf[..]);
        }
        ConfigRequest::decode(&message[PREFIX..])
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("a request does not decode: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};
    use hyper::body::Frame;
    use verimesh_api::config::v1::config_request::Kind;
    use verimesh_api::config::v1::{Ack, Hello, ResourceVersion};

    fn framed(request: &ConfigRequest) -> Vec<u8> {
        let body = request.encode_to_vec();
        let mut out = vec![0];
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend(body);
        out
    }

    fn hello(resources: usize) -> ConfigRequest {
        ConfigRequest {
            kind: Some(Kind::Hello(Hello {
                name: "web-0".into(),
                namespace: "default".into(),
                running_version: "v1".into(),
                resources: (0..resources)
                    .map(|i| ResourceVersion {
                        name: format!("service/s{i}.default.svc.cluster.local"),
                        version: format!("{i:032x}"),
                    })
                    .collect(),
            })),
        }
    }

    fn ack(nonce: &str) -> ConfigRequest {
        ConfigRequest {
            kind: Some(Kind::Ack(Ack {
                version: "v1".into(),
                nonce: nonce.into(),
            })),
        }
    }

    /// A body delivering `bytes` in chunks of `size`.
    fn chunked(bytes: Vec<u8>, size: usize) -> Requests {
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = bytes
            .chunks(size)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        Requests::new(StreamBody::new(tokio_stream::iter(frames)), 1 << 20)
    }

    #[tokio::test]
    async fn messages_split_and_joined_across_frames_decode_and_the_buffer_is_let_go() {
        let big = hello(2000);
        let mut bytes = framed(&big);
        bytes.extend(framed(&ack("1")));
        bytes.extend(framed(&ack("2")));
        for size in [1, 7, 4096, bytes.len()] {
            let mut requests = chunked(bytes.clone(), size);
            assert_eq!(requests.message().await.unwrap(), Some(big.clone()));
            // The big hello's buffer is gone, not kept for the acks.
            assert!(
                requests.buf.capacity() <= KEEP,
                "{}",
                requests.buf.capacity()
            );
            assert_eq!(requests.message().await.unwrap(), Some(ack("1")));
            assert_eq!(requests.message().await.unwrap(), Some(ack("2")));
            assert_eq!(requests.message().await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn oversized_compressed_and_truncated_requests_are_errors() {
        let bytes = framed(&hello(100));
        let mut requests = Requests::new(Full::new(Bytes::from(bytes.clone())), 64);
        let err = requests.message().await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);

        let mut compressed = bytes.clone();
        compressed[0] = 1;
        let err = chunked(compressed, 100).message().await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented);

        let err = chunked(bytes[..bytes.len() - 1].to_vec(), 100)
            .message()
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Internal);
    }
}
