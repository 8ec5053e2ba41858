//! Runs Istio's own analyzer test cases (shared/peer/istio-analyzers) against our analyzers.
//!
//! Each case names one Istio analyzer, its input files and the exact multiset of messages
//! expected (code and resource). A case whose analyzer verimesh does not have fails: an empty
//! expectation is not a free pass.

use crate::analyzers;
use crate::report::Report;
use crate::snapshot::Snapshot;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use verimesh_config::mesh::MeshConfig;
use verimesh_config::{Loaded, ResourceRef};

#[derive(Debug, Deserialize)]
struct CaseFile {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
pub struct Case {
    pub id: String,
    pub kind: String,
    pub analyzer: String,
    #[serde(default)]
    pub input_files: Vec<String>,
    pub mesh_config_file: Option<String>,
    /// Replaces the default (empty) MeshNetworks; given to analyzers as Istio reads it in a
    /// cluster, in the `istio` ConfigMap of `istio-system`.
    pub mesh_networks_file: Option<String>,
    /// For `multi-cluster` cases: each cluster's id and its input files. Clusters are
    /// analyzed in the order of their ids.
    #[serde(default)]
    pub cluster_input_files: BTreeMap<String, Vec<String>>,
    pub expected: Vec<Expected>,
}

#[derive(Debug, Deserialize)]
pub struct Expected {
    pub code: String,
    pub resource: String,
}

#[derive(Debug)]
pub struct CaseResult {
    pub id: String,
    pub analyzer: String,
    /// Why it failed; empty when it passed.
    pub failure: Vec<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failure.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid case file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

/// `Kind ns/name`, or `Kind name` when the YAML omits the namespace, as the cases print them.
fn resource_key(r: &ResourceRef) -> String {
    match &r.namespace {
        Some(ns) => format!("{} {}/{}", r.kind, ns, r.name),
        None => format!("{} {}", r.kind, r.name),
    }
}

pub fn run(dir: &Path) -> Result<Vec<CaseResult>, ConformanceError> {
    let path = dir.join("cases.json");
    let text = std::fs::read_to_string(&path).map_err(|source| ConformanceError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let file: CaseFile = serde_json::from_str(&text).map_err(|source| ConformanceError::Parse {
        path: path.display().to_string(),
        source,
    })?;
    let testdata = dir.join("testdata");
    Ok(file.cases.iter().map(|c| run_case(&testdata, c)).collect())
}

/// The analysis namespace of the cases: where the control plane and its ingress gateway live.
const ISTIO_NAMESPACE: &str = "istio-system";

/// Istio's analyzer tests add, after the inputs, the ingress gateway a default install has
/// (unless the mesh config turns ingress off): a gateway pod labelled `istio: ingressgateway`
/// and its Service with the usual ports, both in the analysis namespace.
fn add_default_resources(loaded: &mut verimesh_config::Loaded, mesh: &MeshConfig) {
    use verimesh_config::mesh::IngressControllerMode;
    if mesh.ingress_controller_mode == Some(IngressControllerMode::Off) {
        return;
    }
    let svc = mesh
        .ingress_service
        .as_deref()
        .filter(|s| !s.is_empty())
        .unwrap_or("istio-ingressgateway");
    let mut ports = String::new();
    for (name, port) in [
        ("http2", 80),
        ("https", 443),
        ("tcp", 31400),
        ("tls", 15443),
    ] {
        ports.push_str(&format!(
            "  - {{name: {name}, port: {port}, targetPort: {port}, protocol: TCP}}\n"
        ));
    }
    let text = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {svc}-dummypod\n  namespace: {ISTIO_NAMESPACE}\n  labels: {{istio: ingressgateway}}\nspec:\n  containers:\n  - name: istio-proxy\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {svc}\n  namespace: {ISTIO_NAMESPACE}\nspec:\n  selector: {{istio: ingressgateway}}\n  ports:\n{ports}"
    );
    verimesh_config::load_str(loaded, "internal-ingress", &text);
}

/// The `istio` ConfigMap holding a MeshNetworks file under `meshNetworks`.
fn mesh_networks_config_map(text: &str) -> String {
    let mut s = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\ndata:\n  meshNetworks: |\n",
    );
    for line in text.lines() {
        s.push_str("    ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

/// The case's inputs: its files and, when given, its MeshNetworks.
fn load_inputs(testdata: &Path, files: &[String], case: &Case) -> Result<Loaded, String> {
    let paths: Vec<_> = files.iter().map(|f| testdata.join(f)).collect();
    let mut loaded = verimesh_config::load_paths(&paths);
    if let Some(f) = &case.mesh_networks_file {
        let text = std::fs::read_to_string(testdata.join(f))
            .map_err(|e| format!("mesh networks {f}: {e}"))?;
        verimesh_config::load_str(&mut loaded, f, &mesh_networks_config_map(&text));
    }
    Ok(loaded)
}

fn load_mesh_config(testdata: &Path, case: &Case) -> Result<MeshConfig, String> {
    let Some(f) = &case.mesh_config_file else {
        return Ok(MeshConfig::default());
    };
    let p = testdata.join(f);
    std::fs::read_to_string(&p)
        .map_err(|e| vec![e.to_string()])
        .and_then(|t| {
            MeshConfig::from_yaml_str(&p.display().to_string(), &t)
                .map_err(|ds| ds.iter().map(ToString::to_string).collect())
        })
        .map_err(|errs| format!("mesh config {f}: {}", errs.join("; ")))
}

/// Runs the case's analyzer. A single-cluster analyzer sees every input of the case at once,
/// plus the default resources (in a multi-cluster case too: Istio runs those over all clusters
/// combined). A multi-cluster analyzer sees one snapshot per cluster of a multi-cluster case,
/// without the default resources, which belong to no cluster; the inputs of a single-cluster
/// case are one cluster without an id.
fn analyze_case(testdata: &Path, case: &Case) -> Result<Report, String> {
    let multi = match case.kind.as_str() {
        "single-cluster" => false,
        "multi-cluster" => true,
        other => return Err(format!("unknown case kind {other:?}")),
    };
    let mesh = load_mesh_config(testdata, case)?;
    let mut report = Report::default();
    if let Some(analyzer) = analyzers::by_name(&case.analyzer) {
        let mut loaded = load_inputs(testdata, &case.input_files, case)?;
        add_default_resources(&mut loaded, &mesh);
        let snap = Snapshot::new(&loaded.resources, mesh).with_default_namespace("");
        analyzer.analyze(&snap, &mut report);
        return Ok(report);
    }
    let Some(analyzer) = analyzers::multi_cluster_by_name(&case.analyzer) else {
        return Err(format!("analyzer {} is not implemented", case.analyzer));
    };
    let clusters: Vec<(&str, &[String])> = if multi {
        if case.cluster_input_files.is_empty() {
            return Err("a multi-cluster case without cluster_input_files".to_string());
        }
        case.cluster_input_files
            .iter()
            .map(|(id, files)| (id.as_str(), files.as_slice()))
            .collect()
    } else {
        vec![("", case.input_files.as_slice())]
    };
    let loaded = clusters
        .iter()
        .map(|(_, files)| load_inputs(testdata, files, case))
        .collect::<Result<Vec<_>, _>>()?;
    let snaps: Vec<(&str, Snapshot<'_>)> = clusters
        .iter()
        .zip(&loaded)
        .map(|((id, _), l)| {
            (
                *id,
                Snapshot::new(&l.resources, mesh.clone()).with_default_namespace(""),
            )
        })
        .collect();
    analyzer.analyze(&snaps, &mut report);
    Ok(report)
}

fn run_case(testdata: &Path, case: &Case) -> CaseResult {
    let mut result = CaseResult {
        id: case.id.clone(),
        analyzer: case.analyzer.clone(),
        failure: Vec::new(),
    };
    let report = match analyze_case(testdata, case) {
        Ok(r) => r,
        Err(e) => {
            result.failure.push(e);
            return result;
        }
    };

    let mut expected: BTreeMap<String, i32> = BTreeMap::new();
    for e in &case.expected {
        *expected
            .entry(format!("{} {}", e.code, e.resource))
            .or_default() += 1;
    }
    for m in &report.messages {
        let res = m.resource.as_ref().map(resource_key).unwrap_or_default();
        *expected
            .entry(format!("{} {}", m.kind.code, res))
            .or_default() -= 1;
    }
    for (key, n) in expected {
        if n > 0 {
            result.failure.push(format!("- missing {key} (x{n})"));
        } else if n < 0 {
            result.failure.push(format!("+ unexpected {key} (x{})", -n));
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A case directory in the system temp dir, removed when dropped.
    struct CaseDir(std::path::PathBuf);

    impl Drop for CaseDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn case_dir(name: &str, cases: &str, files: &[(&str, &str)]) -> CaseDir {
        let dir = std::env::temp_dir().join(format!(
            "verimesh-conformance-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("testdata")).unwrap();
        std::fs::write(dir.join("cases.json"), cases).unwrap();
        for (f, text) in files {
            std::fs::write(dir.join("testdata").join(f), text).unwrap();
        }
        CaseDir(dir)
    }

    #[test]
    fn multi_cluster_cases_load_each_cluster_apart() {
        let svc = |ports: &str| {
            format!("apiVersion: v1\nkind: Service\nmetadata: {{name: s, namespace: ns}}\nspec:\n  ports: [{ports}]\n")
        };
        let case = |id: &str, expected: &str| {
            format!(
                r#"{{"id": "{id}", "kind": "multi-cluster", "analyzer": "multicluster.ServiceAnalyzer",
                    "input_files": ["a.yaml", "b.yaml"], "mesh_config_file": null, "mesh_networks_file": null,
                    "cluster_input_files": {{"cluster1": ["a.yaml"], "cluster2": ["b.yaml"]}},
                    "expected": {expected}}}"#
            )
        };
        let differs = r#"[{"code": "IST0170", "resource": "Service ns/s"}]"#;
        let cases = format!(r#"{{"cases": [{}]}}"#, case("differs", differs));
        let a = svc("{name: http, port: 80}");
        let b = svc("{name: http, port: 81}");
        let dir = case_dir("mc", &cases, &[("a.yaml", &a), ("b.yaml", &b)]);
        let results = run(&dir.0).unwrap();
        assert!(results[0].passed(), "{:?}", results[0].failure);

        // The same files as one cluster: nothing to compare.
        let single = cases
            .replace("multi-cluster", "single-cluster")
            .replace(differs, "[]");
        let dir = case_dir("sc", &single, &[("a.yaml", &a), ("b.yaml", &b)]);
        let results = run(&dir.0).unwrap();
        assert!(results[0].passed(), "{:?}", results[0].failure);
    }
}
