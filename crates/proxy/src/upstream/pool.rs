//! Per-endpoint connection pools, one per worker (`crate::workers`): a request uses the
//! connections of the worker it runs on, whose tasks drive them, so its wake-ups stay on
//! that thread. The HTTP/2 connection is read without a lock (an `ArcSwapOption`); only
//! opening one takes an async mutex, so concurrent requests wait for a single handshake
//! instead of racing to open many.

use super::conn_policy::ConnPolicy;
use super::connect::{BoxIo, Connector};
use super::h1_client::H1Conn;
use super::h2_client::H2Conn;
use super::UpstreamError;
use crate::body::Body;
use crate::mesh_tls::MeshProtocol;
use crate::workers::PerWorker;
use arc_swap::ArcSwapOption;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use verimesh_model::{ConnectionOptions, TcpKeepalive};

type PoolKey = (SocketAddr, UpstreamKind, ConnectionOptions);

/// Idle HTTP/1.1 connections kept per endpoint.
const MAX_IDLE_HTTP1: usize = 64;

/// How an endpoint is reached.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UpstreamKind {
    Plain,
    /// Mesh mTLS; the peer must prove one of these SPIFFE ids.
    Mesh {
        identities: Vec<String>,
    },
    Tls {
        sni: String,
        ca_certificates: Option<String>,
    },
}

pub struct EndpointPool {
    pub addr: SocketAddr,
    pub kind: UpstreamKind,
    /// Keepalives and retirement of this pool's connections (the cluster's options).
    pub policy: ConnPolicy,
    per_worker: PerWorker<WorkerConns>,
}

/// One worker's connections to an endpoint.
struct WorkerConns {
    h2: ArcSwapOption<H2Conn>,
    h2_opening: tokio::sync::Mutex<()>,
    h1_idle: Mutex<Vec<H1Conn>>,
}

impl EndpointPool {
    pub(crate) fn new(
        addr: SocketAddr,
        kind: UpstreamKind,
        options: &ConnectionOptions,
        workers: usize,
    ) -> Self {
        let per_worker = PerWorker::new(workers, || WorkerConns {
            h2: ArcSwapOption::empty(),
            h2_opening: tokio::sync::Mutex::new(()),
            h1_idle: Mutex::new(Vec::new()),
        });
        EndpointPool {
            addr,
            kind,
            policy: ConnPolicy::new(options),
            per_worker,
        }
    }

    fn mine(&self) -> &WorkerConns {
        self.per_worker.mine()
    }

    pub fn is_mesh(&self) -> bool {
        matches!(self.kind, UpstreamKind::Mesh { .. })
    }

    /// The shared connection, if it can take this request (which it counts).
    fn live_h2(&self) -> Option<Arc<H2Conn>> {
        self.mine()
            .h2
            .load()
            .as_ref()
            .filter(|c| !c.is_closed() && c.take_use(&self.policy))
            .cloned()
    }

    /// The shared HTTP/2 connection, opened when there is none (or it closed).
    pub async fn h2(
        &self,
        connector: &Connector,
        timeout: Duration,
    ) -> Result<Arc<H2Conn>, UpstreamError> {
        if let Some(s) = self.live_h2() {
            return Ok(s);
        }
        // Boxed: opening (TCP, TLS, HTTP/2 handshakes) is a large state machine that every
        // request's future would otherwise carry, and copy, for the rare request that opens.
        Box::pin(self.open_h2(connector, timeout)).await
    }

    async fn open_h2(
        &self,
        connector: &Connector,
        timeout: Duration,
    ) -> Result<Arc<H2Conn>, UpstreamError> {
        let _opening = self.mine().h2_opening.lock().await;
        if let Some(s) = self.live_h2() {
            return Ok(s);
        }
        let io = self.connect(connector, MeshProtocol::H2, timeout).await?;
        let conn = Arc::new(H2Conn::handshake(io, self.addr, &self.policy).await?);
        conn.take_use(&self.policy);
        // The connection replaced, if any, finishes its streams and ends once the last of
        // their handles is gone.
        self.mine().h2.store(Some(conn.clone()));
        Ok(conn)
    }

    /// An idle HTTP/1.1 connection, or a new one; `true` when it was reused (a reused
    /// connection may have been closed by the server just now, which callers may retry).
    pub async fn h1(
        &self,
        connector: &Connector,
        timeout: Duration,
    ) -> Result<(H1Conn, bool), UpstreamError> {
        if let Some(conn) = self.take_idle() {
            return Ok((conn, true));
        }
        // Boxed for the same reason as opening HTTP/2.
        Ok((Box::pin(self.h1_new(connector, timeout)).await?, false))
    }

    /// A new HTTP/1.1 connection.
    pub async fn h1_new(
        &self,
        connector: &Connector,
        timeout: Duration,
    ) -> Result<H1Conn, UpstreamError> {
        let io = self
            .connect(connector, MeshProtocol::Http1, timeout)
            .await?;
        Ok(H1Conn::new(io))
    }

    /// A new HTTP/1.1 connection through hyper's client, for an upgrade (WebSocket): hyper
    /// hands over both upgraded connections, which are then spliced.
    pub async fn h1_upgrade(
        &self,
        connector: &Connector,
        timeout: Duration,
    ) -> Result<http1::SendRequest<Body>, UpstreamError> {
        let io = self
            .connect(connector, MeshProtocol::Http1, timeout)
            .await?;
        open_h1(io, self.addr).await
    }

    /// The most recently pooled connection that can still carry a request; the ones the
    /// server closed (or that sat idle too long) are dropped on the way.
    pub(super) fn take_idle(&self) -> Option<H1Conn> {
        let mut idle = self.mine().h1_idle.lock().ok()?;
        while let Some(mut conn) = idle.pop() {
            if conn.reusable(&self.policy) {
                return Some(conn);
            }
        }
        None
    }

    pub fn tcp_keepalive(&self) -> Option<&TcpKeepalive> {
        self.policy.tcp_keepalive.as_ref()
    }

    /// A new transport to this endpoint, carrying `protocol`, with the cluster's keepalive.
    async fn connect(
        &self,
        connector: &Connector,
        protocol: MeshProtocol,
        timeout: Duration,
    ) -> Result<BoxIo, UpstreamError> {
        connector
            .open(
                self.addr,
                &self.kind,
                protocol,
                timeout,
                self.tcp_keepalive(),
            )
            .await
    }

    /// Returns a connection to the pool once its exchange is complete (or closes it, when
    /// it has served its count of requests or its time).
    pub fn recycle(&self, conn: H1Conn) {
        if conn.retired(&self.policy) {
            return;
        }
        if let Ok(mut idle) = self.mine().h1_idle.lock() {
            if idle.len() < MAX_IDLE_HTTP1 {
                idle.push(conn.idle());
            }
        }
    }
}

async fn open_h1(io: BoxIo, addr: SocketAddr) -> Result<http1::SendRequest<Body>, UpstreamError> {
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| UpstreamError::Connect(format!("HTTP/1.1 handshake: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(%addr, "upstream HTTP/1.1 connection: {e}");
        }
    });
    Ok(sender)
}

/// Every endpoint pool of the proxy, by address, transport and connection options.
pub struct Pools {
    pools: Mutex<HashMap<PoolKey, Arc<EndpointPool>>>,
    workers: usize,
}

impl Pools {
    /// Pools for a proxy with this many workers.
    pub fn new(workers: usize) -> Self {
        Pools {
            pools: Mutex::default(),
            workers,
        }
    }

    pub fn get(
        &self,
        addr: SocketAddr,
        kind: UpstreamKind,
        options: &ConnectionOptions,
    ) -> Arc<EndpointPool> {
        let workers = self.workers;
        let Ok(mut pools) = self.pools.lock() else {
            // A poisoned map only loses sharing, never correctness.
            return Arc::new(EndpointPool::new(addr, kind, options, workers));
        };
        pools
            .entry((addr, kind.clone(), options.clone()))
            .or_insert_with(|| Arc::new(EndpointPool::new(addr, kind, options, workers)))
            .clone()
    }

    /// Drops pools no config refers to any more (called after a swap).
    pub fn retain_used(&self) {
        if let Ok(mut pools) = self.pools.lock() {
            pools.retain(|_, p| Arc::strong_count(p) > 1);
        }
    }
}
