//! Istio's standard metrics, served as Prometheus text on the admin port's `/stats`:
//! `istio_requests_total`, `istio_request_duration_milliseconds`, `istio_request_bytes`,
//! `istio_response_bytes`, and the `istio_tcp_*` connection and byte counters, with Istio's
//! label names so existing dashboards work.
//!
//! Series are found through a copy-on-write map read without a lock; only the first
//! request of a new label combination takes the insertion mutex. Each worker thread
//! (`crate::workers`) counts into series of its own, so two workers never write the same
//! cache lines per request; `/stats` adds them up.

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
}

/// One series' histogram as the sum of the workers' (all of the same buckets).
fn render_histograms(parts: &[&Histogram], out: &mut String, name: &str, labels: &str) {
    let Some(first) = parts.first() else {
        return;
    };
    let total = |pick: &dyn Fn(&Histogram) -> u64| parts.iter().map(|h| pick(h)).sum::<u64>();
    let mut cumulative = 0;
    for (i, b) in first.bounds.iter().enumerate() {
        cumulative += total(&|h| h.buckets.get(i).map_or(0, |n| n.load(Ordering::Relaxed)));
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
    }
    let count = total(&|h| h.count.load(Ordering::Relaxed));
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let sum = total(&|h| h.sum_milli.load(Ordering::Relaxed)) as f64 / 1000.0;
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
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
}

/// Every label set any worker has, with its series on each worker that has one, in a
/// stable order.
fn merged<'a, V: 'a>(maps: impl Iterator<Item = &'a SeriesMap<V>>) -> Vec<(Labels, Vec<Arc<V>>)> {
    let mut all: Vec<(String, Labels, Arc<V>)> = Vec::new();
    for m in maps {
        all.extend(
            m.map
                .load()
                .iter()
                .map(|(l, v)| (format!("{l:?}"), l.clone(), v.clone())),
        );
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(Labels, Vec<Arc<V>>)> = Vec::new();
    for (_, l, v) in all {
        match out.last_mut() {
            Some((last, series)) if *last == l => series.push(v),
            _ => out.push((l, vec![v])),
        }
    }
    out
}

/// One HTTP request's measurements.
pub struct RequestSample {
    pub duration_ms: f64,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

pub struct Stats {
    per_worker: Box<[WorkerSeries]>,
}

/// One worker's series, on cache lines of their own.
#[repr(align(128))]
struct WorkerSeries {
    requests: SeriesMap<RequestSeries>,
    tcp: SeriesMap<TcpSeries>,
}

impl Stats {
    /// Series for a proxy with this many workers.
    pub fn new(workers: usize) -> Self {
        Stats {
            per_worker: (0..workers.max(1))
                .map(|_| WorkerSeries {
                    requests: SeriesMap::new(),
                    tcp: SeriesMap::new(),
                })
                .collect(),
        }
    }

    fn mine(&self) -> &WorkerSeries {
        &self.per_worker[crate::workers::current() % self.per_worker.len()]
    }

    pub fn request(&self, labels: &Labels, sample: &RequestSample) {
        let s = self.mine().requests.get(labels, || RequestSeries {
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
        self.mine()
            .tcp
            .get(labels, TcpSeries::default)
            .opened
            .fetch_add(1, Ordering::Relaxed);
    }

    pub fn tcp_closed(&self, labels: &Labels, sent: u64, received: u64) {
        let s = self.mine().tcp.get(labels, TcpSeries::default);
        s.closed.fetch_add(1, Ordering::Relaxed);
        s.sent.fetch_add(sent, Ordering::Relaxed);
        s.received.fetch_add(received, Ordering::Relaxed);
    }

    /// Prometheus text exposition format.
    pub fn render(&self, extra: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let requests = merged(self.per_worker.iter().map(|w| &w.requests));
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
                s.iter()
                    .map(|s| s.total.load(Ordering::Relaxed))
                    .sum::<u64>()
            );
        }
        for (name, pick) in [
            ("istio_request_duration_milliseconds", 0),
            ("istio_request_bytes", 1),
            ("istio_response_bytes", 2),
        ] {
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (l, series) in &requests {
                let parts: Vec<&Histogram> = series
                    .iter()
                    .map(|s| match pick {
                        0 => &s.duration,
                        1 => &s.request_bytes,
                        _ => &s.response_bytes,
                    })
                    .collect();
                render_histograms(&parts, &mut out, name, &label(l, true));
            }
        }
        let tcp = merged(self.per_worker.iter().map(|w| &w.tcp));
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
                    s.iter()
                        .map(|s| pick(s).load(Ordering::Relaxed))
                        .sum::<u64>()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workers::as_worker;

    fn labels(code: u16) -> Labels {
        let name: Arc<str> = Arc::from("w");
        Labels {
            reporter: "destination",
            source_workload: name.clone(),
            source_workload_namespace: name.clone(),
            source_principal: name.clone(),
            destination_workload: name.clone(),
            destination_workload_namespace: name.clone(),
            destination_principal: name.clone(),
            destination_service: Arc::from("web.ns.svc.cluster.local"),
            request_protocol: "http",
            response_code: code,
            response_flags: Arc::from("-"),
            connection_security_policy: "mutual_tls",
        }
    }

    fn line<'a>(text: &'a str, prefix: &str, contains: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix) && l.contains(contains))
            .unwrap_or_else(|| panic!("no {prefix} line with {contains} in\n{text}"))
    }

    /// Workers count into series of their own; /stats shows one series per label set,
    /// the sum of every worker's.
    #[test]
    fn series_of_every_worker_are_added_up() {
        let stats = Stats::new(2);
        let sample = |ms| RequestSample {
            duration_ms: ms,
            request_bytes: 10,
            response_bytes: 1000,
        };
        as_worker(0, || stats.request(&labels(200), &sample(0.2)));
        as_worker(1, || stats.request(&labels(200), &sample(3.0)));
        as_worker(1, || stats.request(&labels(503), &sample(3.0)));
        as_worker(0, || stats.tcp_opened(&labels(0)));
        as_worker(1, || stats.tcp_opened(&labels(0)));
        as_worker(1, || stats.tcp_closed(&labels(0), 5, 7));
        let text = stats.render(&[]);
        let ok = "response_code=\"200\"";
        assert!(line(&text, "istio_requests_total{", ok).ends_with(" 2"));
        assert!(line(&text, "istio_requests_total{", "response_code=\"503\"").ends_with(" 1"));
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("istio_requests_total{"))
                .count(),
            2,
            "{text}"
        );
        let duration = "istio_request_duration_milliseconds_bucket{";
        assert!(
            line(&text, duration, "le=\"0.5\"").ends_with(" 1"),
            "{text}"
        );
        assert!(line(&text, duration, "le=\"5\"").ends_with(" 2"), "{text}");
        assert!(line(&text, "istio_request_duration_milliseconds_count{", ok).ends_with(" 2"));
        assert!(line(&text, "istio_request_duration_milliseconds_sum{", ok).ends_with(" 3.2"));
        assert!(line(&text, "istio_tcp_connections_opened_total{", "").ends_with(" 2"));
        assert!(line(&text, "istio_tcp_sent_bytes_total{", "").ends_with(" 5"));
    }
}
