//! Mesh TLS for the proxy: the inbound acceptor (clients from the mesh trust domain) and
//! outbound connectors verifying the endpoint's SPIFFE ID, all built by the identity crate.

use super::error::{ConnError, ProxyError};
use rustls_pki_types::ServerName;
use std::sync::Arc;
use verimesh_identity::tls::{self, ClientAuth};
use verimesh_identity::{CredentialSource, SpiffeId, SpiffeMatcher};

/// ALPN that marks proxy-to-proxy mTLS, so an application's own TLS (another ALPN, or none)
/// is not mistaken for mesh traffic (Istio uses `istio` the same way).
pub const MESH_ALPN: &[u8] = b"verimesh";

pub struct MeshTls {
    source: Arc<dyn CredentialSource>,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl MeshTls {
    /// Accepts clients of the trust domain of our own certificate.
    pub fn new(source: Arc<dyn CredentialSource>) -> Result<Self, ProxyError> {
        let own = source.credentials().ok_or(ProxyError::NoCredentials)?;
        let td = own.identity().trust_domain().clone();
        let config = tls::server_config(
            source.clone(),
            ClientAuth::Required(SpiffeMatcher::TrustDomain(td)),
            &[MESH_ALPN],
        )?;
        Ok(Self {
            source,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        })
    }

    pub fn acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.acceptor
    }

    /// A connector that accepts only a server whose identity `matcher` accepts.
    pub fn connector(
        &self,
        matcher: SpiffeMatcher,
    ) -> Result<tokio_rustls::TlsConnector, ConnError> {
        let config = tls::client_config(self.source.clone(), matcher, &[MESH_ALPN])?;
        Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
    }
}

/// The server name sent in the ClientHello; verification is by SPIFFE ID, not by this name.
pub fn server_name() -> ServerName<'static> {
    ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
}

/// The identities an endpoint may prove: its own, else the cluster's list. None is an error
/// (fail closed): the proxy never talks mTLS to "anyone in the mesh" on the outbound side.
pub fn matcher_for(
    cluster: &str,
    endpoint: Option<&str>,
    cluster_ids: &[String],
) -> Result<SpiffeMatcher, ConnError> {
    let parse = |s: &str| SpiffeId::parse(s).map_err(|_| ConnError::BadIdentity(s.to_string()));
    if let Some(id) = endpoint {
        return Ok(SpiffeMatcher::Exact(parse(id)?));
    }
    if cluster_ids.is_empty() {
        return Err(ConnError::NoIdentity(cluster.to_string()));
    }
    let ids = cluster_ids
        .iter()
        .map(|s| parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SpiffeMatcher::any_of(ids))
}
