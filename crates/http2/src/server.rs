//! The server end: the task that accepts requests also drives the connection, so a request
//! read and a response written can share one turn of that task.

use crate::conn::stream::ReceivedHead;
use crate::conn::{Conn, Inner, Transport};
use crate::error::{Error, Reason};
use crate::fields;
use crate::settings::Config;
use crate::streams::{self, RecvStream, SendStream, StreamRef};
use crate::timers::Timers;
use http::{Request, Response};
use std::sync::Arc;
use std::task::{Context, Poll};

/// One server connection.
pub struct Server {
    conn: Arc<Conn>,
    timers: Timers,
}

/// Starts a server connection over `io`; its settings are queued at once and the client's
/// preface is checked as it arrives.
pub fn handshake<T: Transport>(io: T, config: Config) -> Server {
    Server {
        timers: Timers::new(config.keepalive, config.idle_timeout, None),
        conn: Arc::new(Conn::new(Inner::new(Box::new(io), false, config))),
    }
}

impl Server {
    /// The next request, driving the connection meanwhile. `None` once the client has
    /// closed the connection or said GOAWAY (streams in flight go on: keep polling
    /// `poll_closed` until they are done).
    #[allow(clippy::type_complexity)]
    pub fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<(Request<RecvStream>, SendResponse), Error>>> {
        let mut inner = self.conn.lock();
        self.timers.poll(&mut inner, cx);
        let driven = inner.drive(cx);
        while let Some(id) = inner.accept_queue.pop_front() {
            let Some(s) = inner.streams.get_mut(&id) else {
                continue;
            };
            // The queue's reference becomes the `SendResponse`.
            let Some(ReceivedHead::Request(parts)) = s.head.take() else {
                s.refs -= 1;
                inner.settle(id);
                continue;
            };
            let respond = SendResponse {
                stream: StreamRef {
                    conn: self.conn.clone(),
                    id,
                },
            };
            let body = RecvStream {
                stream: StreamRef::new(self.conn.clone(), id, &mut inner),
            };
            return Poll::Ready(Some(Ok((Request::from_parts(parts, body), respond))));
        }
        match driven {
            Poll::Ready(Ok(())) => Poll::Ready(None),
            Poll::Ready(Err(e)) if inner.eof => {
                tracing::debug!("HTTP/2 client left with streams open: {e}");
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending if inner.remote_goaway.is_some() => Poll::Ready(None),
            Poll::Pending => {
                inner.accept_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Runs `poll_streams`, which polls this connection's streams from the connection's own
    /// task, with their writes held: everything they queue (several responses, say, when
    /// the application answered several requests at once) leaves in one write at the end
    /// instead of one write and one TLS record each.
    pub fn batch_writes<R>(&mut self, poll_streams: impl FnOnce() -> R) -> R {
        self.conn.lock().writes_held = true;
        let result = poll_streams();
        let mut inner = self.conn.lock();
        inner.writes_held = false;
        inner.flush_now();
        result
    }

    /// Drives the connection until the streams in flight are done and the connection ends.
    pub fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut inner = self.conn.lock();
        self.timers.poll(&mut inner, cx);
        match inner.drive(cx) {
            Poll::Ready(Err(_)) if inner.eof => Poll::Ready(Ok(())),
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending if inner.streams.is_empty() && inner.out.is_empty() => {
                Poll::Ready(Ok(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Answers one request.
pub struct SendResponse {
    stream: StreamRef,
}

impl SendResponse {
    /// Sends the response head; with `end_of_stream` the response has no body (and the
    /// connection is flushed), otherwise it follows on the returned `SendStream`.
    pub fn send_response(
        &mut self,
        response: Response<()>,
        end_of_stream: bool,
    ) -> Result<SendStream, Error> {
        let id = self.stream.id;
        let mut inner = self.stream.conn.lock();
        if let Some(e) = inner.stream_error(id) {
            return Err(e);
        }
        let max_frame = inner.peer.max_frame_size as usize;
        let inner = &mut *inner;
        let Some(s) = inner.streams.get_mut(&id) else {
            return Err(Error::User("the stream is gone"));
        };
        if s.headers_sent {
            return Err(Error::User("a second response on one stream"));
        }
        s.headers_sent = true;
        let (parts, ()) = response.into_parts();
        let encoder = &mut inner.encoder;
        fields::put_block_frames(&mut inner.out, id, end_of_stream, max_frame, |dst| {
            fields::put_response(&mut encoder.block(dst), &parts);
        });
        if end_of_stream {
            s.end_queued = true;
            s.send_done = true;
        }
        let send = SendStream {
            stream: StreamRef::new(self.stream.conn.clone(), id, inner),
        };
        if end_of_stream {
            inner.settle(id);
            inner.flush_now();
        }
        Ok(send)
    }

    pub fn send_reset(&mut self, reason: Reason) {
        streams::send_reset(&self.stream, reason);
    }

    /// Ready once the client resets the stream.
    pub fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<Result<Reason, Error>> {
        streams::poll_reset(&self.stream, cx)
    }
}
