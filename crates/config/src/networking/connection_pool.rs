//! Connection pool limits and outlier detection (DestinationRule, Sidecar ingress).

use super::checks::check_duration;
use crate::types::Duration;
use crate::validate::Findings;
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

/// Connection pool settings for an upstream host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionPoolSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSettings>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_keepalive: Option<TcpKeepalive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connection_duration: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpKeepalive {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
}

/// Whether HTTP/1.1 connections to the upstream are upgraded to HTTP/2.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum H2UpgradePolicy {
    #[default]
    Default,
    DoNotUpgrade,
    Upgrade,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http1_max_pending_requests: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_max_requests: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests_per_connection: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2_upgrade_policy: Option<H2UpgradePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_client_protocol: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_streams: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_keep_alive: Option<ConnectionKeepalive>,
}

/// HTTP/2 keepalive pings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionKeepalive {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

fn non_negative(v: Option<i32>, field: &str, at: &FieldPath, out: &mut Findings) {
    if let Some(n) = v {
        if n < 0 {
            out.error(
                &at.field(field),
                format!("{field} must not be negative (got {n})"),
            );
        }
    }
}

impl ConnectionPoolSettings {
    pub(crate) fn check(&self, at: &FieldPath, out: &mut Findings) {
        if self.tcp.is_none() && self.http.is_none() {
            out.error(at, "a connection pool needs tcp or http settings");
            return;
        }
        if let Some(h) = &self.http {
            let p = at.field("http");
            non_negative(
                h.http1_max_pending_requests,
                "http1MaxPendingRequests",
                &p,
                out,
            );
            non_negative(h.http2_max_requests, "http2MaxRequests", &p, out);
            non_negative(
                h.max_requests_per_connection,
                "maxRequestsPerConnection",
                &p,
                out,
            );
            non_negative(h.max_retries, "maxRetries", &p, out);
            non_negative(h.max_concurrent_streams, "maxConcurrentStreams", &p, out);
            check_duration(&h.idle_timeout, &p.field("idleTimeout"), out);
            if h.h2_upgrade_policy == Some(H2UpgradePolicy::Upgrade)
                && h.use_client_protocol == Some(true)
            {
                out.error(
                    &p.field("useClientProtocol"),
                    "useClientProtocol cannot be true when h2UpgradePolicy is UPGRADE",
                );
            }
            if let Some(k) = &h.http2_keep_alive {
                let kp = p.field("http2KeepAlive");
                for (field, v) in [("interval", &k.interval), ("timeout", &k.timeout)] {
                    if v.is_none() {
                        out.error(&kp.field(field), format!("http2KeepAlive needs an {field}"));
                    }
                    check_duration(v, &kp.field(field), out);
                }
            }
        }
        if let Some(t) = &self.tcp {
            let p = at.field("tcp");
            non_negative(t.max_connections, "maxConnections", &p, out);
            check_duration(&t.connect_timeout, &p.field("connectTimeout"), out);
            check_duration(
                &t.max_connection_duration,
                &p.field("maxConnectionDuration"),
                out,
            );
            // 0s turns the idle timeout off.
            if t.idle_timeout.is_some_and(|d| d.as_std().as_millis() != 0) {
                check_duration(&t.idle_timeout, &p.field("idleTimeout"), out);
            }
            if let Some(k) = &t.tcp_keepalive {
                let kp = p.field("tcpKeepalive");
                check_duration(&k.time, &kp.field("time"), out);
                check_duration(&k.interval, &kp.field("interval"), out);
            }
        }
    }
}

/// Ejection of unhealthy hosts from the load balancing pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    /// Deprecated: use consecutiveGatewayErrors or consecutive5xxErrors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_errors: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_external_local_origin_errors: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_local_origin_failures: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_gateway_errors: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_5xx_errors: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ejection_time: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_health_percent: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outlier_detection_http_error_codes: Vec<u32>,
}

impl OutlierDetection {
    pub(crate) fn check(&self, at: &FieldPath, out: &mut Findings) {
        check_duration(&self.base_ejection_time, &at.field("baseEjectionTime"), out);
        check_duration(&self.interval, &at.field("interval"), out);
        if self.consecutive_errors.is_some_and(|n| n != 0) {
            out.warning(
                &at.field("consecutiveErrors"),
                "consecutiveErrors is deprecated; use consecutiveGatewayErrors or consecutive5xxErrors",
            );
        }
        if self.split_external_local_origin_errors != Some(true)
            && self.consecutive_local_origin_failures.unwrap_or(0) > 0
        {
            out.error(
                &at.field("consecutiveLocalOriginFailures"),
                "consecutiveLocalOriginFailures only applies when splitExternalLocalOriginErrors is true",
            );
        }
        for (field, v) in [
            ("maxEjectionPercent", self.max_ejection_percent),
            ("minHealthPercent", self.min_health_percent),
        ] {
            if let Some(n) = v {
                if !(0..=100).contains(&n) {
                    out.error(
                        &at.field(field),
                        format!("{field} {n} must be between 0 and 100"),
                    );
                }
            }
        }
        for (i, c) in self.outlier_detection_http_error_codes.iter().enumerate() {
            if !(100..=599).contains(c) {
                out.error(
                    &at.field("outlierDetectionHttpErrorCodes").index(i),
                    format!("HTTP status {c} must be between 100 and 599"),
                );
            }
        }
    }
}
