//! The control plane's file source: a directory of Kubernetes and Istio YAML, watched for
//! changes, compiled for every proxy of a placement and published to the config hub. A
//! change that does not load cleanly is reported and changes nothing: the last good
//! configuration stays in force.

mod apply;
mod publish;
mod status;
mod watch;

pub use apply::{latest_wins, load_dir};
pub use publish::{compile_dir, Compiled, MeshError};
pub use status::{write_status, MeshStatus, ProxyLine};
pub use watch::{fingerprint, Fingerprint};

use crate::config::{ConfigHub, Placement as HubPlacement, PlacementLookup, ProxyKey};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use verimesh_compiler::Placement;

/// How often the directory is checked, and how long it must stay unchanged before a reload
/// (editors write files in several steps).
const POLL: Duration = Duration::from_millis(200);
const SETTLE: Duration = Duration::from_millis(150);

/// The hub's identity check for the proxies of a placement: each proxy's namespace and
/// service account.
pub struct PlacementRecords(pub Placement);

impl PlacementLookup for PlacementRecords {
    fn placement(&self, proxy: &ProxyKey) -> Option<HubPlacement> {
        self.0
            .instance(&proxy.namespace, &proxy.name)
            .filter(|i| i.has_proxy())
            .map(|i| HubPlacement {
                namespace: i.namespace.clone(),
                service_account: i.service_account.clone(),
            })
    }
}

/// What the watcher reports for `verimesh status`.
#[derive(Default)]
pub struct SourceState {
    /// Fingerprint of the files last loaded (good or bad).
    pub seen: Option<Fingerprint>,
    /// The error of the last load, when it failed (the previous config stays in force).
    pub last_error: Option<String>,
    /// What the last successful load overrode or approximated.
    pub warnings: Vec<String>,
    pub generation: u64,
}

/// Loads, compiles and publishes `dir` now and whenever it changes; runs until dropped.
pub async fn run(
    dir: PathBuf,
    placement: Placement,
    hub: Arc<ConfigHub>,
    state: Arc<Mutex<SourceState>>,
) {
    loop {
        let now = fingerprint(&dir);
        let changed = state
            .lock()
            .map(|s| s.seen.as_ref() != Some(&now))
            .unwrap_or(true);
        if changed {
            // Wait until the files stop changing.
            tokio::time::sleep(SETTLE).await;
            let settled = fingerprint(&dir);
            if settled != now {
                continue;
            }
            let result = compile_dir(&dir, &placement);
            let mut s = match state.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            s.seen = Some(settled);
            s.generation += 1;
            match result {
                Ok(compiled) => {
                    let changed = hub.publish_all_parts(compiled.configs);
                    tracing::info!(
                        dir = %dir.display(),
                        proxies = compiled.proxies,
                        changed,
                        "configuration applied"
                    );
                    for note in &compiled.notes {
                        tracing::warn!("{note}");
                    }
                    s.warnings = compiled.notes;
                    s.last_error = None;
                }
                Err(e) => {
                    tracing::error!(dir = %dir.display(), "configuration refused, previous one stays: {e}");
                    s.last_error = Some(e.to_string());
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
