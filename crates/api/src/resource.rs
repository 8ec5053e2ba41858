//! Names of the resources a config travels as on `verimesh.config.v1`: one "core" (the
//! config's top-level fields), one per service and one per cluster. Both ends parse and print
//! names here, so the format lives in one place.

use std::fmt;
use verimesh_model::ProxyConfig;

/// The name of the core resource.
pub const CORE: &str = "core";
const SERVICE_PREFIX: &str = "service/";
const CLUSTER_PREFIX: &str = "cluster/";

/// What a resource name designates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceName {
    /// Every top-level field of the config (its version included), without services and
    /// clusters.
    Core,
    /// A service, by hostname.
    Service(String),
    /// A cluster, by name.
    Cluster(String),
}

/// A name that follows none of the formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown resource name {0:?}")]
pub struct UnknownResource(pub String);

impl ResourceName {
    pub fn parse(name: &str) -> Result<Self, UnknownResource> {
        if name == CORE {
            return Ok(Self::Core);
        }
        let named = |prefix: &str| name.strip_prefix(prefix).filter(|rest| !rest.is_empty());
        if let Some(host) = named(SERVICE_PREFIX) {
            return Ok(Self::Service(host.to_string()));
        }
        if let Some(cluster) = named(CLUSTER_PREFIX) {
            return Ok(Self::Cluster(cluster.to_string()));
        }
        Err(UnknownResource(name.to_string()))
    }

    /// The wire name of the service `hostname`.
    pub fn service(hostname: &str) -> String {
        format!("{SERVICE_PREFIX}{hostname}")
    }

    /// The wire name of the cluster `name`.
    pub fn cluster(name: &str) -> String {
        format!("{CLUSTER_PREFIX}{name}")
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Core => f.write_str(CORE),
            Self::Service(h) => write!(f, "{SERVICE_PREFIX}{h}"),
            Self::Cluster(c) => write!(f, "{CLUSTER_PREFIX}{c}"),
        }
    }
}

/// The core resource of `config`: every top-level field but the services and clusters. The
/// pattern names every field, so a field added to the model does not compile here until it
/// is placed (the core is where new top-level fields belong).
pub fn core_of(config: &ProxyConfig) -> ProxyConfig {
    let ProxyConfig {
        version,
        workload,
        inbound,
        services: _,
        clusters: _,
        allow_unknown_destinations,
        security,
        gateway,
    } = config;
    ProxyConfig {
        version: version.clone(),
        workload: workload.clone(),
        inbound: inbound.clone(),
        services: Vec::new(),
        clusters: Vec::new(),
        allow_unknown_destinations: *allow_unknown_destinations,
        security: security.clone(),
        gateway: gateway.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            ResourceName::Core,
            ResourceName::Service("web.default.svc.cluster.local".into()),
            // Cluster names carry '|' and may carry '/' after the prefix.
            ResourceName::Cluster("outbound|80|v1|web.default.svc.cluster.local".into()),
            ResourceName::Cluster("a/b".into()),
        ] {
            assert_eq!(ResourceName::parse(&name.to_string()), Ok(name));
        }
        assert_eq!(
            ResourceName::parse(&ResourceName::service("x")),
            Ok(ResourceName::Service("x".into()))
        );
    }

    #[test]
    fn unknown_names_are_refused() {
        for bad in ["", "cores", "service/", "listener/x", "cluster"] {
            assert!(ResourceName::parse(bad).is_err(), "{bad}");
        }
    }
}
