//! Workload identity for verimesh: SPIFFE IDs, the mesh CA, certificate signing requests,
//! trust bundles with several roots, certificate rotation, and the rustls configurations every
//! other crate uses for mesh TLS.
//!
//! This crate owns the crypto policy: aws-lc-rs is the one crypto provider ([`tls::provider`]),
//! mesh traffic is TLS 1.3 only, and peers are verified against a [`TrustBundle`] and matched
//! on their SPIFFE ID by a [`SpiffeMatcher`]. Nothing else builds TLS configs by hand.
#![forbid(unsafe_code)]

pub mod bundle;
pub mod ca;
pub mod creds;
pub mod csr;
pub mod inspect;
pub mod pem;
pub mod rotate;
pub mod spiffe;
pub mod tls;
pub mod verify;

pub mod random;

pub use bundle::TrustBundle;
pub use ca::{Ca, CaError, IssuedCertificate};
pub use creds::{CredentialSource, Credentials, StaticCredentials};
pub use rotate::{CertificateWatcher, RotationOptions, Signed, Signer};
pub use spiffe::{SpiffeId, SpiffeIdError, TrustDomain};
pub use verify::{PeerError, SpiffeMatcher, Usage};
