//! connectionPool settings beyond the limits (`policy.rs`): keepalives, idle timeouts and
//! connection retirement, mapped onto the model's `ConnectionOptions`. What the proxy does
//! not do is named in a note, never dropped without a word.

use verimesh_config::networking::ConnectionPoolSettings;
use verimesh_config::types::Duration;
use verimesh_model::{ConnectionOptions, Http2Keepalive, TcpKeepalive};

fn millis(d: &Duration) -> u64 {
    u64::try_from(d.as_std().as_millis()).unwrap_or(u64::MAX)
}

/// The options `pool` asks for; `notes` gets the settings the proxy does not carry out.
pub(crate) fn connection_options(
    pool: Option<&ConnectionPoolSettings>,
    notes: &mut Vec<String>,
) -> ConnectionOptions {
    let mut out = ConnectionOptions::default();
    let Some(pool) = pool else {
        return out;
    };
    if let Some(tcp) = &pool.tcp {
        out.tcp_keepalive = tcp.tcp_keepalive.as_ref().map(|k| TcpKeepalive {
            time_ms: k.time.as_ref().map(millis),
            interval_ms: k.interval.as_ref().map(millis),
            probes: k.probes,
        });
        out.max_connection_duration_ms = tcp.max_connection_duration.as_ref().map(millis);
        out.tcp_idle_timeout_ms = tcp.idle_timeout.as_ref().map(millis);
    }
    if let Some(http) = &pool.http {
        out.http_idle_timeout_ms = http.idle_timeout.as_ref().map(millis);
        out.max_requests_per_connection = http
            .max_requests_per_connection
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0);
        out.http2_keepalive = http.http2_keep_alive.as_ref().and_then(|k| {
            Some(Http2Keepalive {
                interval_ms: millis(k.interval.as_ref()?),
                timeout_ms: millis(k.timeout.as_ref()?),
            })
        });
        let unsupported = [
            ("h2UpgradePolicy", http.h2_upgrade_policy.is_some()),
            ("useClientProtocol", http.use_client_protocol.is_some()),
            (
                "maxConcurrentStreams",
                http.max_concurrent_streams.is_some(),
            ),
        ];
        for (field, set) in unsupported {
            if set {
                notes.push(format!(
                    "connectionPool.http.{field} is not supported by the proxy yet; ignored"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(json: &str) -> ConnectionPoolSettings {
        serde_json::from_str(json).expect("connectionPool")
    }

    #[test]
    fn every_option_is_carried_in_milliseconds() {
        let p = pool(
            r#"{"tcp": {"tcpKeepalive": {"time": "7200s", "interval": "75s", "probes": 9},
                        "maxConnectionDuration": "1800s", "idleTimeout": "0s"},
                "http": {"idleTimeout": "90s", "maxRequestsPerConnection": 5,
                         "http2KeepAlive": {"interval": "10s", "timeout": "2s"}}}"#,
        );
        let mut notes = Vec::new();
        let o = connection_options(Some(&p), &mut notes);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(
            o.tcp_keepalive,
            Some(TcpKeepalive {
                time_ms: Some(7_200_000),
                interval_ms: Some(75_000),
                probes: Some(9)
            })
        );
        assert_eq!(o.max_connection_duration_ms, Some(1_800_000));
        assert_eq!(
            o.tcp_idle_timeout_ms,
            Some(0),
            "0s is kept: it turns the timeout off"
        );
        assert_eq!(o.http_idle_timeout_ms, Some(90_000));
        assert_eq!(o.max_requests_per_connection, Some(5));
        assert_eq!(
            o.http2_keepalive,
            Some(Http2Keepalive {
                interval_ms: 10_000,
                timeout_ms: 2_000
            })
        );
    }

    #[test]
    fn an_empty_tcp_keepalive_turns_it_on_with_the_kernels_values() {
        let o = connection_options(
            Some(&pool(r#"{"tcp": {"tcpKeepalive": {}}}"#)),
            &mut Vec::new(),
        );
        assert_eq!(o.tcp_keepalive, Some(TcpKeepalive::default()));
    }

    #[test]
    fn what_the_proxy_does_not_do_is_named() {
        let p = pool(
            r#"{"http": {"useClientProtocol": true, "h2UpgradePolicy": "UPGRADE", "maxConcurrentStreams": 10}}"#,
        );
        let mut notes = Vec::new();
        let o = connection_options(Some(&p), &mut notes);
        assert!(o.is_default());
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(
            notes[0].contains("connectionPool.http.h2UpgradePolicy"),
            "{notes:?}"
        );
        assert!(notes[1].contains("useClientProtocol"));
        assert!(notes[2].contains("maxConcurrentStreams"));
    }
}
