//! Inbound: a connection to one of the workload's ports, redirected to the proxy. Mesh mTLS
//! (a ClientHello offering a mesh ALPN) is terminated and, by its ALPN, served as HTTP/2,
//! HTTP/1.1 or opaque TCP; anything else is plaintext, admitted only when the port's mTLS
//! mode allows it, and served as HTTP when it is HTTP. DISABLE passes bytes untouched.

use crate::detect::Detected;
use crate::error::ConnError;
use crate::flags::ResponseFlag;
use crate::http::inbound::{self as http_in, InboundConn, Peer};
use crate::mesh_tls::MeshProtocol;
use crate::security;
use crate::server::Shared;
use crate::sniff::sniff;
use crate::state::State;
use crate::tcp::{self, TcpRecord};
use crate::upstream::UpstreamKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use verimesh_model::{ConnectionOptions, MtlsMode, Protocol};

/// A peer that starts a handshake and stalls must not hold a task forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn handle(
    shared: Arc<Shared>,
    mut peer: TcpStream,
    remote: SocketAddr,
    dst: SocketAddr,
) -> Result<(), ConnError> {
    let state = shared.state.load_full();
    let port = dst.port();
    let mode = state.config.inbound.mtls_on(port);
    let app_addr = SocketAddr::new(state.config.inbound.app_address, port);
    if mode == MtlsMode::Disable {
        // Istio's DISABLE: the proxy terminates nothing; bytes go to the app as they are.
        return tcp_to_app(&shared, &state, &mut peer, None, remote, dst).await;
    }
    let detected = sniff(&peer, shared.detect_timeout).await?;
    let app = shared
        .pools
        .get(app_addr, UpstreamKind::Plain, &ConnectionOptions::default());
    if let Detected::Tls(hello) = &detected {
        if hello
            .alpn
            .iter()
            .any(|a| MeshProtocol::is_mesh_alpn(a.as_bytes()))
        {
            let stream =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, shared.tls.acceptor().accept(peer))
                    .await
                    .map_err(|_| ConnError::HandshakeTimeout(dst))?
                    .map_err(|source| ConnError::Handshake { addr: dst, source })?;
            let conn = stream.get_ref().1;
            let protocol = MeshProtocol::from_alpn(conn.alpn_protocol());
            let id = verimesh_identity::tls::peer_identity(conn).map(|p| p.to_string());
            let Some(id) = id else {
                // The server config requires a verified client certificate; fail closed.
                return Err(ConnError::NoPeerIdentity(dst));
            };
            let identity: Arc<str> = Arc::from(id.as_str());
            let xfcc = conn
                .peer_certificates()
                .and_then(|certs| certs.first())
                .and_then(|leaf| http_in::xfcc_for(&state, leaf.as_ref(), &id));
            match protocol {
                Some(MeshProtocol::H2 | MeshProtocol::Http1) => {
                    let h2 = protocol == Some(MeshProtocol::H2);
                    let conn = Arc::new(InboundConn {
                        policy: security::connection(Some(&id), remote, dst),
                        remote,
                        dst,
                        peer: Some(Peer { identity, xfcc }),
                        app,
                        h2,
                    });
                    if h2 {
                        let handler = move |req| http_in::handle(shared.clone(), conn.clone(), req);
                        crate::http::h2_server::serve(stream, handler).await?;
                    } else {
                        let handler = move |req| http_in::handle(shared.clone(), conn.clone(), req);
                        crate::http::serve(stream, false, handler).await?;
                    }
                    return Ok(());
                }
                _ => {
                    let mut stream = stream;
                    let peer = Some((id.as_str(), identity));
                    return tcp_to_app(&shared, &state, &mut stream, peer, remote, dst).await;
                }
            }
        }
    }
    if mode == MtlsMode::Strict {
        let record = TcpRecord::new(&state, false, remote, dst, None);
        let err = ConnError::PlaintextRefused(port);
        record.finish(&shared, Err(&err));
        return Err(err);
    }
    let declared = state.config.inbound.port(port).map(|p| p.protocol);
    let h2 = match (&detected, declared) {
        (_, Some(Protocol::Tcp | Protocol::Tls)) => None,
        (Detected::Http1, _) => Some(false),
        (Detected::Http2, _) => Some(true),
        _ => None,
    };
    if let Some(h2) = h2 {
        let conn = Arc::new(InboundConn {
            policy: security::connection(None, remote, dst),
            remote,
            dst,
            peer: None,
            app,
            h2,
        });
        let handler = move |req| http_in::handle(shared.clone(), conn.clone(), req);
        crate::http::serve(peer, h2, handler).await?;
        return Ok(());
    }
    tcp_to_app(&shared, &state, &mut peer, None, remote, dst).await
}

/// Opaque TCP to the application on the original port, once admitted; logged and counted.
async fn tcp_to_app<S>(
    shared: &Shared,
    state: &State,
    stream: &mut S,
    peer: Option<(&str, Arc<str>)>,
    remote: SocketAddr,
    dst: SocketAddr,
) -> Result<(), ConnError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let app_addr = SocketAddr::new(state.config.inbound.app_address, dst.port());
    let (id, identity) = match peer {
        Some((id, identity)) => (Some(id), Some(identity)),
        None => (None, None),
    };
    let record = TcpRecord::new(state, false, remote, dst, identity);
    let mut record = admit(shared, state, record, id, remote, dst).await?;
    let result = tcp::direct(stream, app_addr, &mut record).await;
    record.finish(shared, result.as_ref().map(|b| *b));
    result.map(|_| ())
}

/// Authorization of a TCP connection when it opens, with the verified peer identity (none
/// for plaintext) and the port it was made to (Istio's TCP semantics are the engine's). A
/// refusal is logged and closes the connection.
async fn admit(
    shared: &Shared,
    state: &State,
    mut record: TcpRecord,
    peer: Option<&str>,
    remote: SocketAddr,
    dst: SocketAddr,
) -> Result<TcpRecord, ConnError> {
    let conn = security::connection(peer, remote, dst);
    match state.security.check_tcp(&conn).await {
        Ok(policy) => {
            record.entry.authz_policy = policy;
            record.opened(shared);
            Ok(record)
        }
        Err(denied) => {
            record.entry.authz_policy = Some(denied.policy.clone());
            record.entry.connection_termination_details = Some(denied.details);
            if denied.custom {
                record.flags.add(ResponseFlag::UnauthorizedExternalService);
            }
            let err = ConnError::Denied(denied.policy);
            record.finish(shared, Err(&err));
            Err(err)
        }
    }
}
