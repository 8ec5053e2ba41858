//! The configuration being analyzed: every loaded resource, indexed by kind, plus the mesh
//! config in force.

use std::collections::HashMap;
use verimesh_config::mesh::MeshConfig;
use verimesh_config::{Kind, Resource};

pub struct Snapshot<'a> {
    pub resources: &'a [Resource],
    pub mesh: MeshConfig,
    by_kind: HashMap<Kind, Vec<&'a Resource>>,
}

impl<'a> Snapshot<'a> {
    pub fn new(resources: &'a [Resource], mesh: MeshConfig) -> Self {
        let mut by_kind: HashMap<Kind, Vec<&'a Resource>> = HashMap::new();
        for r in resources {
            by_kind.entry(r.kind).or_default().push(r);
        }
        Snapshot {
            resources,
            mesh,
            by_kind,
        }
    }

    pub fn of_kind(&self, kind: Kind) -> &[&'a Resource] {
        self.by_kind.get(&kind).map_or(&[], Vec::as_slice)
    }

    /// Namespaces that exist: declared Namespace objects plus any namespace a resource is in.
    pub fn namespace_exists(&self, ns: &str) -> bool {
        self.of_kind(Kind::Namespace).iter().any(|r| r.name() == ns)
            || self
                .resources
                .iter()
                .any(|r| r.meta.namespace.as_deref() == Some(ns))
    }
}
