//! Applying one response to the config in force: a whole config (state of the world) replaces
//! everything; a delta replaces, adds and removes resources of the last good config. The result
//! is assembled (core, services by hostname, clusters by name) and validated before anything
//! is put in force, so a refused response changes nothing.

use crate::config::v1::ConfigResponse;
use crate::resource::{core_of, ResourceName, UnknownResource};
use std::collections::{HashMap, HashSet};
use verimesh_model::{Cluster, ModelError, ProxyConfig, Service};

/// Name → version of the resources the config in force was assembled from.
pub(super) type Versions = HashMap<String, String>;

/// Why a response was refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum Refusal {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("the response is for version {response:?} but the config says {config:?}")]
    VersionMismatch { response: String, config: String },
    #[error("a delta against version {base:?}, but this proxy runs {running:?} from resources it cannot name")]
    Basis {
        base: String,
        running: Option<String>,
    },
    #[error(transparent)]
    Name(#[from] UnknownResource),
    #[error("resource {name}: {error}")]
    Decode { name: String, error: String },
    #[error("resource {name} holds {actual:?}")]
    Misnamed { name: String, actual: String },
    #[error("resource {0} sent twice in one response")]
    Duplicate(String),
    #[error("the core resource cannot be removed")]
    CoreRemoved,
    #[error("the whole config lacks its core resource")]
    NoCore,
}

/// A config assembled from a response, and the versions of its resources.
#[derive(Debug)]
pub(super) struct Applied {
    pub(super) config: ProxyConfig,
    pub(super) versions: Versions,
}

/// Applies `response` to `current` (the config in force, assembled from resources `held`).
pub(super) fn apply(
    current: Option<&ProxyConfig>,
    held: &Versions,
    response: &ConfigResponse,
) -> Result<Applied, Refusal> {
    let mut next = if response.full {
        Parts::default()
    } else {
        Parts::from_current(current, held, &response.base_version)?
    };
    for name in &response.removed {
        match ResourceName::parse(name)? {
            ResourceName::Core => return Err(Refusal::CoreRemoved),
            ResourceName::Service(host) => next.drop_services.insert(host),
            ResourceName::Cluster(cluster) => next.drop_clusters.insert(cluster),
        };
        next.versions.remove(name);
    }
    let mut seen = HashSet::with_capacity(response.resources.len());
    for r in &response.resources {
        if !seen.insert(r.name.as_str()) {
            return Err(Refusal::Duplicate(r.name.clone()));
        }
        next.add(ResourceName::parse(&r.name)?, &r.name, &r.json)?;
        next.versions.insert(r.name.clone(), r.version.clone());
    }
    let config = next.assemble()?;
    if config.version != response.version {
        return Err(Refusal::VersionMismatch {
            response: response.version.clone(),
            config: config.version,
        });
    }
    config.validate()?;
    Ok(Applied {
        config,
        versions: next.versions,
    })
}

/// A config being assembled.
#[derive(Default)]
struct Parts {
    core: Option<ProxyConfig>,
    services: Vec<Service>,
    clusters: Vec<Cluster>,
    /// Resources of the response, added after the kept entries.
    new_services: Vec<Service>,
    new_clusters: Vec<Cluster>,
    /// Kept entries to drop: removed, or replaced by a newer version.
    drop_services: HashSet<String>,
    drop_clusters: HashSet<String>,
    versions: Versions,
}

impl Parts {
    /// The config in force, as the basis of a delta; it must be the version the delta was
    /// computed against, else applying it could silently mix two configs.
    fn from_current(
        current: Option<&ProxyConfig>,
        held: &Versions,
        base: &str,
    ) -> Result<Self, Refusal> {
        let Some(current) = current.filter(|c| c.version == base && !held.is_empty()) else {
            return Err(Refusal::Basis {
                base: base.to_string(),
                running: current.map(|c| c.version.clone()),
            });
        };
        Ok(Self {
            core: Some(core_of(current)),
            services: current.services.clone(),
            clusters: current.clusters.clone(),
            versions: held.clone(),
            ..Self::default()
        })
    }

    fn add(&mut self, name: ResourceName, wire: &str, json: &[u8]) -> Result<(), Refusal> {
        let decode_error = |e: serde_json::Error| Refusal::Decode {
            name: wire.to_string(),
            error: e.to_string(),
        };
        let misnamed = |actual: &str| Refusal::Misnamed {
            name: wire.to_string(),
            actual: actual.to_string(),
        };
        match name {
            ResourceName::Core => {
                let core: ProxyConfig = serde_json::from_slice(json).map_err(decode_error)?;
                if !core.services.is_empty() || !core.clusters.is_empty() {
                    return Err(misnamed("services or clusters"));
                }
                self.core = Some(core);
            }
            ResourceName::Service(host) => {
                let service: Service = serde_json::from_slice(json).map_err(decode_error)?;
                if service.hostname != host {
                    return Err(misnamed(&service.hostname));
                }
                self.drop_services.insert(host);
                self.new_services.push(service);
            }
            ResourceName::Cluster(name) => {
                let cluster: Cluster = serde_json::from_slice(json).map_err(decode_error)?;
                if cluster.name != name {
                    return Err(misnamed(&cluster.name));
                }
                self.drop_clusters.insert(name);
                self.new_clusters.push(cluster);
            }
        }
        Ok(())
    }

    /// The config; leaves `versions` for the caller.
    fn assemble(&mut self) -> Result<ProxyConfig, Refusal> {
        let core = self.core.take().ok_or(Refusal::NoCore)?;
        let mut services = std::mem::take(&mut self.services);
        let mut clusters = std::mem::take(&mut self.clusters);
        let (drop_services, drop_clusters) = (&self.drop_services, &self.drop_clusters);
        services.retain(|s| !drop_services.contains(&s.hostname));
        clusters.retain(|c| !drop_clusters.contains(&c.name));
        services.append(&mut self.new_services);
        clusters.append(&mut self.new_clusters);
        // A canonical order, so that the same resources always make the same config: the
        // compiler lists services by hostname already, and clusters are looked up by name.
        services.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        clusters.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ProxyConfig {
            services,
            clusters,
            ..core
        })
    }
}
