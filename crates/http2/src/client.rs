//! The client end: requests are sent by the tasks that make them; a `Connection` future,
//! run as a task of its own, reads the responses.

use crate::conn::stream::{ReceivedHead, Stream};
use crate::conn::{Conn, Inner, Transport};
use crate::error::{Error, Initiator, Reason};
use crate::fields;
use crate::settings::Config;
use crate::streams::{RecvStream, SendStream, StreamRef};
use crate::timers::Timers;
use http::{Method, Request, Response};
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The largest stream id (section 5.1.1); a connection that has used them all is closed.
const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// Sends requests on one connection; cheap to clone.
pub struct Client {
    conn: Arc<Conn>,
}

/// Reads the connection and writes what the streams could not; run it as a task. It ends
/// when the connection does, or once every `Client` and stream is gone.
#[must_use = "the connection does nothing unless it is run"]
pub struct Connection {
    conn: Arc<Conn>,
    timers: Timers,
}

/// Starts a client connection over `io`: the preface and settings are queued at once, and
/// requests may follow before the server's settings arrive (RFC 9113 section 3.4).
pub fn handshake<T: Transport>(io: T, config: Config) -> (Client, Connection) {
    let timers = Timers::new(config.keepalive, config.idle_timeout, config.max_age);
    let mut inner = Inner::new(Box::new(io), true, config);
    inner.clients = 1;
    let conn = Arc::new(Conn::new(inner));
    (Client { conn: conn.clone() }, Connection { conn, timers })
}

impl Future for Connection {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut inner = this.conn.lock();
        this.timers.poll(&mut inner, cx);
        inner.drive(cx)
    }
}

impl Clone for Client {
    fn clone(&self) -> Self {
        self.conn.lock().clients += 1;
        Client {
            conn: self.conn.clone(),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let mut inner = self.conn.lock();
        inner.clients -= 1;
        if inner.clients == 0 {
            inner.wake_driver();
        }
    }
}

impl Client {
    /// The connection can take no new streams: it failed, the peer closed it or said
    /// GOAWAY, or its stream ids ran out.
    pub fn is_closed(&self) -> bool {
        let inner = self.conn.lock();
        inner.error.is_some()
            || inner.eof
            || inner.remote_goaway.is_some()
            || inner.draining
            || inner.next_id > MAX_STREAM_ID
    }

    /// Opens a stream with the request's head (waiting while the peer's concurrency limit
    /// is reached). With `end_of_stream` the request has no body; otherwise it follows on
    /// the returned `SendStream`. The head is written when the body's first data, or the
    /// wait for the response, flushes the connection: a small request leaves in one write.
    pub async fn send_request(
        &self,
        request: Request<()>,
        end_of_stream: bool,
    ) -> Result<(ResponseFuture, SendStream), Error> {
        let (parts, ()) = request.into_parts();
        let mut parts = Some(parts);
        poll_fn(|cx| {
            let mut inner = self.conn.lock();
            if let Some(e) = &inner.error {
                return Poll::Ready(Err(e.clone()));
            }
            if let Some((_, reason)) = inner.remote_goaway {
                return Poll::Ready(Err(Error::GoAway {
                    reason,
                    initiator: Initiator::Remote,
                    detail: "the peer takes no new streams".into(),
                }));
            }
            if inner.draining {
                return Poll::Ready(Err(Error::GoAway {
                    reason: Reason::NO_ERROR,
                    initiator: Initiator::Local,
                    detail: "the connection reached its maximum duration".into(),
                }));
            }
            if inner.next_id > MAX_STREAM_ID {
                return Poll::Ready(Err(Error::User("the connection's stream ids are used up")));
            }
            if inner.local_open >= inner.peer.max_concurrent_streams as usize {
                inner.open_waiters.push_back(cx.waker().clone());
                return Poll::Pending;
            }
            let Some(parts) = parts.take() else {
                return Poll::Ready(Err(Error::User("polled after completion")));
            };
            Poll::Ready(Ok(self.open(&mut inner, parts, end_of_stream)))
        })
        .await
    }

    fn open(
        &self,
        inner: &mut Inner,
        parts: http::request::Parts,
        end: bool,
    ) -> (ResponseFuture, SendStream) {
        let id = inner.next_id;
        inner.next_id += 2;
        let max_frame = inner.peer.max_frame_size as usize;
        let encoder = &mut inner.encoder;
        fields::put_block_frames(&mut inner.out, id, end, max_frame, |dst| {
            fields::put_request(&mut encoder.block(dst), &parts);
        });
        let mut s = Stream::new(
            true,
            inner.config.stream_window,
            inner.peer.initial_window_size,
        );
        s.headers_sent = true;
        s.is_head_request = parts.method == Method::HEAD;
        s.end_queued = end;
        s.send_done = end;
        inner.streams.insert(id, s);
        inner.local_open += 1;
        let response = ResponseFuture {
            stream: StreamRef::new(self.conn.clone(), id, inner),
            answered: false,
        };
        let send = SendStream {
            stream: StreamRef::new(self.conn.clone(), id, inner),
        };
        (response, send)
    }
}

/// The response to a request: ready with its head; its body comes on the `RecvStream`.
pub struct ResponseFuture {
    stream: StreamRef,
    /// The head was handed out, and with it the reading of the body.
    answered: bool,
}

impl Drop for ResponseFuture {
    fn drop(&mut self) {
        if !self.answered {
            let mut inner = self.stream.conn.lock();
            inner.stop_reading(self.stream.id);
            inner.flush_now();
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<RecvStream>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let id = this.stream.id;
        let mut inner = this.stream.conn.lock();
        if let Some(s) = inner.streams.get_mut(&id) {
            if let Some(ReceivedHead::Response(parts)) = s.head.take() {
                let body = RecvStream {
                    stream: StreamRef::new(this.stream.conn.clone(), id, &mut inner),
                };
                this.answered = true;
                return Poll::Ready(Ok(Response::from_parts(parts, body)));
            }
            s.set_recv_waker(cx.waker());
        }
        if let Some(e) = inner.stream_error(id) {
            return Poll::Ready(Err(e));
        }
        inner.flush_now();
        Poll::Pending
    }
}
