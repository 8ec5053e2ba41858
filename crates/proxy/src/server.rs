//! Starting the proxy: bind the outbound, inbound and admin listeners and run their accept
//! loops. Each accepted connection gets its own task, on the least-loaded worker
//! (`crate::workers`); a failure closes only that connection.
//! The config in force is an `ArcSwap`: connections read it without a lock, and
//! `Proxy::update` swaps in a new one (refused as a whole if it does not compile).

use crate::error::{ConnError, ProxyError};
use crate::gateway::GatewayListeners;
use crate::mesh_tls::MeshTls;
use crate::security::jwks::{JwksCache, JwksOptions};
use crate::state::{State, StateError};
use crate::telemetry::{AccessLog, LogTarget, Telemetry};
use crate::upstream::{Connector, Pools};
use crate::workers::Workers;
use crate::{inbound, outbound};
use arc_swap::ArcSwap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use verimesh_identity::CredentialSource;
use verimesh_model::ProxyConfig;

/// How the proxy learns where a connection was going.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginalDst {
    /// SO_ORIGINAL_DST of a connection redirected by iptables (production).
    Kernel,
    /// Every connection is taken to have been addressed here (tests and debugging without
    /// iptables).
    Fixed(SocketAddr),
}

#[derive(Clone, Debug)]
pub struct ProxyOptions {
    pub outbound: SocketAddr,
    pub inbound: SocketAddr,
    pub admin: SocketAddr,
    pub original_dst: OriginalDst,
    /// How long the proxy waits for a client's first bytes before taking it as opaque TCP.
    pub detect_timeout: Duration,
    pub access_log: LogTarget,
    /// How `jwksUri`s are fetched and refreshed.
    pub jwks: JwksOptions,
    /// The address a gateway's listeners bind (their ports come from the config).
    pub gateway_bind: std::net::IpAddr,
    /// Worker threads serving connections, the calling one included (Istio's concurrency).
    pub workers: usize,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            outbound: SocketAddr::from(([0, 0, 0, 0], 15001)),
            inbound: SocketAddr::from(([0, 0, 0, 0], 15006)),
            admin: SocketAddr::from(([127, 0, 0, 1], 15000)),
            original_dst: OriginalDst::Kernel,
            detect_timeout: Duration::from_millis(200),
            access_log: LogTarget::Stdout,
            jwks: JwksOptions::default(),
            gateway_bind: std::net::IpAddr::from([0, 0, 0, 0]),
            workers: crate::runtime::DEFAULT_WORKERS,
        }
    }
}

/// What every connection shares.
pub struct Shared {
    pub state: ArcSwap<State>,
    pub pools: Pools,
    pub connector: Connector,
    pub tls: Arc<MeshTls>,
    pub telemetry: Arc<Telemetry>,
    pub detect_timeout: Duration,
    /// Fetched key sets, per `jwksUri`; outlive config versions.
    pub jwks: JwksCache,
    /// The listeners a gateway's config names, bound and closed as configs change.
    pub gateway_listeners: GatewayListeners,
    /// The threads connections are served on.
    pub workers: Arc<Workers>,
    /// Itself, for tasks that config changes start (gateway listeners).
    this: Weak<Shared>,
}

impl Shared {
    /// Compiles and swaps in a new config; the old one stays when this one is refused.
    pub fn update(&self, config: ProxyConfig) -> Result<(), StateError> {
        let state = State::new(config, &self.pools, &self.jwks)?;
        self.state.store(Arc::new(state));
        self.pools.retain_used();
        self.jwks.retain_used();
        self.gateway_listeners.reconcile(&self.this);
        Ok(())
    }
}

/// A running proxy; dropping it stops the listeners (open connections finish on their own).
pub struct Proxy {
    pub outbound_addr: SocketAddr,
    pub inbound_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Proxy {
    pub fn update(&self, config: ProxyConfig) -> Result<(), StateError> {
        self.shared.update(config)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ProxyError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ProxyError::Bind { addr, source })
}

/// Binds every listener (so a port in use fails here, not later) and starts serving.
pub async fn start(
    config: ProxyConfig,
    source: Arc<dyn CredentialSource>,
    opts: ProxyOptions,
) -> Result<Proxy, ProxyError> {
    let tls = Arc::new(MeshTls::new(source)?);
    let workers = Arc::new(Workers::start(opts.workers).map_err(ProxyError::Workers)?);
    let pools = Pools::new(workers.count());
    let jwks = JwksCache::new(opts.jwks.clone());
    let state = State::new(config, &pools, &jwks)?;
    let log = AccessLog::start(&opts.access_log).map_err(ProxyError::AccessLog)?;
    let shared = Arc::new_cyclic(|this| Shared {
        state: ArcSwap::from_pointee(state),
        pools,
        connector: Connector { tls: tls.clone() },
        tls,
        telemetry: Arc::new(Telemetry::new(log, workers.count())),
        detect_timeout: opts.detect_timeout,
        jwks,
        gateway_listeners: GatewayListeners::new(opts.gateway_bind),
        workers,
        this: this.clone(),
    });
    shared.gateway_listeners.reconcile(&shared.this);
    let outbound_l = bind(opts.outbound).await?;
    let inbound_l = bind(opts.inbound).await?;
    let admin_l = bind(opts.admin).await?;
    let local = |l: &TcpListener, addr| {
        l.local_addr()
            .map_err(|source| ProxyError::Bind { addr, source })
    };
    let (outbound_addr, inbound_addr, admin_addr) = (
        local(&outbound_l, opts.outbound)?,
        local(&inbound_l, opts.inbound)?,
        local(&admin_l, opts.admin)?,
    );
    let orig = opts.original_dst;
    let mut tasks = vec![
        tokio::spawn(accept_loop(
            "outbound",
            outbound_l,
            orig,
            shared.clone(),
            outbound::handle,
        )),
        tokio::spawn(accept_loop(
            "inbound",
            inbound_l,
            orig,
            shared.clone(),
            inbound::handle,
        )),
        tokio::spawn(crate::admin::serve(admin_l, shared.clone())),
    ];
    let telemetry = &shared.telemetry;
    tasks.extend(
        shared
            .workers
            .spawn_each(|worker| telemetry.clone().record_ended(worker)),
    );
    Ok(Proxy {
        outbound_addr,
        inbound_addr,
        admin_addr,
        shared,
        tasks,
    })
}

fn destination(stream: &TcpStream, orig: OriginalDst) -> Result<SocketAddr, ConnError> {
    let dst = match orig {
        OriginalDst::Fixed(a) => return Ok(a),
        OriginalDst::Kernel => {
            crate::intercept::original_destination(stream).map_err(ConnError::OriginalDst)?
        }
    };
    // Not redirected: the "original" destination is the listener itself.
    if stream.local_addr().ok() == Some(dst) {
        return Err(ConnError::Loop(dst));
    }
    Ok(dst)
}

async fn accept_loop<F, Fut>(
    side: &'static str,
    listener: TcpListener,
    orig: OriginalDst,
    shared: Arc<Shared>,
    handle: F,
) where
    F: Fn(Arc<Shared>, TcpStream, SocketAddr, SocketAddr) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<(), ConnError>> + Send + 'static,
{
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors and the like: back off rather than spin.
                tracing::warn!(side, "accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let dst = match destination(&stream, orig) {
            Ok(d) => d,
            Err(e) => {
                tracing::info!(side, %from, "closed: {e}");
                continue;
            }
        };
        let for_conn = shared.clone();
        shared.workers.dispatch(stream, move |stream| async move {
            match handle(for_conn, stream, from, dst).await {
                Ok(()) => tracing::debug!(side, %from, %dst, "done"),
                Err(e) => tracing::info!(side, %from, %dst, "closed: {e}"),
            }
        });
    }
}
