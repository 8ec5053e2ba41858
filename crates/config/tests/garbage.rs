//! Hostile and malformed input: every case must produce diagnostics, never a panic, and never
//! a resource that silently lost what it was given.

use verimesh_config::{load_str, Level, Loaded};

fn load(text: &str) -> Loaded {
    let mut l = Loaded::default();
    load_str(&mut l, "garbage.yaml", text);
    l
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for len in [0usize, 1, 7, 64, 512, 4096] {
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|_| (rng.next() & 0xff) as u8).collect();
            let text = String::from_utf8_lossy(&bytes);
            let _ = load(&text);
        }
    }
}

#[test]
fn random_yaml_punctuation_never_panics() {
    const ALPHABET: &[u8] = b"-:[]{}&*!|>'\"%@`#,? \n\tabc123";
    let mut rng = XorShift(42);
    for _ in 0..3000 {
        let len = (rng.next() % 80) as usize;
        let text: String = (0..len)
            .map(|_| ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize] as char)
            .collect();
        let _ = load(&text);
    }
}

#[test]
fn mutated_resources_never_panic() {
    let base = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r\n  namespace: ns\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination:\n        host: reviews\n        port: {number: 9080}\n      weight: 100\n";
    let mut rng = XorShift(7);
    let bytes = base.as_bytes();
    for _ in 0..3000 {
        let mut m = bytes.to_vec();
        for _ in 0..(1 + rng.next() % 4) {
            let i = (rng.next() as usize) % m.len();
            m[i] = b"x9:-[]{} \n'"[(rng.next() % 11) as usize];
        }
        let _ = load(&String::from_utf8_lossy(&m));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for depth in [200usize, 10_000, 100_000] {
        let text = format!("a: {}{}", "[".repeat(depth), "]".repeat(depth));
        let l = load(&text);
        assert!(l.has_errors(), "depth {depth}");
        let text = format!("a: {}1{}", "{b: ".repeat(depth), "}".repeat(depth));
        assert!(load(&text).has_errors(), "map depth {depth}");
    }
}

#[test]
fn huge_strings_are_handled() {
    let big = "x".repeat(5_000_000);
    let l = load(&format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {big}\n"
    ));
    let d = l
        .diagnostics
        .iter()
        .find(|d| d.level == Level::Error)
        .expect("an over-long name is an error");
    assert_eq!(d.path.to_string(), "metadata.name");
    assert_eq!(d.origin.pos.line, 4);
}

#[test]
fn wrong_types_name_the_field() {
    let cases = [
        ("metadata: [1, 2]", "metadata"),
        ("metadata:\n  name: x\n  labels: 7", "metadata.labels"),
        (
            "metadata:\n  name: x\n  annotations: {a: [1]}",
            "metadata.annotations.a",
        ),
    ];
    for (meta, path) in cases {
        let l = load(&format!("apiVersion: v1\nkind: Namespace\n{meta}\n"));
        let d = l
            .diagnostics
            .iter()
            .find(|d| d.level == Level::Error)
            .unwrap_or_else(|| panic!("no error for {meta:?}"));
        assert_eq!(d.path.to_string(), path, "{meta:?}: {d}");
    }
}

#[test]
fn one_bad_document_does_not_hide_the_others() {
    let l = load(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n- not a resource\n---\nkind: Namespace\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
    );
    let names: Vec<_> = l.resources.iter().map(|r| r.name().to_string()).collect();
    assert_eq!(names, ["a", "b"]);
    let errors: Vec<_> = l
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].origin.pos.line, 5);
    assert_eq!(errors[1].path.to_string(), "apiVersion");
}

#[test]
fn unknown_kinds_are_info_and_skipped() {
    let l = load("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n");
    assert!(l.resources.is_empty());
    assert_eq!(l.diagnostics.len(), 1);
    assert_eq!(l.diagnostics[0].level, Level::Info);
}

#[test]
fn lists_are_expanded_with_item_positions() {
    let l = load("apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: b}\n");
    assert_eq!(l.resources.len(), 2);
    assert_eq!(l.resources[1].origin.pos.line, 7);
}

#[test]
fn unknown_service_protocols_keep_the_resource_and_are_errors() {
    let l = load("apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a}\nspec:\n  ports:\n  - {name: http, port: 80, protocol: HTTP}\n");
    assert_eq!(l.resources.len(), 1);
    assert!(!l.resources[0].valid);
    let d = &l.diagnostics[0];
    assert_eq!(d.path.to_string(), "spec.ports[0].protocol");
    assert!(d.message.contains("not one of TCP, UDP, SCTP"), "{d}");
}
