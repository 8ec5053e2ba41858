//! `verimesh authz check` as a user runs it: decisions, statuses, JSON and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn verimesh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verimesh"))
        .args(args)
        .output()
        .expect("run verimesh")
}

fn bookinfo() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/bookinfo")
        .display()
        .to_string()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

const PRODUCTPAGE: &str = "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage";

#[test]
fn allowed_request_text() {
    let dir = bookinfo();
    let out = verimesh(&[
        "authz",
        "check",
        "--config",
        &dir,
        "--to",
        "bookinfo/reviews-v1",
        "--port",
        "9080",
        "--path",
        "/reviews/1?x=1",
        "--source-principal",
        PRODUCTPAGE,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("ALLOW (200 OK)"), "{text}");
    assert!(
        text.contains("decided by: ALLOW bookinfo/reviews rule 0"),
        "{text}"
    );
}

#[test]
fn denied_request_json_explains() {
    let dir = bookinfo();
    let out = verimesh(&[
        "authz",
        "check",
        "--config",
        &dir,
        "--to",
        "bookinfo/reviews-v1",
        "--path",
        "/reviews/1",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["decision"], "DENY");
    assert_eq!(v["status"], 403);
    assert_eq!(v["policy"], serde_json::Value::Null);
    assert_eq!(v["rule"], serde_json::Value::Null);
    let reasons = v["reasons"].as_array().unwrap();
    assert!(
        reasons.iter().any(|r| r
            .as_str()
            .unwrap()
            .contains("bookinfo/reviews rule 0: from[0].source.principals")),
        "{reasons:?}"
    );
}

/// A directory holding `yaml` as config.yaml, removed when it is dropped.
fn temp_config(yaml: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("config.yaml"), yaml).expect("write temp config");
    d
}

const CONFIG: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: api:1}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm, namespace: shop}
spec:
  address: 10.1.2.3
  labels: {app: db}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/admin", "/admin/*"]}
  - when:
    - key: request.headers[x-role]
      values: [intruder]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-from-api, namespace: shop}
spec:
  selector: {matchLabels: {app: db}}
  rules:
  - from:
    - source: {principals: [cluster.local/ns/shop/sa/api]}
    to:
    - operation: {ports: ["5432"]}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: jwt, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  jwtRules:
  - issuer: https://issuer.example
    jwks: '{"keys": []}'
"#;

fn check(dir: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let d = dir.display().to_string();
    let mut args = vec!["authz", "check", "--config", d.as_str(), "--output", "json"];
    args.extend_from_slice(extra);
    let out = verimesh(&args);
    (out.status.code(), json(&out))
}

#[test]
fn statuses_400_401_403_and_raw_paths() {
    let tmp = temp_config(CONFIG);
    let dir = tmp.path();
    let (code, v) = check(dir, &["--to", "shop/api", "--path", "/public/../admin?x#y"]);
    assert_eq!((code, v["status"].as_u64()), (Some(1), Some(403)));
    assert_eq!(v["policy"], "shop/deny-admin");
    assert_eq!(v["rule"], 0);
    let (_, v) = check(
        dir,
        &[
            "--to",
            "shop/api",
            "--header",
            "X-Role: intruder ",
            "--header",
            "x-role: ok",
        ],
    );
    assert_eq!(
        (v["status"].as_u64(), v["rule"].as_u64()),
        (Some(403), Some(1))
    );
    let (_, v) = check(dir, &["--to", "shop/api", "--method", "get"]);
    assert_eq!(v["status"], 400);
    assert!(v["reasons"][0].as_str().unwrap().contains("invalid method"));
    let (_, v) = check(dir, &["--to", "shop/api", "--jwt", "not.a.token"]);
    assert_eq!(v["status"], 401);
    let (code, v) = check(dir, &["--to", "shop/api", "--path", "/ok"]);
    assert_eq!((code, v["decision"].as_str()), (Some(0), Some("ALLOW")));
}

#[test]
fn tcp_to_a_workload_entry() {
    let tmp = temp_config(CONFIG);
    let dir = tmp.path();
    let api = "spiffe://cluster.local/ns/shop/sa/api";
    let (code, v) = check(
        dir,
        &[
            "--to",
            "shop/vm",
            "--protocol",
            "tcp",
            "--port",
            "5432",
            "--source-principal",
            api,
        ],
    );
    assert_eq!(code, Some(0));
    assert_eq!(v["status"], serde_json::Value::Null);
    assert_eq!(v["policy"], "shop/db-from-api");
    let (code, v) = check(
        dir,
        &["--to", "shop/vm", "--protocol", "tcp", "--port", "5432"],
    );
    assert_eq!((code, v["decision"].as_str()), (Some(1), Some("DENY")));
}

#[test]
fn unknown_workload_is_an_input_error() {
    let tmp = temp_config(CONFIG);
    let dir = tmp.path();
    let d = dir.display().to_string();
    let out = verimesh(&["authz", "check", "--config", &d, "--to", "shop/nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no Deployment, Pod or WorkloadEntry shop/nope"));
}
