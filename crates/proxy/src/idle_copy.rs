//! Opaque TCP copied both ways, closed when no byte has moved either way for the idle
//! timeout (DestinationRule connectionPool.tcp.idleTimeout; Istio's default is an hour): a
//! connection both ends forgot does not hold two sockets and a task for ever.
//!
//! Each side's reads stamp the time of the last byte, so the timer wakes once per timeout
//! (not per read) and closes exactly one timeout after the last byte.

use crate::error::ConnError;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Istio's default TCP idle timeout.
pub const DEFAULT_TCP_IDLE: Duration = Duration::from_secs(3600);

/// The idle timeout a cluster's `tcp_idle_timeout_ms` gives: unset is the default, 0 is none.
pub fn idle_timeout(configured_ms: Option<u64>) -> Option<Duration> {
    match configured_ms {
        None => Some(DEFAULT_TCP_IDLE),
        Some(0) => None,
        Some(ms) => Some(Duration::from_millis(ms)),
    }
}

/// A side of the copy that counts what is read from it and when.
struct Watched<'a, T: ?Sized> {
    io: &'a mut T,
    start: Instant,
    /// Milliseconds from `start` to the last byte read on either side (shared).
    last_ms: &'a AtomicU64,
    read: u64,
}

impl<T: AsyncRead + Unpin + ?Sized> AsyncRead for Watched<'_, T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut *this.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            this.read += n as u64;
            let ms = u64::try_from(this.start.elapsed().as_millis()).unwrap_or(u64::MAX);
            this.last_ms.store(ms, Ordering::Relaxed);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin + ?Sized> AsyncWrite for Watched<'_, T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.get_mut().io).poll_shutdown(cx)
    }
}

/// Copies both ways until both sides have closed, or until `idle` passes with no byte
/// either way (then both are dropped, which closes them); returns bytes (a→b, b→a) read.
pub async fn copy<A, B>(
    a: &mut A,
    b: &mut B,
    idle: Option<Duration>,
) -> Result<(u64, u64), ConnError>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let Some(idle) = idle else {
        return Ok(tokio::io::copy_bidirectional(a, b).await?);
    };
    let start = Instant::now();
    let last_ms = AtomicU64::new(0);
    let mut wa = Watched {
        io: a,
        start,
        last_ms: &last_ms,
        read: 0,
    };
    let mut wb = Watched {
        io: b,
        start,
        last_ms: &last_ms,
        read: 0,
    };
    let outcome = {
        let copying = tokio::io::copy_bidirectional(&mut wa, &mut wb);
        tokio::pin!(copying);
        let timer = tokio::time::sleep(idle);
        tokio::pin!(timer);
        loop {
            tokio::select! {
                done = &mut copying => break Some(done),
                () = &mut timer => {
                    let last = start + Duration::from_millis(last_ms.load(Ordering::Relaxed));
                    let deadline = last + idle;
                    if Instant::now() >= deadline {
                        break None;
                    }
                    timer.as_mut().reset(deadline);
                }
            }
        }
    };
    match outcome {
        Some(result) => drop(result?),
        None => tracing::debug!("TCP connection idle for {idle:?}: closed"),
    }
    Ok((wa.read, wb.read))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_silent_connection_is_closed_one_timeout_after_its_last_byte() {
        let (mut client, mut near) = tokio::io::duplex(1024);
        let (mut far, mut server) = tokio::io::duplex(1024);
        let idle = Duration::from_millis(200);
        let copying = tokio::spawn(async move {
            let started = Instant::now();
            let r = copy(&mut near, &mut far, Some(idle)).await;
            (r, started.elapsed())
        });
        // Traffic every 100 ms for 500 ms keeps it open past the timeout...
        for _ in 0..5 {
            client.write_all(b"ping\n").await.expect("write");
            let mut got = [0u8; 5];
            server.read_exact(&mut got).await.expect("read");
            server.write_all(b"pong\n").await.expect("write");
            client.read_exact(&mut got).await.expect("read");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // ...then silence closes it.
        let (result, lasted) = tokio::time::timeout(Duration::from_secs(5), copying)
            .await
            .expect("closed")
            .expect("task");
        assert_eq!(
            result.expect("no error"),
            (25, 25),
            "bytes each way are counted"
        );
        assert!(
            lasted >= Duration::from_millis(600) && lasted < Duration::from_millis(1500),
            "about 400 ms of traffic plus one idle timeout: {lasted:?}"
        );
        let mut rest = Vec::new();
        let n = tokio::time::timeout(Duration::from_secs(1), client.read_to_end(&mut rest))
            .await
            .expect("the client sees the close")
            .expect("read");
        assert_eq!(n, 0);
    }

    #[test]
    fn unset_is_an_hour_and_zero_is_none() {
        assert_eq!(idle_timeout(None), Some(DEFAULT_TCP_IDLE));
        assert_eq!(idle_timeout(Some(0)), None);
        assert_eq!(idle_timeout(Some(1500)), Some(Duration::from_millis(1500)));
    }
}
