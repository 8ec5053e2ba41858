//! Per-route HTTP policies of a VirtualService: retries, CORS and fault injection.

use super::checks::{check_duration, check_fault_percentage};
use super::common::{MatchKind, Percent, StringMatch};
use crate::types::Duration;
use crate::validate::common::{validate_duration, validate_http_header_name};
use crate::validate::Findings;
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

/// Retry policy of an HTTP route.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRetry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_try_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_remote_localities: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_ignore_previous_hosts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Duration>,
}

/// Retry conditions Envoy understands (`x-envoy-retry-on` and `x-envoy-retry-grpc-on`).
const RETRY_ON: &[&str] = &[
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// HTTP status codes with a registered meaning (those a retry policy may name).
fn known_http_status(code: u32) -> bool {
    matches!(code,
        100..=103 | 200..=208 | 226 | 300..=305 | 307 | 308 | 400..=418 | 421..=426 | 428 | 429
        | 431 | 451 | 500..=508 | 510 | 511)
}

impl HttpRetry {
    pub(crate) fn check(&self, at: &FieldPath, out: &mut Findings) {
        let attempts = self.attempts.unwrap_or(0);
        if attempts < 0 {
            out.error(
                &at.field("attempts"),
                format!("attempts {attempts} must not be negative"),
            );
        }
        if attempts == 0
            && (self.per_try_timeout.is_some()
                || self.retry_on.as_deref().is_some_and(|s| !s.is_empty())
                || self.retry_remote_localities.is_some())
        {
            out.error(
                &at.field("attempts"),
                "retries are disabled when attempts is 0 (or unset), so perTryTimeout, retryOn and retryRemoteLocalities have no effect; set attempts",
            );
        }
        check_duration(&self.per_try_timeout, &at.field("perTryTimeout"), out);
        check_duration(&self.backoff, &at.field("backoff"), out);
        if let Some(on) = self.retry_on.as_deref().filter(|s| !s.is_empty()) {
            for policy in on.split(',') {
                let ok = RETRY_ON.contains(&policy)
                    || policy.parse::<u32>().is_ok_and(known_http_status);
                if !ok {
                    out.error(
                        &at.field("retryOn"),
                        format!("{policy:?} is not a retry condition (e.g. 5xx, gateway-error, connect-failure, reset, retriable-4xx, or an HTTP status code)"),
                    );
                }
            }
        }
    }
}

/// What to do with CORS preflight requests that do not match the policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnmatchedPreflights {
    #[default]
    Unspecified,
    Forward,
    Ignore,
}

/// Cross-origin resource sharing policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorsPolicy {
    /// Deprecated: use `allowOrigins`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origin: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_origins: Vec<StringMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_methods: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expose_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unmatched_preflights: Option<UnmatchedPreflights>,
}

const CORS_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*",
];

impl CorsPolicy {
    pub(crate) fn check(&self, at: &FieldPath, out: &mut Findings) {
        for (i, o) in self.allow_origins.iter().enumerate() {
            let p = at.field("allowOrigins").index(i);
            match o.kind() {
                Some(MatchKind::Exact(v) | MatchKind::Prefix(v) | MatchKind::Regex(v))
                    if !v.is_empty() =>
                {
                    o.check(false, &p, out);
                }
                Some(_) => out.error(&p, "an allowed origin must not be empty"),
                None => {
                    if o.exact.is_none() && o.prefix.is_none() && o.regex.is_none() {
                        out.error(&p, "an allowed origin needs exact, prefix or regex");
                    } else {
                        o.check(false, &p, out);
                    }
                }
            }
        }
        for (i, m) in self.allow_methods.iter().enumerate() {
            if !CORS_METHODS.contains(&m.as_str()) {
                out.error(
                    &at.field("allowMethods").index(i),
                    format!(
                        "{m:?} is not an HTTP method (expected upper case, e.g. GET, POST, or *)"
                    ),
                );
            }
        }
        for (field, list) in [
            ("allowHeaders", &self.allow_headers),
            ("exposeHeaders", &self.expose_headers),
        ] {
            for (i, h) in list.iter().enumerate() {
                if h != "*" {
                    out.check(&at.field(field).index(i), validate_http_header_name(h));
                }
            }
        }
        if let Some(d) = &self.max_age {
            let p = at.field("maxAge");
            out.check(&p, validate_duration(d));
            if d.as_std().subsec_nanos() != 0 {
                out.error(
                    &p,
                    "maxAge is sent in whole seconds; give a whole number of seconds",
                );
            }
        }
    }
}

/// Faults to inject: delays and/or aborts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpFaultInjection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<FaultDelay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<FaultAbort>,
}

/// Delays a share of requests (`fixedDelay` or `exponentialDelay`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultDelay {
    /// Deprecated: use `percentage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exponential_delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

/// Aborts a share of requests with an HTTP status, gRPC status or HTTP/2 error (one of).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultAbort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<Percent>,
}

const GRPC_STATUS: &[&str] = &[
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// An HTTP status a proxy may answer with.
pub(crate) fn check_http_status(status: i64, at: &FieldPath, out: &mut Findings) {
    if !(200..=599).contains(&status) {
        out.error(
            at,
            format!("HTTP status {status} must be between 200 and 599"),
        );
    }
}

impl HttpFaultInjection {
    pub(crate) fn check(&self, at: &FieldPath, out: &mut Findings) {
        if self.abort.is_none() && self.delay.is_none() {
            out.error(at, "fault injection needs an abort, a delay, or both");
        }
        if let Some(a) = &self.abort {
            let p = at.field("abort");
            if let Some(pct) = &a.percentage {
                check_fault_percentage(pct, &p.field("percentage"), out);
            }
            let kinds = [
                a.http_status.is_some(),
                a.grpc_status.is_some(),
                a.http2_error.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if kinds > 1 {
                out.error(
                    &p,
                    "an abort takes only one of httpStatus, grpcStatus or http2Error",
                );
            }
            if let Some(s) = a.http_status {
                check_http_status(i64::from(s), &p.field("httpStatus"), out);
            }
            if let Some(g) = &a.grpc_status {
                if !GRPC_STATUS.contains(&g.as_str()) {
                    out.error(
                        &p.field("grpcStatus"),
                        format!("{g:?} is not a gRPC status name (e.g. UNAVAILABLE, NOT_FOUND, INTERNAL)"),
                    );
                }
            }
            if a.http2_error.is_some() {
                out.error(
                    &p.field("http2Error"),
                    "HTTP/2 error aborts are not supported yet",
                );
            }
            if kinds == 0 {
                out.warning(
                    &p,
                    "abort has no httpStatus or grpcStatus, so nothing is injected",
                );
            }
        }
        if let Some(d) = &self.delay {
            let p = at.field("delay");
            if let Some(pct) = &d.percentage {
                check_fault_percentage(pct, &p.field("percentage"), out);
            }
            if let Some(n) = d.percent {
                if !(0..=100).contains(&n) {
                    out.error(
                        &p.field("percent"),
                        format!("percent {n} must be between 0 and 100"),
                    );
                }
            }
            if d.fixed_delay.is_some() && d.exponential_delay.is_some() {
                out.error(
                    &p,
                    "a delay takes only one of fixedDelay or exponentialDelay",
                );
            }
            check_duration(&d.fixed_delay, &p.field("fixedDelay"), out);
            if d.exponential_delay.is_some() {
                check_duration(&d.exponential_delay, &p.field("exponentialDelay"), out);
                out.error(
                    &p.field("exponentialDelay"),
                    "exponentialDelay is not supported yet",
                );
            }
        }
    }
}
