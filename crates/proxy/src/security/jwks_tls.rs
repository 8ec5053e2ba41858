//! The roots an `https://` jwksUri's server is verified against: the system trust store, plus
//! any extra CA the proxy was given (tests, private key servers).
//!
//! Why the system store (rustls-native-certs) rather than a bundle compiled in (webpki-roots):
//! a JWKS server is often an identity provider inside the organisation, signed by a private
//! CA that operators add to the machine's or image's store, and that store is also where
//! revocations and distrusts land without rebuilding the proxy. It is also what Istio does,
//! whose control plane fetches JWKS with Go's system roots. An image with no store at all
//! has no roots, so every https fetch fails verification and the issuer's tokens are refused:
//! fail closed, and logged.
//!
//! The store is read once, on the first https fetch, not at start-up: most proxies never
//! fetch a key set over https.

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use std::sync::{Arc, OnceLock};

/// Built on first use and shared by every fetch of the proxy.
#[derive(Debug, Default)]
pub struct JwksTls {
    extra: Vec<CertificateDer<'static>>,
    config: OnceLock<Result<Arc<ClientConfig>, String>>,
}

impl JwksTls {
    pub fn new(extra: Vec<CertificateDer<'static>>) -> Self {
        JwksTls {
            extra,
            config: OnceLock::new(),
        }
    }

    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        self.config.get_or_init(|| build(&self.extra)).clone()
    }
}

fn build(extra: &[CertificateDer<'static>]) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!("reading the system trust store for https jwksUri: {e}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if ignored > 0 {
        tracing::debug!(
            added,
            ignored,
            "system trust store: unusable certificates ignored"
        );
    }
    for ca in extra {
        roots
            .add(ca.clone())
            .map_err(|e| format!("extra JWKS CA: {e}"))?;
    }
    if roots.is_empty() {
        tracing::warn!(
            "no trust roots for https jwksUri: every https key set fetch will fail verification"
        );
    }
    let config = ClientConfig::builder_with_provider(verimesh_identity::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
