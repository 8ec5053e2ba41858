//! A small HTTP/1.1 load generator and upstream, for comparing proxy chains in one run:
//! saturation (as many requests as a set of keep-alive connections can complete) and a
//! fixed rate (open loop: latency counted from when each request was due, so a stall is
//! not hidden by the requests it delayed).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// Serves 200 with a short body to every request, reading the request body in full.
pub async fn upstream() -> anyhow::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").await?;
    let addr = l.local_addr()?;
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    |req: http::Request<hyper::body::Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from_static(b"ok\n"),
                        )))
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

fn request(host: &str, body: &Bytes) -> http::Request<Full<Bytes>> {
    let mut req = http::Request::new(Full::new(body.clone()));
    *req.method_mut() = if body.is_empty() {
        http::Method::GET
    } else {
        http::Method::POST
    };
    *req.uri_mut() = http::Uri::from_static("/bench");
    if let Ok(v) = http::HeaderValue::from_str(host) {
        req.headers_mut().insert(http::header::HOST, v);
    }
    req
}

async fn one(sender: &mut Sender, host: &str, body: &Bytes) -> anyhow::Result<()> {
    sender.ready().await?;
    let resp = sender.send_request(request(host, body)).await?;
    let ok = resp.status().is_success();
    resp.into_body().collect().await?;
    anyhow::ensure!(ok, "non-2xx answer");
    Ok(())
}

pub struct Saturation {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
}

/// `connections` closed loops for `duration` (bounded by time and by `max_requests`).
pub async fn saturate(
    addr: SocketAddr,
    host: &str,
    connections: usize,
    duration: Duration,
    max_requests: u64,
) -> anyhow::Result<Saturation> {
    let start = Instant::now();
    let deadline = start + duration;
    let per_conn = max_requests / connections.max(1) as u64;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let host = host.to_string();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut err) = (0u64, 0u64);
            let Ok(mut sender) = connect(addr).await else {
                return (0, 1);
            };
            let body = Bytes::new();
            while Instant::now() < deadline && ok + err < per_conn {
                match one(&mut sender, &host, &body).await {
                    Ok(()) => ok += 1,
                    Err(_) => {
                        err += 1;
                        match connect(addr).await {
                            Ok(s) => sender = s,
                            Err(_) => break,
                        }
                    }
                }
            }
            (ok, err)
        }));
    }
    let (mut requests, mut errors) = (0, 0);
    for t in tasks {
        let (ok, err) = t.await?;
        requests += ok;
        errors += err;
    }
    Ok(Saturation {
        requests,
        errors,
        elapsed: start.elapsed(),
    })
}

#[derive(Default)]
pub struct Latencies {
    pub micros: Vec<u64>,
    pub errors: u64,
    /// Requests answered, the unmeasured warm-up's included: what the proxies' CPU time
    /// over the run was spent on.
    pub answered: u64,
    /// Each measured request's (start since the run began, latency) in microseconds, by
    /// start: to see when the slow ones happened.
    pub timeline: Vec<(u64, u64)>,
}

impl Latencies {
    /// Several runs' samples together, sorted. Timelines stay with their runs: their start
    /// times count from each run's own start and mean nothing merged.
    pub fn pooled<'a>(runs: impl IntoIterator<Item = &'a Latencies>) -> Latencies {
        let mut all = Latencies::default();
        for run in runs {
            all.micros.extend_from_slice(&run.micros);
            all.errors += run.errors;
            all.answered += run.answered;
        }
        all.micros.sort_unstable();
        all
    }

    pub fn percentile(&self, p: f64) -> f64 {
        if self.micros.is_empty() {
            return f64::NAN;
        }
        let i = nearest_rank(self.micros.len(), p);
        self.micros.get(i).copied().unwrap_or(0) as f64 / 1000.0
    }
}

/// The index of percentile `p` (0..=1) among `len` sorted samples (`len` > 0), nearest rank.
pub fn nearest_rank(len: usize, p: f64) -> usize {
    ((len - 1) as f64 * p).round() as usize
}

const WARMUP: Duration = Duration::from_millis(100);

/// `rate` requests per second spread over `connections`, each with a `body_bytes` body, for
/// `duration` after an unmeasured warm-up. Latency is measured from each request's
/// scheduled start.
pub async fn fixed_rate(
    addr: SocketAddr,
    host: &str,
    rate: u64,
    connections: usize,
    body_bytes: usize,
    duration: Duration,
) -> anyhow::Result<Latencies> {
    let per_conn = rate as f64 / connections.max(1) as f64;
    let interval = Duration::from_secs_f64(1.0 / per_conn.max(1.0));
    let count = (per_conn * duration.as_secs_f64()) as u64;
    // The first requests of a run are not measured: the first on each connection also pays
    // for the proxies' accept and connection set-up, and the ones after it meet processes
    // and caches that sat idle between runs — neither is what a fixed rate measures, and
    // with short rounds both would land in every round's slowest 1 %.
    let warmup_count = (per_conn * WARMUP.as_secs_f64()).ceil() as u64;
    let body = Bytes::from(vec![b'x'; body_bytes]);
    let start = Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (host, body) = (host.to_string(), body.clone());
        // Stagger connections so the requests are evenly spread, not in bursts.
        let offset = interval.mul_f64(c as f64 / connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(count as usize);
            let mut timeline = Vec::with_capacity(count as usize);
            let mut errors = 0u64;
            let mut answered = 0u64;
            let Ok(mut sender) = connect(addr).await else {
                return (lat, timeline, count, 0);
            };
            for k in 0..warmup_count + count {
                let due = start + offset + interval.mul_f64(k as f64);
                // On schedule: measure from when the timer fired (tokio's timer has
                // millisecond granularity, which is not the proxy's latency). Behind
                // schedule: measure from when the request was due.
                let from = if Instant::now() < due {
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                } else {
                    due
                };
                let result = one(&mut sender, &host, &body).await;
                answered += u64::from(result.is_ok());
                match result {
                    Ok(()) if k < warmup_count => {}
                    Ok(()) => {
                        let micros = from.elapsed().as_micros() as u64;
                        lat.push(micros);
                        let since_start = from.saturating_duration_since(start).as_micros() as u64;
                        timeline.push((since_start, micros));
                    }
                    Err(_) => {
                        errors += 1;
                        if let Ok(s) = connect(addr).await {
                            sender = s;
                        }
                    }
                }
            }
            (lat, timeline, errors, answered)
        }));
    }
    let mut all = Vec::new();
    let mut timeline = Vec::new();
    let (mut errors, mut answered) = (0, 0);
    for t in tasks {
        let (lat, times, err, ok) = t.await?;
        all.extend(lat);
        timeline.extend(times);
        errors += err;
        answered += ok;
    }
    all.sort_unstable();
    timeline.sort_unstable();
    Ok(Latencies {
        micros: all,
        errors,
        answered,
        timeline,
    })
}
