//! The attributes a decision is made on: the connection (peer identity, addresses, port,
//! SNI), the normalized HTTP request when there is one, and the verified token.

use crate::normalize::HttpRequest;
use serde_json::Value;
use std::net::IpAddr;

/// A peer's SPIFFE identity, parsed once: `<trust-domain>/ns/<ns>/sa/<sa>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Without the `spiffe://` scheme, as AuthorizationPolicy writes principals.
    pub principal: String,
    pub trust_domain: String,
    /// Empty when the identity does not have the Kubernetes shape.
    pub namespace: String,
    pub service_account: String,
}

impl Peer {
    /// Parses `spiffe://td/ns/x/sa/y` (the scheme is optional). Any non-empty identity is
    /// accepted; the namespace and service account are filled in only when present.
    pub fn parse(id: &str) -> Option<Peer> {
        let principal = id.strip_prefix("spiffe://").unwrap_or(id);
        if principal.is_empty() {
            return None;
        }
        let mut parts = principal.split('/');
        let trust_domain = parts.next().unwrap_or_default().to_string();
        let rest: Vec<&str> = parts.collect();
        // Istio's service-account match is `/ns/<ns>/(.+/|)sa/<sa>(/.+)?`.
        let (mut namespace, mut service_account) = (String::new(), String::new());
        if rest.len() >= 2 && rest[0] == "ns" {
            namespace = rest[1].to_string();
            if let Some(i) = rest.iter().skip(2).position(|s| *s == "sa") {
                if let Some(sa) = rest.get(2 + i + 1) {
                    service_account = (*sa).to_string();
                }
            }
        }
        Some(Peer {
            principal: principal.to_string(),
            trust_domain,
            namespace,
            service_account,
        })
    }
}

/// The connection a request arrived on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Connection {
    /// The authenticated mTLS peer; `None` for plaintext callers.
    pub peer: Option<Peer>,
    /// The direct peer's address.
    pub source_ip: Option<IpAddr>,
    /// The original client (X-Forwarded-For or PROXY protocol, as trusted by the gateway);
    /// the source address when unset.
    pub remote_ip: Option<IpAddr>,
    pub destination_ip: Option<IpAddr>,
    pub destination_port: u16,
    pub sni: Option<String>,
}

impl Connection {
    pub fn remote_ip(&self) -> Option<IpAddr> {
        self.remote_ip.or(self.source_ip)
    }
}

/// A verified token, as authorization sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Authenticated {
    /// `<iss>/<sub>`.
    pub principal: String,
    pub issuer: String,
    pub subject: String,
    /// The `aud` claim as a list.
    pub audiences: Vec<String>,
    /// The `azp` claim.
    pub presenter: Option<String>,
    /// The whole payload; space-delimited claims already split into lists.
    pub claims: Value,
}

/// Everything a decision looks at. `http` is `None` for TCP traffic.
#[derive(Clone, Copy, Debug)]
pub struct Attributes<'a> {
    pub conn: &'a Connection,
    pub http: Option<&'a HttpRequest>,
    pub auth: Option<&'a Authenticated>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identities() {
        let p = Peer::parse("spiffe://cluster.local/ns/foo/sa/bar.baz").unwrap();
        assert_eq!(p.principal, "cluster.local/ns/foo/sa/bar.baz");
        assert_eq!(p.trust_domain, "cluster.local");
        assert_eq!(p.namespace, "foo");
        assert_eq!(p.service_account, "bar.baz");
        let odd = Peer::parse("td/workload/x").unwrap();
        assert_eq!(odd.namespace, "");
        assert!(Peer::parse("spiffe://").is_none());
    }
}
