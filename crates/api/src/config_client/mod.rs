//! The proxy's side of the config stream (`verimesh.config.v1`): connects to the control plane
//! over mTLS (presenting the workload certificate, verifying the control plane's SPIFFE ID),
//! says which proxy it is and which resources it holds, and applies every response (a whole
//! config, or a delta of changed and removed resources) to its last good config; the result
//! goes to the proxy on a `tokio::sync::watch` channel once it has passed
//! [`ProxyConfig::validate`]. Each response is answered with an ACK, or a NACK carrying the
//! error while the last good config stays in force. When the stream breaks, the last config
//! stays too, and the client reconnects with exponential backoff and jitter; on every new
//! stream the control plane sends what differs from what the hello reported, so a restarted
//! control plane resyncs it.

mod backoff;
mod check;
mod delta;
mod stream;

use backoff::Backoff;
pub use check::ConfigCheck;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use verimesh_identity::tls::{self, ConfigError};
use verimesh_identity::{CredentialSource, SpiffeMatcher};
use verimesh_model::ProxyConfig;

/// Where the control plane is and which proxy this is.
#[derive(Debug, Clone)]
pub struct ConfigClientOptions {
    pub addr: SocketAddr,
    /// The identities the control plane may have (its SPIFFE ID, or the trust domain).
    pub control: SpiffeMatcher,
    pub namespace: String,
    /// The workload replica (e.g. the pod name).
    pub name: String,
    /// First reconnection delay; doubles after each failure up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    pub keepalive: Duration,
    /// Larger responses are refused by the transport (gRPC's default limit is 4 MiB, which a
    /// mesh of a few thousand services exceeds).
    pub max_config_bytes: usize,
    /// The proxy's own verdict on each config before it is ACKed (none: the client's checks).
    pub check: Option<ConfigCheck>,
}

impl ConfigClientOptions {
    pub fn new(
        addr: SocketAddr,
        control: SpiffeMatcher,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        Self {
            addr,
            control,
            namespace: namespace.into(),
            name: name.into(),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            keepalive: Duration::from_secs(30),
            max_config_bytes: 64 << 20,
            check: None,
        }
    }
}

/// How the stream is doing, for the proxy's admin endpoint and readiness.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStatus {
    /// A stream is open now.
    pub connected: bool,
    /// Streams opened so far (more than one after reconnections).
    pub streams: u64,
    /// Configs accepted (ACKed).
    pub accepted: u64,
    /// Why the last stream ended or the last connection attempt failed.
    pub last_error: Option<String>,
    /// Why the last refused config was refused.
    pub last_nack: Option<String>,
    /// What the last response carried.
    pub last_update: Option<Update>,
}

/// What one response carried: for status pages, tests and benchmarks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    pub version: String,
    /// A whole config rather than a delta.
    pub full: bool,
    /// How many resources were sent.
    pub resource_count: usize,
    /// Their names, when there are at most [`Update::MAX_NAMES`] (a whole config of a large
    /// mesh would otherwise keep thousands of names here).
    pub resources: Vec<String>,
    /// Names of the resources removed.
    pub removed: Vec<String>,
    /// Bytes of resource JSON.
    pub bytes: usize,
}

impl Update {
    pub const MAX_NAMES: usize = 64;

    fn of(response: &crate::config::v1::ConfigResponse) -> Self {
        Self {
            version: response.version.clone(),
            full: response.full,
            resource_count: response.resources.len(),
            resources: if response.resources.len() <= Self::MAX_NAMES {
                response.resources.iter().map(|r| r.name.clone()).collect()
            } else {
                Vec::new()
            },
            removed: response.removed.clone(),
            bytes: response.resources.iter().map(|r| r.json.len()).sum(),
        }
    }
}

/// A running config stream; dropping it stops the stream (the last config stays with the
/// receivers).
#[derive(Debug)]
pub struct ConfigClient {
    config: watch::Receiver<Option<Arc<ProxyConfig>>>,
    status: watch::Receiver<ClientStatus>,
    task: tokio::task::JoinHandle<()>,
}

impl ConfigClient {
    /// Starts streaming. `credentials` is the workload's certificate source (presented to the
    /// control plane, and whose trust bundle verifies it); `initial` is a config the proxy
    /// already runs (booted from a file, say), kept until the control plane sends another.
    pub fn start(
        opts: ConfigClientOptions,
        credentials: Arc<dyn CredentialSource>,
        initial: Option<Arc<ProxyConfig>>,
    ) -> Result<Self, ConfigError> {
        let tls = Arc::new(tls::client_config(
            credentials,
            opts.control.clone(),
            &[tls::ALPN_H2],
        )?);
        let (config_tx, config) = watch::channel(initial);
        let (status_tx, status) = watch::channel(ClientStatus::default());
        let ctx = stream::Context {
            opts,
            tls,
            config: config_tx,
            status: status_tx,
            held: std::sync::Mutex::default(),
        };
        let task = tokio::spawn(run(ctx));
        Ok(Self {
            config,
            status,
            task,
        })
    }

    /// The config in force, updated with every accepted config.
    pub fn config(&self) -> watch::Receiver<Option<Arc<ProxyConfig>>> {
        self.config.clone()
    }

    /// The config in force now.
    pub fn current(&self) -> Option<Arc<ProxyConfig>> {
        self.config.borrow().clone()
    }

    pub fn status(&self) -> watch::Receiver<ClientStatus> {
        self.status.clone()
    }
}

impl Drop for ConfigClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Streams until aborted: one stream at a time, reconnecting after each ends.
async fn run(ctx: stream::Context) {
    let mut backoff = Backoff::new(ctx.opts.initial_backoff, ctx.opts.max_backoff);
    loop {
        let mut received = false;
        let ended = stream::run_once(&ctx, &mut received).await;
        // A stream that delivered something was healthy: start over from the short delay.
        if received {
            backoff.reset();
        }
        let delay = backoff.next_delay();
        tracing::info!(control = %ctx.opts.addr, error = %ended, retry_in = ?delay,
            "config stream ended; keeping the last config");
        ctx.status.send_modify(|s| {
            s.connected = false;
            s.last_error = Some(ended.to_string());
        });
        tokio::time::sleep(delay).await;
    }
}
