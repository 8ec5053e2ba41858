//! SPIFFE IDs (`spiffe://<trust-domain>/<path>`), validated by the rules of the SPIFFE ID
//! specification, and the mesh's workload form `spiffe://<td>/ns/<namespace>/sa/<account>`.

use std::fmt;
use std::str::FromStr;

/// The longest SPIFFE ID accepted, in bytes (the specification's limit for URIs in SVIDs).
pub const MAX_ID_LEN: usize = 2048;
/// The longest trust domain accepted, in bytes.
pub const MAX_TRUST_DOMAIN_LEN: usize = 255;

/// Why a string is not a valid SPIFFE ID or trust domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpiffeIdError {
    #[error("SPIFFE ID is empty")]
    Empty,
    #[error("SPIFFE ID is longer than {MAX_ID_LEN} bytes")]
    TooLong,
    #[error("SPIFFE ID must start with `spiffe://`")]
    WrongScheme,
    #[error("trust domain is empty")]
    EmptyTrustDomain,
    #[error("trust domain is longer than {MAX_TRUST_DOMAIN_LEN} bytes")]
    TrustDomainTooLong,
    #[error("trust domain contains {0:?}; only a-z, 0-9, `.`, `-` and `_` are allowed")]
    BadTrustDomainChar(char),
    #[error("path contains {0:?}; only a-z, A-Z, 0-9, `.`, `-` and `_` are allowed in segments")]
    BadPathChar(char),
    #[error("path has an empty segment (`//` or a trailing `/`)")]
    EmptySegment,
    #[error("path has a `.` or `..` segment")]
    DotSegment,
    #[error("not a workload identity of the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>")]
    NotWorkload,
}

/// A SPIFFE trust domain, e.g. `cluster.local`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrustDomain(String);

impl TrustDomain {
    /// Validates a trust domain name (lowercase letters, digits, `.`, `-`, `_`).
    pub fn new(name: &str) -> Result<Self, SpiffeIdError> {
        if name.is_empty() {
            return Err(SpiffeIdError::EmptyTrustDomain);
        }
        if name.len() > MAX_TRUST_DOMAIN_LEN {
            return Err(SpiffeIdError::TrustDomainTooLong);
        }
        if let Some(c) = name
            .chars()
            .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '-' | '_'))
        {
            return Err(SpiffeIdError::BadTrustDomainChar(c));
        }
        Ok(Self(name.to_string()))
    }

    /// The trust domain's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrustDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TrustDomain {
    type Err = SpiffeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// A validated SPIFFE ID. Its text form is canonical: parsing and printing round-trip.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpiffeId {
    trust_domain: TrustDomain,
    /// The path, starting with `/`, or empty.
    path: String,
}

impl SpiffeId {
    /// Parses and validates `spiffe://<trust-domain>[/<segment>...]`.
    pub fn parse(s: &str) -> Result<Self, SpiffeIdError> {
        if s.is_empty() {
            return Err(SpiffeIdError::Empty);
        }
        if s.len() > MAX_ID_LEN {
            return Err(SpiffeIdError::TooLong);
        }
        let rest = s
            .strip_prefix("spiffe://")
            .ok_or(SpiffeIdError::WrongScheme)?;
        let (td, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let trust_domain = TrustDomain::new(td)?;
        if !path.is_empty() {
            for seg in path[1..].split('/') {
                validate_segment(seg)?;
            }
        }
        Ok(Self {
            trust_domain,
            path: path.to_string(),
        })
    }

    /// The mesh's workload identity: `spiffe://<td>/ns/<namespace>/sa/<service_account>`.
    pub fn workload(
        trust_domain: &TrustDomain,
        namespace: &str,
        service_account: &str,
    ) -> Result<Self, SpiffeIdError> {
        Self::parse(&format!(
            "spiffe://{trust_domain}/ns/{namespace}/sa/{service_account}"
        ))
    }

    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The path, starting with `/` (empty for the trust domain's own ID).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `(namespace, service account)` when the path is `/ns/<ns>/sa/<sa>`.
    pub fn namespace_and_account(&self) -> Option<(&str, &str)> {
        let mut it = self.path.strip_prefix('/')?.split('/');
        match (it.next(), it.next(), it.next(), it.next(), it.next()) {
            (Some("ns"), Some(ns), Some("sa"), Some(sa), None) => Some((ns, sa)),
            _ => None,
        }
    }

    /// Like [`namespace_and_account`](Self::namespace_and_account), as an error when absent.
    pub fn require_workload(&self) -> Result<(&str, &str), SpiffeIdError> {
        self.namespace_and_account()
            .ok_or(SpiffeIdError::NotWorkload)
    }
}

fn validate_segment(seg: &str) -> Result<(), SpiffeIdError> {
    if seg.is_empty() {
        return Err(SpiffeIdError::EmptySegment);
    }
    if seg == "." || seg == ".." {
        return Err(SpiffeIdError::DotSegment);
    }
    if let Some(c) = seg
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(SpiffeIdError::BadPathChar(c));
    }
    Ok(())
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "spiffe://{}{}", self.trust_domain, self.path)
    }
}

impl FromStr for SpiffeId {
    type Err = SpiffeIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_ids_round_trip() {
        let id = SpiffeId::parse("spiffe://cluster.local/ns/default/sa/bookinfo-reviews").unwrap();
        assert_eq!(id.trust_domain().as_str(), "cluster.local");
        assert_eq!(
            id.namespace_and_account(),
            Some(("default", "bookinfo-reviews"))
        );
        assert_eq!(
            id.to_string(),
            "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
        );
        let td = TrustDomain::new("cluster.local").unwrap();
        assert_eq!(
            SpiffeId::workload(&td, "default", "bookinfo-reviews").unwrap(),
            id
        );
    }

    #[test]
    fn trust_domain_only_and_other_paths() {
        let id = SpiffeId::parse("spiffe://example.org").unwrap();
        assert_eq!(id.path(), "");
        assert_eq!(id.namespace_and_account(), None);
        let id = SpiffeId::parse("spiffe://example.org/ns/a/sa/b/extra").unwrap();
        assert_eq!(id.require_workload(), Err(SpiffeIdError::NotWorkload));
    }

    #[test]
    fn rejects_what_the_spec_forbids() {
        use SpiffeIdError::*;
        let cases: &[(&str, SpiffeIdError)] = &[
            ("", Empty),
            ("http://cluster.local/ns/a/sa/b", WrongScheme),
            ("SPIFFE://cluster.local/ns/a/sa/b", WrongScheme),
            ("spiffe:///ns/a/sa/b", EmptyTrustDomain),
            ("spiffe://Cluster.local/ns/a", BadTrustDomainChar('C')),
            ("spiffe://*.cluster.local/ns/a", BadTrustDomainChar('*')),
            ("spiffe://user@cluster.local/ns/a", BadTrustDomainChar('@')),
            ("spiffe://cluster.local:8443/ns/a", BadTrustDomainChar(':')),
            ("spiffe://cluster.local/ns/a/sa/b\0.evil", BadPathChar('\0')),
            ("spiffe://cluster.local/ns/a/sa/b?x=1", BadPathChar('?')),
            ("spiffe://cluster.local/ns/a/sa/b#f", BadPathChar('#')),
            ("spiffe://cluster.local/ns/a%2fb", BadPathChar('%')),
            ("spiffe://cluster.local/ns//sa/b", EmptySegment),
            ("spiffe://cluster.local/ns/a/sa/b/", EmptySegment),
            ("spiffe://cluster.local/ns/../sa/b", DotSegment),
        ];
        for (input, want) in cases {
            assert_eq!(SpiffeId::parse(input).as_ref(), Err(want), "{input:?}");
        }
        let long = format!("spiffe://cluster.local/{}", "a".repeat(MAX_ID_LEN));
        assert_eq!(SpiffeId::parse(&long), Err(TooLong));
    }
}
