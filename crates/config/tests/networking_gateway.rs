//! Gateway: a full example decodes; each validation rule is reported at its field.

mod support;

use support::{assert_clean, assert_error, assert_warning, doc, line_of};
use verimesh_config::networking::{ServerTlsMode, TlsProtocol};
use verimesh_config::Body;

const FULL: &str = r#"
selector:
  istio: ingressgateway
servers:
- name: http
  port:
    number: 80
    name: http
    protocol: HTTP
  hosts:
  - "*"
  tls:
    httpsRedirect: true
- port:
    number: 443
    name: https
    protocol: HTTPS
  hosts:
  - ns1/bookinfo.example.com
  - "./*.example.com"
  tls:
    mode: SIMPLE
    credentialName: bookinfo-cert
    minProtocolVersion: TLSV1_2
    maxProtocolVersion: TLSV1_3
    cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, "[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]"]
- port:
    number: 8443
    name: https-mutual
    protocol: HTTPS
  bind: 0.0.0.0
  hosts:
  - "*/api.example.com"
  tls:
    mode: MUTUAL
    serverCertificate: /etc/certs/server.pem
    privateKey: /etc/certs/key.pem
    caCertificates: /etc/certs/ca.pem
    caCrl: /etc/certs/crl.pem
    subjectAltNames: [client.example.com]
    verifyCertificateSpki: [abc=]
    verifyCertificateHash: ["AB:CD"]
- port:
    number: 9443
    name: tls-two-certs
    protocol: TLS
  hosts: ["*.example.org"]
  tls:
    mode: OPTIONAL_MUTUAL
    tlsCertificates:
    - serverCertificate: /etc/rsa.pem
      privateKey: /etc/rsa.key
    - serverCertificate: /etc/ecdsa.pem
      privateKey: /etc/ecdsa.key
    caCertificates: /etc/ca.pem
- port:
    number: 15443
    name: tls-passthrough
    protocol: TLS
  hosts: ["*.local"]
  tls:
    mode: AUTO_PASSTHROUGH
- port:
    number: 15012
    name: tls-istiod
    protocol: TLS
  hosts: ["*"]
  tls:
    mode: ISTIO_MUTUAL
    credentialNames: []
- port:
    number: 31400
    name: tcp
    protocol: TCP
  hosts: ["*"]
  defaultEndpoint: 127.0.0.1:31400
"#;

#[test]
fn full_example_decodes() {
    let text = doc("Gateway", "bookinfo-gateway", FULL);
    let loaded = assert_clean(&text);
    let Body::Gateway(gw) = &loaded.resources[0].body else {
        panic!("not a Gateway");
    };
    assert_eq!(gw.servers.len(), 7);
    let tls = gw.servers[1].tls.as_ref().expect("tls");
    assert_eq!(tls.mode, Some(ServerTlsMode::Simple));
    assert_eq!(tls.min_protocol_version, Some(TlsProtocol::TlsV1_2));
    let json = loaded.resources[0].body.to_json();
    let back: verimesh_config::networking::Gateway =
        serde_json::from_value(json).expect("round trip");
    assert_eq!(&back, gw);
}

fn gw(servers: &str) -> String {
    doc("Gateway", "gw", &format!("servers:\n{servers}"))
}

const HTTP_PORT: &str = "  port:\n    number: 80\n    name: http\n    protocol: HTTP\n";
const HTTPS_PORT: &str = "  port:\n    number: 443\n    name: https\n    protocol: HTTPS\n";

/// (servers, path of the error, part of its message)
fn cases() -> Vec<(String, &'static str, &'static str)> {
    let https = |tls: &str| format!("- hosts: [\"*\"]\n{HTTPS_PORT}  tls:\n{tls}");
    vec![
        // hosts
        (format!("- hosts: []\n{HTTP_PORT}"), "spec.servers[0].hosts", "at least one host"),
        (format!("- hosts: [reviews]\n{HTTP_PORT}"), "spec.servers[0].hosts[0]", "short name"),
        (format!("- hosts: [\"Bad_NS/a.com\"]\n{HTTP_PORT}"), "spec.servers[0].hosts[0]", "namespace"),
        (format!("- hosts: [\"ns/\"]\n{HTTP_PORT}"), "spec.servers[0].hosts[0]", "may be empty"),
        (format!("- hosts: [\"a*.example.com\"]\n{HTTP_PORT}"), "spec.servers[0].hosts[0]", "partial wildcard"),
        (format!("- hosts: [\"a..com\"]\n{HTTP_PORT}"), "spec.servers[0].hosts[0]", "invalid"),
        // ports
        ("- hosts: [\"*\"]\n".to_string(), "spec.servers[0].port", "needs a port"),
        ("- hosts: [\"*\"]\n  port:\n    number: 80\n    name: http\n    protocol: SCTP\n".to_string(), "spec.servers[0].port.protocol", "unsupported protocol"),
        ("- hosts: [\"*\"]\n  port:\n    number: 80\n    name: http\n".to_string(), "spec.servers[0].port.protocol", "required"),
        ("- hosts: [\"*\"]\n  port:\n    number: 0\n    name: http\n    protocol: HTTP\n".to_string(), "spec.servers[0].port.number", "1..65535"),
        ("- hosts: [\"*\"]\n  port:\n    number: 80\n    protocol: HTTP\n".to_string(), "spec.servers[0].port.name", "required"),
        ("- hosts: [\"*\"]\n  port:\n    number: 80\n    name: http\n    protocol: HTTP\n    targetPort: 8080\n".to_string(), "spec.servers[0].port.targetPort", "no effect"),
        (format!("- hosts: [\"*\"]\n{HTTP_PORT}- hosts: [\"*\"]\n  port:\n    number: 81\n    name: http\n    protocol: HTTP\n"), "spec.servers[1].port.name", "unique"),
        // bind
        (format!("- hosts: [\"*\"]\n  bind: not-an-ip\n{HTTP_PORT}"), "spec.servers[0].bind", "IP address"),
        (format!("- hosts: [\"*\"]\n  bind: unix://relative\n{HTTP_PORT}"), "spec.servers[0].bind", "absolute path"),
        (format!("- hosts: [\"*\"]\n  bind: unix:///var/run/gw.sock\n{HTTP_PORT}"), "spec.servers[0].port.number", "port number 0"),
        // TLS by protocol
        (format!("- hosts: [\"*\"]\n{HTTPS_PORT}"), "spec.servers[0].tls", "need tls settings"),
        (format!("- hosts: [\"*\"]\n{HTTP_PORT}  tls:\n    mode: SIMPLE\n    credentialName: c\n"), "spec.servers[0].tls", "plain-text HTTP"),
        (format!("- hosts: [\"*\"]\n{HTTP_PORT}  tls:\n    httpsRedirect: true\n    serverCertificate: /c\n"), "spec.servers[0].tls", "plain-text HTTP"),
        ("- hosts: [\"*\"]\n  port:\n    number: 31400\n    name: tcp\n    protocol: TCP\n  tls:\n    mode: PASSTHROUGH\n".to_string(), "spec.servers[0].tls", "only HTTPS and TLS"),
        // TLS settings
        (https("    mode: SIMPLE\n    privateKey: /k\n"), "spec.servers[0].tls", "needs a serverCertificate"),
        (https("    mode: SIMPLE\n    serverCertificate: /c\n"), "spec.servers[0].tls", "needs a privateKey"),
        (https("    mode: MUTUAL\n    serverCertificate: /c\n    privateKey: /k\n"), "spec.servers[0].tls", "caCertificates"),
        (https("    mode: OPTIONAL_MUTUAL\n    serverCertificate: /c\n    privateKey: /k\n"), "spec.servers[0].tls", "caCertificates"),
        (https("    mode: SIMPLE\n    tlsCertificates:\n    - serverCertificate: /c\n"), "spec.servers[0].tls.tlsCertificates[0]", "privateKey"),
        (https("    mode: SIMPLE\n    credentialName: a\n    serverCertificate: /c\n    privateKey: /k\n"), "spec.servers[0].tls", "only one way"),
        (https("    mode: SIMPLE\n    credentialNames: [a, b, c]\n"), "spec.servers[0].tls.credentialNames", "at most 2"),
        (https("    mode: ISTIO_MUTUAL\n    credentialName: a\n"), "spec.servers[0].tls.credentialName", "ISTIO_MUTUAL"),
        (https("    mode: ISTIO_MUTUAL\n    caCertificates: /ca\n"), "spec.servers[0].tls.caCertificates", "ISTIO_MUTUAL"),
        (https("    mode: MUTUAL\n    credentialName: a\n    caCrl: /crl\n"), "spec.servers[0].tls.caCrl", "credentialName"),
        (https("    mode: SIMPLE\n    serverCertificate: /c\n    privateKey: /k\n    caCrl: /crl\n"), "spec.servers[0].tls.caCrl", "SIMPLE"),
        (https("    mode: SIMPLE\n    credentialName: a\n    minProtocolVersion: TLSV1_4\n"), "spec.servers[0].tls.minProtocolVersion", "TLSV1_4"),
    ]
}

#[test]
fn rules() {
    for (servers, path, needle) in cases() {
        assert_error(&gw(&servers), path, needle);
    }
    let text = doc("Gateway", "gw", "selector:\n  istio: ingressgateway\n");
    assert_error(&text, "spec.servers", "at least one server");
}

#[test]
fn gateway_name_must_be_a_dns_label() {
    let text = doc(
        "Gateway",
        "my.gateway",
        &format!("servers:\n- hosts: [\"*\"]\n{HTTP_PORT}"),
    );
    let d = assert_error(&text, "metadata.name", "DNS-1123 label");
    assert_eq!(d.origin.pos.line, line_of(&text, "name: my.gateway"));
}

#[test]
fn warnings() {
    let https = |tls: &str| gw(&format!("- hosts: [\"*\"]\n{HTTPS_PORT}  tls:\n{tls}"));
    assert_warning(
        &https("    mode: SIMPLE\n    credentialName: a\n    httpsRedirect: true\n"),
        "spec.servers[0].tls.httpsRedirect",
        "HTTP servers",
    );
    assert_warning(
        &https("    mode: SIMPLE\n    credentialName: a\n    minProtocolVersion: TLSV1_1\n"),
        "spec.servers[0].tls.minProtocolVersion",
        "cipherSuites",
    );
    assert_warning(
        &https("    mode: SIMPLE\n    credentialName: a\n    cipherSuites: [NOT-A-CIPHER]\n"),
        "spec.servers[0].tls.cipherSuites[0]",
        "unknown cipher",
    );
    assert_warning(
        &https(
            "    mode: SIMPLE\n    credentialName: a\n    cipherSuites: [AES128-SHA, AES128-SHA]\n",
        ),
        "spec.servers[0].tls.cipherSuites[1]",
        "duplicate",
    );
    assert_warning(
        &https("    mode: PASSTHROUGH\n    credentialName: a\n"),
        "spec.servers[0].tls",
        "ignored",
    );
}
