//! The proxy's side of the config stream (`verimesh.config.v1`): connects to the control plane
//! over mTLS (presenting the workload certificate, verifying the control plane's SPIFFE ID),
//! says which proxy it is, and hands every config it receives to the proxy on a
//! `tokio::sync::watch` channel once the config has parsed and passed
//! [`ProxyConfig::validate`]; each config is answered with an ACK, or a NACK carrying the
//! error while the last good config stays in force. When the stream breaks, the last config
//! stays too, and the client reconnects with exponential backoff and jitter; the control plane
//! sends its current config on every new stream, so a restarted control plane resyncs it.

mod backoff;
mod stream;

use backoff::Backoff;
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
    /// Larger configs are refused by the transport (gRPC's default limit is 4 MiB, which a
    /// mesh of a few thousand services exceeds).
    pub max_config_bytes: usize,
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
