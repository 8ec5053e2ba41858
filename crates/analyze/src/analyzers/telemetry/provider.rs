//! `telemetry.ProviderAnalyzer`: access logging configured without a provider, when the mesh
//! config has no default access-log provider either, does nothing.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::Kind;

pub struct ProviderAnalyzer;

impl Analyzer for ProviderAnalyzer {
    fn name(&self) -> &'static str {
        "telemetry.ProviderAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let has_default = snap
            .mesh
            .default_providers
            .as_ref()
            .is_some_and(|d| !d.access_logging.is_empty());
        if has_default {
            return;
        }
        for res in snap.of_kind(Kind::Telemetry) {
            let Some(t) = res.as_telemetry() else {
                continue;
            };
            // One message per Telemetry: it names the resource, not the entry.
            let empty = t
                .access_logging
                .iter()
                .position(|l| l.disabled != Some(true) && l.providers.is_empty());
            if let Some(i) = empty {
                out.add(
                    messages::INVALID_TELEMETRY_PROVIDER,
                    res,
                    &format!("spec.accessLogging[{i}]"),
                    format!(
                        "Telemetry {} in namespace {:?} configures access logging without a provider, and the mesh config has no default access-log provider: the entry is ignored",
                        res.name(),
                        snap.ns(res)
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::testutil::{run, run_with_mesh};
    use verimesh_config::mesh::MeshConfig;

    const T: &str = "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t, namespace: ns}\nspec:\n  accessLogging:\n  - providers: [{name: envoy}]\n  - filter: {expression: 'response.code >= 400'}\n  - filter: {expression: 'true'}\n";

    #[test]
    fn reports_access_logging_without_provider_once() {
        assert_eq!(run(&super::ProviderAnalyzer, T), ["IST0157 Telemetry ns/t"]);
    }

    #[test]
    fn silent_with_default_provider_or_disabled_entries() {
        let mesh = MeshConfig::from_yaml_str("m", "defaultProviders:\n  accessLogging: [envoy]\n")
            .expect("mesh");
        assert!(run_with_mesh(&super::ProviderAnalyzer, T, mesh).is_empty());
        let disabled = "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata: {name: t, namespace: ns}\nspec:\n  accessLogging:\n  - disabled: true\n  - providers: [{name: envoy}]\n";
        assert!(run(&super::ProviderAnalyzer, disabled).is_empty());
    }
}
