//! Which peer identities a connection accepts.

use crate::spiffe::{SpiffeId, TrustDomain};
use std::collections::BTreeSet;
use std::fmt;

/// The SPIFFE IDs a peer may have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpiffeMatcher {
    /// Exactly this identity (a client dialling a known service).
    Exact(SpiffeId),
    /// Any identity in this trust domain (a server accepting mesh clients; authorization
    /// policy decides the rest).
    TrustDomain(TrustDomain),
    /// One of these identities.
    AnyOf(BTreeSet<SpiffeId>),
}

impl SpiffeMatcher {
    pub fn any_of(ids: impl IntoIterator<Item = SpiffeId>) -> Self {
        SpiffeMatcher::AnyOf(ids.into_iter().collect())
    }

    pub fn matches(&self, id: &SpiffeId) -> bool {
        match self {
            SpiffeMatcher::Exact(want) => want == id,
            SpiffeMatcher::TrustDomain(td) => id.trust_domain() == td,
            SpiffeMatcher::AnyOf(set) => set.contains(id),
        }
    }
}

impl fmt::Display for SpiffeMatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpiffeMatcher::Exact(id) => write!(f, "{id}"),
            SpiffeMatcher::TrustDomain(td) => write!(f, "any identity in trust domain {td}"),
            SpiffeMatcher::AnyOf(set) => {
                f.write_str("one of [")?;
                for (i, id) in set.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{id}")?;
                }
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> SpiffeId {
        SpiffeId::parse(s).unwrap()
    }

    #[test]
    fn exact_trust_domain_and_set() {
        let a = id("spiffe://cluster.local/ns/a/sa/x");
        let b = id("spiffe://cluster.local/ns/b/sa/y");
        let other = id("spiffe://evil.local/ns/a/sa/x");
        assert!(SpiffeMatcher::Exact(a.clone()).matches(&a));
        assert!(!SpiffeMatcher::Exact(a.clone()).matches(&b));
        assert!(!SpiffeMatcher::Exact(a.clone()).matches(&other));
        let td = SpiffeMatcher::TrustDomain(TrustDomain::new("cluster.local").unwrap());
        assert!(td.matches(&a) && td.matches(&b) && !td.matches(&other));
        let set = SpiffeMatcher::any_of([a.clone(), b.clone()]);
        assert!(set.matches(&a) && set.matches(&b) && !set.matches(&other));
        assert_eq!(
            set.to_string(),
            "one of [spiffe://cluster.local/ns/a/sa/x, spiffe://cluster.local/ns/b/sa/y]"
        );
    }
}
