//! The ports a gateway serves follow its config: after every config swap the set of bound
//! ports is reconciled with the listeners the config names — new ports are bound, ports no
//! longer named are closed (open connections finish on their own). A port that cannot be
//! bound is logged and retried at the next config. Each connection reads the config in
//! force when it arrives, so a listener never holds a stale one.

use super::conn;
use crate::server::Shared;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, Weak};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub struct GatewayListeners {
    bind_ip: IpAddr,
    running: Mutex<HashMap<u16, (SocketAddr, JoinHandle<()>)>>,
}

impl GatewayListeners {
    pub fn new(bind_ip: IpAddr) -> Self {
        GatewayListeners {
            bind_ip,
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Binds and closes listeners to match the config in force.
    pub fn reconcile(&self, shared: &Weak<Shared>) {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let wanted: Vec<u16> = strong
            .state
            .load()
            .gateway
            .as_ref()
            .map(|g| g.listeners.iter().map(|l| l.port).collect())
            .unwrap_or_default();
        let Ok(mut running) = self.running.lock() else {
            return;
        };
        running.retain(|port, (_, task)| {
            let keep = wanted.contains(port);
            if !keep {
                task.abort();
                tracing::info!(port, "gateway listener closed");
            }
            keep
        });
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("gateway listeners: no runtime to bind them on");
            return;
        };
        for port in wanted {
            if running.contains_key(&port) {
                continue;
            }
            let addr = SocketAddr::new(self.bind_ip, port);
            let _guard = rt.enter();
            let bound = std::net::TcpListener::bind(addr)
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .and_then(TcpListener::from_std);
            match bound {
                Ok(listener) => {
                    let local = listener.local_addr().unwrap_or(addr);
                    tracing::info!(%local, "gateway listener open");
                    let task = rt.spawn(accept_loop(listener, shared.clone(), port));
                    running.insert(port, (local, task));
                }
                Err(e) => tracing::error!(%addr, "gateway listener: cannot bind: {e}"),
            }
        }
    }

    /// The address each configured port is bound to.
    pub fn bound(&self) -> Vec<(u16, SocketAddr)> {
        let Ok(running) = self.running.lock() else {
            return Vec::new();
        };
        let mut out: Vec<_> = running.iter().map(|(p, (a, _))| (*p, *a)).collect();
        out.sort();
        out
    }
}

impl Drop for GatewayListeners {
    fn drop(&mut self) {
        if let Ok(running) = self.running.lock() {
            for (_, task) in running.values() {
                task.abort();
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Weak<Shared>, port: u16) {
    loop {
        let (stream, from) = match listener.accept().await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(port, "gateway accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let _ = stream.set_nodelay(true);
        let dst = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::new(from.ip(), port));
        let workers = shared.workers.clone();
        workers.dispatch(stream, move |stream| async move {
            if let Err(e) = conn::handle(shared, stream, from, dst, port).await {
                tracing::info!(side = "gateway", %from, %dst, "closed: {e}");
            }
        });
    }
}
