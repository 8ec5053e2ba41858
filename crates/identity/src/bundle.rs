//! The trust bundle: the root certificates a workload accepts peers from. It holds several
//! roots so that a root can be rotated without downtime: while old and new roots are both in
//! every bundle, certificates from either interoperate.

use crate::pem::{self, PemError};
use rustls_pki_types::{CertificateDer, TrustAnchor};

/// Why a set of roots cannot form a trust bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("root certificate {index} cannot be a trust anchor: {source}")]
    BadRoot { index: usize, source: webpki::Error },
    #[error("a trust bundle needs at least one root certificate")]
    Empty,
}

/// Roots, deduplicated, in the order given, with their parsed trust anchors.
#[derive(Debug, Clone)]
pub struct TrustBundle {
    roots: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
}

impl TrustBundle {
    /// A bundle of the given roots (duplicates dropped).
    pub fn new(roots: Vec<CertificateDer<'static>>) -> Result<Self, BundleError> {
        let mut unique: Vec<CertificateDer<'static>> = Vec::with_capacity(roots.len());
        for r in roots {
            if !unique.contains(&r) {
                unique.push(r);
            }
        }
        if unique.is_empty() {
            return Err(BundleError::Empty);
        }
        let anchors = unique
            .iter()
            .enumerate()
            .map(|(index, der)| {
                webpki::anchor_from_trusted_cert(der)
                    .map(|a| a.to_owned())
                    .map_err(|source| BundleError::BadRoot { index, source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            roots: unique,
            anchors,
        })
    }

    /// Every certificate in the PEM text is a root.
    pub fn from_pem(pem_text: &str) -> Result<Self, BundleError> {
        Self::new(pem::certs(pem_text, "trust bundle")?)
    }

    /// This bundle with the roots of `other` added (root rotation: old + new).
    pub fn merged(&self, other: &TrustBundle) -> TrustBundle {
        let mut roots = self.roots.clone();
        let mut anchors = self.anchors.clone();
        for (r, a) in other.roots.iter().zip(&other.anchors) {
            if !roots.contains(r) {
                roots.push(r.clone());
                anchors.push(a.clone());
            }
        }
        TrustBundle { roots, anchors }
    }

    pub fn roots(&self) -> &[CertificateDer<'static>] {
        &self.roots
    }

    pub(crate) fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    /// The roots as PEM, in order.
    pub fn to_pem(&self) -> String {
        pem::encode_certs(&self.roots)
    }

    /// Whether `root` is one of this bundle's roots.
    pub fn contains(&self, root: &CertificateDer<'_>) -> bool {
        self.roots.iter().any(|r| r.as_ref() == root.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> CertificateDer<'static> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut p = rcgen::CertificateParams::default();
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        p.self_signed(&key).unwrap().der().clone()
    }

    #[test]
    fn holds_several_roots_without_duplicates() {
        let (a, b) = (root(), root());
        let one = TrustBundle::new(vec![a.clone(), a.clone()]).unwrap();
        assert_eq!(one.roots().len(), 1);
        let both = one.merged(&TrustBundle::new(vec![b.clone(), a.clone()]).unwrap());
        assert_eq!(both.roots(), &[a.clone(), b.clone()]);
        assert_eq!(both.anchors().len(), 2);
        let again = TrustBundle::from_pem(&both.to_pem()).unwrap();
        assert!(again.contains(&a) && again.contains(&b));
    }

    #[test]
    fn rejects_empty_and_garbage() {
        assert!(matches!(TrustBundle::new(vec![]), Err(BundleError::Empty)));
        assert!(matches!(
            TrustBundle::new(vec![CertificateDer::from(vec![1, 2, 3])]),
            Err(BundleError::BadRoot { index: 0, .. })
        ));
        assert!(TrustBundle::from_pem("not pem").is_err());
    }
}
