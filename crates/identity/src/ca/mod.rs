//! The mesh CA: a self-signed root created on first start and kept in the control plane's
//! state directory, or a plugged-in CA in Istio's `cacerts` layout. Either way the CA is four
//! PEM files in one directory:
//!
//! | file             | holds                                                              |
//! |------------------|--------------------------------------------------------------------|
//! | `ca-cert.pem`    | the certificate that signs workload certificates                   |
//! | `ca-key.pem`     | its private key (mode 0600)                                        |
//! | `cert-chain.pem` | `ca-cert.pem` and any intermediates up to the root, sent to peers  |
//! | `root-cert.pem`  | the trust bundle: one or several roots (several during rotation)   |

mod issue;
mod local;

pub use issue::IssuedCertificate;
pub use local::LocalSigner;

use crate::bundle::{BundleError, TrustBundle};
use crate::pem::{self, PemError};
use crate::spiffe::{SpiffeId, SpiffeIdError, TrustDomain};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::CertificateDer;
use std::path::Path;
use std::time::Duration;

pub const CA_CERT: &str = "ca-cert.pem";
pub const CA_KEY: &str = "ca-key.pem";
pub const CERT_CHAIN: &str = "cert-chain.pem";
pub const ROOT_CERT: &str = "root-cert.pem";

/// Where a self-signed CA lives inside the control plane's state directory.
pub const STATE_SUBDIR: &str = "ca";

/// Default lifetime of workload certificates.
pub const DEFAULT_WORKLOAD_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest lifetime a workload may ask for.
pub const DEFAULT_MAX_WORKLOAD_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// Lifetime of a self-signed root.
pub const ROOT_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Errors from loading, creating or using the CA.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("trust bundle ({ROOT_CERT}): {0}")]
    Bundle(#[from] BundleError),
    #[error("{file}: {reason}")]
    Invalid { file: String, reason: String },
    #[error("{0}: cannot create the CA directory: {1}")]
    CreateDir(String, std::io::Error),
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("no randomness available")]
    Random,
    #[error("certificate signing request is invalid: {0}")]
    BadCsr(String),
    #[error("CSR asks for {requested}, but the caller is {caller}; a workload may only ask for its own identity")]
    IdentityMismatch { requested: String, caller: SpiffeId },
    #[error("caller {caller} is not in this CA's trust domain {trust_domain}")]
    WrongTrustDomain {
        caller: SpiffeId,
        trust_domain: TrustDomain,
    },
    #[error("requested lifetime {requested:?} exceeds the maximum {max:?}")]
    TtlTooLong { requested: Duration, max: Duration },
    #[error("{0}")]
    Identity(#[from] SpiffeIdError),
}

fn invalid(file: &str, reason: impl std::fmt::Display) -> CaError {
    CaError::Invalid {
        file: file.to_string(),
        reason: reason.to_string(),
    }
}

/// A certificate authority that signs workload certificates.
pub struct Ca {
    trust_domain: TrustDomain,
    issuer: Issuer<'static, KeyPair>,
    /// `cert-chain.pem`: the signing certificate first.
    chain: Vec<CertificateDer<'static>>,
    bundle: TrustBundle,
    default_ttl: Duration,
    max_ttl: Duration,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("trust_domain", &self.trust_domain)
            .field("roots", &self.bundle.roots().len())
            .finish_non_exhaustive()
    }
}

impl Ca {
    /// Loads the self-signed CA from `<state_dir>/ca`, creating a new ECDSA P-256 root there on
    /// first start (directory 0700, key 0600). Returns the CA and whether it was created.
    pub fn load_or_create(
        state_dir: &Path,
        trust_domain: TrustDomain,
    ) -> Result<(Ca, bool), CaError> {
        let dir = state_dir.join(STATE_SUBDIR);
        if dir.join(CA_KEY).exists() {
            return Ok((Self::load_cacerts(&dir, trust_domain)?, false));
        }
        create_private_dir(&dir)?;
        let files = generate_root(&trust_domain)?;
        pem::write_file(&dir.join(CA_CERT), &files.cert, 0o644)?;
        pem::write_file(&dir.join(CERT_CHAIN), &files.cert, 0o644)?;
        pem::write_file(&dir.join(ROOT_CERT), &files.cert, 0o644)?;
        // The key last: its presence marks a complete CA directory.
        pem::write_file(&dir.join(CA_KEY), &files.key, 0o600)?;
        Ok((Self::load_cacerts(&dir, trust_domain)?, true))
    }

    /// Loads a CA from a directory in Istio's `cacerts` layout (see the module docs).
    pub fn load_cacerts(dir: &Path, trust_domain: TrustDomain) -> Result<Ca, CaError> {
        let read = |name: &str| pem::read(&dir.join(name));
        Self::from_pem(
            trust_domain,
            &read(CA_CERT)?,
            &read(CA_KEY)?,
            &read(CERT_CHAIN)?,
            &read(ROOT_CERT)?,
        )
    }

    /// A CA from the contents of the four `cacerts` files. Refuses a key that does not belong
    /// to the CA certificate, a CA certificate that is not a CA, and a CA whose certificates
    /// would not verify against its own trust bundle.
    pub fn from_pem(
        trust_domain: TrustDomain,
        ca_cert_pem: &str,
        ca_key_pem: &str,
        cert_chain_pem: &str,
        root_cert_pem: &str,
    ) -> Result<Ca, CaError> {
        let ca_cert = pem::certs(ca_cert_pem, CA_CERT)?
            .into_iter()
            .next()
            .ok_or_else(|| invalid(CA_CERT, "no certificate"))?;
        let key = KeyPair::from_pem(ca_key_pem).map_err(|e| invalid(CA_KEY, e))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(ca_cert.as_ref())
            .map_err(|e| invalid(CA_CERT, e))?;
        if !parsed.is_ca() {
            return Err(invalid(
                CA_CERT,
                "not a CA certificate (basicConstraints CA:FALSE)",
            ));
        }
        if parsed.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(invalid(CA_KEY, "private key does not match ca-cert.pem"));
        }
        let mut chain = pem::certs(cert_chain_pem, CERT_CHAIN)?;
        if chain.first() != Some(&ca_cert) {
            chain.insert(0, ca_cert.clone());
        }
        let bundle = TrustBundle::from_pem(root_cert_pem)?;
        let issuer = Issuer::from_ca_cert_der(&ca_cert, key).map_err(|e| invalid(CA_CERT, e))?;
        let ca = Ca {
            trust_domain,
            issuer,
            chain,
            bundle,
            default_ttl: DEFAULT_WORKLOAD_TTL,
            max_ttl: DEFAULT_MAX_WORKLOAD_TTL,
        };
        ca.self_check()?;
        Ok(ca)
    }

    /// Sets the default and maximum workload certificate lifetimes.
    pub fn with_ttls(mut self, default_ttl: Duration, max_ttl: Duration) -> Self {
        self.default_ttl = default_ttl;
        self.max_ttl = max_ttl.max(default_ttl);
        self
    }

    pub fn trust_domain(&self) -> &TrustDomain {
        &self.trust_domain
    }

    /// The roots workloads must trust.
    pub fn trust_bundle(&self) -> &TrustBundle {
        &self.bundle
    }

    /// A copy of this CA that hands out `bundle` as its trust bundle (root rotation: publish old
    /// and new roots before switching the signing CA).
    pub fn with_trust_bundle(mut self, bundle: TrustBundle) -> Result<Ca, CaError> {
        self.bundle = bundle;
        self.self_check()?;
        Ok(self)
    }

    pub fn default_ttl(&self) -> Duration {
        self.default_ttl
    }

    /// Issues a throwaway certificate and verifies it against the trust bundle.
    fn self_check(&self) -> Result<(), CaError> {
        let id = SpiffeId::workload(&self.trust_domain, "verimesh-system", "ca-self-check")?;
        let (issued, _key) = self.issue(&id, Some(Duration::from_secs(300)))?;
        let now = rustls_pki_types::UnixTime::now();
        crate::verify::verify_peer(
            &issued.chain[0],
            &issued.chain[1..],
            &self.bundle,
            crate::verify::Usage::Client,
            &crate::verify::SpiffeMatcher::Exact(id),
            now,
            &crate::tls::provider().signature_verification_algorithms,
        )
        .map_err(|e| {
            invalid(
                ROOT_CERT,
                format!("certificates from this CA would not verify against its roots: {e}"),
            )
        })?;
        Ok(())
    }
}

/// PEM text of a newly generated self-signed root: certificate and private key.
pub struct RootFiles {
    pub cert: String,
    pub key: String,
}

/// Generates a self-signed ECDSA P-256 root for `trust_domain`.
pub fn generate_root(trust_domain: &TrustDomain) -> Result<RootFiles, CaError> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, trust_domain.as_str());
    dn.push(DnType::CommonName, "verimesh root CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + ROOT_TTL;
    params.serial_number = Some(issue::random_serial()?);
    let cert = params.self_signed(&key)?;
    Ok(RootFiles {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

fn create_private_dir(dir: &Path) -> Result<(), CaError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let err = |e| CaError::CreateDir(dir.display().to_string(), e);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)
}
