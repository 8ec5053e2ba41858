//! Every YAML file of Istio's samples and of its security and egress tasks (shared/peer) loads
//! without a spurious error: the configuration users already have must be accepted as it is.

use std::path::{Path, PathBuf};
use verimesh_config::{Level, Loaded, Stage};

const DIRS: &[&str] = &[
    "istio-samples",
    "istio-security-tasks",
    "istio-egress-tasks",
];

/// Shell variables the task pages tell users to set before applying a file; each is replaced by
/// a value of the documented kind.
const PLACEHOLDERS: &[(&str, &str)] = &[
    ("$CLIENT_IP", "203.0.113.7"),
    ("$PROXY_IP", "10.0.0.10"),
    ("$PROXY_PORT", "3128"),
];

/// Warnings that are right: Istio gives them for these files too.
const EXPECTED_WARNINGS: &[(&str, &str)] = &[
    ("fault-injection-details-v1.yaml", "is never used"),
    ("authn-jwt-ingress", "DENY rule uses only HTTP attributes"),
    ("authz-deny-", "DENY rule uses only HTTP attributes"),
    ("authz-dry-run.yaml", "DENY rule uses only HTTP attributes"),
    (
        "authz-tcp-deny-http-field.yaml",
        "DENY rule uses only HTTP attributes",
    ),
];

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

#[test]
fn peer_samples_load_without_spurious_errors() {
    let peer = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer");
    if !peer.is_dir() {
        eprintln!("notice: {} is absent; skipping", peer.display());
        return;
    }
    let mut files = Vec::new();
    for d in DIRS {
        yaml_files(&peer.join(d), &mut files);
    }
    assert!(files.len() >= 100, "only {} files found", files.len());
    let mut resources = 0;
    let mut problems = Vec::new();
    let mut unknown = std::collections::BTreeSet::new();
    for f in &files {
        let mut text = std::fs::read_to_string(f).expect("readable sample");
        for (name, value) in PLACEHOLDERS {
            text = text.replace(name, value);
        }
        let name = f.display().to_string();
        let mut loaded = Loaded::default();
        verimesh_config::load_str(&mut loaded, &name, &text);
        resources += loaded.resources.len();
        for d in &loaded.diagnostics {
            match (d.level, d.stage) {
                (Level::Info, Stage::UnknownKind) => {
                    if let Some(r) = &d.resource {
                        unknown.insert(r.kind.clone());
                    }
                }
                (Level::Warning, _)
                    if EXPECTED_WARNINGS
                        .iter()
                        .any(|(file, msg)| name.contains(file) && d.message.contains(msg)) => {}
                _ => problems.push(d.to_string()),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(resources >= 240, "only {resources} resources loaded");
    eprintln!(
        "{} files, {resources} resources; kinds skipped as unknown: {unknown:?}",
        files.len()
    );
    // Only kinds outside a mesh's concern may be skipped.
    for kind in &unknown {
        assert!(
            matches!(
                kind.as_str(),
                "IstioOperator"
                    | "Endpoints"
                    | "NetworkPolicy"
                    | "Role"
                    | "RoleBinding"
                    | "ReferenceGrant"
                    | "TCPRoute"
                    | "TLSRoute"
                    | "GRPCRoute"
                    | "ClusterRole"
                    | "ClusterRoleBinding"
                    | "HorizontalPodAutoscaler"
                    | "ProxyConfig"
            ),
            "kind {kind} from Istio's samples is not loaded"
        );
    }
}
