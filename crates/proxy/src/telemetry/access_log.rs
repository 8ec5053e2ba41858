//! JSON access log: one line per HTTP request and per TCP connection, written by a
//! background task so the data path never blocks on output. A full queue drops the line and
//! counts it (`verimesh_access_log_dropped_total`), never silently.

use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

const QUEUE: usize = 16 * 1024;

/// Where the log goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LogTarget {
    #[default]
    Stdout,
    File(PathBuf),
    Off,
}

/// One entry. Field names follow Envoy's access-log operators in snake case, as Istio's
/// JSON access log does, plus the SPIFFE identities of both ends.
#[derive(Debug, Default, Serialize)]
pub struct Entry {
    pub start_time: String,
    pub direction: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    pub response_code: u16,
    pub response_flags: String,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub duration: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_cluster: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_transport_failure_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_name: Option<String>,
    /// Attempts made upstream (1 + retries), when the request was sent upstream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_request_attempt_count: Option<u32>,
    pub downstream_remote_address: String,
    pub downstream_local_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The authorization policy and rule that decided, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authz_policy: Option<String>,
    /// Why the proxy answered itself, as Envoy words it (e.g.
    /// `rbac_access_denied_matched_policy[ns[foo]-policy[deny]-rule[0]]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_code_details: Option<String>,
    /// Why the proxy closed a TCP connection it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_termination_details: Option<String>,
    /// AUDIT policies that matched and what dry-run policies would have done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authz_audit: Option<String>,
}

pub struct AccessLog {
    tx: Option<mpsc::Sender<String>>,
    dropped: AtomicU64,
}

impl AccessLog {
    /// Starts the writer task (needs a runtime) unless the log is off.
    pub fn start(target: &LogTarget) -> std::io::Result<Self> {
        let tx = match target {
            LogTarget::Off => None,
            LogTarget::Stdout => Some(spawn_writer(Box::new(tokio::io::stdout()))),
            LogTarget::File(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                Some(spawn_writer(Box::new(tokio::fs::File::from_std(file))))
            }
        };
        Ok(AccessLog {
            tx,
            dropped: AtomicU64::new(0),
        })
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    pub fn write(&self, entry: &Entry) {
        let Some(tx) = &self.tx else { return };
        let Ok(mut line) = serde_json::to_string(entry) else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        line.push('\n');
        if tx.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

type Sink = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

fn spawn_writer(mut out: Sink) -> mpsc::Sender<String> {
    let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(256);
        while rx.recv_many(&mut batch, 256).await > 0 {
            let mut buf = String::new();
            for line in batch.drain(..) {
                buf.push_str(&line);
            }
            if out.write_all(buf.as_bytes()).await.is_err() || out.flush().await.is_err() {
                return;
            }
        }
    });
    tx
}

/// RFC 3339 with milliseconds, UTC, as Envoy's `%START_TIME%`.
pub fn timestamp(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, day) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_305_600_123);
        assert_eq!(timestamp(t), "2026-11-22T00:00:00.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000Z");
    }
}
