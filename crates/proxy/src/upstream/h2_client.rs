//! The HTTP/2 client side of a shared upstream connection (always between proxies), on
//! `verimesh_http2`. A request's own task opens its stream and queues its first body chunk,
//! and the wait for the response writes both in one write: the connection's task is not
//! involved in sending at all, and runs only to read what the peer sends back.

use super::conn_policy::ConnPolicy;
use super::UpstreamError;
use crate::body::Body;
use crate::h2_body::{RecvBody, SendBody};
use http::header::{self, HeaderValue};
use http::{Request, Response};
use hyper::body::Body as _;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use verimesh_http2::{Client, RecvStream, ResponseFuture};

/// Stream and connection receive windows: large enough that a response body between proxies
/// rarely waits for a WINDOW_UPDATE round trip.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 4 << 20;
/// The largest response header block accepted (hyper's default for its clients).
const MAX_HEADER_LIST: u32 = 16 << 10;

/// One HTTP/2 connection to an upstream endpoint, shared by every request to it.
pub struct H2Conn {
    client: Client,
    opened: Instant,
    /// Requests given this connection (`ConnPolicy::max_uses`).
    uses: AtomicU32,
}

impl H2Conn {
    /// Starts HTTP/2 over `io` and the task that reads the connection. The preface and
    /// settings go out with the first request.
    pub async fn handshake<T>(
        io: T,
        addr: SocketAddr,
        policy: &ConnPolicy,
    ) -> Result<H2Conn, UpstreamError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let config = verimesh_http2::Config {
            stream_window: STREAM_WINDOW,
            connection_window: CONNECTION_WINDOW,
            max_concurrent_streams: 1024,
            max_header_list_size: MAX_HEADER_LIST,
            keepalive: Some(policy.http2_keepalive),
            idle_timeout: Some(policy.http_idle),
            // Closed at its age even when no request comes to find it retired.
            max_age: policy.max_age,
        };
        let (client, conn) = verimesh_http2::client_handshake(io, config);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%addr, "upstream HTTP/2 connection: {e}");
            }
        });
        Ok(H2Conn {
            client,
            opened: Instant::now(),
            uses: AtomicU32::new(0),
        })
    }

    /// Counts one more request on the connection, unless it has served its count or its
    /// time: then the pool opens another.
    pub fn take_use(&self, policy: &ConnPolicy) -> bool {
        if policy.max_uses.is_none() && policy.max_age.is_none() {
            return true;
        }
        let uses = self.uses.load(Ordering::Relaxed);
        if policy.retired(self.opened, uses) {
            return false;
        }
        self.uses.store(uses + 1, Ordering::Relaxed);
        true
    }

    /// The connection failed, ended, or its peer said GOAWAY: the pool opens a new one.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Sends `req` (already in HTTP/2 form) and waits for the response head. A request body
    /// still arriving when the response comes (a streaming call) keeps being sent by a task
    /// of its own.
    pub async fn send(&self, req: Request<Body>) -> Result<Response<Body>, UpstreamError> {
        let (mut head, body) = req.into_parts();
        let end_of_stream = body.is_end_stream();
        if let Some(len) = body.size_hint().exact().filter(|n| *n > 0) {
            // A length the client did not state but the body knows (a buffered retry body).
            head.headers
                .entry(header::CONTENT_LENGTH)
                .or_insert_with(|| HeaderValue::from(len));
        }
        let (response, stream) = self
            .client
            .send_request(Request::from_parts(head, ()), end_of_stream)
            .await
            .map_err(failed)?;
        let mut exchange = InFlight {
            pump: (!end_of_stream).then(|| SendBody::new(body, stream)),
            response,
        };
        let resp = (&mut exchange).await.map_err(failed)?;
        if let Some(p) = exchange.pump {
            tokio::spawn(p);
        }
        Ok(resp.map(|stream| http_body_util::BodyExt::boxed(RecvBody::new(stream))))
    }
}

/// The error a failed request reports: a connection-wide failure (the transport, or the
/// connection ending) apart from a failure of the one stream (a reset by either side, or a
/// malformed response).
fn failed(e: verimesh_http2::Error) -> UpstreamError {
    let text = e.to_string();
    if e.is_connection_error() {
        UpstreamError::Terminated(text)
    } else {
        UpstreamError::Reset(text)
    }
}

/// A sent request: its body pumped (while there is any left) until the response head comes.
struct InFlight {
    pump: Option<SendBody>,
    response: ResponseFuture,
}

impl Future for &mut InFlight {
    type Output = Result<Response<RecvStream>, verimesh_http2::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut **self.get_mut();
        if let Some(p) = this.pump.as_mut() {
            if Pin::new(p).poll(cx).is_ready() {
                this.pump = None;
            }
        }
        Pin::new(&mut this.response).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::recorded_io::{Fed, Recorded};
    use bytes::Bytes;
    use h2::RecvStream;
    use http_body_util::BodyExt;
    use std::sync::{Arc, Mutex};

    /// A request body read through the `h2` server that plays the upstream proxy here.
    async fn h2_body(mut body: RecvStream) -> Bytes {
        let mut out = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.expect("body");
            let _ = body.flow_control().release_capacity(chunk.len());
            out.extend_from_slice(&chunk);
        }
        out.into()
    }

    /// The type, flags and payload length of each frame in some bytes of HTTP/2 frames.
    fn frame_heads(bytes: &[u8]) -> Vec<(u8, u8, usize)> {
        let mut out = Vec::new();
        // The connection preface goes out with the first request.
        let mut rest = bytes
            .strip_prefix(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".as_slice())
            .unwrap_or(bytes);
        while rest.len() >= 9 {
            let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            out.push((rest[3], rest[4], len));
            rest = &rest[(9 + len).min(rest.len())..];
        }
        out
    }

    /// The frame types (and whether END_STREAM is set) in some bytes of HTTP/2 frames.
    fn frames(bytes: &[u8]) -> Vec<(u8, bool)> {
        frame_heads(bytes)
            .into_iter()
            .map(|(kind, flags, _)| (kind, flags & 0x1 != 0))
            .collect()
    }

    type Served = tokio::sync::mpsc::UnboundedReceiver<(
        Request<RecvStream>,
        h2::server::SendResponse<Bytes>,
    )>;

    /// A client over a recorded in-memory connection to an h2 server whose requests come out
    /// of the returned channel.
    async fn pair() -> (H2Conn, Arc<Mutex<Vec<Vec<u8>>>>, Served) {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let writes = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut server = h2::server::handshake(server_io)
                .await
                .expect("server handshake");
            while let Some(Ok(exchange)) = server.accept().await {
                if tx.send(exchange).is_err() {
                    break;
                }
            }
        });
        let recorded = Recorded {
            inner: client_io,
            writes: writes.clone(),
        };
        let policy = ConnPolicy::new(&verimesh_model::ConnectionOptions::default());
        let conn = H2Conn::handshake(recorded, SocketAddr::from(([127, 0, 0, 1], 1)), &policy)
            .await
            .expect("client handshake");
        (conn, writes, rx)
    }

    fn request(body: Body) -> Request<Body> {
        Request::post("http://web.test/echo")
            .body(body)
            .expect("request")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_with_its_body_at_hand_leaves_in_one_write() {
        let (conn, writes, mut served) = pair().await;
        // A first exchange settles the connection preface and settings.
        let first = tokio::spawn(async move {
            let (_, mut respond) = served.recv().await.expect("first request");
            respond
                .send_response(Response::new(()), true)
                .expect("respond");
            served
        });
        let resp = conn
            .send(request(crate::body::empty()))
            .await
            .expect("first");
        assert_eq!(resp.status(), 200);
        let mut served = first.await.expect("server");
        writes.lock().expect("writes").clear();

        let body = vec![b'x'; 1024];
        let sending = conn.send(request(crate::body::full(body.clone())));
        let serving = async {
            let (req, mut respond) = served.recv().await.expect("second request");
            let got = h2_body(req.into_body()).await;
            respond
                .send_response(Response::new(()), true)
                .expect("respond");
            got
        };
        let (resp, got) = tokio::join!(sending, serving);
        assert_eq!(resp.expect("second").status(), 200);
        assert_eq!(got.as_ref(), body.as_slice());
        let writes = writes.lock().expect("writes").clone();
        let request_writes: Vec<_> = writes
            .iter()
            .filter(|w| frames(w).iter().any(|(t, _)| *t == 0x1 || *t == 0x0))
            .collect();
        assert_eq!(
            request_writes.len(),
            1,
            "HEADERS and DATA in one write: {writes:?}"
        );
        assert_eq!(frames(request_writes[0]), vec![(0x1, false), (0x0, true)]);
    }

    /// A request id is new on every request, so HPACK must not add it to the connection's
    /// table: sent twice, it is spelled out both times, where a header that is indexed costs
    /// one byte the second time.
    #[tokio::test(flavor = "current_thread")]
    async fn request_ids_are_never_indexed() {
        let (conn, writes, mut served) = pair().await;
        let server = tokio::spawn(async move {
            while let Some((_, mut respond)) = served.recv().await {
                let _ = respond.send_response(Response::new(()), true);
            }
        });
        let mut ids = http::HeaderMap::new();
        crate::http::headers::request_id(&mut ids, false);
        let mut blocks = Vec::new();
        for _ in 0..2 {
            writes.lock().expect("writes").clear();
            let mut req = request(crate::body::empty());
            req.headers_mut().extend(ids.clone());
            assert_eq!(conn.send(req).await.expect("response").status(), 200);
            let written = writes.lock().expect("writes").concat();
            let heads = frame_heads(&written);
            blocks.extend(heads.iter().filter(|h| h.0 == 0x1).map(|h| h.2));
        }
        assert_eq!(blocks.len(), 2, "{blocks:?}");
        // Spelled out, the 36-character id takes at least 22 bytes (even Huffman-coded).
        assert!(blocks[1] >= 22, "the id was indexed: {blocks:?}");
        server.abort();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_body_still_streaming_when_the_response_comes_keeps_flowing() {
        let (conn, _writes, mut served) = pair().await;
        let (chunks, rx) = tokio::sync::mpsc::unbounded_channel();
        chunks.send(Bytes::from_static(b"one ")).expect("chunk");
        let server = tokio::spawn(async move {
            let (req, mut respond) = served.recv().await.expect("request");
            // Answer before the body ends, as a bidirectional stream does.
            respond
                .send_response(Response::new(()), true)
                .expect("respond");
            h2_body(req.into_body()).await
        });
        let resp = conn
            .send(request(Fed(rx).boxed()))
            .await
            .expect("response before the body ended");
        assert_eq!(resp.status(), 200);
        chunks.send(Bytes::from_static(b"two")).expect("chunk");
        drop(chunks);
        let got = server.await.expect("server");
        assert_eq!(got.as_ref(), b"one two");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_reset_stream_fails_its_request_and_spares_the_connection() {
        let (conn, _writes, mut served) = pair().await;
        let server = tokio::spawn(async move {
            let (_, mut respond) = served.recv().await.expect("first request");
            respond.send_reset(h2::Reason::INTERNAL_ERROR);
            let (_, mut respond) = served.recv().await.expect("second request");
            respond
                .send_response(Response::new(()), true)
                .expect("respond");
        });
        let first = conn.send(request(crate::body::empty())).await;
        assert!(matches!(first, Err(UpstreamError::Reset(_))), "{first:?}");
        assert!(!conn.is_closed());
        let second = conn.send(request(crate::body::empty())).await;
        assert_eq!(second.expect("second request").status(), 200);
        server.await.expect("server");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_that_ended_says_so_and_fails_requests() {
        let (conn, _writes, served) = pair().await;
        drop(served);
        // The server task ends when it cannot hand over the request; its connection drops.
        let sent = conn.send(request(crate::body::empty())).await;
        assert!(sent.is_err(), "{sent:?}");
        for _ in 0..100 {
            if conn.is_closed() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the connection never reported closing");
    }
}
