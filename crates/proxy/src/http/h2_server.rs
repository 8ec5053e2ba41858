//! The HTTP/2 server for mesh connections into the workload (from other proxies, and h2c
//! from plain clients when mTLS is permissive), on `verimesh_http2`. The connection's task
//! runs its streams itself — a request is handled, and sent on to the application, in the
//! same task poll that read it; its response is queued by the stream that made it, in the
//! poll that received it, and the responses of every stream polled in one turn leave in one
//! write. Streams still run concurrently: each is a future of its own, polled when woken.

use crate::body::Body;
use crate::h2_body::{RecvBody, SendBody};
use futures_util::stream::{FuturesUnordered, StreamExt};
use http::header::{self, HeaderValue};
use http::{Request, Response};
use hyper::body::Body as _;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};
use verimesh_http2::{Reason, SendResponse};

/// Windows as the mesh client's, so neither side's body waits for a WINDOW_UPDATE.
const STREAM_WINDOW: u32 = 1 << 20;
const CONNECTION_WINDOW: u32 = 4 << 20;
/// Streams a peer may have open at once (what the hyper server was configured with).
const MAX_CONCURRENT_STREAMS: u32 = 1024;
/// The largest request header block accepted (hyper's server default).
const MAX_HEADER_LIST: u32 = 16 << 10;

/// Serves one HTTP/2 connection until the peer closes it or it fails.
pub async fn serve<I, F, Fut>(io: I, handler: F) -> Result<(), verimesh_http2::Error>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<RecvBody>) -> Fut,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let config = verimesh_http2::Config {
        stream_window: STREAM_WINDOW,
        connection_window: CONNECTION_WINDOW,
        max_concurrent_streams: MAX_CONCURRENT_STREAMS,
        max_header_list_size: MAX_HEADER_LIST,
        // A client proxy that vanished with streams open is found by PINGs; the client
        // pings an idle connection itself, so these go out only while it is silent.
        keepalive: Some(crate::upstream::MESH_KEEPALIVE),
        idle_timeout: None,
        max_age: None,
    };
    let mut conn = verimesh_http2::server_handshake(io, config);
    let mut streams = FuturesUnordered::new();
    let mut accepting = true;
    poll_fn(|cx| loop {
        // Streams first, their responses and body data written together when all are
        // polled.
        conn.batch_writes(|| while let Poll::Ready(Some(())) = streams.poll_next_unpin(cx) {});
        if !accepting {
            // The peer said goodbye: finish the streams in flight, then the connection.
            return match conn.poll_closed(cx) {
                Poll::Ready(result) if streams.is_empty() => Poll::Ready(result),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Pending,
            };
        }
        match conn.poll_accept(cx) {
            Poll::Ready(Some(Ok((req, respond)))) => {
                let req = req.map(RecvBody::new);
                // The handler's state machine (kilobytes) is boxed where it is made and
                // never moved after; the stream's own future, which `FuturesUnordered`
                // moves into its task, stays small.
                streams.push(stream(Box::pin(handler(req)), respond));
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
            Poll::Ready(None) => accepting = false,
            Poll::Pending => return Poll::Pending,
        }
    })
    .await
}

/// One stream: the handler's response sent back, its body pumped as window allows. A peer
/// that resets the stream while the response is being made cancels the handler.
async fn stream<Fut>(mut handler: Pin<Box<Fut>>, mut respond: SendResponse)
where
    Fut: Future<Output = Response<Body>>,
{
    let resp = poll_fn(|cx: &mut Context<'_>| {
        if let Poll::Ready(resp) = handler.as_mut().poll(cx) {
            return Poll::Ready(Some(resp));
        }
        match respond.poll_reset(cx) {
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    let Some(resp) = resp else {
        tracing::debug!("stream reset by the peer before its response");
        return;
    };
    let (mut head, body) = resp.into_parts();
    strip_connection_headers(&mut head.headers);
    let end = body.is_end_stream();
    if !end {
        if let Some(len) = body.size_hint().exact() {
            head.headers
                .entry(header::CONTENT_LENGTH)
                .or_insert_with(|| HeaderValue::from(len));
        }
    }
    match respond.send_response(Response::from_parts(head, ()), end) {
        Ok(send) if !end => SendBody::new(body, send).await,
        Ok(_) => {}
        Err(e) => {
            tracing::debug!("sending a response: {e}");
            respond.send_reset(Reason::INTERNAL_ERROR);
        }
    }
}

/// HTTP/2 has no connection-specific headers (RFC 9113 section 8.2.2); a response that came
/// from HTTP/1.1 may carry them, and `h2` refuses to send them.
fn strip_connection_headers(headers: &mut http::HeaderMap) {
    crate::http::forward::strip_hop_by_hop(headers);
    headers.remove(header::TE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// An `h2` client over an in-memory pipe to `serve` with `handler`.
    async fn client<F, Fut>(handler: F) -> h2::client::SendRequest<Bytes>
    where
        F: Fn(Request<RecvBody>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Body>> + Send + 'static,
    {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            let _ = serve(server_io, handler).await;
        });
        let (sender, conn) = h2::client::handshake(client_io).await.expect("handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        sender
    }

    async fn echo(req: Request<RecvBody>) -> Response<Body> {
        let (head, body) = req.into_parts();
        let (data, trailers) = crate::body::collect_limited(body.boxed(), 1 << 20)
            .await
            .expect("body");
        let mut resp = Response::new(crate::body::full(data));
        resp.headers_mut().insert(
            "x-path",
            HeaderValue::from_str(head.uri.path()).expect("path"),
        );
        // An HTTP/1.1-style header, as a response from the application may carry.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
        if let Some(t) = trailers {
            resp.headers_mut().extend(t);
        }
        resp
    }

    async fn call(
        sender: &mut h2::client::SendRequest<Bytes>,
        path: &str,
        body: &'static [u8],
    ) -> (Response<()>, Bytes) {
        let mut ready = sender.clone().ready().await.expect("ready");
        let req = Request::post(format!("http://app.test{path}"))
            .body(())
            .expect("request");
        let (resp, mut send) = ready.send_request(req, false).expect("send");
        send.send_data(Bytes::from_static(body), true)
            .expect("data");
        let resp = resp.await.expect("response");
        let (head, mut recv) = resp.into_parts();
        let mut data = Vec::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.expect("body");
            let _ = recv.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        (Response::from_parts(head, ()), data.into())
    }

    #[tokio::test(flavor = "current_thread")]
    async fn requests_are_served_with_their_bodies_and_connection_headers_dropped() {
        let mut sender = client(echo).await;
        let (head, data) = call(&mut sender, "/one", b"hello").await;
        assert_eq!(head.status(), 200);
        assert_eq!(head.headers()["x-path"], "/one");
        assert_eq!(head.headers()["content-length"], "5");
        assert!(head.headers().get("connection").is_none());
        assert_eq!(data, "hello");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn streams_run_concurrently_on_one_connection() {
        // The first request waits until the second has been handled: served one after the
        // other, it would never finish.
        let gate = Arc::new(tokio::sync::Notify::new());
        let served = Arc::new(AtomicUsize::new(0));
        let (g, s) = (gate.clone(), served.clone());
        let handler = move |req: Request<RecvBody>| {
            let (g, s) = (g.clone(), s.clone());
            async move {
                if req.uri().path() == "/wait" {
                    g.notified().await;
                } else {
                    g.notify_one();
                }
                s.fetch_add(1, Ordering::SeqCst);
                Response::new(crate::body::full("done"))
            }
        };
        let sender = client(handler).await;
        let (mut a, mut b) = (sender.clone(), sender.clone());
        let first = tokio::spawn(async move { call(&mut a, "/wait", b"").await });
        tokio::task::yield_now().await;
        let second = tokio::spawn(async move { call(&mut b, "/go", b"").await });
        let timeout = std::time::Duration::from_secs(5);
        let (one, two) = tokio::time::timeout(timeout, async {
            (first.await.expect("first"), second.await.expect("second"))
        })
        .await
        .expect("both answered");
        assert_eq!(one.1, "done");
        assert_eq!(two.1, "done");
        assert_eq!(served.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stream_reset_by_the_peer_cancels_its_handler() {
        let (tx, mut dropped) = tokio::sync::mpsc::unbounded_channel::<()>();
        struct Guard(tokio::sync::mpsc::UnboundedSender<()>);
        impl Drop for Guard {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let handler = move |_req: Request<RecvBody>| {
            let guard = Guard(tx.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Response::new(crate::body::empty())
            }
        };
        let sender = client(handler).await;
        let mut ready = sender.ready().await.expect("ready");
        let req = Request::get("http://app.test/slow")
            .body(())
            .expect("request");
        let (_resp, mut send) = ready.send_request(req, true).expect("send");
        tokio::task::yield_now().await;
        send.send_reset(h2::Reason::CANCEL);
        tokio::time::timeout(std::time::Duration::from_secs(5), dropped.recv())
            .await
            .expect("handler dropped after the reset");
    }
}
