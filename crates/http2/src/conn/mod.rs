//! One HTTP/2 connection's state, behind one lock shared by the task that reads the
//! transport and the tasks that use its streams.
//!
//! Whoever has something to send writes it: a request's task encodes its HEADERS and DATA
//! into the output buffer and writes the buffer to the transport itself, and a stream handle
//! dropped or finished updates the state in place. The reading task (the driver) is woken by
//! the transport only. A write that cannot finish now is left to the driver: it is attempted
//! with the driver's waker, so the transport wakes the driver when it can take more.

mod recv;
mod send;
pub(crate) mod stream;

use crate::error::{Error, Initiator, Reason};
use crate::frame;
use crate::hpack::{Decoder, Encoder};
use crate::settings::{Config, PeerSettings};
use bytes::{Buf, BytesMut};
use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use stream::Stream;
use tokio::io::{AsyncRead, AsyncWrite};

/// What a connection runs over (a TLS stream, a TCP socket, a test pipe).
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// Reads per driver turn before it yields, so one busy connection cannot hold its thread.
const READS_PER_TURN: usize = 16;
const READ_RESERVE: usize = 16 << 10;
/// Bytes a stream may have queued beyond what flow control lets out before its sender waits.
pub(crate) const SEND_BUFFER: usize = 64 << 10;
/// The largest compressed header block accepted across HEADERS and CONTINUATION frames.
const MAX_BLOCK: usize = 256 << 10;
/// SETTINGS_HEADER_TABLE_SIZE: the default, never changed.
const DECODER_TABLE: usize = 4096;

pub(crate) struct Conn {
    inner: Mutex<Inner>,
}

impl Conn {
    pub fn new(inner: Inner) -> Conn {
        Conn {
            inner: Mutex::new(inner),
        }
    }

    /// The state, even if a thread panicked while holding it: every change to it is made
    /// whole under the lock before anything that could panic.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A header block still waiting for its CONTINUATION frames.
struct Partial {
    stream: u32,
    end_stream: bool,
    block: BytesMut,
}

pub(crate) struct Inner {
    io: Box<dyn Transport>,
    pub is_client: bool,
    pub config: Config,
    read_buf: BytesMut,
    pub out: BytesMut,
    pub encoder: Encoder,
    decoder: Decoder,
    pub peer: PeerSettings,
    /// A server has yet to read the client's 24-byte preface.
    preface_pending: bool,
    settings_received: bool,
    pub streams: HashMap<u32, Stream, foldhash::fast::RandomState>,
    /// Connection-level send window.
    pub send_window: i64,
    /// What the peer may still send on the connection before a WINDOW_UPDATE.
    recv_window: i64,
    recv_unreleased: u32,
    /// The id a client gives its next stream.
    pub next_id: u32,
    /// The highest stream id the peer has opened.
    pub last_peer_id: u32,
    pub local_open: usize,
    remote_open: usize,
    pub open_waiters: VecDeque<Waker>,
    /// Streams with data waiting for connection send window, in arrival order.
    pub blocked: VecDeque<u32>,
    /// Server streams received and not yet accepted.
    pub accept_queue: VecDeque<u32>,
    pub accept_waker: Option<Waker>,
    driver: Option<Waker>,
    continuation: Option<Partial>,
    /// The peer's GOAWAY: the last stream id it will process.
    pub remote_goaway: Option<(u32, Reason)>,
    /// Set once the connection is over; every later operation reports it.
    pub error: Option<Error>,
    /// The peer closed the transport.
    pub eof: bool,
    /// Client handles alive: with none left and no streams, the driver ends the connection.
    pub clients: usize,
    /// The server's task is polling its streams: what they queue is written once, when
    /// that is done (`Server::batch_writes`).
    pub writes_held: bool,
    /// Something was read since the keepalive clock last looked (`crate::timers`).
    pub heard: bool,
    /// When the last stream went away, if the idle close is on (`crate::timers`).
    pub idle_since: Option<tokio::time::Instant>,
    /// This end said GOAWAY for the connection's age (`crate::timers`): no new stream, and
    /// the connection ends once the streams in flight are done.
    pub draining: bool,
}

impl Inner {
    pub fn new(io: Box<dyn Transport>, is_client: bool, config: Config) -> Inner {
        let mut out = BytesMut::with_capacity(READ_RESERVE);
        if is_client {
            out.extend_from_slice(frame::PREFACE);
        }
        config.put_settings(&mut out, is_client);
        let extra = config
            .connection_window
            .saturating_sub(frame::DEFAULT_WINDOW);
        if extra > 0 {
            frame::put_window_update(&mut out, 0, extra);
        }
        Inner {
            io,
            is_client,
            read_buf: BytesMut::with_capacity(READ_RESERVE),
            out,
            encoder: Encoder::new(),
            decoder: Decoder::new(DECODER_TABLE),
            peer: PeerSettings::default(),
            preface_pending: !is_client,
            settings_received: false,
            streams: HashMap::default(),
            send_window: i64::from(frame::DEFAULT_WINDOW),
            recv_window: i64::from(frame::DEFAULT_WINDOW) + i64::from(extra),
            recv_unreleased: 0,
            next_id: 1,
            last_peer_id: 0,
            local_open: 0,
            remote_open: 0,
            open_waiters: VecDeque::new(),
            blocked: VecDeque::new(),
            accept_queue: VecDeque::new(),
            accept_waker: None,
            driver: None,
            continuation: None,
            remote_goaway: None,
            error: None,
            eof: false,
            clients: 0,
            writes_held: false,
            heard: false,
            idle_since: config.idle_timeout.map(|_| tokio::time::Instant::now()),
            draining: false,
            config,
        }
    }

    /// Reads and handles what the peer sent, then writes what is queued. `Ready` when the
    /// connection is over: `Ok` for an orderly end, `Err` for a failure.
    pub fn drive(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match &self.driver {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.driver = Some(cx.waker().clone()),
        }
        if let Some(e) = &self.error {
            return Poll::Ready(Err(e.clone()));
        }
        let mut reads = 0;
        loop {
            if let Err((reason, detail)) = self.handle_buffered() {
                self.fail_protocol(reason, detail);
                let _ = self.flush(cx);
                return Poll::Ready(Err(self.error.clone().unwrap_or(Error::User("failed"))));
            }
            if self.eof || self.error.is_some() {
                break;
            }
            if reads == READS_PER_TURN {
                cx.waker().wake_by_ref();
                break;
            }
            if self.read_buf.capacity() - self.read_buf.len() < READ_RESERVE / 4 {
                self.read_buf.reserve(READ_RESERVE);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read_buf) {
                Poll::Ready(Ok(0)) => self.eof = true,
                Poll::Ready(Ok(_)) => {
                    reads += 1;
                    self.heard = true;
                }
                Poll::Ready(Err(e)) => {
                    self.fail(Error::io(e));
                    return Poll::Ready(Err(self.error.clone().unwrap_or(Error::User("failed"))));
                }
                Poll::Pending => break,
            }
        }
        if let Poll::Ready(Err(e)) = self.flush(cx) {
            self.fail(e);
        }
        if let Some(e) = &self.error {
            return Poll::Ready(Err(e.clone()));
        }
        if self.eof {
            let open = self.streams.values().any(|s| !s.is_closed());
            self.fail(Error::io(std::io::ErrorKind::UnexpectedEof.into()));
            return if open {
                Poll::Ready(Err(self.error.clone().unwrap_or(Error::User("failed"))))
            } else {
                Poll::Ready(Ok(()))
            };
        }
        if self.is_client && self.clients == 0 && self.streams.is_empty() {
            // Nobody can open a stream on it any more: say goodbye and end.
            frame::put_goaway(&mut self.out, 0, Reason::NO_ERROR, b"");
            let _ = self.flush(cx);
            self.fail(Error::GoAway {
                reason: Reason::NO_ERROR,
                initiator: Initiator::Local,
                detail: "no client left".into(),
            });
            return Poll::Ready(Ok(()));
        }
        if (self.remote_goaway.is_some() || self.draining)
            && self.streams.is_empty()
            && self.out.is_empty()
        {
            // Closed here, not when the last handle goes: a pool may hold a client handle
            // to a connection it will never use again.
            return match Pin::new(&mut self.io).poll_shutdown(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(_) => Poll::Ready(Ok(())),
            };
        }
        Poll::Pending
    }

    /// Wakes the driver (after a change it must act on, such as the last client handle
    /// going away).
    pub fn wake_driver(&self) {
        if let Some(w) = &self.driver {
            w.wake_by_ref();
        }
    }

    /// Writes the output buffer to the transport.
    pub(crate) fn flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while !self.out.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(Error::io(std::io::ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(n)) => self.out.advance(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::io(e))),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut self.io).poll_flush(cx).map_err(Error::io)
    }

    /// Writes what is queued from a stream handle's task. It runs with the driver's waker,
    /// so a transport that cannot take it all now wakes the driver to finish; before the
    /// driver's first turn, the driver writes it. While writes are held it waits for the
    /// end of the batch.
    pub fn flush_now(&mut self) {
        if self.out.is_empty() || self.error.is_some() || self.writes_held {
            return;
        }
        let Some(waker) = self.driver.clone() else {
            return;
        };
        let mut cx = Context::from_waker(&waker);
        if let Poll::Ready(Err(e)) = self.flush(&mut cx) {
            self.fail(e);
        }
    }

    /// Ends the connection after the peer broke the protocol: GOAWAY with the reason.
    fn fail_protocol(&mut self, reason: Reason, detail: &'static str) {
        tracing::debug!(%reason, "HTTP/2 connection error: {detail}");
        frame::put_goaway(&mut self.out, self.last_peer_id, reason, detail.as_bytes());
        self.fail(Error::GoAway {
            reason,
            initiator: Initiator::Local,
            detail: detail.into(),
        });
    }

    /// Marks the connection over and wakes everyone waiting on it.
    pub fn fail(&mut self, error: Error) {
        if self.error.is_some() {
            return;
        }
        self.error = Some(error);
        for s in self.streams.values_mut() {
            s.wake_all();
        }
        for w in self.open_waiters.drain(..) {
            w.wake();
        }
        if let Some(w) = self.accept_waker.take() {
            w.wake();
        }
        // A write from a stream's task can fail the connection; the driver must see it.
        self.wake_driver();
    }

    /// The error a stream's user sees: the stream's own, or the connection's.
    pub fn stream_error(&self, id: u32) -> Option<Error> {
        match self.streams.get(&id) {
            Some(s) => s.own_error().or_else(|| self.error.clone()),
            None => Some(
                self.error
                    .clone()
                    .unwrap_or(Error::User("the stream is gone")),
            ),
        }
    }

    /// A stream id the peer could not have used yet.
    fn is_idle(&self, id: u32) -> bool {
        if self.is_client {
            id.is_multiple_of(2) || id >= self.next_id
        } else {
            id.is_multiple_of(2) || id > self.last_peer_id
        }
    }
}
