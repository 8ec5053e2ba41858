//! Workloads as analyzers see them: Pods, and the pods a Deployment would create (its pod
//! template), so that a directory of manifests is analyzed like the cluster it would become.

use std::collections::BTreeMap;
use verimesh_config::k8s::{Container, PodSpec};
use verimesh_config::{Kind, Resource};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadSource {
    Pod,
    Deployment,
}

pub struct Workload<'a> {
    pub resource: &'a Resource,
    pub source: WorkloadSource,
    pub namespace: String,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    pub spec: &'a PodSpec,
}

pub const INJECT_LABEL: &str = "sidecar.istio.io/inject";
pub const NAMESPACE_INJECTION_LABEL: &str = "istio-injection";
pub const REVISION_LABEL: &str = "istio.io/rev";
pub const PROXY_CONTAINER: &str = "istio-proxy";
pub const AMBIENT_REDIRECTION: &str = "ambient.istio.io/redirection";

impl Workload<'_> {
    pub fn containers(&self) -> impl Iterator<Item = &Container> {
        self.spec
            .containers
            .iter()
            .chain(&self.spec.init_containers)
    }

    pub fn has_proxy_container(&self) -> bool {
        self.containers()
            .any(|c| c.name == PROXY_CONTAINER && c.image.as_deref().is_some_and(|i| !i.is_empty()))
    }

    pub fn in_ambient(&self) -> bool {
        self.annotations
            .get(AMBIENT_REDIRECTION)
            .map(String::as_str)
            == Some("enabled")
    }
}

pub(crate) fn collect<'a>(resources: &[&'a Resource], default_ns: &str) -> Vec<Workload<'a>> {
    let mut out = Vec::new();
    for r in resources {
        let namespace = r
            .meta
            .namespace
            .clone()
            .unwrap_or_else(|| default_ns.to_string());
        if let Some(pod) = r.as_pod() {
            out.push(Workload {
                resource: r,
                source: WorkloadSource::Pod,
                namespace,
                labels: &r.meta.labels,
                annotations: &r.meta.annotations,
                spec: &pod.spec,
            });
        } else if let Some(d) = r.as_deployment() {
            out.push(Workload {
                resource: r,
                source: WorkloadSource::Deployment,
                namespace,
                labels: &d.spec.template.metadata.labels,
                annotations: &d.spec.template.metadata.annotations,
                spec: &d.spec.template.spec,
            });
        }
    }
    out
}

pub(crate) fn is_workload_kind(kind: Kind) -> bool {
    matches!(kind, Kind::Pod | Kind::Deployment)
}
