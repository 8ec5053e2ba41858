//! Every analyzer over damaged versions of real configuration: findings or silence, never a
//! panic. The inputs are Istio's analyzer test files, each mutated many times.

use std::path::Path;
use verimesh_analyze::Snapshot;
use verimesh_config::mesh::MeshConfig;
use verimesh_config::{load_str, Loaded};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Replacements that keep YAML parseable often enough to reach the analyzers.
const SWAPS: &[&str] = &[
    "", "*", "é", "-", "/", ".", "0", "99999", "a/b/c", "\"\"", "[]", "{}", "~", "*.*", "..",
];

fn analyze_all(text: &str) {
    let mut loaded = Loaded::default();
    load_str(&mut loaded, "mutated.yaml", text);
    for ns in ["", "default"] {
        let snap =
            Snapshot::new(&loaded.resources, MeshConfig::default()).with_default_namespace(ns);
        let _ = verimesh_analyze::analyze(&loaded, &snap);
    }
}

#[test]
fn analyzers_survive_mutated_inputs() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/peer/istio-analyzers/testdata");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!("notice: {} is absent; skipping", dir.display());
        return;
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    let mut rng = XorShift(0x5eed);
    let mut runs = 0;
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        analyze_all(&text);
        // Mutate scalar values: the words after ": " on a few random lines.
        let lines: Vec<&str> = text.lines().collect();
        for _ in 0..20 {
            let mut out = String::with_capacity(text.len());
            for line in &lines {
                match line.split_once(": ") {
                    Some((key, _)) if rng.next().is_multiple_of(6) => {
                        out.push_str(key);
                        out.push_str(": ");
                        out.push_str(SWAPS[(rng.next() % SWAPS.len() as u64) as usize]);
                    }
                    _ => out.push_str(line),
                }
                out.push('\n');
            }
            analyze_all(&out);
            runs += 1;
        }
    }
    assert!(runs >= 500, "only {runs} mutated inputs");
}
