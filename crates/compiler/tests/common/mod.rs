//! Test helpers: load YAML into a snapshot, derive a placement, compare with golden files.

#![allow(dead_code)]

pub mod apps;

use std::path::{Path, PathBuf};
use verimesh_analyze::Snapshot;
use verimesh_compiler::Placement;
use verimesh_config::{Loaded, Resource};

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn load_files(paths: &[PathBuf]) -> Loaded {
    let loaded = verimesh_config::load_paths(paths);
    assert!(loaded.unusable.is_empty(), "{:?}", loaded.unusable);
    loaded
}

pub fn load_yaml(text: &str) -> Loaded {
    let mut loaded = Loaded::default();
    verimesh_config::load_str(&mut loaded, "test.yaml", text);
    assert!(loaded.unusable.is_empty(), "{:?}", loaded.unusable);
    let errors: Vec<_> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.level == verimesh_config::Level::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    loaded
}

pub fn snapshot<'a>(resources: &'a [Resource], loaded: &Loaded) -> Snapshot<'a> {
    let mesh = verimesh_analyze::mesh_source::resolve(loaded, None).mesh;
    Snapshot::new(resources, mesh)
}

/// The placement derived from the manifests, every instance injected with a sidecar.
pub fn placement(snap: &Snapshot<'_>) -> Placement {
    let mut p = Placement::synthesize(snap, "cluster.local");
    for i in &mut p.instances {
        i.sidecar = true;
    }
    p
}

/// Compares with `tests/golden/<name>.json`; `VERIMESH_REGENERATE=1` rewrites it.
pub fn check_golden(name: &str, actual: &str) {
    let path = manifest_dir()
        .join("tests/golden")
        .join(format!("{name}.json"));
    if std::env::var_os("VERIMESH_REGENERATE").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (VERIMESH_REGENERATE=1 creates it)", path.display()));
    if expected != actual {
        let diff_at = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the compiled config at line {}:\n expected: {:?}\n actual:   {:?}\n(VERIMESH_REGENERATE=1 rewrites goldens)",
            path.display(),
            diff_at + 1,
            expected.lines().nth(diff_at),
            actual.lines().nth(diff_at)
        );
    }
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
