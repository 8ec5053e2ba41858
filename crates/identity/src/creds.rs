//! A workload's own credentials (certificate chain and private key) and the sources TLS
//! configs read them from on every handshake, so a rotated certificate is used by the next
//! handshake without rebuilding any config or touching open connections.

use crate::bundle::{BundleError, TrustBundle};
use crate::pem::{self, PemError};
use crate::spiffe::SpiffeId;
use crate::verify::{spiffe_id_of, LeafError};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Credentials that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredsError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("certificate chain is empty")]
    EmptyChain,
    #[error("leaf certificate: {0}")]
    Leaf(#[from] LeafError),
    #[error("private key does not fit the certificate or is unsupported: {0}")]
    Key(rustls::Error),
    #[error("trust bundle: {0}")]
    Bundle(#[from] BundleError),
}

/// A certificate chain with its private key, ready for rustls, and what it says.
pub struct Credentials {
    identity: SpiffeId,
    certified: Arc<CertifiedKey>,
    not_before: SystemTime,
    not_after: SystemTime,
    serial: String,
}

impl Credentials {
    /// `chain` starts with the leaf; `key` must be the leaf's private key.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, CredsError> {
        let leaf = chain.first().ok_or(CredsError::EmptyChain)?;
        let identity = spiffe_id_of(leaf)?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|_| CredsError::Leaf(LeafError::Unparseable))?;
        let not_before = unix_to_system(cert.validity().not_before.timestamp());
        let not_after = unix_to_system(cert.validity().not_after.timestamp());
        let serial = cert.raw_serial_as_string();
        let certified =
            CertifiedKey::from_der(chain, key, &crate::tls::provider()).map_err(CredsError::Key)?;
        Ok(Self {
            identity,
            certified: Arc::new(certified),
            not_before,
            not_after,
            serial,
        })
    }

    /// From PEM text: the chain (leaf first) and the private key.
    pub fn from_pem(chain_pem: &str, key_pem: &str) -> Result<Self, CredsError> {
        Self::new(
            pem::certs(chain_pem, "certificate chain")?,
            pem::private_key(key_pem, "private key")?,
        )
    }

    pub fn identity(&self) -> &SpiffeId {
        &self.identity
    }
    pub fn not_before(&self) -> SystemTime {
        self.not_before
    }
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }
    /// The leaf's serial number, hex with colons.
    pub fn serial(&self) -> &str {
        &self.serial
    }
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }
    pub fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.certified
    }
    /// Whether the leaf is within its validity period at `t`.
    pub fn is_valid_at(&self, t: SystemTime) -> bool {
        self.not_before <= t && t < self.not_after
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("identity", &self.identity.to_string())
            .field("serial", &self.serial)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

pub(crate) fn unix_to_system(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// Where TLS configs get the workload's current credentials and trust bundle, on every
/// handshake. `credentials()` returning `None` (none yet, or expired) fails handshakes closed.
pub trait CredentialSource: fmt::Debug + Send + Sync + 'static {
    /// The current, unexpired credentials, if any.
    fn credentials(&self) -> Option<Arc<Credentials>>;
    /// The roots peers are verified against.
    fn trust_bundle(&self) -> Arc<TrustBundle>;
}

/// Credentials that never change: tests, tools, and clients with only a trust bundle (a
/// workload asking for its first certificate).
#[derive(Debug, Clone)]
pub struct StaticCredentials {
    creds: Option<Arc<Credentials>>,
    bundle: Arc<TrustBundle>,
}

impl StaticCredentials {
    pub fn new(creds: Credentials, bundle: TrustBundle) -> Self {
        Self {
            creds: Some(Arc::new(creds)),
            bundle: Arc::new(bundle),
        }
    }

    /// Only a trust bundle: verifies peers, presents no certificate.
    pub fn trust_only(bundle: TrustBundle) -> Self {
        Self {
            creds: None,
            bundle: Arc::new(bundle),
        }
    }
}

impl StaticCredentials {
    /// Loads the files `verimesh ca issue` writes (Istio's names): `cert-chain.pem` (leaf
    /// first), `key.pem` and `root-cert.pem` in `dir`.
    pub fn load_dir(dir: &std::path::Path) -> Result<Self, CredsError> {
        let read = |name: &str| pem::read(&dir.join(name));
        let creds = Credentials::from_pem(&read("cert-chain.pem")?, &read("key.pem")?)?;
        let bundle = TrustBundle::from_pem(&read("root-cert.pem")?)?;
        Ok(Self::new(creds, bundle))
    }
}

impl CredentialSource for StaticCredentials {
    fn credentials(&self) -> Option<Arc<Credentials>> {
        self.creds
            .as_ref()
            .filter(|c| c.is_valid_at(SystemTime::now()))
            .cloned()
    }
    fn trust_bundle(&self) -> Arc<TrustBundle> {
        self.bundle.clone()
    }
}
