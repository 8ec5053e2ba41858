//! Write coalescing for the HTTP/2 connection between proxies. The HTTP/2 client opens a
//! stream only when its connection task next runs, and grants the stream's body its send
//! window only then: it flushes the request's HEADERS frame before the body's task has
//! had a turn to hand over its DATA. Over TLS each flush is a record and a write, so the
//! proxy at the other end would wake twice per request. This stream holds written bytes
//! back for one scheduler turn on the first flush (yielding, not sleeping), so whatever
//! the other tasks of this turn queue leaves in the same record.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Past this many held bytes, writes go through without waiting for a flush: coalescing
/// only matters for small frames.
const HOLD_LIMIT: usize = 32 * 1024;

pub struct Coalescing<T> {
    inner: T,
    held: Vec<u8>,
    /// Bytes of `held` the inner stream has already taken.
    sent: usize,
    /// The current flush has already yielded once.
    yielded: bool,
}

impl<T> Coalescing<T> {
    pub fn new(inner: T) -> Self {
        Coalescing {
            inner,
            held: Vec::new(),
            sent: 0,
            yielded: false,
        }
    }
}

impl<T: AsyncWrite + Unpin> Coalescing<T> {
    /// Hands every held byte to the inner stream.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.held.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.held[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.held.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Coalescing<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Coalescing<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        if this.held.len() + len > HOLD_LIMIT {
            ready!(this.poll_drain(cx))?;
            if len > HOLD_LIMIT {
                return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
            }
        }
        for b in bufs {
            this.held.extend_from_slice(b);
        }
        Poll::Ready(Ok(len))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.held.is_empty() && !this.yielded {
            this.yielded = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        ready!(this.poll_drain(cx))?;
        this.yielded = false;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records each write it is given, as the socket under TLS would see records.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<Vec<Vec<u8>>>>);

    impl AsyncWrite for Writes {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            b: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.lock().expect("writes").push(b.to_vec());
            Poll::Ready(Ok(b.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl Writes {
        fn taken(&self) -> Vec<Vec<u8>> {
            self.0.lock().expect("writes").clone()
        }
    }

    /// Plays an HTTP/2 connection task: writes whatever frames are queued, then flushes.
    async fn connection(
        mut stream: Coalescing<Writes>,
        mut frames: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    ) -> usize {
        let mut polls = 0;
        std::future::poll_fn(|cx| {
            polls += 1;
            while let Poll::Ready(Some(frame)) = frames.poll_recv(cx) {
                ready!(Pin::new(&mut stream).poll_write(cx, &frame))?;
            }
            Pin::new(&mut stream).poll_flush(cx)
        })
        .await
        .expect("flush");
        polls
    }

    #[tokio::test(flavor = "current_thread")]
    async fn frames_queued_by_another_task_in_the_same_turn_leave_in_one_write() {
        let writes = Writes::default();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tx.send(b"HEADERS".to_vec()).expect("send");
        let conn = tokio::spawn(connection(Coalescing::new(writes.clone()), rx));
        // The body's task runs after the connection's first flush, as it does in hyper.
        let body = tokio::spawn(async move { tx.send(b"+DATA".to_vec()).expect("send") });
        let polls = conn.await.expect("connection");
        body.await.expect("body");
        assert_eq!(writes.taken(), vec![b"HEADERS+DATA".to_vec()]);
        assert_eq!(polls, 2, "the flush yields once, not more");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_large_write_goes_straight_through_after_what_was_held() {
        use tokio::io::AsyncWriteExt;
        let writes = Writes::default();
        let mut stream = Coalescing::new(writes.clone());
        stream.write_all(b"small").await.expect("write");
        let big = vec![7u8; HOLD_LIMIT + 1];
        stream.write_all(&big).await.expect("write");
        assert_eq!(writes.taken(), vec![b"small".to_vec(), big]);
        // Nothing is held, so this flush does not yield.
        let mut polls = 0;
        std::future::poll_fn(|cx| {
            polls += 1;
            Pin::new(&mut stream).poll_flush(cx)
        })
        .await
        .expect("flush");
        assert_eq!(polls, 1);
    }
}
