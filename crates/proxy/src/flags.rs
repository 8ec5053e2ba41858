//! Envoy's response flags, which access logs carry so a failure says who failed and how: the
//! letters users already know from Istio (UF, UH, NR, UT, UR, URX, DC, UAEX, …). Envoy has no
//! flag for an RBAC or JWT denial (its RBAC filter leaves `%RESPONSE_FLAGS%` at `-` and says
//! `rbac_access_denied_matched_policy[...]` in `%RESPONSE_CODE_DETAILS%`), so neither has
//! one here: the access log's `response_code_details` carries the same words.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResponseFlag {
    /// No healthy upstream endpoint.
    NoHealthyUpstream,
    /// The upstream connection could not be made.
    UpstreamConnectionFailure,
    /// The upstream reset the connection.
    UpstreamRemoteReset,
    /// The upstream request timed out.
    UpstreamRequestTimeout,
    /// Retries were exhausted (with the last failure's flag as well).
    UpstreamRetryLimitExceeded,
    /// No route matched the request.
    NoRouteFound,
    /// The downstream closed the connection mid-request.
    DownstreamConnectionTermination,
    /// Denied by an external authorizer.
    UnauthorizedExternalService,
    /// The upstream connection was terminated (an L4 failure after connecting).
    UpstreamConnectionTermination,
    /// Rejected because a circuit breaker (connection-pool limit) is open.
    UpstreamOverflow,
    /// Passed through to its original destination (no matching service).
    NoClusterFound,
    /// Invalid request headers (answered 400).
    InvalidEnvoyRequestHeaders,
    /// A fault injected by configuration (delay).
    DelayInjected,
    /// A fault injected by configuration (abort).
    FaultInjected,
    /// The upstream's response broke HTTP (malformed head or framing): answered 502.
    UpstreamProtocolError,
}

impl ResponseFlag {
    pub fn letters(self) -> &'static str {
        match self {
            ResponseFlag::NoHealthyUpstream => "UH",
            ResponseFlag::UpstreamConnectionFailure => "UF",
            ResponseFlag::UpstreamRemoteReset => "UR",
            ResponseFlag::UpstreamRequestTimeout => "UT",
            ResponseFlag::UpstreamRetryLimitExceeded => "URX",
            ResponseFlag::NoRouteFound => "NR",
            ResponseFlag::DownstreamConnectionTermination => "DC",
            ResponseFlag::UnauthorizedExternalService => "UAEX",
            ResponseFlag::UpstreamConnectionTermination => "UC",
            ResponseFlag::UpstreamOverflow => "UO",
            ResponseFlag::NoClusterFound => "NC",
            ResponseFlag::InvalidEnvoyRequestHeaders => "IH",
            ResponseFlag::DelayInjected => "DI",
            ResponseFlag::FaultInjected => "FI",
            ResponseFlag::UpstreamProtocolError => "UPE",
        }
    }
}

/// The flags of one request or connection, printed as Envoy does: comma-separated, `-` when
/// there are none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags(Vec<ResponseFlag>);

impl Flags {
    pub fn add(&mut self, f: ResponseFlag) {
        if !self.0.contains(&f) {
            self.0.push(f);
        }
    }

    pub fn contains(&self, f: ResponseFlag) -> bool {
        self.0.contains(&f)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As a metrics label; the common `-` is shared, not allocated per request.
    pub fn label(&self) -> std::sync::Arc<str> {
        static NONE: std::sync::OnceLock<std::sync::Arc<str>> = std::sync::OnceLock::new();
        if self.0.is_empty() {
            NONE.get_or_init(|| std::sync::Arc::from("-")).clone()
        } else {
            std::sync::Arc::from(self.to_string())
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = ResponseFlag> + '_ {
        self.0.iter().copied()
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for (i, flag) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(flag.letters())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_as_envoy_does() {
        let mut f = Flags::default();
        assert_eq!(f.to_string(), "-");
        f.add(ResponseFlag::UpstreamConnectionFailure);
        f.add(ResponseFlag::UpstreamRetryLimitExceeded);
        f.add(ResponseFlag::UpstreamConnectionFailure);
        assert_eq!(f.to_string(), "UF,URX");
    }
}
