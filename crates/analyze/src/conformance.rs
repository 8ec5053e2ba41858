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
use verimesh_config::ResourceRef;

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

fn run_case(testdata: &Path, case: &Case) -> CaseResult {
    let mut result = CaseResult {
        id: case.id.clone(),
        analyzer: case.analyzer.clone(),
        failure: Vec::new(),
    };
    if case.kind != "single-cluster" {
        result
            .failure
            .push(format!("{} cases are not supported yet", case.kind));
        return result;
    }
    let Some(analyzer) = analyzers::by_name(&case.analyzer) else {
        result
            .failure
            .push(format!("analyzer {} is not implemented", case.analyzer));
        return result;
    };
    let files: Vec<_> = case.input_files.iter().map(|f| testdata.join(f)).collect();
    let mut loaded = verimesh_config::load_paths(&files);
    if let Some(f) = &case.mesh_networks_file {
        match std::fs::read_to_string(testdata.join(f)) {
            Ok(text) => verimesh_config::load_str(&mut loaded, f, &mesh_networks_config_map(&text)),
            Err(e) => {
                result.failure.push(format!("mesh networks {f}: {e}"));
                return result;
            }
        }
    }
    let mesh = match &case.mesh_config_file {
        None => MeshConfig::default(),
        Some(f) => {
            let p = testdata.join(f);
            let parsed = std::fs::read_to_string(&p)
                .map_err(|e| vec![e.to_string()])
                .and_then(|t| {
                    MeshConfig::from_yaml_str(&p.display().to_string(), &t)
                        .map_err(|ds| ds.iter().map(ToString::to_string).collect())
                });
            match parsed {
                Ok(m) => m,
                Err(errs) => {
                    result
                        .failure
                        .push(format!("mesh config {f}: {}", errs.join("; ")));
                    return result;
                }
            }
        }
    };
    add_default_resources(&mut loaded, &mesh);
    let snap = Snapshot::new(&loaded.resources, mesh).with_default_namespace("");
    let mut report = Report::default();
    analyzer.analyze(&snap, &mut report);

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
