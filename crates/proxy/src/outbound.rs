//! Outbound: a connection from the application, redirected to the proxy. The service port it
//! dialled decides the protocol (declared, or detected from the first bytes on `auto`
//! ports): HTTP is served and routed per request, everything else is proxied as TCP.
//! Destinations no service claims pass through only when unknown destinations are allowed.

use crate::detect::Detected;
use crate::error::ConnError;
use crate::flags::ResponseFlag;
use crate::http::outbound::{self as http_out, OutboundConn};
use crate::server::Shared;
use crate::sniff::sniff;
use crate::state::ClusterRef;
use crate::tcp::{self, TcpRecord};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use verimesh_model::Protocol;

pub async fn handle(
    shared: Arc<Shared>,
    mut app: TcpStream,
    remote: SocketAddr,
    dst: SocketAddr,
) -> Result<(), ConnError> {
    let state = shared.state.load_full();
    let declared = state.port_by_addr(dst).map(|(_, p)| p.protocol);
    let http = match declared {
        Some(Protocol::Tcp | Protocol::Tls) => None,
        Some(p) if p.is_http() => Some(is_h2(&app, &shared).await?),
        // Auto ports and unknown destinations: HTTP is recognised so that it is routed,
        // logged and counted per request.
        _ => match sniff(&app, shared.detect_timeout).await? {
            Detected::Http1 => Some(false),
            Detected::Http2 => Some(true),
            _ => None,
        },
    };
    if let Some(h2) = http {
        if declared.is_some() || state.config.allow_unknown_destinations {
            let conn = Arc::new(OutboundConn { remote, dst, h2 });
            let handler = move |req| http_out::handle(shared.clone(), conn.clone(), req);
            crate::http::serve(app, h2, handler).await?;
            return Ok(());
        }
    }
    let mut record = TcpRecord::new(&state, true, remote, dst, None);
    record.opened(&shared);
    let result = match state.port_by_addr(dst) {
        Some((_, port)) => match port.tcp.pick(crate::rand::next()) {
            Some(ClusterRef::Found(c)) if c.cluster.missing.is_some() => {
                record.flags.add(ResponseFlag::NoClusterFound);
                Err(ConnError::NoCluster(c.name.to_string()))
            }
            Some(ClusterRef::Found(c)) if c.cluster.original_destination => {
                record.entry.upstream_cluster = Some(c.name.to_string());
                tcp::direct(&mut app, dst, &mut record).await
            }
            Some(ClusterRef::Found(c)) => {
                let c = c.clone();
                tcp::to_cluster(&shared, &mut app, &c, &mut record).await
            }
            Some(ClusterRef::Missing(name)) => {
                record.flags.add(ResponseFlag::NoClusterFound);
                Err(ConnError::NoCluster(name.to_string()))
            }
            None => {
                record.flags.add(ResponseFlag::NoHealthyUpstream);
                Err(ConnError::NoEndpoint(dst.to_string()))
            }
        },
        None if state.config.allow_unknown_destinations => {
            record.entry.upstream_cluster = Some("PassthroughCluster".into());
            tcp::direct(&mut app, dst, &mut record).await
        }
        None => {
            record.entry.upstream_cluster = Some("BlackHoleCluster".into());
            record.flags.add(ResponseFlag::NoClusterFound);
            Err(ConnError::UnknownDestination(dst))
        }
    };
    record.finish(&shared, result.as_ref().map(|b| *b));
    result.map(|_| ())
}

/// On a declared HTTP port, whether the client opens with the HTTP/2 preface (h2c with
/// prior knowledge, as gRPC clients do).
async fn is_h2(app: &TcpStream, shared: &Shared) -> Result<bool, ConnError> {
    Ok(matches!(
        sniff(app, shared.detect_timeout).await?,
        Detected::Http2
    ))
}
