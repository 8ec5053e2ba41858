//! The HTTP/1.1 client for plain upstreams: the application behind an inbound proxy, and
//! non-mesh endpoints outbound. Each exchange is driven by the request's own task — it
//! writes the request and reads the response from the socket itself — where hyper's client
//! hands every request to a connection task over a channel and back: a task hand-off in
//! each direction, on every request, on the mesh's busiest hop. The response body owns the
//! connection while it is read and returns it to its pool once both the request and the
//! response are complete. Upgrades (WebSocket) still go through hyper, which splices them.

use super::conn_policy::ConnPolicy;
use super::connect::BoxIo;
use super::h1_codec::{self, BodyFraming, ChunkState, Decoded, RequestFraming, WireError};
use super::pool::EndpointPool;
use super::UpstreamError;
use crate::body::{Body, BoxError};
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, Method, Request, Response};
use hyper::body::{Body as _, Frame, SizeHint};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio_util::io::poll_read_buf;

/// Room kept free in the read buffer before each read.
const READ_CHUNK: usize = 8 << 10;
/// How long a pooled connection may sit idle before it is closed rather than reused: less
/// than the keep-alive timeouts of common servers would be ideal, but those range from 5 s
/// (Node.js) to 75 s (nginx); a connection the server closed is noticed before reuse.
const MAX_IDLE: Duration = Duration::from_secs(60);

/// One HTTP/1.1 connection to a plain upstream, idle in its pool or carrying one exchange.
pub struct H1Conn {
    io: BoxIo,
    read: BytesMut,
    idle_since: Instant,
    opened: Instant,
    /// Requests sent on it (`ConnPolicy::max_uses`).
    uses: u32,
}

/// A failed exchange. `stale`: the connection failed before any of the response arrived
/// (closed or reset by the server, typically an idle connection it had just closed), so a
/// request that can be replayed may be sent again on a new connection.
#[derive(Debug)]
pub struct SendError {
    pub error: UpstreamError,
    pub stale: bool,
}

impl H1Conn {
    pub fn new(io: BoxIo) -> H1Conn {
        let now = Instant::now();
        H1Conn {
            io,
            read: BytesMut::new(),
            idle_since: now,
            opened: now,
            uses: 0,
        }
    }

    /// The connection, marked as idle from now.
    pub fn idle(mut self) -> H1Conn {
        self.idle_since = Instant::now();
        self
    }

    /// Whether an idle connection can carry a request: not idle too long, not closed by the
    /// server, nothing unsolicited waiting to be read. Costs no system call when the
    /// runtime already knows the socket has nothing to read.
    pub fn reusable(&mut self, policy: &ConnPolicy) -> bool {
        if self.idle_since.elapsed() > MAX_IDLE.min(policy.http_idle)
            || !self.read.is_empty()
            || self.retired(policy)
        {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        self.read.reserve(READ_CHUNK);
        matches!(
            poll_read_buf(self.io.as_mut(), &mut cx, &mut self.read),
            Poll::Pending
        )
    }

    /// It has carried its count of requests, or lived its time.
    pub fn retired(&self, policy: &ConnPolicy) -> bool {
        policy.retired(self.opened, self.uses)
    }

    /// Sends `req` (in HTTP/1.1 form, hop-by-hop headers removed) and reads the response
    /// head. A request body still streaming when the response head arrives keeps being
    /// sent while the response body is read.
    pub async fn send(
        mut self,
        req: Request<Body>,
        pool: &Arc<EndpointPool>,
    ) -> Result<Response<Body>, SendError> {
        self.uses += 1;
        let head_request = req.method() == Method::HEAD;
        let (parts, body) = req.into_parts();
        let mut writer = Writer::new(&parts, body);
        // The first body chunk, when it is already here, leaves in the same write as the head.
        writer.take_ready_chunk();
        let mut write_failed: Option<io::Error> = None;
        let mut got_bytes = false;
        let head = poll_fn(|cx| {
            if write_failed.is_none() && !writer.done {
                if let Poll::Ready(Err(e)) = writer.poll_write(&mut self.io, cx) {
                    write_failed = Some(e);
                }
            }
            loop {
                match h1_codec::parse_response_head(&mut self.read, head_request) {
                    Ok(Some(head)) => return Poll::Ready(Ok(head)),
                    Ok(None) => {}
                    Err(e) => return Poll::Ready(Err(wire_error(e))),
                }
                self.read.reserve(READ_CHUNK);
                match ready!(poll_read_buf(self.io.as_mut(), cx, &mut self.read)) {
                    Ok(0) => {
                        let stale = !got_bytes;
                        let text = match &write_failed {
                            Some(e) => format!("upstream closed the connection: {e}"),
                            None => "upstream closed the connection before responding".into(),
                        };
                        return Poll::Ready(Err(SendError {
                            error: UpstreamError::Terminated(text),
                            stale,
                        }));
                    }
                    Ok(_) => got_bytes = true,
                    Err(e) => {
                        let stale = !got_bytes;
                        return Poll::Ready(Err(SendError {
                            error: UpstreamError::Reset(format!("upstream connection: {e}")),
                            stale,
                        }));
                    }
                }
            }
        })
        .await?;
        let write_ok = write_failed.is_none();
        if let Some(e) = write_failed {
            // The server answered without reading the whole request: the answer is passed
            // on, the connection is not reused.
            tracing::debug!("request not fully sent before the response: {e}");
            writer.abandon();
        }
        let mut resp = Response::new(crate::body::empty());
        *resp.status_mut() = head.status;
        *resp.version_mut() = head.version;
        *resp.headers_mut() = head.headers;
        let keep_alive = head.keep_alive && write_ok;
        let framing = match head.framing {
            BodyFraming::Empty => Reading::Done,
            BodyFraming::Length(n) => Reading::Length(n),
            BodyFraming::Chunked => Reading::Chunked(ChunkState::Size),
            BodyFraming::UntilClose => Reading::UntilClose,
        };
        // The common case: a small response that came whole with its head. The connection
        // goes back to the pool now and the body is plain bytes.
        if writer.finished() && keep_alive {
            match framing {
                Reading::Done => {
                    pool.recycle(self);
                    return Ok(resp);
                }
                Reading::Length(n) if self.read.len() as u64 == n => {
                    let whole = self.read.split().freeze();
                    *resp.body_mut() = crate::body::full(whole);
                    pool.recycle(self);
                    return Ok(resp);
                }
                _ => {}
            }
        }
        let body = ResponseBody {
            conn: Some(self),
            reading: framing,
            writer: (!writer.finished()).then_some(writer),
            keep_alive,
            pool: pool.clone(),
        };
        *resp.body_mut() = http_body_util::BodyExt::boxed(body);
        Ok(resp)
    }
}

fn wire_error(e: WireError) -> SendError {
    SendError {
        error: UpstreamError::Protocol(format!("upstream sent {e}")),
        stale: false,
    }
}

/// The request going out: bytes queued for the socket and the body still to read.
struct Writer {
    out: VecDeque<Bytes>,
    body: Option<Body>,
    framing: RequestFraming,
    /// Body bytes sent so far, checked against a Content-Length.
    sent: u64,
    /// Every byte of the request is written and flushed.
    done: bool,
}

impl Writer {
    fn new(parts: &http::request::Parts, body: Body) -> Writer {
        let no_body = body.is_end_stream();
        let known = body.size_hint().exact();
        let mut head = BytesMut::new();
        let framing = h1_codec::encode_request_head(parts, no_body, known, &mut head);
        let mut out = VecDeque::with_capacity(4);
        out.push_back(head.freeze());
        let body = match framing {
            RequestFraming::None | RequestFraming::Length(0) => None,
            _ => Some(body),
        };
        Writer {
            out,
            body,
            framing,
            sent: 0,
            done: false,
        }
    }

    /// Whether the whole request has been written (or given up on).
    fn finished(&self) -> bool {
        self.done
    }

    /// Queues the body's first frame when it is available without waiting.
    fn take_ready_chunk(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        // Any outcome is fine: an error or a pending body is seen again by `poll_write`.
        let _ = self.poll_body(&mut cx);
    }

    /// Reads body frames into the output queue until the body waits or ends.
    fn poll_body(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        match ready!(Pin::new(body).poll_frame(cx)) {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    self.sent += data.len() as u64;
                    if let RequestFraming::Length(n) = self.framing {
                        if self.sent > n {
                            return Poll::Ready(Err(io::Error::other(
                                "request body longer than its content-length",
                            )));
                        }
                    }
                    if !data.is_empty() {
                        if self.framing == RequestFraming::Chunked {
                            self.out.push_back(h1_codec::chunk_size_line(data.len()));
                            self.out.push_back(data);
                            self.out.push_back(Bytes::from_static(b"\r\n"));
                        } else {
                            self.out.push_back(data);
                        }
                    }
                    Poll::Ready(Ok(()))
                }
                Err(frame) => {
                    let trailers = frame.into_trailers().ok();
                    self.end_body(trailers.as_ref())
                }
            },
            Some(Err(e)) => Poll::Ready(Err(io::Error::other(format!("request body: {e}")))),
            None => self.end_body(None),
        }
    }

    fn end_body(&mut self, trailers: Option<&HeaderMap>) -> Poll<io::Result<()>> {
        self.body = None;
        match self.framing {
            RequestFraming::Chunked => self.out.push_back(h1_codec::chunked_end(trailers)),
            RequestFraming::Length(n) if self.sent != n => {
                return Poll::Ready(Err(io::Error::other(
                    "request body shorter than its content-length",
                )))
            }
            _ => {}
        }
        Poll::Ready(Ok(()))
    }

    /// Writes what is queued and what the body yields, until all is written (Ready) or the
    /// socket or the body has to wait (Pending).
    fn poll_write(&mut self, io: &mut BoxIo, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if !self.out.is_empty() {
                let mut slices = [IoSlice::new(&[]); 8];
                let mut n = 0;
                for (slot, b) in slices.iter_mut().zip(self.out.iter()) {
                    *slot = IoSlice::new(b);
                    n += 1;
                }
                let mut written = ready!(io.as_mut().poll_write_vectored(cx, &slices[..n]))?;
                if written == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                while written > 0 {
                    let Some(front) = self.out.front_mut() else {
                        break;
                    };
                    if written >= front.len() {
                        written -= front.len();
                        self.out.pop_front();
                    } else {
                        front.advance(written);
                        written = 0;
                    }
                }
                continue;
            }
            if self.body.is_some() {
                ready!(self.poll_body(cx))?;
                continue;
            }
            ready!(io.as_mut().poll_flush(cx))?;
            self.done = true;
            return Poll::Ready(Ok(()));
        }
    }

    /// Gives up on the rest of the request (the connection is not reused after).
    fn abandon(&mut self) {
        self.out.clear();
        self.body = None;
        self.done = true;
    }
}

/// How much of the response body is left.
enum Reading {
    Length(u64),
    Chunked(ChunkState),
    UntilClose,
    Done,
}

/// A response body read from the connection it arrived on. Dropped before it is read whole,
/// it closes the connection (which is mid-response) instead of pooling it.
struct ResponseBody {
    conn: Option<H1Conn>,
    reading: Reading,
    /// The request, when its body was still being sent as the response came.
    writer: Option<Writer>,
    keep_alive: bool,
    pool: Arc<EndpointPool>,
}

impl ResponseBody {
    /// The response is read whole: the connection goes back to the pool if the request was
    /// written whole too and both sides want to keep it.
    fn complete(&mut self) {
        self.reading = Reading::Done;
        let written = self.writer.as_ref().is_none_or(|w| w.done);
        if let Some(conn) = self.conn.take() {
            if self.keep_alive && written && conn.read.is_empty() {
                self.pool.recycle(conn);
            }
        }
        self.writer = None;
    }

    fn fail(&mut self, text: String) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.reading = Reading::Done;
        self.conn = None;
        self.writer = None;
        Poll::Ready(Some(Err(text.into())))
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(conn) = this.conn.as_mut() else {
            return Poll::Ready(None);
        };
        if let Some(writer) = this.writer.as_mut().filter(|w| !w.done) {
            if let Poll::Ready(Err(e)) = writer.poll_write(&mut conn.io, cx) {
                tracing::debug!("request body not fully sent: {e}");
                // The response is still read; the connection will not be reused.
                this.keep_alive = false;
                writer.abandon();
            }
        }
        loop {
            match &mut this.reading {
                Reading::Done => {
                    this.complete();
                    return Poll::Ready(None);
                }
                Reading::Length(left) if !conn.read.is_empty() => {
                    let take = usize::try_from(*left)
                        .unwrap_or(usize::MAX)
                        .min(conn.read.len());
                    let data = conn.read.split_to(take).freeze();
                    *left -= take as u64;
                    if *left == 0 {
                        this.complete();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Reading::UntilClose if !conn.read.is_empty() => {
                    let data = conn.read.split().freeze();
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Reading::Chunked(state) => match h1_codec::decode_chunked(state, &mut conn.read) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Decoded::Trailers(trailers)) => {
                        this.complete();
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Ok(Decoded::End) => {
                        this.complete();
                        return Poll::Ready(None);
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(e) => return this.fail(format!("upstream sent {e}")),
                },
                _ => {}
            }
            conn.read.reserve(READ_CHUNK);
            match ready!(poll_read_buf(conn.io.as_mut(), cx, &mut conn.read)) {
                Ok(0) => {
                    if matches!(this.reading, Reading::UntilClose) {
                        this.reading = Reading::Done;
                        this.conn = None;
                        return Poll::Ready(None);
                    }
                    return this.fail("upstream closed the connection mid-body".into());
                }
                Ok(_) => {}
                Err(e) => return this.fail(format!("upstream connection: {e}")),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.reading, Reading::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.reading {
            Reading::Length(n) => SizeHint::with_exact(n),
            Reading::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests;
