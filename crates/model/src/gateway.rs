//! A gateway proxy's listeners (Istio's router mode): the ports a Gateway resource opens on
//! the gateway workload, how each terminates TLS, and the virtual hosts that route what
//! arrives to clusters of the same config. A config with a gateway section belongs to a
//! gateway: no interception, no inbound side, the listeners are the ports named here.

use crate::route::HttpRoute;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    #[serde(default)]
    pub listeners: Vec<GatewayListener>,
    /// Proxies in front of the gateway whose `X-Forwarded-For` entries are trusted (Istio's
    /// `gatewayTopology.numTrustedProxies`): the client address is the entry this many
    /// places from the right; 0 means the connection's own peer.
    #[serde(default)]
    pub num_trusted_proxies: u32,
}

/// How a listener speaks to its clients.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ListenerProtocol {
    /// Plaintext HTTP/1.1 or h2c.
    #[default]
    Http,
    /// TLS terminated here (by SNI), then HTTP.
    Https,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayListener {
    pub port: u16,
    #[serde(default)]
    pub protocol: ListenerProtocol,
    /// HTTPS: the certificates served, chosen by SNI among their hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<ServerTls>,
    /// Chosen by the request's host (port ignored): exact domains first, then the longest
    /// matching wildcard.
    #[serde(default)]
    pub virtual_hosts: Vec<VirtualHost>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerTlsMode {
    /// Server certificate only.
    #[default]
    Simple,
    /// Clients must present a certificate signed by `caCertificates`.
    Mutual,
}

/// One server's certificate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerTls {
    /// SNI names this certificate is served for (`*` and `*.domain` wildcards).
    pub hosts: Vec<String>,
    #[serde(default)]
    pub mode: ServerTlsMode,
    /// PEM.
    pub certificate_chain: String,
    /// PEM; never shown by the admin endpoint.
    pub private_key: String,
    /// PEM; required for MUTUAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificates: Option<String>,
    /// Where it came from (`namespace/secret`), for messages.
    #[serde(default)]
    pub source: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualHost {
    /// `<VirtualService namespace>/<name>` of what it came from, or the Gateway's for a
    /// redirect host.
    pub name: String,
    /// Lower-case hosts without port; `*` and `*.suffix` wildcards.
    pub domains: Vec<String>,
    /// Gateway `tls.httpsRedirect`: every request is answered 301 to `https://`.
    #[serde(default)]
    pub https_redirect: bool,
    /// In order; the first match wins; none matching is 404 NR.
    #[serde(default)]
    pub routes: Vec<HttpRoute>,
}

impl VirtualHost {
    /// How well `host` (lower-case, no port) matches: exact beats any wildcard, a longer
    /// wildcard beats a shorter one, `*` matches anything last. `None`: no match.
    pub fn match_rank(&self, host: &str) -> Option<usize> {
        self.domains
            .iter()
            .filter_map(|d| domain_rank(d, host))
            .max()
    }
}

/// See [`VirtualHost::match_rank`].
pub fn domain_rank(domain: &str, host: &str) -> Option<usize> {
    if domain == "*" {
        return Some(0);
    }
    if let Some(suffix) = domain.strip_prefix('*') {
        // `*.example.com` matches `a.example.com` (and deeper), never `example.com`.
        return (host.len() > suffix.len() && host.ends_with(suffix)).then_some(suffix.len());
    }
    (domain == host).then_some(usize::MAX)
}

impl Gateway {
    pub fn listener(&self, port: u16) -> Option<&GatewayListener> {
        self.listeners.iter().find(|l| l.port == port)
    }

    /// Every cluster the gateway's routes name, with repeats: what removing a cluster must
    /// be checked against.
    pub fn referenced_clusters(&self) -> impl Iterator<Item = &str> {
        self.listeners
            .iter()
            .flat_map(|l| &l.virtual_hosts)
            .flat_map(|vh| &vh.routes)
            .flat_map(|r| match &r.action {
                crate::HttpAction::Route { clusters } => clusters.as_slice(),
                _ => &[],
            })
            .map(|t| t.cluster.as_str())
    }

    /// A copy safe to show: private keys replaced.
    pub fn redacted(&self) -> Gateway {
        let mut g = self.clone();
        for l in &mut g.listeners {
            for t in &mut l.tls {
                t.private_key = "[redacted]".into();
            }
        }
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_beats_longer_wildcard_beats_star() {
        let vh = |d: &[&str]| VirtualHost {
            domains: d.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let host = "a.example.com";
        let exact = vh(&["a.example.com"]).match_rank(host);
        let long = vh(&["*.example.com"]).match_rank(host);
        let short = vh(&["*.com"]).match_rank(host);
        let star = vh(&["*"]).match_rank(host);
        assert!(exact > long && long > short && short > star && star.is_some());
        assert_eq!(vh(&["*.example.com"]).match_rank("example.com"), None);
        assert_eq!(vh(&["b.example.com"]).match_rank(host), None);
    }
}
