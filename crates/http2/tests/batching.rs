//! A server whose streams are polled from the connection's own task can hold their writes
//! and send what they queued in one write: several responses ready in the same turn cost
//! one TLS record and one system call instead of one each.

use bytes::Bytes;
use http::{Request, Response};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use verimesh_http2 as vh2;

const LIMIT: Duration = Duration::from_secs(10);
const REQUESTS: usize = 3;

/// A pipe end that counts the writes that moved bytes.
struct CountingIo {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for CountingIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let done = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(done, Poll::Ready(Ok(n)) if n > 0) {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        done
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Sends `REQUESTS` requests, has the server accept them all, then answers them together
/// (with a body each, so every answer is HEADERS and DATA) inside `batch_writes` or not.
/// Returns how many writes the answers took and the bodies the client read.
async fn answer_together(batched: bool) -> (usize, Vec<Bytes>) {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let io = CountingIo {
        inner: server_io,
        writes: writes.clone(),
    };
    let (client, connection) = vh2::client_handshake(client_io, vh2::Config::default());
    tokio::spawn(connection);
    let mut responses = Vec::new();
    for i in 0..REQUESTS {
        let req = Request::get(format!("http://svc.test/{i}"))
            .body(())
            .expect("request");
        let (response, _send) = client.send_request(req, true).await.expect("send");
        responses.push(response);
    }

    let mut server = vh2::server_handshake(io, vh2::Config::default());
    let mut pending = Vec::new();
    while pending.len() < REQUESTS {
        let next = tokio::time::timeout(LIMIT, poll_fn(|cx| server.poll_accept(cx)))
            .await
            .expect("requests arrive in time");
        let (req, respond) = next.expect("a request").expect("a good request");
        pending.push((req.uri().path().to_string(), respond));
    }
    let before = writes.load(Ordering::SeqCst);
    let mut answer = || {
        for (path, respond) in &mut pending {
            let mut send = respond
                .send_response(Response::new(()), false)
                .expect("response head");
            send.send_data(Bytes::from(format!("answer to {path}")), true)
                .expect("response body");
        }
    };
    if batched {
        server.batch_writes(answer);
    } else {
        answer();
    }
    let taken = writes.load(Ordering::SeqCst) - before;
    // The server's task keeps driving the connection while the client reads.
    tokio::spawn(async move { poll_fn(|cx| server.poll_closed(cx)).await });

    let mut bodies = Vec::new();
    for response in responses {
        let response = tokio::time::timeout(LIMIT, response)
            .await
            .expect("answered in time")
            .expect("a response");
        let mut body = response.into_body();
        let mut data = Vec::new();
        while let Some(chunk) = poll_fn(|cx| body.poll_data(cx)).await {
            data.extend_from_slice(&chunk.expect("body"));
        }
        bodies.push(data.into());
    }
    (taken, bodies)
}

#[tokio::test]
async fn answers_queued_in_a_batch_leave_in_one_write() {
    let (writes, bodies) = answer_together(true).await;
    assert_eq!(writes, 1, "three answers, one write");
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(body, &format!("answer to /{i}"));
    }
}

#[tokio::test]
async fn answers_outside_a_batch_leave_as_each_ends() {
    let (writes, bodies) = answer_together(false).await;
    assert_eq!(writes, REQUESTS, "one write per finished answer");
    assert_eq!(bodies.len(), REQUESTS);
}
