//! The handles a stream's users hold: one to send a body, one to read the body received.
//! Each counts as a reference; when the last goes, the connection finishes the stream off.

use crate::conn::Conn;
use crate::error::{Error, Initiator, Reason};
use crate::SEND_BUFFER;
use bytes::Bytes;
use http::HeaderMap;
use std::sync::Arc;
use std::task::{Context, Poll};

/// A reference to one stream of a connection.
pub(crate) struct StreamRef {
    pub conn: Arc<Conn>,
    pub id: u32,
}

impl StreamRef {
    /// Takes another reference to the stream (the caller holds the lock's state).
    pub fn new(conn: Arc<Conn>, id: u32, inner: &mut crate::conn::Inner) -> StreamRef {
        if let Some(s) = inner.streams.get_mut(&id) {
            s.refs += 1;
        }
        StreamRef { conn, id }
    }
}

impl Drop for StreamRef {
    fn drop(&mut self) {
        let mut inner = self.conn.lock();
        if let Some(s) = inner.streams.get_mut(&self.id) {
            s.refs = s.refs.saturating_sub(1);
            if s.refs == 0 {
                inner.settle(self.id);
                inner.flush_now();
            }
        }
    }
}

/// Sends a message's body and trailers.
pub struct SendStream {
    pub(crate) stream: StreamRef,
}

impl SendStream {
    /// Whether more data may be queued now: at most 64 KiB waits beyond what flow control
    /// lets out, so a peer that reads slowly slows the sender down.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut inner = self.stream.conn.lock();
        if let Some(e) = inner.stream_error(self.stream.id) {
            return Poll::Ready(Err(e));
        }
        let Some(s) = inner.streams.get_mut(&self.stream.id) else {
            return Poll::Ready(Err(Error::User("the stream is gone")));
        };
        if s.queued < SEND_BUFFER {
            return Poll::Ready(Ok(()));
        }
        s.set_send_waker(cx.waker());
        inner.flush_now();
        Poll::Pending
    }

    /// Queues `data`; with `end`, it is the last of the message. Written at once when the
    /// windows allow; `end` also flushes the connection.
    pub fn send_data(&mut self, data: Bytes, end: bool) -> Result<(), Error> {
        let mut inner = self.stream.conn.lock();
        inner.queue_data(self.stream.id, data, end)?;
        if end {
            inner.flush_now();
        }
        Ok(())
    }

    /// Ends the message with trailers.
    pub fn send_trailers(&mut self, trailers: HeaderMap) -> Result<(), Error> {
        let mut inner = self.stream.conn.lock();
        inner.queue_trailers(self.stream.id, trailers)?;
        inner.flush_now();
        Ok(())
    }

    pub fn send_reset(&mut self, reason: Reason) {
        send_reset(&self.stream, reason);
    }

    /// Ready with the reason once the peer resets the stream (or with the connection's
    /// error); registers the task otherwise. Writes what is queued before waiting.
    pub fn poll_reset(&mut self, cx: &mut Context<'_>) -> Poll<Result<Reason, Error>> {
        poll_reset(&self.stream, cx)
    }
}

pub(crate) fn send_reset(stream: &StreamRef, reason: Reason) {
    let mut inner = stream.conn.lock();
    inner.reset_stream(stream.id, reason, None);
    inner.flush_now();
}

pub(crate) fn poll_reset(stream: &StreamRef, cx: &mut Context<'_>) -> Poll<Result<Reason, Error>> {
    let mut inner = stream.conn.lock();
    let Some(s) = inner.streams.get_mut(&stream.id) else {
        return Poll::Ready(Err(inner
            .error
            .clone()
            .unwrap_or(Error::User("the stream is gone"))));
    };
    if let Some((reason, Initiator::Remote)) = s.reset {
        return Poll::Ready(Ok(reason));
    }
    if let Some(e) = s.own_error() {
        return Poll::Ready(Err(e));
    }
    s.set_send_waker(cx.waker());
    if let Some(e) = &inner.error {
        return Poll::Ready(Err(e.clone()));
    }
    inner.flush_now();
    Poll::Pending
}

/// Reads a message's body and trailers; what is read is given back to the peer's windows.
pub struct RecvStream {
    pub(crate) stream: StreamRef,
}

impl Drop for RecvStream {
    fn drop(&mut self) {
        let mut inner = self.stream.conn.lock();
        inner.stop_reading(self.stream.id);
        inner.flush_now();
    }
}

impl RecvStream {
    /// The next piece of the body; `None` at its end.
    pub fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        let id = self.stream.id;
        let mut inner = self.stream.conn.lock();
        let Some(s) = inner.streams.get_mut(&id) else {
            return Poll::Ready(Some(Err(inner
                .error
                .clone()
                .unwrap_or(Error::User("the stream is gone")))));
        };
        if let Some(data) = s.data.pop_front() {
            s.buffered -= data.len();
            inner.release(Some(id), data.len());
            inner.flush_now();
            return Poll::Ready(Some(Ok(data)));
        }
        if s.recv_closed {
            return Poll::Ready(None);
        }
        s.set_recv_waker(cx.waker());
        if let Some(e) = inner.stream_error(id) {
            return Poll::Ready(Some(Err(e)));
        }
        inner.flush_now();
        Poll::Pending
    }

    /// The trailers, once the body has been read; `None` when the message had none.
    pub fn poll_trailers(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<HeaderMap>, Error>> {
        let id = self.stream.id;
        let mut inner = self.stream.conn.lock();
        let Some(s) = inner.streams.get_mut(&id) else {
            return Poll::Ready(Err(inner
                .error
                .clone()
                .unwrap_or(Error::User("the stream is gone"))));
        };
        if let Some(t) = s.trailers.take() {
            return Poll::Ready(Ok(Some(t)));
        }
        if s.recv_closed && s.data.is_empty() {
            return Poll::Ready(Ok(None));
        }
        s.set_recv_waker(cx.waker());
        if let Some(e) = inner.stream_error(id) {
            return Poll::Ready(Err(e));
        }
        inner.flush_now();
        Poll::Pending
    }

    /// Everything received has been read, trailers included.
    pub fn is_end_stream(&self) -> bool {
        let inner = self.stream.conn.lock();
        inner
            .streams
            .get(&self.stream.id)
            .is_some_and(|s| s.recv_closed && s.data.is_empty() && s.trailers.is_none())
    }
}
