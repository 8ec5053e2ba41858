//! Opaque TCP: bytes copied both ways between the application's connection and an upstream
//! (a cluster endpoint over mesh mTLS or plain, the original destination, or the local
//! application), with one access-log line and Istio's TCP metrics per connection.

use crate::error::ConnError;
use crate::flags::{Flags, ResponseFlag};
use crate::idle_copy::{copy, idle_timeout, DEFAULT_TCP_IDLE};
use crate::mesh_tls::MeshProtocol;
use crate::server::Shared;
use crate::state::{ClusterState, State};
use crate::telemetry::{Entry, Labels};
use crate::upstream::connect_tcp;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncRead, AsyncWrite};

/// What one TCP connection records when it ends.
pub struct TcpRecord {
    pub entry: Entry,
    pub labels: Labels,
    pub flags: Flags,
    start: Instant,
}

impl TcpRecord {
    pub fn new(
        state: &State,
        outbound: bool,
        remote: SocketAddr,
        dst: SocketAddr,
        peer: Option<Arc<str>>,
    ) -> Self {
        let mut labels = state.me.labels(outbound, "tcp");
        if let (false, Some(p)) = (outbound, &peer) {
            labels.source_principal = p.clone();
            labels.connection_security_policy = "mutual_tls";
        }
        TcpRecord {
            entry: Entry {
                start_time: crate::telemetry::access_log::timestamp(SystemTime::now()),
                direction: if outbound { "outbound" } else { "inbound" },
                protocol: "tcp",
                downstream_remote_address: remote.to_string(),
                downstream_local_address: dst.to_string(),
                source_principal: peer.as_ref().map(|p| p.to_string()),
                ..Entry::default()
            },
            labels,
            flags: Flags::default(),
            start: Instant::now(),
        }
    }

    pub fn opened(&self, shared: &Shared) {
        shared.telemetry.stats.tcp_opened(&self.labels);
    }

    pub fn finish(mut self, shared: &Shared, bytes: Result<(u64, u64), &ConnError>) {
        let (sent, received) = match bytes {
            Ok((to_upstream, to_downstream)) => (to_downstream, to_upstream),
            Err(e) => {
                if self.entry.upstream_transport_failure_reason.is_none() {
                    self.entry.upstream_transport_failure_reason = Some(e.to_string());
                }
                (0, 0)
            }
        };
        let flags = self.flags.label();
        self.labels.response_flags = flags.clone();
        shared
            .telemetry
            .stats
            .tcp_closed(&self.labels, sent, received);
        let log = &shared.telemetry.log;
        if log.enabled() {
            self.entry.response_flags = flags.to_string();
            self.entry.bytes_sent = sent;
            self.entry.bytes_received = received;
            self.entry.duration = self.start.elapsed().as_millis() as u64;
            log.write(&self.entry);
        }
    }
}

/// Outbound TCP to one endpoint of `cluster`.
pub async fn to_cluster<S>(
    shared: &Shared,
    app: &mut S,
    cluster: &Arc<ClusterState>,
    record: &mut TcpRecord,
) -> Result<(u64, u64), ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    record.entry.upstream_cluster = Some(cluster.name.to_string());
    record.labels.destination_service = cluster.service.clone();
    record.entry.destination_service = Some(cluster.service.to_string());
    if let Some(max) = cluster.cluster.limits.max_connections {
        if cluster.active_connections.load(Ordering::Relaxed) >= max {
            record.flags.add(ResponseFlag::UpstreamOverflow);
            return Err(ConnError::Overflow(cluster.name.to_string()));
        }
    }
    cluster.active_connections.fetch_add(1, Ordering::Relaxed);
    let _guard = ConnGuard(cluster);
    let usable = |i: usize| {
        cluster
            .endpoints
            .get(i)
            .is_some_and(|e| e.endpoint.weight > 0)
    };
    let picked = cluster.balancer.pick(&cluster.loads, usable);
    let (Some(ep), Some(load)) = (
        picked.and_then(|i| cluster.endpoints.get(i)),
        picked.and_then(|i| cluster.loads.get(i)),
    ) else {
        record.flags.add(ResponseFlag::NoHealthyUpstream);
        return Err(ConnError::NoEndpoint(cluster.name.to_string()));
    };
    let _active = load.start();
    record.entry.upstream_host = Some(ep.endpoint.address.to_string());
    if let Some(id) = &ep.endpoint.identity {
        record.labels.destination_principal = Arc::from(id.as_str());
        record.entry.destination_principal = Some(id.clone());
    }
    let timeout = Duration::from_millis(cluster.cluster.connect_timeout_ms);
    let upstream = shared
        .connector
        .open(
            ep.endpoint.address,
            &ep.pool.kind,
            MeshProtocol::Tcp,
            timeout,
            ep.pool.tcp_keepalive(),
        )
        .await;
    let mut upstream = match upstream {
        Ok(u) => u,
        Err(e) => {
            record.flags.add(ResponseFlag::UpstreamConnectionFailure);
            record.entry.upstream_transport_failure_reason = Some(e.to_string());
            return Err(ConnError::Upstream(e.to_string()));
        }
    };
    let idle = idle_timeout(cluster.cluster.connections.tcp_idle_timeout_ms);
    copy(app, &mut upstream, idle).await
}

struct ConnGuard<'a>(&'a ClusterState);

impl Drop for ConnGuard<'_> {
    fn drop(&mut self) {
        self.0.active_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// To the original destination as it is (unknown destinations, or the local application).
pub async fn direct<S>(
    app: &mut S,
    addr: SocketAddr,
    record: &mut TcpRecord,
) -> Result<(u64, u64), ConnError>
where
    S: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    record.entry.upstream_host = Some(addr.to_string());
    let mut upstream = match connect_tcp(addr, Duration::from_secs(10), None).await {
        Ok(u) => u,
        Err(e) => {
            record.flags.add(ResponseFlag::UpstreamConnectionFailure);
            return Err(ConnError::Upstream(e.to_string()));
        }
    };
    copy(app, &mut upstream, Some(DEFAULT_TCP_IDLE)).await
}
