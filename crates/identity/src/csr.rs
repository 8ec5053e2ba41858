//! The workload side of signing: a fresh private key and a CSR naming the workload's SPIFFE ID.
//! The key stays with the workload; only the CSR goes to the CA.

use crate::spiffe::SpiffeId;
use rcgen::{CertificateParams, DistinguishedName, KeyPair, SanType};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// A new ECDSA P-256 key and a CSR for `id` signed with it.
pub struct KeyAndCsr {
    key: KeyPair,
    pub csr_pem: String,
}

impl std::fmt::Debug for KeyAndCsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyAndCsr")
            .field("csr_pem", &self.csr_pem)
            .finish_non_exhaustive()
    }
}

impl KeyAndCsr {
    pub fn generate(id: &SpiffeId) -> Result<Self, rcgen::Error> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let csr_pem = csr_for(id, &key)?;
        Ok(Self { key, csr_pem })
    }

    /// The private key, for rustls.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }

    /// The private key as PKCS#8 PEM.
    pub fn private_key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

/// A PEM CSR for `id` (URI SAN only, empty subject) signed with `key`.
pub fn csr_for(id: &SpiffeId, key: &KeyPair) -> Result<String, rcgen::Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.subject_alt_names = vec![SanType::URI(id.to_string().try_into()?)];
    params.serialize_request(key)?.pem()
}
