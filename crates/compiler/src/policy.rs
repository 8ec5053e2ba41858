//! DestinationRule traffic policies for one cluster, merged as Istio merges them: the rule's
//! policy, replaced wholesale by its portLevelSettings for the port (port-level settings do
//! not inherit: what they leave out falls back to the defaults), then the subset's policy
//! field by field, then the subset's portLevelSettings for the port, wholesale again. The
//! result is mapped onto the model's balancer, limits, timeout and TLS choice.

use verimesh_config::networking::{
    ClientTlsMode, ClientTlsSettings, ConnectionPoolSettings, LoadBalancerSettings,
    OutlierDetection, SimpleLb, TrafficPolicy,
};
use verimesh_model::{ConnectionLimits, ConnectionOptions, LbPolicy};

/// The policy in force for one (port, subset).
#[derive(Clone, Copy, Default)]
pub(crate) struct Effective<'a> {
    pub lb: Option<&'a LoadBalancerSettings>,
    pub pool: Option<&'a ConnectionPoolSettings>,
    pub tls: Option<&'a ClientTlsSettings>,
    pub outlier: Option<&'a OutlierDetection>,
}

fn at_port(policy: &TrafficPolicy, port: u16) -> Effective<'_> {
    let level = policy
        .port_level_settings
        .iter()
        .find(|p| p.port.as_ref().and_then(|s| s.number) == Some(u32::from(port)));
    match level {
        Some(p) => Effective {
            lb: p.load_balancer.as_ref(),
            pool: p.connection_pool.as_ref(),
            tls: p.tls.as_ref(),
            outlier: p.outlier_detection.as_ref(),
        },
        None => Effective {
            lb: policy.load_balancer.as_ref(),
            pool: policy.connection_pool.as_ref(),
            tls: policy.tls.as_ref(),
            outlier: policy.outlier_detection.as_ref(),
        },
    }
}

pub(crate) fn effective<'a>(
    top: Option<&'a TrafficPolicy>,
    subset: Option<&'a TrafficPolicy>,
    port: u16,
) -> Effective<'a> {
    let mut e = top.map(|t| at_port(t, port)).unwrap_or_default();
    if let Some(s) = subset {
        e.lb = s.load_balancer.as_ref().or(e.lb);
        e.pool = s.connection_pool.as_ref().or(e.pool);
        e.tls = s.tls.as_ref().or(e.tls);
        e.outlier = s.outlier_detection.as_ref().or(e.outlier);
        if s.port_level_settings
            .iter()
            .any(|p| p.port.as_ref().and_then(|s| s.number) == Some(u32::from(port)))
        {
            e = at_port(s, port);
        }
    }
    e
}

/// How the cluster connects, before auto mTLS looks at the endpoints.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TlsChoice {
    /// No `tls` (or no mode): Istio's auto mTLS.
    Auto,
    Mesh,
    Plain,
    Tls {
        sni: Option<String>,
        ca_certificates: Option<String>,
        client_certificate: Option<String>,
        private_key: Option<String>,
        subject_alt_names: Vec<String>,
    },
}

pub(crate) struct Settings {
    pub lb: LbPolicy,
    pub passthrough: bool,
    pub limits: ConnectionLimits,
    pub connections: ConnectionOptions,
    pub connect_timeout_ms: Option<u64>,
    pub tls: TlsChoice,
}

fn positive(n: Option<i32>) -> Option<u32> {
    n.and_then(|n| u32::try_from(n).ok()).filter(|n| *n > 0)
}

impl Effective<'_> {
    /// The model's settings; `notes` gets what could not be carried over exactly.
    pub(crate) fn settings(&self, notes: &mut Vec<String>) -> Settings {
        let mut passthrough = false;
        let lb = match self.lb {
            None => LbPolicy::LeastRequest,
            Some(lb) => {
                if lb.consistent_hash.is_some() {
                    notes.push("loadBalancer.consistentHash is not supported by the proxy; LEAST_REQUEST is used".into());
                }
                match lb.simple.unwrap_or_default() {
                    SimpleLb::RoundRobin => LbPolicy::RoundRobin,
                    SimpleLb::Random => LbPolicy::Random,
                    // Istio's default, and LEAST_CONN is its deprecated alias.
                    SimpleLb::Unspecified | SimpleLb::LeastRequest | SimpleLb::LeastConn => {
                        LbPolicy::LeastRequest
                    }
                    SimpleLb::Passthrough => {
                        passthrough = true;
                        LbPolicy::LeastRequest
                    }
                }
            }
        };
        if self.outlier.is_some() {
            notes.push("outlierDetection is not supported by the proxy yet; ignored".into());
        }
        let tcp = self.pool.and_then(|p| p.tcp.as_ref());
        let http = self.pool.and_then(|p| p.http.as_ref());
        let limits = ConnectionLimits {
            max_connections: positive(tcp.and_then(|t| t.max_connections)),
            max_requests: positive(http.and_then(|h| h.http2_max_requests)),
            max_pending_requests: positive(http.and_then(|h| h.http1_max_pending_requests)),
            max_retries: positive(http.and_then(|h| h.max_retries)),
        };
        let connect_timeout_ms = tcp
            .and_then(|t| t.connect_timeout)
            .map(|d| u64::try_from(d.as_std().as_millis()).unwrap_or(u64::MAX));
        let tls = match self.tls {
            None => TlsChoice::Auto,
            Some(t) => match t.mode {
                None => TlsChoice::Auto,
                Some(ClientTlsMode::IstioMutual) => TlsChoice::Mesh,
                Some(ClientTlsMode::Disable) => TlsChoice::Plain,
                Some(mode @ (ClientTlsMode::Simple | ClientTlsMode::Mutual)) => {
                    let mutual = mode == ClientTlsMode::Mutual;
                    if t.credential_name.is_some() {
                        notes.push("tls.credentialName is not supported for sidecars; the certificate files are used".into());
                    }
                    if t.insecure_skip_verify == Some(true) {
                        notes.push(
                            "tls.insecureSkipVerify is refused: the server is always verified"
                                .into(),
                        );
                    }
                    TlsChoice::Tls {
                        sni: t.sni.clone().filter(|s| !s.is_empty()),
                        ca_certificates: t.ca_certificates.clone().filter(|s| !s.is_empty()),
                        client_certificate: t.client_certificate.clone().filter(|_| mutual),
                        private_key: t.private_key.clone().filter(|_| mutual),
                        subject_alt_names: t.subject_alt_names.clone(),
                    }
                }
            },
        };
        Settings {
            lb,
            passthrough,
            limits,
            connections: crate::pool_options::connection_options(self.pool, notes),
            connect_timeout_ms,
            tls,
        }
    }
}
