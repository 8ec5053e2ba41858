//! Opening one upstream connection: TCP with a timeout, then for mesh endpoints mutual TLS
//! that must prove the endpoint's SPIFFE identity, offering the ALPN of what it will carry.

use super::conn_policy::set_tcp_keepalive;
use super::{UpstreamError, UpstreamKind};
use crate::mesh_tls::{self, MeshProtocol, MeshTls};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use verimesh_model::TcpKeepalive;

/// A connected upstream byte stream: plain TCP or TLS over it.
pub trait Io: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Io for T {}
pub type BoxIo = Pin<Box<dyn Io>>;

/// A TCP connection to `addr`, with keepalive probes when the cluster asks for them.
pub async fn connect_tcp(
    addr: SocketAddr,
    timeout: Duration,
    keepalive: Option<&TcpKeepalive>,
) -> Result<TcpStream, UpstreamError> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| UpstreamError::Connect(format!("connect to {addr} timed out")))?
        .map_err(|e| UpstreamError::Connect(format!("connect to {addr}: {e}")))?;
    let _ = stream.set_nodelay(true);
    if let Some(k) = keepalive {
        set_tcp_keepalive(&stream, k)
            .map_err(|e| UpstreamError::Connect(format!("TCP keepalive to {addr}: {e}")))?;
    }
    Ok(stream)
}

/// What the pools need to open connections.
#[derive(Clone)]
pub struct Connector {
    pub tls: Arc<MeshTls>,
}

impl Connector {
    pub async fn open(
        &self,
        addr: SocketAddr,
        kind: &UpstreamKind,
        protocol: MeshProtocol,
        timeout: Duration,
        keepalive: Option<&TcpKeepalive>,
    ) -> Result<BoxIo, UpstreamError> {
        match kind {
            UpstreamKind::Plain => Ok(Box::pin(connect_tcp(addr, timeout, keepalive).await?)),
            UpstreamKind::Mesh { identities } => {
                let (one, many) = match identities.as_slice() {
                    [one] => (Some(one.as_str()), &[][..]),
                    all => (None, all),
                };
                let matcher = mesh_tls::matcher_for(&addr.to_string(), one, many)
                    .map_err(|e| UpstreamError::Connect(e.to_string()))?;
                let connector = self
                    .tls
                    .connector(matcher, protocol)
                    .map_err(|e| UpstreamError::Connect(e.to_string()))?;
                let tcp = connect_tcp(addr, timeout, keepalive).await?;
                let tls =
                    tokio::time::timeout(timeout, connector.connect(mesh_tls::server_name(), tcp))
                        .await
                        .map_err(|_| {
                            UpstreamError::Connect(format!("TLS handshake with {addr} timed out"))
                        })?
                        .map_err(|e| {
                            UpstreamError::Connect(format!("TLS handshake with {addr}: {e}"))
                        })?;
                Ok(Box::pin(tls))
            }
            UpstreamKind::Tls { sni, .. } => Err(UpstreamError::Connect(format!(
                "TLS origination to {sni} is not supported yet"
            ))),
        }
    }
}
