//! `telemetry.LightstepAnalyzer`: tracing through a Lightstep extension provider, which is
//! deprecated in favour of OpenTelemetry.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeSet;
use verimesh_config::mesh::ProviderKind;
use verimesh_config::Kind;

pub struct LightstepAnalyzer;

impl Analyzer for LightstepAnalyzer {
    fn name(&self) -> &'static str {
        "telemetry.LightstepAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let lightstep: BTreeSet<&str> = snap
            .mesh
            .extension_providers
            .iter()
            .filter(|p| p.kind() == ProviderKind::Lightstep)
            .map(|p| p.name.as_str())
            .collect();
        if lightstep.is_empty() {
            return;
        }
        for res in snap.of_kind(Kind::Telemetry) {
            let Some(t) = res.as_telemetry() else {
                continue;
            };
            let mut reported = BTreeSet::new();
            for (i, tr) in t.tracing.iter().enumerate() {
                for (j, p) in tr.providers.iter().enumerate() {
                    if lightstep.contains(p.name.as_str()) && reported.insert(p.name.as_str()) {
                        out.add(
                            messages::DEPRECATED,
                            res,
                            &format!("spec.tracing[{i}].providers[{j}].name"),
                            format!(
                                "tracing provider {:?} is a Lightstep provider, which is deprecated: move it to an OpenTelemetry provider",
                                p.name
                            ),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::run_with_mesh;
    use verimesh_config::mesh::MeshConfig;

    const T: &str = "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t, namespace: ns}\nspec:\n  tracing:\n  - providers: [{name: ls}]\n";

    fn mesh(kind: &str) -> MeshConfig {
        MeshConfig::from_yaml_str(
            "m",
            &format!("extensionProviders:\n- name: ls\n  {kind}: {{service: a.b.svc.cluster.local, port: 443}}\n"),
        )
        .expect("mesh")
    }

    #[test]
    fn reports_lightstep_tracing() {
        assert_eq!(
            run_with_mesh(&super::LightstepAnalyzer, T, mesh("lightstep")),
            ["IST0002 Telemetry ns/t"]
        );
    }

    #[test]
    fn silent_for_other_providers() {
        assert!(run_with_mesh(&super::LightstepAnalyzer, T, mesh("zipkin")).is_empty());
    }
}
