//! Every networking.istio.io resource in the peer Istio samples and task configurations loads
//! without errors. (The analyzer test data is deliberately invalid and is not used here.)

use std::path::{Path, PathBuf};
use verimesh_config::{Kind, Level, Loaded, Stage};

const DIRS: &[&str] = &[
    "istio-samples",
    "istio-security-tasks",
    "istio-egress-tasks",
];

/// The task files keep the shell placeholders the docs ask the reader to set (listed in each
/// directory's README); they get representative values, as a reader's shell would give them.
const PLACEHOLDERS: &[(&str, &str)] = &[
    ("$PROXY_IP", "10.10.10.10"),
    ("$PROXY_PORT", "3128"),
    ("$CLIENT_IP", "203.0.113.7"),
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

fn is_networking_kind(name: &str) -> bool {
    verimesh_config::kind::KINDS
        .iter()
        .any(|k| k.name == name && Kind::is_istio_networking(k.kind))
}

#[test]
fn peer_networking_resources_load_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer");
    if !root.is_dir() {
        println!(
            "skipping: peer configuration not found at {}",
            root.display()
        );
        return;
    }
    let mut files = Vec::new();
    for d in DIRS {
        yaml_files(&root.join(d), &mut files);
    }
    let mut checked = 0;
    let mut failures = Vec::new();
    for f in &files {
        let Ok(mut text) = std::fs::read_to_string(f) else {
            continue;
        };
        for (name, value) in PLACEHOLDERS {
            text = text.replace(name, value);
        }
        if !text.contains("networking.istio.io") {
            continue;
        }
        let mut loaded = Loaded::default();
        verimesh_config::load_str(&mut loaded, &f.display().to_string(), &text);
        checked += loaded
            .resources
            .iter()
            .filter(|r| r.kind.is_istio_networking())
            .count();
        for d in &loaded.diagnostics {
            let networking = d.stage != Stage::UnknownKind
                && d.resource
                    .as_ref()
                    .is_some_and(|r| is_networking_kind(&r.kind));
            if networking && d.level == Level::Error {
                failures.push(d.to_string());
            } else if networking {
                println!("{d}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} errors in peer networking resources:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        checked > 0,
        "no networking resources found under {}",
        root.display()
    );
    println!("{checked} networking resources loaded cleanly");
}
