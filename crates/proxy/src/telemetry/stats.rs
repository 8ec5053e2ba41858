//! Istio's standard metrics, served as Prometheus text on the admin port's `/stats`:
//! `istio_requests_total`, `istio_request_duration_milliseconds`, `istio_request_bytes`,
//! `istio_response_bytes`, and the `istio_tcp_*` connection and byte counters, with Istio's
//! label names so existing dashboards work.
//!
//! Series are found through a copy-on-write map read without a lock; only the first
//! request of a new label combination takes the insertion mutex.

use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Istio's duration buckets (milliseconds).
const DURATION_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];
/// Istio's size buckets (bytes): powers of ten.
const SIZE_BUCKETS: [f64; 9] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];

/// The labels of one series, in Istio's order and names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Labels {
    pub reporter: &'static str,
    pub source_workload: Arc<str>,
    pub source_workload_namespace: Arc<str>,
    pub source_principal: Arc<str>,
    pub destination_workload: Arc<str>,
    pub destination_workload_namespace: Arc<str>,
    pub destination_principal: Arc<str>,
    pub destination_service: Arc<str>,
    pub request_protocol: &'static str,
    pub response_code: u16,
    pub response_flags: Arc<str>,
    pub connection_security_policy: &'static str,
}

impl Labels {
    fn render(&self, out: &mut String, with_response: bool) {
        let service = &*self.destination_service;
        let mut parts = service.splitn(3, '.');
        let (name, ns) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("unknown"),
        );
        let _ = write!(
            out,
            "reporter=\"{}\",source_workload=\"{}\",source_workload_namespace=\"{}\",\
             source_principal=\"{}\",destination_workload=\"{}\",\
             destination_workload_namespace=\"{}\",destination_principal=\"{}\",\
             destination_service=\"{}\",destination_service_name=\"{}\",\
             destination_service_namespace=\"{}\",request_protocol=\"{}\",\
             connection_security_policy=\"{}\"",
            self.reporter,
            esc(&self.source_workload),
            esc(&self.source_workload_namespace),
            esc(&self.source_principal),
            esc(&self.destination_workload),
            esc(&self.destination_workload_namespace),
            esc(&self.destination_principal),
            esc(service),
            esc(name),
            esc(ns),
            self.request_protocol,
            self.connection_security_policy,
        );
        if with_response {
            let _ = write!(
                out,
                ",response_code=\"{}\",response_flags=\"{}\"",
                self.response_code,
                esc(&self.response_flags)
            );
        }
    }
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    /// Sum in thousandths of the unit, to keep it an atomic integer.
    sum_milli: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_milli: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            if let Some(b) = self.buckets.get(i) {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.sum_milli
            .fetch_add((v * 1000.0) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (b, n) in self.bounds.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = self.sum_milli.load(Ordering::Relaxed) as f64 / 1000.0;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

struct RequestSeries {
    total: AtomicU64,
    duration: Histogram,
    request_bytes: Histogram,
    response_bytes: Histogram,
}

#[derive(Default)]
struct TcpSeries {
    opened: AtomicU64,
    closed: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
}

/// Every request hashes its labels (a dozen strings) to find its series, so the hasher is a
/// fast one rather than SipHash. It is seeded per process, so a peer cannot plan collisions;
/// the labels come from verified identities, the config and mesh peers' metadata.
type SeriesHashMap<V> = HashMap<Labels, Arc<V>, foldhash::fast::RandomState>;

/// A label-keyed set of series: lock-free lookups, copy-on-write inserts.
struct SeriesMap<V> {
    map: ArcSwap<SeriesHashMap<V>>,
    insert: Mutex<()>,
}

impl<V> SeriesMap<V> {
    fn new() -> Self {
        SeriesMap {
            map: ArcSwap::from_pointee(SeriesHashMap::default()),
            insert: Mutex::new(()),
        }
    }

    fn get(&self, labels: &Labels, make: impl FnOnce() -> V) -> Arc<V> {
        if let Some(s) = self.map.load().get(labels) {
            return s.clone();
        }
        let _guard = self.insert.lock();
        let current = self.map.load_full();
        if let Some(s) = current.get(labels) {
            return s.clone();
        }
        let series = Arc::new(make());
        let mut next = (*current).clone();
        next.insert(labels.clone(), series.clone());
        self.map.store(Arc::new(next));
        series
    }

    fn snapshot(&self) -> Vec<(Labels, Arc<V>)> {
        let mut all: Vec<_> = self
            .map
            .load()
            .iter()
            .map(|(l, v)| (l.clone(), v.clone()))
            .collect();
        all.sort_by_key(|(l, _)| format!("{l:?}"));
        all
    }
}

/// One HTTP request's measurements.
pub struct RequestSample {
    pub duration_ms: f64,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

pub struct Stats {
    requests: SeriesMap<RequestSeries>,
    tcp: SeriesMap<TcpSeries>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            requests: SeriesMap::new(),
            tcp: SeriesMap::new(),
        }
    }
}

impl Stats {
    pub fn request(&self, labels: &Labels, sample: &RequestSample) {
        let s = self.requests.get(labels, || RequestSeries {
            total: AtomicU64::new(0),
            duration: Histogram::new(&DURATION_BUCKETS),
            request_bytes: Histogram::new(&SIZE_BUCKETS),
            response_bytes: Histogram::new(&SIZE_BUCKETS),
        });
        s.total.fetch_add(1, Ordering::Relaxed);
        s.duration.observe(sample.duration_ms);
        s.request_bytes.observe(sample.request_bytes as f64);
        s.response_bytes.observe(sample.response_bytes as f64);
    }

    pub fn tcp_opened(&self, labels: &Labels) {
        self.tcp
            .get(labels, TcpSeries::default)
            .opened
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn tcp_closed(&self, labels: &Labels, sent: u64, received: u64) {
        let s = self.tcp.get(labels, TcpSeries::default);
        s.closed.fetch_add(1, Ordering::Relaxed);
        s.sent.fetch_add(sent, Ordering::Relaxed);
        s.received.fetch_add(received, Ordering::Relaxed);
    }

    /// Prometheus text exposition format.
    pub fn render(&self, extra: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let requests = self.requests.snapshot();
        let label = |l: &Labels, with_response| {
            let mut s = String::new();
            l.render(&mut s, with_response);
            s
        };
        let _ = writeln!(out, "# TYPE istio_requests_total counter");
        for (l, s) in &requests {
            let _ = writeln!(
                out,
                "istio_requests_total{{{}}} {}",
                label(l, true),
                s.total.load(Ordering::Relaxed)
            );
        }
        for (name, pick) in [
            ("istio_request_duration_milliseconds", 0),
            ("istio_request_bytes", 1),
            ("istio_response_bytes", 2),
        ] {
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (l, s) in &requests {
                let h = match pick {
                    0 => &s.duration,
                    1 => &s.request_bytes,
                    _ => &s.response_bytes,
                };
                h.render(&mut out, name, &label(l, true));
            }
        }
        let tcp = self.tcp.snapshot();
        type Pick = fn(&TcpSeries) -> &AtomicU64;
        let counters: [(&str, Pick, bool); 4] = [
            ("istio_tcp_connections_opened_total", |s| &s.opened, false),
            ("istio_tcp_connections_closed_total", |s| &s.closed, true),
            ("istio_tcp_sent_bytes_total", |s| &s.sent, true),
            ("istio_tcp_received_bytes_total", |s| &s.received, true),
        ];
        for (name, pick, with_flags) in counters {
            let _ = writeln!(out, "# TYPE {name} counter");
            for (l, s) in &tcp {
                let mut labels = label(l, false);
                if with_flags {
                    let _ = write!(labels, ",response_flags=\"{}\"", esc(&l.response_flags));
                }
                let _ = writeln!(
                    out,
                    "{name}{{{labels}}} {}",
                    pick(s).load(Ordering::Relaxed)
                );
            }
        }
        for (name, help, value) in extra {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        out
    }
}
