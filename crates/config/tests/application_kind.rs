//! Application: the shipped examples load, and each validation rule reports its path.

mod common;

use common::{assert_error, istio, load_ok};
use verimesh_config::verimesh::{Access, AcmeChallenge, PathKind};

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/ingress")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn examples_load_without_errors_or_warnings() {
    for name in ["application.yaml", "secure-ingress.yaml"] {
        let l = load_ok(&example(name));
        assert!(l.diagnostics.is_empty(), "{name}: {:?}", l.diagnostics);
    }
    let l = load_ok(&example("application.yaml"));
    let app = l.resources[0].as_application().unwrap();
    assert_eq!(app.routes[3].access(), Access::Authenticated);
    assert_eq!(
        app.routes[0].paths[0].kind(),
        Some(PathKind::Exact("/healthz"))
    );
    assert_eq!(app.route_port(&app.routes[4]).unwrap().number, 9090);
    let l = load_ok(&example("secure-ingress.yaml"));
    let si = l.resources[0].as_secure_ingress().unwrap();
    assert_eq!(
        si.tls.as_ref().unwrap().acme.as_ref().unwrap().challenge(),
        AcmeChallenge::Http01
    );
    assert!(si.gateway.as_ref().unwrap().redirect_http_to_https());
    assert!(si.serves("API.shop.example.com"));
}

fn app(spec: &str) -> String {
    istio("verimesh.io/v1alpha1", "Application", spec)
}

const PORTS: &str = "workload: {service: {name: web}}\nports:\n- {name: http, number: 8080, protocol: HTTP}\n- {name: db, number: 5432, protocol: TCP}\n";

fn route(r: &str) -> String {
    app(&format!("{PORTS}routes:\n- {r}\n"))
}

#[test]
fn application_rules() {
    load_ok(&app("workload: {selector: {matchLabels: {app: web}}}\nports:\n- {name: http, number: 80, protocol: HTTP2}\nroutes:\n- {name: all, paths: [{prefix: /}]}\n"));
    assert_error(
        &app("ports: [{name: a, number: 1, protocol: TCP}]"),
        "spec.workload",
        "workload is required",
    );
    assert_error(
        &app("workload: {}\nports: [{name: a, number: 1, protocol: TCP}]"),
        "spec.workload",
        "set one of service",
    );
    assert_error(
        &app("workload: {service: {name: a}, selector: {matchLabels: {a: b}}}"),
        "spec.workload",
        "only one of",
    );
    assert_error(
        &app("workload: {service: {name: Web}}"),
        "spec.workload.service.name",
        "not a Service name",
    );
    assert_error(
        &app("workload: {selector: {}}"),
        "spec.workload.selector.matchLabels",
        "at least one label",
    );
    assert_error(
        &app("workload: {service: {name: a}}"),
        "spec.ports",
        "at least one port",
    );
    assert_error(
        &app("workload: {service: {name: a}}\nports: [{number: 80, protocol: HTTP}]"),
        "spec.ports[0].name",
        "needs a name",
    );
    assert_error(&app("workload: {service: {name: a}}\nports: [{name: a, number: 80, protocol: HTTP}, {name: a, number: 81, protocol: HTTP}]"), "spec.ports[1].name", "duplicate port name");
    assert_error(&app("workload: {service: {name: a}}\nports: [{name: a, number: 80, protocol: HTTP}, {name: b, number: 80, protocol: TCP}]"), "spec.ports[1].number", "listed twice");
    assert_error(
        &app("workload: {service: {name: a}}\nports: [{name: a, number: 0, protocol: HTTP}]"),
        "spec.ports[0].number",
        "1..65535",
    );
    assert_error(
        &app("workload: {service: {name: a}}\nports: [{name: a, number: 80}]"),
        "spec.ports[0].protocol",
        "protocol is required",
    );
    assert_error(
        &app("workload: {service: {name: a}}\nports: [{name: a, number: 80, protocol: SMTP}]"),
        "spec.ports[0].protocol",
        "unknown variant",
    );
    assert_error(
        &app("workload: {service: {name: a}}\nextra: 1"),
        "spec.extra",
        "unknown field",
    );
}

#[test]
fn application_route_rules() {
    assert_error(
        &route("{paths: [{prefix: /}]}"),
        "spec.routes[0].name",
        "needs a name",
    );
    assert_error(&app(&format!("{PORTS}routes:\n- {{name: a, paths: [{{prefix: /a}}]}}\n- {{name: a, paths: [{{prefix: /b}}]}}\n")), "spec.routes[1].name", "duplicate route name");
    assert_error(
        &route("{name: a, port: nope, paths: [{prefix: /}]}"),
        "spec.routes[0].port",
        "no port named",
    );
    assert_error(
        &route("{name: a, port: db, paths: [{prefix: /}]}"),
        "spec.routes[0].port",
        "not HTTP, HTTP2 or GRPC",
    );
    let two_http = "workload: {service: {name: web}}\nports:\n- {name: a, number: 1, protocol: HTTP}\n- {name: b, number: 2, protocol: GRPC}\nroutes:\n- {name: r, paths: [{prefix: /}]}\n";
    assert_error(&app(two_http), "spec.routes[0].port", "exactly one HTTP");
    assert_error(
        &route("{name: a}"),
        "spec.routes[0].paths",
        "at least one path",
    );
    assert_error(
        &route("{name: a, paths: [{}]}"),
        "spec.routes[0].paths[0]",
        "exactly one of exact, prefix or regex",
    );
    assert_error(
        &route("{name: a, paths: [{exact: /a, prefix: /b}]}"),
        "spec.routes[0].paths[0]",
        "exactly one of",
    );
    assert_error(
        &route("{name: a, paths: [{exact: a}]}"),
        "spec.routes[0].paths[0].exact",
        "must start with '/'",
    );
    assert_error(
        &route("{name: a, paths: [{exact: \"/a?x=1\"}]}"),
        "spec.routes[0].paths[0].exact",
        "query string",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: \"/a#b\"}]}"),
        "spec.routes[0].paths[0].prefix",
        "query string",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /a//b}]}"),
        "spec.routes[0].paths[0].prefix",
        "not normalized",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /a/../b}]}"),
        "spec.routes[0].paths[0].prefix",
        "not normalized",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: \"/a/*\"}]}"),
        "spec.routes[0].paths[0].prefix",
        "not a wildcard",
    );
    assert_error(
        &route("{name: a, paths: [{regex: \"(\"}]}"),
        "spec.routes[0].paths[0].regex",
        "not a valid regular expression",
    );
    assert_error(
        &route("{name: a, access: PUBLIC, paths: [{regex: \"/a/.*\"}]}"),
        "spec.routes[0].paths[0].regex",
        "PUBLIC routes take exact or prefix",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], methods: [get]}"),
        "spec.routes[0].methods[0]",
        "case-sensitive",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], methods: [GET, GET]}"),
        "spec.routes[0].methods[1]",
        "listed twice",
    );
    assert_error(
        &route("{name: a, access: PUBLIC, paths: [{prefix: /}], jwt: {requiredScopes: [x]}}"),
        "spec.routes[0].jwt",
        "PUBLIC route takes no token",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], jwt: {requiredScopes: [\"a b\"]}}"),
        "spec.routes[0].jwt.requiredScopes[0]",
        "without spaces",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], jwt: {scopeClaim: \"\"}}"),
        "spec.routes[0].jwt.scopeClaim",
        "must not be empty",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], jwt: {requiredClaims: [{values: [x]}]}}"),
        "spec.routes[0].jwt.requiredClaims[0].name",
        "required",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], jwt: {requiredClaims: [{name: g}]}}"),
        "spec.routes[0].jwt.requiredClaims[0].values",
        "accepted values",
    );
    assert_error(
        &route("{name: a, access: SOMETIMES, paths: [{prefix: /}]}"),
        "spec.routes[0].access",
        "unknown variant",
    );
    let dup = format!("{PORTS}routes:\n- {{name: a, access: PUBLIC, paths: [{{prefix: /x}}], methods: [GET]}}\n- {{name: b, paths: [{{prefix: /x}}]}}\n");
    assert_error(&app(&dup), "spec.routes[1].paths[0]", "ambiguous");
    let disjoint = format!("{PORTS}routes:\n- {{name: a, access: PUBLIC, paths: [{{prefix: /x}}], methods: [GET]}}\n- {{name: b, paths: [{{prefix: /x}}], methods: [POST]}}\n");
    load_ok(&app(&disjoint));
}
