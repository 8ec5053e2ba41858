//! Applying one response to the config in force: a whole config (state of the world) replaces
//! everything; a delta replaces, adds and removes resources of the last good config. The result
//! is assembled (core, services by hostname, clusters by name) and checked before anything is
//! put in force, so a refused response changes nothing.
//!
//! A delta costs what it carries, not what the config holds: services and clusters are
//! `Arc`s, so the unchanged ones are shared with the config in force (a pointer copy each),
//! and only what changed is checked — each changed resource, the core if it changed, and the
//! services that name a removed cluster. That is as strict as checking the whole config,
//! since a service's validity depends only on itself and the set of cluster names, a
//! cluster's only on itself, and the core's only on itself; name uniqueness holds by
//! construction (resources are merged by name).

use crate::config::v1::ConfigResponse;
use crate::resource::{core_of, ResourceName, UnknownResource};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
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

/// How the versions held change when an applied response is put in force.
#[derive(Debug)]
pub(super) enum VersionChange {
    /// A whole config: these are all.
    Replace(Versions),
    /// A delta: these names are gone, these are new or changed.
    Update {
        removed: Vec<String>,
        set: Vec<(String, String)>,
    },
}

impl VersionChange {
    /// Applies the change to the versions held (in place: a delta does not copy the map).
    pub(super) fn commit(self, held: &mut Versions) {
        match self {
            Self::Replace(all) => *held = all,
            Self::Update { removed, set } => {
                for name in &removed {
                    held.remove(name);
                }
                held.extend(set);
            }
        }
    }
}

/// A config assembled from a response, and how the versions held change with it.
#[derive(Debug)]
pub(super) struct Applied {
    pub(super) config: ProxyConfig,
    pub(super) versions: VersionChange,
}

/// Applies `response` to `current` (the config in force, assembled from resources `held`).
pub(super) fn apply(
    current: Option<&ProxyConfig>,
    held: &Versions,
    response: &ConfigResponse,
) -> Result<Applied, Refusal> {
    if response.full {
        whole(response)
    } else {
        delta(current, held, response)
    }
}

/// The resources of one response, decoded.
#[derive(Default)]
struct Decoded {
    core: Option<ProxyConfig>,
    services: Vec<Arc<Service>>,
    clusters: Vec<Arc<Cluster>>,
    versions: Vec<(String, String)>,
}

impl Decoded {
    fn of(response: &ConfigResponse) -> Result<Self, Refusal> {
        let mut out = Self::default();
        let mut seen = HashSet::with_capacity(response.resources.len());
        for r in &response.resources {
            if !seen.insert(r.name.as_str()) {
                return Err(Refusal::Duplicate(r.name.clone()));
            }
            out.add(ResourceName::parse(&r.name)?, &r.name, &r.json)?;
            out.versions.push((r.name.clone(), r.version.clone()));
        }
        // By name: the order of the config, and what the merge walks.
        out.services.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        out.clusters.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
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
                self.services.push(Arc::new(service));
            }
            ResourceName::Cluster(name) => {
                let cluster: Cluster = serde_json::from_slice(json).map_err(decode_error)?;
                if cluster.name != name {
                    return Err(misnamed(&cluster.name));
                }
                self.clusters.push(Arc::new(cluster));
            }
        }
        Ok(())
    }
}

fn check_version(config: &ProxyConfig, response: &ConfigResponse) -> Result<(), Refusal> {
    if config.version != response.version {
        return Err(Refusal::VersionMismatch {
            response: response.version.clone(),
            config: config.version.clone(),
        });
    }
    Ok(())
}

/// A whole config: replaces everything, checked whole.
fn whole(response: &ConfigResponse) -> Result<Applied, Refusal> {
    let decoded = Decoded::of(response)?;
    let core = decoded.core.ok_or(Refusal::NoCore)?;
    let config = ProxyConfig {
        services: decoded.services,
        clusters: decoded.clusters,
        ..core
    };
    check_version(&config, response)?;
    config.validate()?;
    Ok(Applied {
        config,
        versions: VersionChange::Replace(decoded.versions.into_iter().collect()),
    })
}

/// A delta against the config in force, which must be the version it was computed against
/// (else applying it could silently mix two configs).
fn delta(
    current: Option<&ProxyConfig>,
    held: &Versions,
    response: &ConfigResponse,
) -> Result<Applied, Refusal> {
    let base = &response.base_version;
    let Some(current) = current.filter(|c| c.version == *base && !held.is_empty()) else {
        return Err(Refusal::Basis {
            base: base.clone(),
            running: current.map(|c| c.version.clone()),
        });
    };
    let decoded = Decoded::of(response)?;
    let (mut drop_services, mut drop_clusters) = (HashSet::new(), HashSet::new());
    for name in &response.removed {
        match ResourceName::parse(name)? {
            ResourceName::Core => return Err(Refusal::CoreRemoved),
            ResourceName::Service(host) => drop_services.insert(host),
            ResourceName::Cluster(cluster) => drop_clusters.insert(cluster),
        };
    }
    let core_changed = decoded.core.is_some();
    let core = match decoded.core {
        Some(core) => core,
        None => core_of(current),
    };
    let (services, changed_services, _) =
        merge(&current.services, decoded.services, &drop_services, |s| {
            &s.hostname
        });
    let (clusters, changed_clusters, clusters_removed) =
        merge(&current.clusters, decoded.clusters, &drop_clusters, |c| {
            &c.name
        });
    let config = ProxyConfig {
        services,
        clusters,
        ..core
    };
    check_version(&config, response)?;

    let has_cluster = |name: &str| {
        config
            .clusters
            .binary_search_by(|c| c.name.as_str().cmp(name))
            .is_ok()
    };
    if core_changed {
        config.validate_core(has_cluster)?;
    }
    for &i in &changed_clusters {
        config.validate_cluster(i)?;
    }
    for &i in &changed_services {
        config.validate_service(i, has_cluster)?;
    }
    // A removed cluster may still be named by a service the delta left alone: those services
    // are checked again (a walk over the services' references, only for such deltas).
    if clusters_removed > 0 {
        // A gateway's routes are in the core and may name it too.
        let core_names_removed = config
            .gateway
            .as_ref()
            .is_some_and(|g| g.referenced_clusters().any(|c| !has_cluster(c)));
        if core_names_removed {
            config.validate_core(has_cluster)?;
        }
        for (i, s) in config.services.iter().enumerate() {
            if s.referenced_clusters().any(|c| !has_cluster(c)) {
                config.validate_service(i, has_cluster)?;
            }
        }
    }
    Ok(Applied {
        config,
        versions: VersionChange::Update {
            // Removed first, then set: a name both removed and sent stays, as it does in
            // the config.
            removed: response.removed.clone(),
            set: decoded.versions,
        },
    })
}

/// `kept` (sorted by name) with `changed` (sorted by name) put in place, and the names in
/// `dropped` left out (unless `changed` brings them back); returns the result, sorted by name,
/// the positions of the changed items in it, and how many kept items were left out.
/// Unchanged items are shared, not copied.
fn merge<T>(
    kept: &[Arc<T>],
    changed: Vec<Arc<T>>,
    dropped: &HashSet<String>,
    name: impl Fn(&T) -> &String,
) -> (Vec<Arc<T>>, Vec<usize>, usize) {
    // A config assembled here is sorted already; one from elsewhere (booted from a file) is
    // sorted first, so the walk below stays a merge.
    let sorted;
    let kept = if kept.is_sorted_by(|a, b| name(a) <= name(b)) {
        kept
    } else {
        let mut v = kept.to_vec();
        v.sort_by(|a, b| name(a).cmp(name(b)));
        sorted = v;
        &sorted
    };
    let mut out = Vec::with_capacity(kept.len() + changed.len());
    let mut positions = Vec::with_capacity(changed.len());
    let mut left_out = 0;
    let mut keep = |o: &Arc<T>, out: &mut Vec<Arc<T>>| {
        if dropped.contains(name(o)) {
            left_out += 1;
        } else {
            out.push(o.clone());
        }
    };
    let mut old = kept.iter().peekable();
    for item in changed {
        while let Some(o) = old.next_if(|o| name(o) < name(&item)) {
            keep(o, &mut out);
        }
        // The kept item of the same name, if any, is replaced.
        old.next_if(|o| name(o) == name(&item));
        positions.push(out.len());
        out.push(item);
    }
    for o in old {
        keep(o, &mut out);
    }
    (out, positions, left_out)
}

#[cfg(test)]
mod tests;
