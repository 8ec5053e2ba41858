//! Outbound: the application's connection, redirected to the proxy. Find the service it
//! dialled, pick an endpoint, connect (over mesh mTLS when the cluster says so), copy bytes.

use super::error::ConnError;
use super::mesh_tls::{self, MeshTls};
use super::state::State;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use verimesh_model::Transport;

pub async fn handle(
    mut app: TcpStream,
    dst: SocketAddr,
    state: &State,
    tls: &MeshTls,
) -> Result<(), ConnError> {
    let Some(target) = state.route(dst) else {
        if !state.config.allow_unknown_destinations {
            return Err(ConnError::UnknownDestination(dst));
        }
        let mut upstream = connect(dst, Duration::from_secs(10)).await?;
        return copy(&mut app, &mut upstream).await;
    };
    let cluster = &target.cluster;
    let index = target
        .balancer
        .pick(&target.loads, |i| {
            cluster.endpoints.get(i).is_some_and(|e| e.weight > 0)
        })
        .ok_or_else(|| ConnError::NoEndpoint(cluster.name.clone()))?;
    let (Some(endpoint), Some(load)) = (cluster.endpoints.get(index), target.loads.get(index))
    else {
        return Err(ConnError::NoEndpoint(cluster.name.clone()));
    };
    let _active = load.start();
    let timeout = Duration::from_millis(cluster.connect_timeout_ms);
    match &cluster.transport {
        Transport::Plain => {
            let mut upstream = connect(endpoint.address, timeout).await?;
            copy(&mut app, &mut upstream).await
        }
        Transport::MeshMtls { identities } => {
            let matcher =
                mesh_tls::matcher_for(&cluster.name, endpoint.identity.as_deref(), identities)?;
            let connector = tls.connector(matcher)?;
            let tcp = connect(endpoint.address, timeout).await?;
            let mut upstream =
                tokio::time::timeout(timeout, connector.connect(mesh_tls::server_name(), tcp))
                    .await
                    .map_err(|_| ConnError::ConnectTimeout(endpoint.address))?
                    .map_err(|source| ConnError::Handshake {
                        addr: endpoint.address,
                        source,
                    })?;
            copy(&mut app, &mut upstream).await
        }
        Transport::Tls { .. } => Err(ConnError::Unsupported(cluster.name.clone())),
    }
}

pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, ConnError> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| ConnError::ConnectTimeout(addr))?
        .map_err(|source| ConnError::Connect { addr, source })?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Copies both ways until both sides have closed.
pub async fn copy<A, B>(a: &mut A, b: &mut B) -> Result<(), ConnError>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    tokio::io::copy_bidirectional(a, b).await?;
    Ok(())
}
