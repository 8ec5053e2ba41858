//! Helpers for the networking tests: wrap a spec in a resource, load it through the loader, and
//! look at the diagnostics by field path.

#![allow(dead_code)]

use verimesh_config::{Diagnostic, Level, Loaded};

/// A resource of `kind` named `name` in namespace `ns` whose spec is `spec` (written at column 0).
pub fn doc(kind: &str, name: &str, spec: &str) -> String {
    let mut s = format!(
        "apiVersion: networking.istio.io/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: ns1\nspec:\n"
    );
    for line in spec.trim_matches('\n').lines() {
        s.push_str("  ");
        s.push_str(line);
        s.push('\n');
    }
    s
}

pub fn load(text: &str) -> Loaded {
    let mut loaded = Loaded::default();
    verimesh_config::load_str(&mut loaded, "test.yaml", text);
    loaded
}

pub fn diags(text: &str, level: Level) -> Vec<Diagnostic> {
    load(text)
        .diagnostics
        .into_iter()
        .filter(|d| d.level == level)
        .collect()
}

fn show(ds: &[Diagnostic]) -> String {
    ds.iter().map(|d| format!("  {d}\n")).collect()
}

/// Loads with no errors and no warnings; returns what was loaded.
pub fn assert_clean(text: &str) -> Loaded {
    let loaded = load(text);
    let bad: Vec<Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.level >= Level::Warning)
        .cloned()
        .collect();
    assert!(
        bad.is_empty(),
        "expected no diagnostics, got:\n{}\nin:\n{text}",
        show(&bad)
    );
    assert_eq!(loaded.resources.len(), 1, "{text}");
    assert!(loaded.resources[0].valid);
    loaded
}

/// Some diagnostic at `level` has path `path` and a message containing `needle`; returns it.
pub fn assert_diag(text: &str, level: Level, path: &str, needle: &str) -> Diagnostic {
    let ds = diags(text, level);
    ds.iter()
        .find(|d| d.path.to_string() == path && d.message.contains(needle))
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "expected a {level} at {path} containing {needle:?}, got:\n{}\nin:\n{text}",
                show(&ds)
            )
        })
}

pub fn assert_error(text: &str, path: &str, needle: &str) -> Diagnostic {
    assert_diag(text, Level::Error, path, needle)
}

pub fn assert_warning(text: &str, path: &str, needle: &str) -> Diagnostic {
    assert_diag(text, Level::Warning, path, needle)
}

/// The 1-based line of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> u32 {
    let i = text
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    u32::try_from(i + 1).unwrap_or(u32::MAX)
}
