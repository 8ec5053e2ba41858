//! `verimesh analyze` as a user runs it: output formats and exit status.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn verimesh(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_verimesh"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn verimesh");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("wait")
}

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .expect("repo root")
}

#[test]
fn example_is_clean_and_exits_zero() {
    let dir = repo_root().join("examples/bookinfo");
    let out = verimesh(&["analyze", dir.to_str().expect("utf8")], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("No issues found"), "{stdout}");
}

#[test]
fn schema_errors_exit_one_with_file_line_and_field() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: good\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: Bad_Name\n",
    )
    .expect("write");
    let out = verimesh(&["analyze", file.to_str().expect("utf8")], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout.lines().next().expect("a message");
    assert!(
        line.starts_with("Error [IST0106] (Namespace Bad_Name "),
        "{line}"
    );
    assert!(line.contains("bad.yaml:9:3) metadata.name:"), "{line}");
}

#[test]
fn json_output_has_the_documented_keys() {
    let out = verimesh(
        &["analyze", "--output", "json", "-"],
        Some("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels: {'-bad': y}\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let first = &v.as_array().expect("array")[0];
    assert_eq!(first["code"], "IST0106");
    assert_eq!(first["level"], "Error");
    assert!(first["message"]
        .as_str()
        .expect("message")
        .contains("metadata.labels"));
    assert_eq!(first["resource"]["kind"], "Namespace");
    assert_eq!(first["resource"]["name"], "x");
    assert!(first["resource"]["namespace"].is_null());
    assert_eq!(first["origin"]["file"], "-");
    assert_eq!(first["origin"]["line"], 5);
}

#[test]
fn unusable_input_exits_two() {
    let out = verimesh(&["analyze", "/nonexistent/verimesh/input.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = verimesh(&["analyze", "-"], Some("a: [unclosed\n"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("VM0002"));
}

#[test]
fn unknown_kinds_are_info_only() {
    let out = verimesh(
        &["analyze", "-"],
        Some("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: a}\n"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("Info [VM0001] (Widget a/w -:1:1)"),
        "{stdout}"
    );
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        vec!["--help"],
        vec!["analyze", "--help"],
        vec!["conformance", "--help"],
        vec!["conformance", "istio-analyzers", "--help"],
        vec!["demo-app", "--help"],
    ] {
        let out = verimesh(&args, None);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    let out = verimesh(&["--version"], None);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("verimesh "));
}

#[test]
fn misconfigured_example_explains_each_mistake() {
    let dir = repo_root().join("examples/misconfigured");
    let out = verimesh(
        &["analyze", "-o", "json", dir.to_str().expect("utf8")],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let mut codes: Vec<(String, String)> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|m| {
            let file = m["origin"]["file"].as_str().unwrap_or_default();
            let file = file.rsplit('/').next().unwrap_or_default().to_string();
            (m["code"].as_str().unwrap_or_default().to_string(), file)
        })
        .collect();
    codes.sort();
    let expected = [
        ("IST0101", "routes.yaml"),
        ("IST0173", "http-routes-on-tcp.yaml"),
        ("VM0003", "mtls-conflict.yaml"),
        ("VM0004", "http-routes-on-tcp.yaml"),
        ("VM0005", "policy-typos.yaml"),
        ("VM0005", "policy-typos.yaml"),
        ("VM0006", "jwt-not-required.yaml"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(c, f)| ((*c).to_string(), (*f).to_string()))
        .collect();
    assert_eq!(codes, expected);
}

#[test]
fn mesh_config_fields_verimesh_ignores_are_warned_about() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let mesh = dir.join("mesh.yaml");
    std::fs::write(&mesh, "trustDomain: example.org\nsomeFutureKnob: true\n").expect("write");
    let example = repo_root().join("examples/bookinfo");
    let out = verimesh(
        &[
            "analyze",
            "--mesh-config",
            mesh.to_str().expect("utf8"),
            example.to_str().expect("utf8"),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Warning [VM0007]") && stdout.contains("mesh.yaml:2:1"),
        "{stdout}"
    );
    assert!(stdout.contains("someFutureKnob"), "{stdout}");

    std::fs::write(&mesh, "trustDomain: [x]\n").expect("write");
    let out = verimesh(
        &[
            "analyze",
            "--mesh-config",
            mesh.to_str().expect("utf8"),
            example.to_str().expect("utf8"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("IST0106"));
}
