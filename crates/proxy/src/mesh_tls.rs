//! Mesh TLS for the proxy: the inbound acceptor (clients from the mesh trust domain) and
//! outbound connectors verifying the endpoint's SPIFFE ID, all built by the identity crate.

use crate::error::{ConnError, ProxyError};
use rustls_pki_types::ServerName;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use verimesh_identity::tls::{self, ClientAuth};
use verimesh_identity::{CredentialSource, SpiffeId, SpiffeMatcher};

/// ALPN that marks proxy-to-proxy mTLS carrying opaque TCP, so an application's own TLS
/// (another ALPN, or none) is not mistaken for mesh traffic (Istio uses `istio` the same
/// way).
pub const MESH_ALPN: &[u8] = b"verimesh";
/// Mesh mTLS carrying HTTP/2: requests from many application connections multiplexed on one
/// connection between two proxies.
pub const MESH_ALPN_H2: &[u8] = b"verimesh-h2";
/// Mesh mTLS carrying one HTTP/1.1 connection: used for upgrades (WebSocket), which need a
/// connection of their own after the 101.
pub const MESH_ALPN_HTTP1: &[u8] = b"verimesh-http1";

/// What a mesh connection carries, from its negotiated ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeshProtocol {
    Tcp,
    H2,
    Http1,
}

impl MeshProtocol {
    pub fn alpn(self) -> &'static [u8] {
        match self {
            MeshProtocol::Tcp => MESH_ALPN,
            MeshProtocol::H2 => MESH_ALPN_H2,
            MeshProtocol::Http1 => MESH_ALPN_HTTP1,
        }
    }

    pub fn from_alpn(alpn: Option<&[u8]>) -> Option<Self> {
        [MeshProtocol::Tcp, MeshProtocol::H2, MeshProtocol::Http1]
            .into_iter()
            .find(|p| Some(p.alpn()) == alpn)
    }

    pub fn is_mesh_alpn(alpn: &[u8]) -> bool {
        Self::from_alpn(Some(alpn)).is_some()
    }
}

pub struct MeshTls {
    source: Arc<dyn CredentialSource>,
    acceptor: tokio_rustls::TlsAcceptor,
    /// Client configs by (accepted identities, protocol): built once, used for every new
    /// connection. Certificates are resolved per handshake, so rotation needs no rebuild.
    connectors: Mutex<HashMap<(String, MeshProtocol), tokio_rustls::TlsConnector>>,
}

impl MeshTls {
    /// Accepts clients of the trust domain of our own certificate.
    pub fn new(source: Arc<dyn CredentialSource>) -> Result<Self, ProxyError> {
        let own = source.credentials().ok_or(ProxyError::NoCredentials)?;
        let td = own.identity().trust_domain().clone();
        let config = tls::server_config(
            source.clone(),
            ClientAuth::Required(SpiffeMatcher::TrustDomain(td)),
            &[MESH_ALPN, MESH_ALPN_H2, MESH_ALPN_HTTP1],
        )?;
        Ok(Self {
            source,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            connectors: Mutex::default(),
        })
    }

    pub fn acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.acceptor
    }

    /// The workload's own identity (for XFCC `By=` and telemetry).
    pub fn own_identity(&self) -> Option<SpiffeId> {
        self.source.credentials().map(|c| c.identity().clone())
    }

    /// A connector that accepts only a server whose identity `matcher` accepts and offers
    /// only `protocol`'s ALPN.
    pub fn connector(
        &self,
        matcher: SpiffeMatcher,
        protocol: MeshProtocol,
    ) -> Result<tokio_rustls::TlsConnector, ConnError> {
        let key = (format!("{matcher:?}"), protocol);
        if let Some(c) = self.cached(&key) {
            return Ok(c);
        }
        let config = tls::client_config(self.source.clone(), matcher, &[protocol.alpn()])?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        if let Ok(mut map) = self.connectors.lock() {
            map.insert(key, connector.clone());
        }
        Ok(connector)
    }

    fn cached(&self, key: &(String, MeshProtocol)) -> Option<tokio_rustls::TlsConnector> {
        self.connectors.lock().ok()?.get(key).cloned()
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
