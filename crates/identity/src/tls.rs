//! rustls configurations for mesh TLS. The one place TLS configs are built: TLS 1.3 only,
//! aws-lc-rs as the crypto provider, peers verified by SPIFFE ID against the trust bundle, our
//! own certificate read from a [`CredentialSource`] on every handshake, and no session
//! resumption (a resumed session would skip verification of a peer whose certificate has since
//! expired or whose root was removed).

use crate::creds::CredentialSource;
use crate::spiffe::SpiffeId;
use crate::verify::rustls_verifiers::{
    SourceCertResolver, SpiffeClientVerifier, SpiffeServerVerifier,
};
use crate::verify::{spiffe_id_of, SpiffeMatcher};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ServerConfig};
use std::sync::{Arc, OnceLock};

/// ALPN protocol id for HTTP/2 (gRPC to the control plane, HTTP/2 between proxies).
pub const ALPN_H2: &[u8] = b"h2";

/// The crypto provider for everything in verimesh: aws-lc-rs.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// A config could not be built (the provider lacks TLS 1.3 support; not expected).
#[derive(Debug, thiserror::Error)]
#[error("cannot build TLS config: {0}")]
pub struct ConfigError(#[from] rustls::Error);

/// Whether a server requires client certificates.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// Mesh traffic: every client presents a certificate whose SPIFFE ID `matcher` accepts.
    Required(SpiffeMatcher),
    /// A client may present no certificate (it authenticates some other way, e.g. a workload's
    /// bootstrap token on the CA port); one that is presented must pass like `Required`.
    Optional(SpiffeMatcher),
}

/// A server config presenting `source`'s certificate and verifying clients per `client_auth`.
pub fn server_config(
    source: Arc<dyn CredentialSource>,
    client_auth: ClientAuth,
    alpn: &[&[u8]],
) -> Result<ServerConfig, ConfigError> {
    let provider = provider();
    let (matcher, mandatory) = match client_auth {
        ClientAuth::Required(m) => (m, true),
        ClientAuth::Optional(m) => (m, false),
    };
    let verifier = Arc::new(SpiffeClientVerifier {
        source: source.clone(),
        matcher,
        provider: provider.clone(),
        mandatory,
    });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(SourceCertResolver(source)));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(config)
}

/// A client config verifying the server's SPIFFE ID with `server`, presenting `source`'s
/// certificate when it has one. The server name given to the connector is not checked.
pub fn client_config(
    source: Arc<dyn CredentialSource>,
    server: SpiffeMatcher,
    alpn: &[&[u8]],
) -> Result<ClientConfig, ConfigError> {
    let provider = provider();
    let verifier = Arc::new(SpiffeServerVerifier {
        source: source.clone(),
        matcher: server,
        provider: provider.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(SourceCertResolver(source)));
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.resumption = rustls::client::Resumption::disabled();
    config.enable_early_data = false;
    Ok(config)
}

/// The verified SPIFFE ID of the peer of an established connection, if it presented a
/// certificate (only verified certificates get this far).
pub fn peer_identity(conn: &rustls::CommonState) -> Option<SpiffeId> {
    conn.peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| spiffe_id_of(leaf).ok())
}
