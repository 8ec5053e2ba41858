//! Sidecar: a full example decodes; each validation rule is reported at its field.

mod support;

use support::{assert_clean, assert_error, assert_warning, doc};
use verimesh_config::networking::{CaptureMode, OutboundTrafficPolicyMode};
use verimesh_config::Body;

const FULL: &str = r#"
workloadSelector:
  labels:
    app: ratings
ingress:
- port:
    number: 9080
    protocol: HTTP
    name: http
  defaultEndpoint: 127.0.0.1:8080
  captureMode: IPTABLES
  connectionPool:
    http:
      http1MaxPendingRequests: 100
- port:
    number: 9443
    protocol: HTTPS
    name: https
  bind: 0.0.0.0
  defaultEndpoint: "[::1]:8443"
  tls:
    mode: SIMPLE
    serverCertificate: /etc/certs/cert.pem
    privateKey: /etc/certs/key.pem
- port:
    number: 9090
    protocol: TCP
    name: tcp
  defaultEndpoint: unix:///var/run/app.sock
inboundConnectionPool:
  tcp:
    maxConnections: 500
egress:
- port:
    number: 0
    protocol: HTTP
    name: uds
  bind: unix:///var/run/egress.sock
  captureMode: NONE
  hosts: ["*/*"]
- port:
    number: 9080
    protocol: HTTP
    name: egresshttp
  hosts:
  - "prod-us1/*"
  - "~prod-us2/reviews.prod-us2.svc.cluster.local"
- hosts:
  - "./*"
  - "istio-system/*"
  - "*/*.example.com"
outboundTrafficPolicy:
  mode: ALLOW_ANY
  egressProxy:
    host: egress-proxy.istio-system.svc.cluster.local
    subset: v1
    port:
      number: 3128
"#;

#[test]
fn full_example_decodes() {
    let text = doc("Sidecar", "ratings", FULL);
    let loaded = assert_clean(&text);
    let Body::Sidecar(sc) = &loaded.resources[0].body else {
        panic!("not a Sidecar");
    };
    assert_eq!(sc.ingress[0].capture_mode, Some(CaptureMode::Iptables));
    assert_eq!(
        sc.outbound_traffic_policy.as_ref().and_then(|o| o.mode),
        Some(OutboundTrafficPolicyMode::AllowAny)
    );
    let json = loaded.resources[0].body.to_json();
    let back: verimesh_config::networking::Sidecar =
        serde_json::from_value(json).expect("round trip");
    assert_eq!(&back, sc);
}

const EG: &str = "egress:\n- hosts: [\"./*\"]\n";

fn ingress(port: &str, rest: &str) -> String {
    format!("ingress:\n- port:\n{port}{rest}")
}

const P9080: &str = "    number: 9080\n    protocol: HTTP\n    name: http\n";
const P9443: &str = "    number: 9443\n    protocol: HTTPS\n    name: https\n";

/// (spec, path of the error, part of its message)
fn cases() -> Vec<(String, &'static str, &'static str)> {
    let tls = |t: &str| ingress(P9443, &format!("  tls:\n{t}"));
    vec![
        ("workloadSelector:\n  labels:\n    app: a\n".to_string(), "spec", "needs ingress, egress"),
        (format!("workloadSelector:\n  labels:\n    app: \"*\"\n{EG}"), "spec.workloadSelector.labels.app", "wildcard"),
        // ingress
        ("ingress:\n- defaultEndpoint: 127.0.0.1:80\n".to_string(), "spec.ingress[0].port", "needs a port"),
        (ingress("    number: 0\n", ""), "spec.ingress[0].port.number", "1..65535"),
        (ingress("    number: 80\n    protocol: XYZ\n", ""), "spec.ingress[0].port.protocol", "unsupported"),
        (ingress("    number: 80\n    name: Bad_Name\n", ""), "spec.ingress[0].port.name", "port name"),
        (ingress("    number: 80\n    targetPort: 8080\n", ""), "spec.ingress[0].port.targetPort", "no effect"),
        (ingress(P9080, "  bind: localhost\n"), "spec.ingress[0].bind", "IP address"),
        (format!("{}- port:\n{P9080}", ingress(P9080, "")), "spec.ingress[1].port.number", "used by another"),
        (ingress(P9080, "  defaultEndpoint: 10.0.0.1:8080\n"), "spec.ingress[0].defaultEndpoint", "127.0.0.1"),
        (ingress(P9080, "  defaultEndpoint: 127.0.0.1:http\n"), "spec.ingress[0].defaultEndpoint", "not a number"),
        (ingress(P9080, "  defaultEndpoint: 127.0.0.1\n"), "spec.ingress[0].defaultEndpoint", "<address>:<port>"),
        (ingress(P9080, "  defaultEndpoint: unix://rel\n"), "spec.ingress[0].defaultEndpoint", "absolute path"),
        (ingress(P9080, "  connectionPool: {}\n"), "spec.ingress[0].connectionPool", "tcp or http"),
        // ingress TLS
        (ingress(P9080, "  tls:\n    mode: SIMPLE\n    serverCertificate: /c\n    privateKey: /k\n"), "spec.ingress[0].tls", "only HTTPS and TLS"),
        (tls("    mode: ISTIO_MUTUAL\n"), "spec.ingress[0].tls.mode", "ISTIO_MUTUAL"),
        (tls("    mode: SIMPLE\n    credentialName: c\n"), "spec.ingress[0].tls.credentialName", "not supported"),
        (tls("    mode: SIMPLE\n    serverCertificate: /c\n    privateKey: /k\n    httpsRedirect: true\n"), "spec.ingress[0].tls.httpsRedirect", "not supported"),
        (tls("    mode: SIMPLE\n    serverCertificate: /c\n    privateKey: /k\n    subjectAltNames: [a]\n"), "spec.ingress[0].tls.subjectAltNames", "not supported"),
        (tls("    mode: SIMPLE\n    serverCertificate: /c\n"), "spec.ingress[0].tls", "privateKey"),
        // inbound pool
        ("inboundConnectionPool:\n  http:\n    maxRetries: -1\n".to_string(), "spec.inboundConnectionPool.http.maxRetries", "negative"),
        // egress
        ("egress:\n- port:\n    number: 80\n".to_string(), "spec.egress[0].hosts", "at least one host"),
        ("egress:\n- hosts: [\"./*\"]\n- hosts: [\"ns/*\"]\n".to_string(), "spec.egress[0]", "must be the last"),
        ("egress:\n- port:\n    number: 80\n  hosts: [\"./*\"]\n- port:\n    number: 80\n  hosts: [\"ns/*\"]\n".to_string(), "spec.egress[1].port.number", "used by another"),
        ("egress:\n- port:\n    number: 0\n  hosts: [\"./*\"]\n".to_string(), "spec.egress[0].port.number", "unix domain socket"),
        ("egress:\n- port:\n    number: 0\n  bind: unix:///a.sock\n  captureMode: IPTABLES\n  hosts: [\"./*\"]\n".to_string(), "spec.egress[0].captureMode", "DEFAULT or NONE"),
        ("egress:\n- port:\n    number: 0\n  bind: unix:///a.sock\n  hosts: [\"./*\"]\n- port:\n    number: 0\n  bind: unix:///a.sock\n  hosts: [\"./*\"]\n".to_string(), "spec.egress[1].bind", "different sockets"),
        ("egress:\n- port:\n    number: 80\n  bind: nope\n  hosts: [\"./*\"]\n".to_string(), "spec.egress[0].bind", "IP address"),
        ("egress:\n- port:\n    number: 80\n    protocol: FOO\n  hosts: [\"./*\"]\n".to_string(), "spec.egress[0].port.protocol", "unsupported"),
        ("egress:\n- hosts: [reviews.default.svc.cluster.local]\n".to_string(), "spec.egress[0].hosts[0]", "namespace/dnsName"),
        ("egress:\n- hosts: [\"ns/reviews\"]\n".to_string(), "spec.egress[0].hosts[0]", "short name"),
        ("egress:\n- hosts: [\"Bad_NS/*\"]\n".to_string(), "spec.egress[0].hosts[0]", "namespace"),
        ("egress:\n- hosts: [\"ns/a*.com\"]\n".to_string(), "spec.egress[0].hosts[0]", "partial wildcard"),
        ("egress:\n- hosts: [\"ns/10.0.0.1\"]\n".to_string(), "spec.egress[0].hosts[0]", "all digits"),
        // outbound traffic policy
        (format!("{EG}outboundTrafficPolicy:\n  egressProxy:\n    host: p.com\n    port:\n      number: 80\n"), "spec.outboundTrafficPolicy.egressProxy", "ALLOW_ANY"),
        (format!("{EG}outboundTrafficPolicy:\n  mode: ALLOW_ANY\n  egressProxy:\n    host: p.com\n"), "spec.outboundTrafficPolicy.egressProxy.port", "needs a port"),
        (format!("{EG}outboundTrafficPolicy:\n  mode: ALLOW_ANY\n  egressProxy:\n    host: \"*.p.com\"\n    port:\n      number: 80\n"), "spec.outboundTrafficPolicy.egressProxy.host", "invalid"),
        (format!("{EG}outboundTrafficPolicy:\n  mode: ALLOW_ANY_DYNAMIC_DNS\n"), "spec.outboundTrafficPolicy.mode", "ALLOW_ANY_DYNAMIC_DNS"),
    ]
}

#[test]
fn rules() {
    for (spec, path, needle) in cases() {
        assert_error(&doc("Sidecar", "sc", &spec), path, needle);
    }
}

#[test]
fn warnings() {
    let sc = |s: &str| doc("Sidecar", "sc", s);
    assert_warning(
        &sc(&format!("workloadSelector: {{}}\n{EG}")),
        "spec.workloadSelector",
        "no labels",
    );
    assert_warning(
        &sc("egress:\n- hosts: [\"ns/*\", \"ns/a.com\"]\n"),
        "spec.egress[0].hosts[1]",
        "already covered",
    );
    assert_warning(
        &sc("egress:\n- hosts: [\"ns1/a.com\", \"./*\"]\n"),
        "spec.egress[0].hosts[1]",
        "already covered",
    );
    assert_warning(
        &sc("egress:\n- hosts: [\"*/*\", \"ns/a.com\"]\n"),
        "spec.egress[0].hosts",
        "every service",
    );
    assert_warning(
        &sc(&ingress(
            "    number: 9000\n    protocol: TCP\n",
            "  connectionPool:\n    http:\n      maxRetries: 3\n",
        )),
        "spec.ingress[0].connectionPool.http",
        "tcp connection pool",
    );
}
