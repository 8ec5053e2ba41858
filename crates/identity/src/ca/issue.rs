//! Signing workload certificates: from a CSR whose only SAN must be the caller's own SPIFFE
//! ID (the workload's key never leaves it), or with a key generated here (`verimesh ca issue`).

use super::{Ca, CaError};
use crate::bundle::TrustBundle;
use crate::pem;
use crate::spiffe::SpiffeId;
use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use std::time::{Duration, SystemTime};

/// How far `notBefore` is set in the past, so a peer whose clock is slightly behind accepts a
/// fresh certificate. Rotation is scheduled from the time a certificate is received, not from
/// `notBefore`, so this does not shorten the effective lifetime.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::from_secs(60);

/// A signed workload certificate.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// Leaf first, then the CA's `cert-chain.pem`.
    pub chain: Vec<CertificateDer<'static>>,
    /// The roots the workload should trust.
    pub roots: TrustBundle,
    pub identity: SpiffeId,
    pub not_after: SystemTime,
}

impl IssuedCertificate {
    /// The chain as PEM (`cert-chain.pem`).
    pub fn chain_pem(&self) -> String {
        pem::encode_certs(&self.chain)
    }
    /// The trust bundle as PEM (`root-cert.pem`).
    pub fn roots_pem(&self) -> String {
        self.roots.to_pem()
    }
}

impl Ca {
    /// Signs `csr_pem` for `caller`, whose identity the request's authenticator established.
    /// The CSR's signature must be valid and its only SAN must be `caller`'s SPIFFE ID; any
    /// other request is refused (a workload may never obtain another workload's identity).
    /// `ttl` of `None` means the CA's default lifetime.
    pub fn sign_csr(
        &self,
        csr_pem: &str,
        caller: &SpiffeId,
        ttl: Option<Duration>,
    ) -> Result<IssuedCertificate, CaError> {
        check_key(csr_pem)?;
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| CaError::BadCsr(e.to_string()))?;
        let requested: Vec<String> = csr
            .params
            .subject_alt_names
            .iter()
            .map(|san| match san {
                SanType::URI(u) => u.as_str().to_string(),
                SanType::DnsName(d) => format!("DNS:{}", d.as_str()),
                SanType::IpAddress(ip) => format!("IP:{ip}"),
                other => format!("{other:?}"),
            })
            .collect();
        let own = caller.to_string();
        if requested.as_slice() != [own.as_str()] {
            return Err(CaError::IdentityMismatch {
                requested: if requested.is_empty() {
                    "no identity".to_string()
                } else {
                    requested.join(", ")
                },
                caller: caller.clone(),
            });
        }
        self.sign_for(caller, &csr.public_key, ttl)
    }

    /// Generates a key pair here and issues a certificate for `id`: for tools and tests. The
    /// mesh itself uses [`sign_csr`](Self::sign_csr). Returns the certificate and the key PEM.
    pub fn issue(
        &self,
        id: &SpiffeId,
        ttl: Option<Duration>,
    ) -> Result<(IssuedCertificate, String), CaError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let issued = self.sign_for(id, &key, ttl)?;
        Ok((issued, key.serialize_pem()))
    }

    fn sign_for(
        &self,
        id: &SpiffeId,
        public_key: &impl rcgen::PublicKeyData,
        ttl: Option<Duration>,
    ) -> Result<IssuedCertificate, CaError> {
        if id.trust_domain() != &self.trust_domain {
            return Err(CaError::WrongTrustDomain {
                caller: id.clone(),
                trust_domain: self.trust_domain.clone(),
            });
        }
        let ttl = match ttl {
            None => self.default_ttl,
            Some(t) if t.is_zero() => self.default_ttl,
            Some(t) if t > self.max_ttl => {
                return Err(CaError::TtlTooLong {
                    requested: t,
                    max: self.max_ttl,
                })
            }
            Some(t) => t,
        };
        let params = workload_params(id, ttl)?;
        let cert = params.signed_by(public_key, &self.issuer)?;
        let mut chain = vec![cert.der().clone()];
        chain.extend(self.chain.iter().cloned());
        let not_after = SystemTime::from(params.not_after);
        Ok(IssuedCertificate {
            chain,
            roots: self.bundle.clone(),
            identity: id.clone(),
            not_after,
        })
    }
}

/// A workload certificate: the SPIFFE URI SAN only, an empty subject (so the SAN extension is
/// critical), EKU serverAuth and clientAuth, not a CA.
fn workload_params(id: &SpiffeId, ttl: Duration) -> Result<CertificateParams, CaError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = vec![SanType::URI(id.to_string().try_into()?)];
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    // Whole seconds: what X.509 encodes, so `not_after` here is the certificate's.
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    params.not_before = now - CLOCK_SKEW_ALLOWANCE;
    params.not_after = now + ttl;
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

/// Refuses CSRs for keys the mesh does not accept: only ECDSA P-256 and P-384, Ed25519, and
/// RSA of 2048 to 8192 bits.
fn check_key(csr_pem: &str) -> Result<(), CaError> {
    use rustls_pki_types::pem::PemObject;
    use x509_parser::prelude::FromDer;
    const P256: &str = "1.2.840.10045.3.1.7";
    const P384: &str = "1.3.132.0.34";
    const ED25519: &str = "1.3.101.112";
    let der = rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(csr_pem.as_bytes())
        .map_err(|e| CaError::BadCsr(e.to_string()))?;
    let (_, req) =
        x509_parser::certification_request::X509CertificationRequest::from_der(der.as_ref())
            .map_err(|e| CaError::BadCsr(e.to_string()))?;
    let spki = &req.certification_request_info.subject_pki;
    if spki.algorithm.algorithm.to_id_string() == ED25519 {
        return Ok(());
    }
    let weak = |what: String| Err(CaError::BadCsr(format!("key not accepted: {what}")));
    match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            if curve == P256 || curve == P384 {
                Ok(())
            } else {
                weak(format!("EC curve {curve:?} (use P-256 or P-384)"))
            }
        }
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => match rsa.key_size() {
            2048..=8192 => Ok(()),
            bits => weak(format!("RSA {bits} bits (use 2048 to 8192)")),
        },
        Ok(_) | Err(_) => weak("unsupported key type".to_string()),
    }
}

/// A random positive 128-bit serial number.
pub(super) fn random_serial() -> Result<SerialNumber, CaError> {
    let mut bytes = [0u8; 16];
    crate::random::fill(&mut bytes).map_err(|_| CaError::Random)?;
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}
