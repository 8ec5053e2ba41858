//! Gateway API Gateway and HTTPRoute: full examples decode, each rule reports its path, and
//! every Gateway and HTTPRoute in the peer Istio samples and tasks loads without errors.

mod common;

use common::{assert_error, load_ok};
use verimesh_config::gateway_api::{FilterType, PathMatchType};
use verimesh_config::Kind;

const GW: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: ns}\nspec:\n  gatewayClassName: istio\n  addresses: [{value: 192.0.2.1}, {type: Hostname, value: gw.example.com}]\n  infrastructure: {labels: {a: b}}\n  listeners:\n  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {shared: 'true'}}}, kinds: [{kind: HTTPRoute}]}}\n  - name: https\n    hostname: '*.example.com'\n    port: 443\n    protocol: HTTPS\n    tls: {mode: Terminate, certificateRefs: [{name: cert}]}\n  - {name: tls, port: 8443, protocol: TLS, tls: {mode: Passthrough}}\n  futureField: 1\n";

#[test]
fn gateway_decodes() {
    let l = load_ok(GW);
    assert_eq!(l.resources[0].kind, Kind::KubernetesGateway);
    let g = l.resources[0].as_kubernetes_gateway().unwrap();
    assert_eq!(g.listeners.len(), 3);
    assert_eq!(g.listeners[2].tls.as_ref().unwrap().mode(), "Passthrough");
    let beta = GW.replace("/v1\n", "/v1beta1\n");
    load_ok(&beta);
}

fn gw(listener: &str) -> String {
    format!("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw}}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - {listener}\n")
}

#[test]
fn gateway_rules() {
    assert_error("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {listeners: [{name: a, port: 80, protocol: HTTP}]}\n", "spec.gatewayClassName", "required");
    assert_error(
        &gw("{name: a, port: 0, protocol: HTTP}"),
        "spec.listeners[0].port",
        "1..65535",
    );
    assert_error(
        &gw("{name: a, port: 80, protocol: FTP}"),
        "spec.listeners[0].protocol",
        "not one of",
    );
    assert_error(
        &gw("{name: a, port: 443, protocol: HTTPS}"),
        "spec.listeners[0].tls",
        "needs tls",
    );
    assert_error(
        &gw("{name: a, port: 443, protocol: HTTPS, tls: {}}"),
        "spec.listeners[0].tls",
        "certificateRefs",
    );
    assert_error(
        &gw("{name: a, port: 80, protocol: TCP, hostname: a.com}"),
        "spec.listeners[0].hostname",
        "cannot have a hostname",
    );
    assert_error(
        &gw("{name: a, port: 80, protocol: HTTP, hostname: 10.0.0.1}"),
        "spec.listeners[0].hostname",
        "IP address",
    );
    assert_error(
        &gw("{name: a, port: 80, protocol: HTTP, hostname: 'a.*.com'}"),
        "spec.listeners[0].hostname",
        "not a valid hostname",
    );
    assert_error(
        &gw("{name: a, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Selector}}}"),
        "spec.listeners[0].allowedRoutes.namespaces.selector",
        "needs a selector",
    );
    assert_error(
        &gw("{name: a, port: 80, protocol: HTTP}\n  - {name: a, port: 81, protocol: HTTP}"),
        "spec.listeners[1].name",
        "duplicate",
    );
    assert_error(
        &gw("{name: a, port: 80, protocol: HTTP}\n  - {name: b, port: 80, protocol: HTTP}"),
        "spec.listeners[1]",
        "same port",
    );
}

const ROUTE: &str = r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: ns}
spec:
  parentRefs:
  - {name: gw, sectionName: https}
  - {group: "", kind: Service, name: reviews, port: 9080}
  hostnames: [www.example.com, '*.example.org']
  rules:
  - name: main
    matches:
    - path: {type: PathPrefix, value: /api}
      headers: [{name: x-env, value: canary}, {type: RegularExpression, name: x-id, value: '^a.*'}]
      queryParams: [{name: debug, value: '1'}]
      method: GET
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-a, value: b}], add: [{name: x-c, value: d}], remove: [x-e]}
    - type: URLRewrite
      urlRewrite: {hostname: internal.example.com, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: shadow, port: 80}, percent: 10}
    backendRefs:
    - name: reviews-v1
      port: 9080
      weight: 90
      filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {remove: [server]}}]
    - {name: reviews-v2, port: 9080, weight: 10}
    timeouts: {request: 10s, backendRequest: 2s}
    retry: {codes: [503], attempts: 2, backoff: 100ms}
  - matches: [{path: {type: Exact, value: /login}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, statusCode: 301, port: 443}
    - type: CORS
      cors: {allowOrigins: ['https://a.com'], allowMethods: [GET], maxAge: 60}
"#;

#[test]
fn http_route_decodes() {
    let l = load_ok(ROUTE);
    let r = l.resources[0].as_http_route().unwrap();
    assert_eq!(r.parent_refs[0].kind(), "Gateway");
    assert_eq!(r.parent_refs[1].group(), "");
    let m = &r.rules[0].matches[0];
    assert_eq!(
        m.path.as_ref().unwrap().type_,
        Some(PathMatchType::PathPrefix)
    );
    assert_eq!(r.rules[0].filters[1].type_, FilterType::UrlRewrite);
    assert_eq!(r.rules[0].backend_refs[0].weight, Some(90));
}

fn route(rule: &str) -> String {
    format!("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules:\n  - {rule}\n")
}

#[test]
fn http_route_rules() {
    assert_error(
        &route("{backendRefs: [{name: svc}]}"),
        "spec.rules[0].backendRefs[0].port",
        "port is required",
    );
    assert_error(
        &route("{backendRefs: [{name: svc, port: 80, weight: -1}]}"),
        "spec.rules[0].backendRefs[0].weight",
        "0..1000000",
    );
    assert_error(
        &route("{matches: [{path: {type: Exact, value: api}}]}"),
        "spec.rules[0].matches[0].path.value",
        "start with '/'",
    );
    assert_error(
        &route("{matches: [{path: {value: /a//b}}]}"),
        "spec.rules[0].matches[0].path.value",
        "normalized",
    );
    assert_error(
        &route("{matches: [{headers: [{name: 'bad header', value: x}]}]}"),
        "spec.rules[0].matches[0].headers[0].name",
        "",
    );
    assert_error(
        &route("{filters: [{type: RequestHeaderModifier}]}"),
        "spec.rules[0].filters[0]",
        "exactly the field",
    );
    assert_error(
        &route("{filters: [{type: RequestRedirect, requestRedirect: {statusCode: 304}}]}"),
        "spec.rules[0].filters[0].requestRedirect.statusCode",
        "301",
    );
    assert_error(&route("{matches: [{path: {type: Exact, value: /a}}], filters: [{type: URLRewrite, urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /b}}}]}"), "spec.rules[0].filters[0].urlRewrite.path", "PathPrefix");
    assert_error(&route("{filters: [{type: URLRewrite, urlRewrite: {}}, {type: RequestRedirect, requestRedirect: {}}]}"), "spec.rules[0].filters", "cannot be used together");
    assert_error(
        &route("{timeouts: {request: 1s, backendRequest: 2s}}"),
        "spec.rules[0].timeouts.backendRequest",
        "longer",
    );
    assert_error(
        &route("{timeouts: {request: 1.5s}}"),
        "spec.rules[0].timeouts.request",
        "duration",
    );
    assert_error(&route("{bogus: 1}"), "spec.rules[0].bogus", "unknown field");
    assert_error(
        &route("{}").replace("name: gw", "name: gw, port: 70000"),
        "spec.parentRefs[0].port",
        "1..65535",
    );
    assert_error(
        &route("{}").replace("rules:", "hostnames: ['10.0.0.1']\n  rules:"),
        "spec.hostnames[0]",
        "IP address",
    );
}
