//! WorkloadEntry and WorkloadGroup: full examples decode; each rule is reported at its field.

mod support;

use support::{assert_clean, assert_error, assert_warning, doc};
use verimesh_config::Body;

const ENTRY: &str = r#"
address: 2.2.2.2
ports:
  http: 8080
  grpc: 9090
labels:
  app: details-legacy
  instance-id: vm1
network: vm-network
locality: us-central1/us-central1-a
weight: 5
serviceAccount: details-legacy
"#;

const GROUP: &str = r#"
metadata:
  labels:
    app: reviews
  annotations:
    example.com/owner: team-a
template:
  ports:
    http: 9080
  serviceAccount: reviews
  network: vm-net
probe:
  initialDelaySeconds: 5
  timeoutSeconds: 3
  periodSeconds: 4
  successThreshold: 3
  failureThreshold: 3
  httpGet:
    path: /ready
    port: 9080
    host: 127.0.0.1
    scheme: HTTPS
    httpHeaders:
    - name: Lit-Header
      value: Im-The-Best
"#;

#[test]
fn full_examples_decode() {
    let loaded = assert_clean(&doc("WorkloadEntry", "vm1", ENTRY));
    let Body::WorkloadEntry(we) = &loaded.resources[0].body else {
        panic!("not a WorkloadEntry");
    };
    assert_eq!(we.weight, Some(5));
    assert_eq!(we.ports.get("grpc"), Some(&9090));
    let json = loaded.resources[0].body.to_json();
    let back: verimesh_config::networking::WorkloadEntry =
        serde_json::from_value(json).expect("round trip");
    assert_eq!(&back, we);

    let loaded = assert_clean(&doc("WorkloadGroup", "reviews", GROUP));
    let Body::WorkloadGroup(wg) = &loaded.resources[0].body else {
        panic!("not a WorkloadGroup");
    };
    let probe = wg.probe.as_ref().expect("probe");
    assert_eq!(probe.http_get.as_ref().map(|h| h.port), Some(9080));
    let json = loaded.resources[0].body.to_json();
    let back: verimesh_config::networking::WorkloadGroup =
        serde_json::from_value(json).expect("round trip");
    assert_eq!(&back, wg);

    for probe in [
        "tcpSocket:\n  port: 9080\n",
        "exec:\n  command: [cat, /tmp/ready]\n",
        "grpc:\n  port: 9090\n  service: health\n",
    ] {
        let spec = format!(
            "template:\n  ports:\n    http: 80\nprobe:\n{}",
            indent(probe)
        );
        assert_clean(&doc("WorkloadGroup", "g", &spec));
    }
    assert_clean(&doc("WorkloadEntry", "we", "address: vm1.example.com\n"));
    assert_clean(&doc(
        "WorkloadEntry",
        "we",
        "address: unix:///var/run/vm.sock\n",
    ));
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

const ENTRY_ERRORS: &[(&str, &str, &str)] = &[
    ("labels:\n  app: a\n", "spec.address", "required"),
    (
        "address: \"bad_host!\"\n",
        "spec.address",
        "IP address or a fully qualified",
    ),
    (
        "address: unix://var/run/a.sock\n",
        "spec.address",
        "absolute path",
    ),
    (
        "address: unix:///var/run/\n",
        "spec.address",
        "absolute path",
    ),
    (
        "address: unix:///a.sock\nports:\n  http: 80\n",
        "spec.ports",
        "unix domain socket",
    ),
    (
        "address: 1.1.1.1\nports:\n  http: 70000\n",
        "spec.ports.http",
        "1..65535",
    ),
    (
        "address: 1.1.1.1\nports:\n  Bad_Name: 80\n",
        "spec.ports.Bad_Name",
        "port name",
    ),
    (
        "address: 1.1.1.1\nlabels:\n  \"a/b/c\": x\n",
        "spec.labels.a/b/c",
        "label key",
    ),
];

#[test]
fn entry_rules() {
    for (spec, path, needle) in ENTRY_ERRORS {
        assert_error(&doc("WorkloadEntry", "we", spec), path, needle);
    }
    let long = format!("address: {}.com\n", "a".repeat(300));
    assert_error(&doc("WorkloadEntry", "we", &long), "spec.address", "256");
    assert_warning(
        &doc("WorkloadEntry", "we", "network: n1\n"),
        "spec.address",
        "network",
    );
}

const GROUP_ERRORS: &[(&str, &str, &str)] = &[
    (
        "probe:\n  tcpSocket:\n    port: 80\n",
        "spec.template",
        "required",
    ),
    (
        "template:\n  ports:\n    http: 0\n",
        "spec.template.ports.http",
        "1..65535",
    ),
    (
        "template: {}\nmetadata:\n  labels:\n    \"-x\": y\n",
        "spec.metadata.labels.-x",
        "label key",
    ),
    (
        "template: {}\nprobe:\n  periodSeconds: -1\n  exec:\n    command: [a]\n",
        "spec.probe.periodSeconds",
        "negative",
    ),
    (
        "template: {}\nprobe:\n  initialDelaySeconds: -1\n  exec:\n    command: [a]\n",
        "spec.probe.initialDelaySeconds",
        "negative",
    ),
    (
        "template: {}\nprobe:\n  timeoutSeconds: -1\n  exec:\n    command: [a]\n",
        "spec.probe.timeoutSeconds",
        "negative",
    ),
    (
        "template: {}\nprobe:\n  successThreshold: -1\n  exec:\n    command: [a]\n",
        "spec.probe.successThreshold",
        "negative",
    ),
    (
        "template: {}\nprobe:\n  failureThreshold: -1\n  exec:\n    command: [a]\n",
        "spec.probe.failureThreshold",
        "negative",
    ),
    (
        "template: {}\nprobe:\n  periodSeconds: 5\n",
        "spec.probe",
        "needs one of",
    ),
    (
        "template: {}\nprobe:\n  exec:\n    command: [a]\n  tcpSocket:\n    port: 80\n",
        "spec.probe",
        "only one of",
    ),
    (
        "template: {}\nprobe:\n  httpGet:\n    path: /\n",
        "spec.probe.httpGet.port",
        "1..65535",
    ),
    (
        "template: {}\nprobe:\n  httpGet:\n    port: 80\n    scheme: ftp\n",
        "spec.probe.httpGet.scheme",
        "HTTP or HTTPS",
    ),
    (
        "template: {}\nprobe:\n  httpGet:\n    port: 80\n    httpHeaders:\n    - name: \"X_Bad\"\n",
        "spec.probe.httpGet.httpHeaders[0].name",
        "letters, digits",
    ),
    (
        "template: {}\nprobe:\n  tcpSocket:\n    host: a\n",
        "spec.probe.tcpSocket.port",
        "1..65535",
    ),
    (
        "template: {}\nprobe:\n  exec: {}\n",
        "spec.probe.exec.command",
        "needs a command",
    ),
    (
        "template: {}\nprobe:\n  exec:\n    command: [\"\"]\n",
        "spec.probe.exec.command[0]",
        "must not be empty",
    ),
    (
        "template: {}\nprobe:\n  grpc:\n    port: 0\n",
        "spec.probe.grpc.port",
        "1..65535",
    ),
];

#[test]
fn group_rules() {
    for (spec, path, needle) in GROUP_ERRORS {
        assert_error(&doc("WorkloadGroup", "wg", spec), path, needle);
    }
}
