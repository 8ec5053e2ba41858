//! Peer certificate verification for mesh TLS: the chain must lead to a root in the trust
//! bundle and be valid now; the leaf must carry the needed extended key usage and exactly one
//! URI SAN that is a valid SPIFFE ID (no DNS-only or wildcard identities, no embedded NULs);
//! and that ID must be one the caller expects ([`SpiffeMatcher`]).

mod matcher;
mod peer;
pub(crate) mod rustls_verifiers;

pub use matcher::SpiffeMatcher;
pub use peer::{spiffe_id_of, verify_peer, LeafError};

use crate::spiffe::SpiffeId;

/// Which end of a connection the peer is, and so which EKU its certificate needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// The peer is a TLS server: needs `serverAuth`.
    Server,
    /// The peer is a TLS client: needs `clientAuth`.
    Client,
}

impl Usage {
    pub fn eku_name(self) -> &'static str {
        match self {
            Usage::Server => "serverAuth",
            Usage::Client => "clientAuth",
        }
    }
}

/// Why a peer's certificate was refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PeerError {
    #[error("peer certificate has expired")]
    Expired,
    #[error("peer certificate is not valid yet")]
    NotYetValid,
    #[error("peer certificate does not chain to a root in the trust bundle")]
    UnknownRoot,
    #[error("peer certificate chain is invalid: {0}")]
    Chain(webpki::Error),
    #[error("peer certificate lacks the {0} extended key usage")]
    MissingEku(&'static str),
    #[error(transparent)]
    Leaf(#[from] LeafError),
    #[error("peer identity {got} is not allowed here (expected {expected})")]
    NotAllowed { got: SpiffeId, expected: String },
}

impl From<webpki::Error> for PeerError {
    fn from(e: webpki::Error) -> Self {
        match e {
            webpki::Error::CertExpired { .. } => PeerError::Expired,
            webpki::Error::CertNotValidYet { .. } => PeerError::NotYetValid,
            webpki::Error::UnknownIssuer => PeerError::UnknownRoot,
            webpki::Error::RequiredEkuNotFoundContext(_) => PeerError::MissingEku("required"),
            other => PeerError::Chain(other),
        }
    }
}

impl From<PeerError> for rustls::Error {
    fn from(e: PeerError) -> Self {
        use rustls::CertificateError as C;
        rustls::Error::InvalidCertificate(match e {
            PeerError::Expired => C::Expired,
            PeerError::NotYetValid => C::NotValidYet,
            PeerError::UnknownRoot => C::UnknownIssuer,
            PeerError::MissingEku(_) => C::InvalidPurpose,
            other => C::Other(rustls::OtherError(std::sync::Arc::new(other))),
        })
    }
}
