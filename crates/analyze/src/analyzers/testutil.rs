//! Running one analyzer over YAML in unit tests.

use super::Analyzer;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::mesh::MeshConfig;
use verimesh_config::Loaded;

/// `CODE Kind ns/name` for each message, sorted; resources without a namespace in the YAML
/// are analyzed in `default`.
pub(crate) fn run(a: &dyn Analyzer, yaml: &str) -> Vec<String> {
    run_with_mesh(a, yaml, MeshConfig::default())
}

pub(crate) fn run_with_mesh(a: &dyn Analyzer, yaml: &str, mesh: MeshConfig) -> Vec<String> {
    let mut loaded = Loaded::default();
    verimesh_config::load_str(&mut loaded, "test.yaml", yaml);
    let decode_errors: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| {
            matches!(
                d.stage,
                verimesh_config::Stage::Read | verimesh_config::Stage::Decode
            )
        })
        .collect();
    assert!(
        decode_errors.is_empty(),
        "test input does not parse or decode: {decode_errors:?}"
    );
    let snap = Snapshot::new(&loaded.resources, mesh);
    let mut out = Report::default();
    a.analyze(&snap, &mut out);
    let mut found: Vec<String> = out
        .messages
        .iter()
        .map(|m| {
            let r = m.resource.as_ref();
            format!(
                "{} {} {}",
                m.kind.code,
                r.map(|r| r.kind.as_str()).unwrap_or_default(),
                r.map(|r| match &r.namespace {
                    Some(ns) => format!("{ns}/{}", r.name),
                    None => r.name.clone(),
                })
                .unwrap_or_default()
            )
        })
        .collect();
    found.sort();
    found
}
