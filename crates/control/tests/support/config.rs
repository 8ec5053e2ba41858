//! Config-stream helpers: a mesh CA, a hub with placements, a control plane serving it, and
//! proxies' config clients; waiting for hub events and client configs.

use super::*;
use std::collections::HashMap;
use std::future::Future;
use tokio::sync::broadcast;
use verimesh_api::{ConfigClient, ConfigClientOptions};
use verimesh_control::config::{ConfigHub, HubEvent, HubOptions, Placement, ProxyKey};
use verimesh_control::ControlServer;
use verimesh_identity::{Ca, Credentials, StaticCredentials};
use verimesh_model::{Cluster, ProxyConfig, Service, ServicePort};

pub const WAIT: Duration = Duration::from_secs(15);

pub async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A config with one service on one cluster; `broken` points the service at a missing cluster.
pub fn config(version: &str, broken: bool) -> Arc<ProxyConfig> {
    let cluster = "outbound|80||web.default.svc.cluster.local".to_string();
    Arc::new(ProxyConfig {
        version: version.into(),
        clusters: vec![std::sync::Arc::new(Cluster {
            name: cluster.clone(),
            ..Default::default()
        })],
        services: vec![std::sync::Arc::new(Service {
            hostname: "web.default.svc.cluster.local".into(),
            ports: vec![ServicePort {
                port: 80,
                default_cluster: if broken { "missing".into() } else { cluster },
                ..Default::default()
            }],
            ..Default::default()
        })],
        ..Default::default()
    })
}

/// A mesh CA, and a hub whose placements put proxy `<ns>/<name>-0` under service account
/// `<name>` for each `(ns, name)`.
pub struct Mesh {
    pub dir: std::path::PathBuf,
    /// Removes `dir` when the mesh is dropped.
    _dir: tempfile::TempDir,
    pub ca: Arc<Ca>,
    pub placements: HashMap<ProxyKey, Placement>,
}

impl Mesh {
    pub fn new(name: &str, workloads: &[(&str, &str)]) -> Self {
        let dir_tmp = temp_dir(name);
        let dir = dir_tmp.path();
        let (ca, _) = Ca::load_or_create(dir, td()).unwrap();
        let placements = workloads
            .iter()
            .map(|(ns, sa)| {
                (
                    ProxyKey::new(*ns, format!("{sa}-0")),
                    Placement {
                        namespace: ns.to_string(),
                        service_account: sa.to_string(),
                    },
                )
            })
            .collect();
        Self {
            dir: dir.to_path_buf(),
            _dir: dir_tmp,
            ca: Arc::new(ca),
            placements,
        }
    }

    pub fn hub(&self) -> Arc<ConfigHub> {
        self.hub_with(HubOptions::default())
    }

    pub fn hub_with(&self, options: HubOptions) -> Arc<ConfigHub> {
        let placements = self.placements.clone();
        Arc::new(ConfigHub::with_options(
            Arc::new(move |k: &ProxyKey| placements.get(k).cloned()),
            options,
        ))
    }

    pub async fn serve(
        &self,
        hub: Arc<ConfigHub>,
        listen: Option<std::net::SocketAddr>,
    ) -> ControlServer {
        let mut o = opts(&self.dir, None, Duration::from_secs(3600));
        if let Some(addr) = listen {
            o.listen = addr;
        }
        verimesh_control::start_with(self.ca.clone(), &o, hub)
            .await
            .unwrap()
    }

    /// A workload certificate for `ns`/`sa`.
    pub fn credentials(&self, ns: &str, sa: &str) -> Arc<dyn CredentialSource> {
        let (issued, key) = self.ca.issue(&id(ns, sa), None).unwrap();
        let creds = Credentials::from_pem(&issued.chain_pem(), &key).unwrap();
        Arc::new(StaticCredentials::new(
            creds,
            self.ca.trust_bundle().clone(),
        ))
    }

    pub fn client(
        &self,
        server: &ControlServer,
        creds: Arc<dyn CredentialSource>,
        proxy: &ProxyKey,
    ) -> ConfigClient {
        ConfigClient::start(client_options(server, proxy), creds, None).unwrap()
    }

    /// A client that asks the proxy's own compiler about every config before ACKing it.
    pub fn checking_client(
        &self,
        server: &ControlServer,
        creds: Arc<dyn CredentialSource>,
        proxy: &ProxyKey,
    ) -> ConfigClient {
        let mut opts = client_options(server, proxy);
        opts.check = Some(verimesh_api::ConfigCheck::new(|c| {
            verimesh_proxy::check_config(c).map_err(|e| e.to_string())
        }));
        ConfigClient::start(opts, creds, None).unwrap()
    }
}

fn client_options(server: &ControlServer, proxy: &ProxyKey) -> ConfigClientOptions {
    ConfigClientOptions::new(
        server.local_addr(),
        control_matcher(),
        proxy.namespace.clone(),
        proxy.name.clone(),
    )
}

/// Waits for the first event `pick` accepts.
pub async fn event<T>(
    events: &mut broadcast::Receiver<HubEvent>,
    mut pick: impl FnMut(&HubEvent) -> Option<T>,
) -> T {
    within("a hub event", async {
        loop {
            let e = events.recv().await.unwrap();
            if let Some(t) = pick(&e) {
                return t;
            }
        }
    })
    .await
}

pub async fn acked(events: &mut broadcast::Receiver<HubEvent>, proxy: &ProxyKey, version: &str) {
    event(events, |e| match e {
        HubEvent::Acked {
            proxy: p,
            version: v,
        } if p == proxy && v == version => Some(()),
        _ => None,
    })
    .await
}

pub async fn version_of(client: &ConfigClient, version: &str) {
    let mut rx = client.config();
    within(
        "the client's config",
        rx.wait_for(|c| c.as_ref().is_some_and(|c| c.version == version)),
    )
    .await
    .unwrap();
}
