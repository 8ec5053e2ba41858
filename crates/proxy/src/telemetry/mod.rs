//! Telemetry of the data path: the JSON access log and Istio's standard metrics. A request
//! is recorded when its response body ends (or is abandoned), so bytes and durations are
//! the real ones.

pub mod access_log;
pub mod stats;

pub use access_log::{AccessLog, Entry, LogTarget};
pub use stats::{Labels, RequestSample, Stats};

use crate::body::{Body, BoxError};
use crate::flags::{Flags, ResponseFlag};
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

pub struct Telemetry {
    pub log: AccessLog,
    pub stats: Stats,
}

impl Telemetry {
    pub fn new(log: AccessLog) -> Self {
        Telemetry {
            log,
            stats: Stats::default(),
        }
    }

    pub fn render_stats(&self) -> String {
        self.stats.render(&[(
            "verimesh_access_log_dropped_total",
            "Access-log lines dropped because the writer fell behind.",
            self.log.dropped(),
        )])
    }
}

/// A request under way: what will be logged and counted when its response ends.
pub struct InFlight {
    pub entry: Entry,
    pub labels: Labels,
    pub flags: Flags,
    pub start: Instant,
    pub request_bytes: Arc<AtomicU64>,
}

impl InFlight {
    fn finish(mut self, telemetry: &Telemetry, sent: u64) {
        let duration = self.start.elapsed();
        let received = self.request_bytes.load(Ordering::Relaxed);
        let flags = self.flags.label();
        self.labels.response_flags = flags.clone();
        self.labels.response_code = self.entry.response_code;
        telemetry.stats.request(
            &self.labels,
            &RequestSample {
                duration_ms: duration.as_secs_f64() * 1000.0,
                request_bytes: received,
                response_bytes: sent,
            },
        );
        if telemetry.log.enabled() {
            self.entry.response_flags = flags.to_string();
            self.entry.bytes_received = received;
            self.entry.bytes_sent = sent;
            self.entry.duration = duration.as_millis() as u64;
            telemetry.log.write(&self.entry);
        }
    }
}

/// A response body that records its request when it ends or is dropped.
pub struct Metered {
    inner: Body,
    sent: u64,
    ended: bool,
    record: Option<(Box<InFlight>, Arc<Telemetry>)>,
}

impl Metered {
    pub fn new(inner: Body, record: Box<InFlight>, telemetry: Arc<Telemetry>) -> Self {
        Metered {
            inner,
            sent: 0,
            ended: false,
            record: Some((record, telemetry)),
        }
    }

    fn finish(&mut self) {
        if let Some((mut record, telemetry)) = self.record.take() {
            if !self.ended && !self.inner.is_end_stream() {
                record
                    .flags
                    .add(ResponseFlag::DownstreamConnectionTermination);
            }
            record.finish(&telemetry, self.sent);
        }
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        self.finish();
    }
}

impl HttpBody for Metered {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(d) = frame.data_ref() {
                    self.sent += d.len() as u64;
                }
            }
            Poll::Ready(Some(Err(_))) => {
                if let Some((r, _)) = self.record.as_mut() {
                    r.flags.add(ResponseFlag::UpstreamRemoteReset);
                }
                self.ended = true;
                self.finish();
            }
            Poll::Ready(None) => {
                self.ended = true;
                self.finish();
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A received request body that counts the bytes it carries (wrapping hyper's body itself,
/// so the request's body is boxed once).
pub struct Counted {
    inner: hyper::body::Incoming,
    count: Arc<AtomicU64>,
}

impl Counted {
    pub fn new(inner: hyper::body::Incoming, count: Arc<AtomicU64>) -> Self {
        Counted { inner, count }
    }
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner)
            .poll_frame(cx)
            .map_err(BoxError::from);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(d) = frame.data_ref() {
                self.count.fetch_add(d.len() as u64, Ordering::Relaxed);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
