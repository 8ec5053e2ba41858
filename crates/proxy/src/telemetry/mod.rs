//! Telemetry of the data path: the JSON access log and Istio's standard metrics. A request
//! is recorded when its response body ends (or is abandoned), so bytes and durations are
//! the real ones. Recording (hashing the labels, updating histograms, formatting the log
//! line) is left to a task of its own: a body ends while the last bytes of the response are
//! still to be written, and the client should not wait for the bookkeeping.

pub mod access_log;
pub mod stats;

pub use access_log::{AccessLog, Entry, LogTarget};
pub use stats::{Labels, RequestSample, Stats};

use crate::body::{Body, BoxError};
use crate::flags::{Flags, ResponseFlag};
use crate::workers::PerWorker;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub struct Telemetry {
    pub log: AccessLog,
    pub stats: Stats,
    /// Per worker, the requests that ended there and wait for [`Telemetry::record_ended`]
    /// on the same worker.
    ended: PerWorker<EndedQueue>,
}

struct EndedQueue {
    items: Mutex<Vec<Ended>>,
    wake: tokio::sync::Notify,
    /// A task runs `record_ended` for this queue; until one does, requests are recorded as
    /// they end.
    deferring: AtomicBool,
}

struct Ended {
    flight: Box<InFlight>,
    sent: u64,
    duration: Duration,
}

impl Telemetry {
    /// Telemetry for a proxy with this many workers.
    pub fn new(log: AccessLog, workers: usize) -> Self {
        Telemetry {
            log,
            stats: Stats::default(),
            ended: PerWorker::new(workers, || EndedQueue {
                items: Mutex::new(Vec::new()),
                wake: tokio::sync::Notify::new(),
                deferring: AtomicBool::new(false),
            }),
        }
    }

    /// Records, in batches and for as long as it runs, the requests that end on `worker`
    /// (the worker this task runs on).
    pub async fn record_ended(self: Arc<Self>, worker: usize) {
        let Some(queue) = self.ended.get(worker) else {
            return;
        };
        queue.deferring.store(true, Ordering::Release);
        loop {
            queue.wake.notified().await;
            let batch = match queue.items.lock() {
                Ok(mut ended) => std::mem::take(&mut *ended),
                Err(_) => return,
            };
            for e in batch {
                e.flight.record(&self, e.sent, e.duration);
            }
        }
    }

    fn end(&self, flight: Box<InFlight>, sent: u64) {
        let duration = flight.start.elapsed();
        let queue = self.ended.mine();
        if !queue.deferring.load(Ordering::Acquire) {
            return flight.record(self, sent, duration);
        }
        let ended = Ended {
            flight,
            sent,
            duration,
        };
        match queue.items.lock() {
            Ok(mut items) => {
                items.push(ended);
                if items.len() == 1 {
                    queue.wake.notify_one();
                }
            }
            Err(_) => ended.flight.record(self, ended.sent, ended.duration),
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

impl Drop for Telemetry {
    /// What ended after the recording tasks stopped is recorded now.
    fn drop(&mut self) {
        let mut batch = Vec::new();
        for queue in self.ended.iter_mut() {
            if let Ok(items) = queue.items.get_mut() {
                batch.append(items);
            }
        }
        for e in batch {
            e.flight.record(self, e.sent, e.duration);
        }
    }
}

impl InFlight {
    fn record(mut self, telemetry: &Telemetry, sent: u64, duration: Duration) {
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
            telemetry.end(record, self.sent);
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

/// A received request body that counts the bytes it carries (wrapping the server's body
/// itself, hyper's or an `h2` stream's, so the request's body is boxed once).
pub struct Counted<B> {
    inner: B,
    count: Arc<AtomicU64>,
}

impl<B> Counted<B> {
    pub fn new(inner: B, count: Arc<AtomicU64>) -> Self {
        Counted { inner, count }
    }
}

impl<B> HttpBody for Counted<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx).map_err(Into::into);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn flight() -> Box<InFlight> {
        let name: Arc<str> = Arc::from("test");
        Box::new(InFlight {
            entry: Entry {
                response_code: 200,
                ..Entry::default()
            },
            labels: Labels {
                reporter: "source",
                source_workload: name.clone(),
                source_workload_namespace: name.clone(),
                source_principal: name.clone(),
                destination_workload: name.clone(),
                destination_workload_namespace: name.clone(),
                destination_principal: name.clone(),
                destination_service: Arc::from("web.test.svc.cluster.local"),
                request_protocol: "http",
                response_code: 0,
                response_flags: Arc::from("-"),
                connection_security_policy: "mutual_tls",
            },
            flags: Flags::default(),
            start: Instant::now(),
            request_bytes: Arc::new(AtomicU64::new(0)),
        })
    }

    fn counted(t: &Telemetry) -> bool {
        t.render_stats()
            .lines()
            .any(|l| l.starts_with("istio_requests_total{") && l.ends_with(" 1"))
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_is_recorded_after_its_response_not_while_it_ends() {
        let t = Arc::new(Telemetry::new(
            AccessLog::start(&LogTarget::Off).expect("log"),
            1,
        ));
        let task = tokio::spawn(t.clone().record_ended(0));
        tokio::task::yield_now().await;
        t.end(flight(), 3);
        assert!(!counted(&t), "recorded inline, on the response's path");
        tokio::task::yield_now().await;
        assert!(counted(&t), "{}", t.render_stats());
        task.abort();
    }

    #[test]
    fn without_the_recording_task_requests_are_recorded_as_they_end() {
        let t = Telemetry::new(AccessLog::start(&LogTarget::Off).expect("log"), 1);
        t.end(flight(), 3);
        assert!(counted(&t), "{}", t.render_stats());
    }
}
