//! Helpers shared by the kind tests: load a YAML text and look at what was reported.

#![allow(dead_code)]

use verimesh_config::{load_str, Level, Loaded};

pub fn load(text: &str) -> Loaded {
    let mut l = Loaded::default();
    load_str(&mut l, "f.yaml", text);
    l
}

/// Loads `text` and asserts it has no errors (warnings are allowed).
pub fn load_ok(text: &str) -> Loaded {
    let l = load(text);
    let errors: Vec<String> = l
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .map(ToString::to_string)
        .collect();
    assert!(
        errors.is_empty(),
        "unexpected errors:\n{}",
        errors.join("\n")
    );
    assert_eq!(l.resources.len(), 1, "{:?}", l.diagnostics);
    l
}

/// Asserts that loading `text` reports, at `level`, a diagnostic at `path` whose message
/// contains `message`.
pub fn assert_reports(text: &str, level: Level, path: &str, message: &str) {
    let l = load(text);
    let found = l
        .diagnostics
        .iter()
        .any(|d| d.level == level && d.path.to_string() == path && d.message.contains(message));
    let all: Vec<String> = l.diagnostics.iter().map(ToString::to_string).collect();
    assert!(
        found,
        "expected {level} at {path} containing {message:?}; got:\n{}",
        all.join("\n")
    );
}

pub fn assert_error(text: &str, path: &str, message: &str) {
    assert_reports(text, Level::Error, path, message);
}

pub fn assert_warning(text: &str, path: &str, message: &str) {
    assert_reports(text, Level::Warning, path, message);
}

/// A resource of `kind` (Istio style) with `spec` appended, indented under `spec:`.
pub fn istio(api: &str, kind: &str, spec: &str) -> String {
    let mut s =
        format!("apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: x\n  namespace: ns\nspec:\n");
    for line in spec.lines() {
        s.push_str("  ");
        s.push_str(line);
        s.push('\n');
    }
    s
}
