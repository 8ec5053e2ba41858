//! One load → compile pass over a config directory: every file must load and validate
//! (otherwise the whole change is refused with the first problems, file and line included),
//! then every proxy of the placement gets its config, in the pieces the compiler shares: one
//! outbound view per group of proxies that see the same services (published and encoded once
//! for all of them), and a core of its own.

use crate::config::{ProxyKey, ProxyParts, SharedOutbound};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use verimesh_analyze::Snapshot;
use verimesh_compiler::{Compiler, Outbound, Placement};
use verimesh_model::ProxyConfig;

#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("{0}")]
    Invalid(String),
    #[error("compiling: {0}")]
    Compile(String),
}

pub struct Compiled {
    pub configs: Vec<(ProxyKey, ProxyParts)>,
    pub proxies: usize,
    /// What was compiled only approximately (unsupported fields), for the log.
    pub notes: Vec<String>,
}

/// How many problems a refused change lists.
const MAX_LISTED: usize = 10;

pub fn compile_dir(dir: &Path, placement: &Placement) -> Result<Compiled, MeshError> {
    let (loaded, overridden) = super::load_dir(dir).map_err(|problems| {
        let more = problems.len().saturating_sub(MAX_LISTED);
        let mut text = problems
            .into_iter()
            .take(MAX_LISTED)
            .collect::<Vec<_>>()
            .join("\n");
        if more > 0 {
            text.push_str(&format!("\n… and {more} more"));
        }
        MeshError::Invalid(text)
    })?;
    let source = verimesh_analyze::mesh_source::resolve(&loaded, None);
    let snap = Snapshot::new(&loaded.resources, source.mesh);
    let compiler =
        Compiler::new(&snap, placement).map_err(|e| MeshError::Compile(e.to_string()))?;
    // Each view is checked once (its services against its clusters), each proxy's own
    // fields on their own: together what validating every whole config checks.
    let mut views: HashMap<*const Outbound, Arc<SharedOutbound>> = HashMap::new();
    let mut configs = Vec::new();
    for p in compiler.compile_all() {
        let at = |e| MeshError::Compile(format!("{}/{}: {e}", p.namespace, p.name));
        let outbound = match views.get(&Arc::as_ptr(&p.outbound)) {
            Some(shared) => shared.clone(),
            None => {
                let shared = Arc::new(SharedOutbound {
                    services: p.outbound.services.clone(),
                    clusters: p.outbound.clusters.clone(),
                });
                ProxyConfig {
                    services: shared.services.clone(),
                    clusters: shared.clusters.clone(),
                    ..ProxyConfig::default()
                }
                .validate()
                .map_err(at)?;
                views.insert(Arc::as_ptr(&p.outbound), shared.clone());
                shared
            }
        };
        let core = p.core();
        // A gateway's routes (in its core) name clusters of its view.
        core.validate_core(|name| outbound.clusters.iter().any(|c| c.name == name))
            .map_err(at)?;
        configs.push((
            ProxyKey::new(&p.namespace, &p.name),
            ProxyParts { core, outbound },
        ));
    }
    // Notes made while compiling (gateways, routes) are complete only now.
    let mut notes = overridden;
    notes.extend(compiler.notes());
    Ok(Compiled {
        proxies: configs.len(),
        configs,
        notes,
    })
}
