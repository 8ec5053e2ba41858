//! The analyzers. Each has Istio's analyzer name when Istio has the same check, so a
//! conformance run can select it; verimesh's own are named `verimesh.*`.

pub mod envoyfilter;
pub mod externalcontrolplane;
pub mod injection;
pub mod k8s;
pub mod k8sgateway;
pub mod multicluster;
pub mod security;
pub mod telemetry;
pub mod verimesh;

use crate::report::Report;
use crate::snapshot::Snapshot;

pub trait Analyzer: Sync {
    fn name(&self) -> &'static str;
    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report);
}

/// Every analyzer, in the order their messages are printed.
pub fn all() -> Vec<&'static dyn Analyzer> {
    vec![
        &k8s::PortName,
        &k8s::ApplicationUid,
        &k8s::ServiceAssociation,
        &security::AuthorizationPolicies,
        &security::BlockedCidrs,
        &verimesh::MtlsConflict,
        &verimesh::HttpOnTcpPort,
        &verimesh::PolicyNeverMatches,
        &verimesh::JwtNotRequired,
        &envoyfilter::patch::EnvoyPatchAnalyzer,
        &telemetry::provider::ProviderAnalyzer,
        &telemetry::lightstep::LightstepAnalyzer,
        &telemetry::selector::SelectorAnalyzer,
        &telemetry::default_selector::DefaultSelectorAnalyzer,
        &externalcontrolplane::webhooks::ExternalControlPlaneAnalyzer,
        &k8sgateway::crd_version::CrdVersionAnalyzer,
        &injection::namespaces::InjectionAnalyzer,
        &injection::image::ImageAnalyzer,
        &injection::image_auto::ImageAutoAnalyzer,
        &multicluster::mesh_networks::MeshNetworksAnalyzer,
    ]
}

pub fn by_name(name: &str) -> Option<&'static dyn Analyzer> {
    all().into_iter().find(|a| a.name() == name)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::Analyzer;
    use crate::report::Report;
    use crate::snapshot::Snapshot;
    use verimesh_config::mesh::MeshConfig;
    use verimesh_config::{load_str, Loaded};

    /// Runs one analyzer over YAML and returns its messages as sorted `CODE Kind ns/name`.
    pub fn run(analyzer: &dyn Analyzer, yaml: &str) -> Vec<String> {
        run_with_mesh(analyzer, yaml, MeshConfig::default())
    }

    pub fn run_with_mesh(analyzer: &dyn Analyzer, yaml: &str, mesh: MeshConfig) -> Vec<String> {
        let mut loaded = Loaded::default();
        load_str(&mut loaded, "test.yaml", yaml);
        let decode_errors: Vec<_> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.stage == verimesh_config::Stage::Decode)
            .collect();
        assert!(
            decode_errors.is_empty(),
            "test input does not decode: {decode_errors:?}"
        );
        let snap = Snapshot::new(&loaded.resources, mesh);
        let mut out = Report::default();
        analyzer.analyze(&snap, &mut out);
        let mut v: Vec<String> = out
            .messages
            .iter()
            .map(|m| {
                let r = m
                    .resource
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                format!("{} {}", m.kind.code, r)
            })
            .collect();
        v.sort();
        v
    }
}
