//! ServiceEntry: a full example decodes; each validation rule is reported at its field.

mod support;

use support::{assert_clean, assert_error, assert_warning, doc, load};
use verimesh_config::networking::{Location, Resolution};
use verimesh_config::Body;

const FULL: &str = r#"
hosts:
- api.example.com
- "*.cdn.example.com"
addresses:
- 192.0.2.10
- 2001:db8::10
ports:
- number: 443
  name: https
  protocol: HTTPS
- number: 80
  name: http
  protocol: HTTP
  targetPort: 8080
location: MESH_EXTERNAL
resolution: STATIC
endpoints:
- address: 192.0.2.1
  ports:
    https: 8443
  labels:
    version: v1
  network: network1
  locality: us-west/zone1
  weight: 10
  serviceAccount: api
- address: 192.0.2.2
exportTo: ["*"]
subjectAltNames: [spiffe://cluster.local/ns/ns1/sa/api]
"#;

#[test]
fn full_example_decodes() {
    let text = doc("ServiceEntry", "external-api", FULL);
    let loaded = assert_clean(&text);
    let Body::ServiceEntry(se) = &loaded.resources[0].body else {
        panic!("not a ServiceEntry");
    };
    assert_eq!(se.resolution, Some(Resolution::Static));
    assert_eq!(se.location, Some(Location::MeshExternal));
    assert_eq!(se.endpoints[0].ports.get("https"), Some(&8443));
    let json = loaded.resources[0].body.to_json();
    let back: verimesh_config::networking::ServiceEntry =
        serde_json::from_value(json).expect("round trip");
    assert_eq!(&back, se);
}

#[test]
fn other_resolutions_decode() {
    for spec in [
        "hosts: [www.google.com]\nports:\n- number: 443\n  name: tls\n  protocol: TLS\nresolution: DNS\nlocation: MESH_EXTERNAL\n",
        "hosts: [db.internal]\nports:\n- number: 5432\n  name: tcp-pg\n  protocol: TCP\nresolution: DNS_ROUND_ROBIN\nendpoints:\n- address: db.example.com\n",
        "hosts: [\"*.wikipedia.org\"]\nports:\n- number: 443\n  name: tls\n  protocol: TLS\nresolution: DYNAMIC_DNS\n",
        "hosts: [vm.internal]\nports:\n- number: 80\n  name: http\n  protocol: HTTP\nresolution: STATIC\nlocation: MESH_INTERNAL\nworkloadSelector:\n  labels:\n    app: vm\n",
        "hosts: [internal.net]\naddresses: [10.0.0.0/16]\nports:\n- number: 80\n  name: http\n  protocol: HTTP\nresolution: NONE\nexportTo: [\"~\"]\n",
        "hosts: [uds.local]\nports:\n- number: 80\n  name: http\n  protocol: HTTP\nresolution: STATIC\nendpoints:\n- address: unix:///var/run/app.sock\n",
    ] {
        assert_clean(&doc("ServiceEntry", "se", spec));
    }
}

const P80: &str = "ports:\n- number: 80\n  name: http\n  protocol: HTTP\n";

/// (spec, path of the error, part of its message)
fn cases() -> Vec<(String, &'static str, &'static str)> {
    vec![
        // hosts
        (P80.to_string(), "spec.hosts", "at least one host"),
        (format!("hosts: [\"*\"]\n{P80}"), "spec.hosts[0]", "not allowed"),
        (format!("hosts: [\"a..b\"]\n{P80}"), "spec.hosts[0]", "invalid"),
        // addresses
        (format!("hosts: [a.com]\naddresses: [300.1.1.1]\n{P80}"), "spec.addresses[0]", "IP address"),
        (format!("hosts: [a.com]\naddresses: [10.0.0.0/8]\n{P80}resolution: DNS\n"), "spec.addresses", "CIDR"),
        // ports
        ("hosts: [a.com]\nports:\n- number: 80\n  name: http\n- number: 81\n  name: http\n".to_string(), "spec.ports[1].name", "already used"),
        ("hosts: [a.com]\nports:\n- number: 80\n  name: a\n- number: 80\n  name: b\n".to_string(), "spec.ports[1].number", "already used"),
        ("hosts: [a.com]\nports:\n- number: 80\n  name: Bad_Name\n".to_string(), "spec.ports[0].name", "port name"),
        ("hosts: [a.com]\nports:\n- number: 80\n  name: h\n  protocol: QUIC\n".to_string(), "spec.ports[0].protocol", "unsupported"),
        ("hosts: [a.com]\nports:\n- number: 0\n  name: h\n".to_string(), "spec.ports[0].number", "1..65535"),
        ("hosts: [a.com]\nports:\n- number: 80\n  name: h\n  targetPort: 70000\n".to_string(), "spec.ports[0].targetPort", "1..65535"),
        // workload selector
        (format!("hosts: [a.com]\n{P80}resolution: STATIC\nworkloadSelector:\n  labels:\n    app: a\nendpoints:\n- address: 1.1.1.1\n"), "spec.endpoints", "cannot both be set"),
        (format!("hosts: [a.com]\n{P80}resolution: STATIC\nworkloadSelector:\n  labels:\n    \"app*\": a\n"), "spec.workloadSelector.labels.app*", "wildcard"),
        // NONE
        (format!("hosts: [a.com]\n{P80}endpoints:\n- address: 1.1.1.1\n"), "spec.endpoints", "resolution NONE"),
        // STATIC endpoints
        (format!("hosts: [a.com]\n{P80}resolution: STATIC\nendpoints:\n- address: foo.com\n"), "spec.endpoints[0].address", "IP address"),
        (format!("hosts: [a.com]\n{P80}resolution: STATIC\nendpoints:\n- labels:\n    a: b\n"), "spec.endpoints[0].address", "required"),
        (format!("hosts: [a.com]\n{P80}resolution: STATIC\nendpoints:\n- address: 1.1.1.1\n  ports:\n    grpc: 8080\n"), "spec.endpoints[0].ports.grpc", "not a port name"),
        (format!("hosts: [a.com]\n{P80}resolution: STATIC\nendpoints:\n- address: 1.1.1.1\n  ports:\n    http: 0\n"), "spec.endpoints[0].ports.http", "1..65535"),
        (format!("hosts: [a.com]\n{P80}resolution: STATIC\nendpoints:\n- address: 1.1.1.1\n  labels:\n    app: \"bad value!\"\n"), "spec.endpoints[0].labels.app", "label value"),
        (format!("hosts: [a.com]\n{P80}resolution: STATIC\nendpoints:\n- address: unix://relative.sock\n"), "spec.endpoints[0].address", "absolute path"),
        (format!("hosts: [a.com]\n{P80}resolution: STATIC\nendpoints:\n- address: unix:///a.sock\n  ports:\n    http: 80\n"), "spec.endpoints[0].ports", "unix domain socket"),
        ("hosts: [a.com]\nports:\n- number: 80\n  name: http\n- number: 81\n  name: http2\nresolution: STATIC\nendpoints:\n- address: unix:///a.sock\n".to_string(), "spec.endpoints[0].address", "exactly one port"),
        // DNS
        (format!("hosts: [\"*.a.com\"]\n{P80}resolution: DNS\n"), "spec.hosts[0]", "fully qualified"),
        (format!("hosts: [a.com]\n{P80}resolution: DNS_ROUND_ROBIN\nendpoints:\n- address: a.com\n- address: b.com\n"), "spec.endpoints", "at most one endpoint"),
        (format!("hosts: [a.com]\n{P80}resolution: DNS\nendpoints:\n- address: \"-bad-.com\"\n"), "spec.endpoints[0].address", "fully qualified"),
        // DYNAMIC_DNS
        (format!("hosts: [a.com]\n{P80}resolution: DYNAMIC_DNS\n"), "spec.hosts[0]", "wildcard hosts"),
        (format!("hosts: [\"*.a.com\"]\naddresses: [1.1.1.1]\n{P80}resolution: DYNAMIC_DNS\n"), "spec.addresses", "DYNAMIC_DNS"),
        (format!("hosts: [\"*.a.com\"]\n{P80}resolution: DYNAMIC_DNS\nendpoints:\n- address: 1.1.1.1\n"), "spec.endpoints", "DYNAMIC_DNS"),
        ("hosts: [\"*.a.com\"]\nports:\n- number: 27017\n  name: mongo\n  protocol: MONGO\nresolution: DYNAMIC_DNS\n".to_string(), "spec.ports[0].protocol", "only HTTP, TLS, GRPC and HTTP2"),
        // several hosts need HTTP or TLS ports
        ("hosts: [a.com, b.com]\nports:\n- number: 5432\n  name: tcp\n  protocol: TCP\nresolution: DNS\n".to_string(), "spec.ports[0].protocol", "several hosts"),
        // exportTo
        (format!("hosts: [a.com]\n{P80}exportTo: [\"~\", ns2]\n"), "spec.exportTo", "no one"),
    ]
}

#[test]
fn rules() {
    for (spec, path, needle) in cases() {
        assert_error(&doc("ServiceEntry", "se", &spec), path, needle);
    }
}

#[test]
fn dynamic_dns_internal_with_waypoint() {
    let text = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: se\n  labels:\n    istio.io/use-waypoint: waypoint\nspec:\n  hosts: [\"*.a.com\"]\n  ports:\n  - number: 80\n    name: http\n    protocol: HTTP\n  resolution: DYNAMIC_DNS\n  location: MESH_INTERNAL\n";
    assert_error(text, "spec.location", "waypoint");
    assert!(load(&text.replace("waypoint\n", "none\n"))
        .diagnostics
        .is_empty());
}

#[test]
fn warnings() {
    let se = |s: &str| doc("ServiceEntry", "se", s);
    assert_warning(
        &se(&format!("hosts: [\"a*.com\"]\n{P80}")),
        "spec.hosts[0]",
        "partial wildcard",
    );
    assert_warning(
        &se(&format!(
            "hosts: [a.com]\n{P80}workloadSelector:\n  labels:\n    app: a\n"
        )),
        "spec.workloadSelector",
        "no effect",
    );
    assert_warning(
        &se(&format!(
            "hosts: [a.com]\n{P80}resolution: STATIC\nworkloadSelector: {{}}\n"
        )),
        "spec.workloadSelector",
        "no labels",
    );
    assert_warning(
        &se("hosts: [a.com, b.com]\naddresses: [1.1.1.1]\nports:\n- number: 443\n  name: tls\n  protocol: TLS\nresolution: DNS\n"),
        "spec.hosts",
        "one host",
    );
    assert_warning(
        &se(&format!(
            "hosts: [a.com]\n{P80}resolution: STATIC\nendpoints:\n- network: n2\n"
        )),
        "spec.endpoints[0].address",
        "network",
    );
}
