//! The configuration being analyzed: every loaded resource, indexed by kind, plus the mesh
//! config in force.

use crate::registry::Registry;
use crate::workloads::{self, Workload, NAMESPACE_INJECTION_LABEL};
use std::collections::HashMap;
use std::sync::OnceLock;
use verimesh_config::mesh::MeshConfig;
use verimesh_config::{Kind, Resource};

pub struct Snapshot<'a> {
    pub resources: &'a [Resource],
    pub mesh: MeshConfig,
    /// The namespace of resources whose YAML names none (`default` for the CLI; empty in
    /// Istio's analyzer tests, which keep such resources unnamespaced).
    pub default_namespace: String,
    by_kind: HashMap<Kind, Vec<&'a Resource>>,
    workloads: OnceLock<Vec<Workload<'a>>>,
    registry: OnceLock<Registry<'a>>,
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
            default_namespace: "default".to_string(),
            by_kind,
            workloads: OnceLock::new(),
            registry: OnceLock::new(),
        }
    }

    pub fn with_default_namespace(mut self, ns: &str) -> Self {
        self.default_namespace = ns.to_string();
        self
    }

    /// The namespace a resource is in, as analyzers must see it.
    pub fn ns<'r>(&'r self, r: &'r Resource) -> &'r str {
        r.meta
            .namespace
            .as_deref()
            .unwrap_or(&self.default_namespace)
    }

    /// `namespace/name`, or just the name for resources without a namespace, as Istio prints
    /// full names in messages.
    pub fn full_name(&self, r: &Resource) -> String {
        let ns = self.ns(r);
        if ns.is_empty() {
            r.name().to_string()
        } else {
            format!("{ns}/{}", r.name())
        }
    }

    /// Finds a resource of a kind by namespace and name.
    pub fn find(&self, kind: Kind, namespace: &str, name: &str) -> Option<&'a Resource> {
        self.of_kind(kind)
            .iter()
            .copied()
            .find(|r| r.name() == name && self.ns(r) == namespace)
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

    /// Pods and Deployment pod templates.
    pub fn workloads(&self) -> &[Workload<'a>] {
        self.workloads.get_or_init(|| {
            let rs: Vec<&'a Resource> = self
                .resources
                .iter()
                .filter(|r| workloads::is_workload_kind(r.kind))
                .collect();
            workloads::collect(&rs, &self.default_namespace)
        })
    }

    /// Services and ServiceEntries by the hosts they make visible.
    pub fn registry(&self) -> &Registry<'a> {
        self.registry.get_or_init(|| {
            let rs: Vec<&'a Resource> = self
                .of_kind(Kind::ServiceEntry)
                .iter()
                .chain(self.of_kind(Kind::Service))
                .copied()
                .collect();
            Registry::build(&rs, |r| self.ns(r).to_string())
        })
    }

    /// Whether a workload gets a sidecar, as Istio decides it: an `istio-proxy` container, the
    /// workload's `sidecar.istio.io/inject` label or annotation, else its namespace's
    /// `istio-injection` label.
    pub fn in_mesh(&self, w: &Workload<'_>) -> bool {
        if w.has_proxy_container() {
            return true;
        }
        if let Some(v) = w.labels.get(workloads::INJECT_LABEL) {
            return v == "true";
        }
        if let Some(v) = w.annotations.get(workloads::INJECT_LABEL) {
            return v == "true";
        }
        match self.find(Kind::Namespace, "", &w.namespace).or_else(|| {
            self.of_kind(Kind::Namespace)
                .iter()
                .copied()
                .find(|n| n.name() == w.namespace)
        }) {
            Some(ns) => {
                ns.meta
                    .labels
                    .get(NAMESPACE_INJECTION_LABEL)
                    .map(String::as_str)
                    == Some("enabled")
            }
            None => false,
        }
    }
}
