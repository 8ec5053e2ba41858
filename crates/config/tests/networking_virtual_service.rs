//! VirtualService: a full example decodes; each validation rule is reported at its field.

mod support;

use support::{assert_clean, assert_error, assert_warning, doc, line_of, load};
use verimesh_config::{Body, Level};

const FULL: &str = r#"
hosts:
- reviews.prod.svc.cluster.local
- "*.bookinfo.com"
gateways:
- istio-system/bookinfo-gateway
- mesh
exportTo: [".", "istio-system"]
http:
- name: reviews-v2
  match:
  - name: jason
    uri:
      prefix: /api
    scheme:
      exact: https
    method:
      exact: GET
    authority:
      regex: "^.*\\.bookinfo\\.com$"
    headers:
      end-user:
        exact: jason
      ":path":
        prefix: /api
    withoutHeaders:
      x-debug:
        regex: "*"
    queryParams:
      v:
        regex: "^[0-9]+$"
    port: 9080
    sourceLabels:
      app: productpage
    gateways: [mesh]
    ignoreUriCase: true
    sourceNamespace: default
    statPrefix: jason
  route:
  - destination:
      host: reviews.prod.svc.cluster.local
      subset: v2
      port:
        number: 9080
    weight: 75
    headers:
      request:
        set:
          x-route: "%UPSTREAM_CLUSTER%"
      response:
        remove: [x-internal]
  - destination:
      host: reviews.prod.svc.cluster.local
      subset: v3
    weight: 25
  rewrite:
    uri: /v2/api
  timeout: 10s
  retries:
    attempts: 3
    perTryTimeout: 2s
    retryOn: gateway-error,connect-failure,503
    retryRemoteLocalities: true
    retryIgnorePreviousHosts: true
    backoff: 25ms
  mirrors:
  - destination:
      host: reviews-shadow.prod.svc.cluster.local
    percentage:
      value: 10.5
  corsPolicy:
    allowOrigins:
    - exact: https://example.com
    - regex: "https://.*\\.example\\.org"
    allowMethods: [GET, POST]
    allowHeaders: [x-custom, "*"]
    exposeHeaders: [x-trace-id]
    maxAge: 24h
    allowCredentials: false
    unmatchedPreflights: IGNORE
  headers:
    request:
      add:
        x-b3: "1"
      remove: [x-legacy]
    response:
      set:
        cache-control: no-store
- name: old-redirect
  match:
  - uri:
      prefix: /old
  redirect:
    prefixRewrite: /new
    authority: new.bookinfo.com
    scheme: https
    derivePort: FROM_REQUEST_PORT
    redirectCode: 308
- name: teapot
  match:
  - uri:
      exact: /teapot
  directResponse:
    status: 418
    body:
      string: "I'm a teapot"
- name: faults
  match:
  - uri:
      regex: "^/ratings/[0-9]+$"
  fault:
    delay:
      fixedDelay: 5s
      percentage:
        value: 0.1
    abort:
      grpcStatus: UNAVAILABLE
      percentage:
        value: 5
  route:
  - destination:
      host: ratings.prod.svc.cluster.local
  mirror:
    host: ratings-shadow.prod.svc.cluster.local
  mirrorPercentage:
    value: 50
- name: default
  route:
  - destination:
      host: reviews.prod.svc.cluster.local
      subset: v1
    weight: 100
  rewrite:
    uriRegexRewrite:
      match: "^/reviews/(.*)$"
      rewrite: /\1
tcp:
- match:
  - port: 27017
    destinationSubnets: [10.1.0.0/16]
    sourceLabels:
      app: reviews
    sourceNamespace: default
  route:
  - destination:
      host: mongo.backup.svc.cluster.local
      port:
        number: 5555
tls:
- match:
  - port: 443
    sniHosts: [login.bookinfo.com]
    destinationSubnets: ["192.168.1.1"]
  route:
  - destination:
      host: login.prod.svc.cluster.local
"#;

#[test]
fn full_example_decodes() {
    let text = doc("VirtualService", "reviews", FULL);
    let loaded = assert_clean(&text);
    let Body::VirtualService(vs) = &loaded.resources[0].body else {
        panic!("not a VirtualService");
    };
    assert_eq!(vs.http.len(), 5);
    assert_eq!(vs.http[0].route[0].weight, Some(75));
    assert_eq!(
        vs.http[0]
            .retries
            .as_ref()
            .and_then(|r| r.per_try_timeout)
            .map(|d| d.as_std().as_secs()),
        Some(2)
    );
    assert_eq!(
        vs.http[1].redirect.as_ref().and_then(|r| r.derive_port),
        Some(verimesh_config::networking::RedirectPortSelection::FromRequestPort)
    );
    // What we serialize decodes to the same value.
    let json = loaded.resources[0].body.to_json();
    let back: verimesh_config::networking::VirtualService =
        serde_json::from_value(json).expect("round trip");
    assert_eq!(&back, vs);
}

#[test]
fn delegate_virtual_service_is_accepted() {
    let root = doc(
        "VirtualService",
        "root",
        "hosts: [bookinfo.com]\nhttp:\n- match:\n  - uri:\n      prefix: /reviews\n  delegate:\n    name: reviews\n    namespace: ns2\n",
    );
    assert_clean(&root);
    let delegate = doc(
        "VirtualService",
        "reviews",
        "http:\n- route:\n  - destination:\n      host: reviews\n",
    );
    assert_clean(&delegate);
}

#[test]
fn unknown_field_and_bad_enum_are_decode_errors() {
    let text = doc(
        "VirtualService",
        "r",
        "hosts: [a]\nhttp:\n- route:\n  - destination:\n      host: a\n    wieght: 10\n",
    );
    let d = assert_error(&text, "spec.http[0].route[0].wieght", "unknown field");
    assert_eq!(d.origin.pos.line, line_of(&text, "wieght"));
    let text = doc(
        "VirtualService",
        "r",
        "hosts: [a]\nhttp:\n- redirect:\n    uri: /x\n    derivePort: FROM_NOWHERE\n",
    );
    assert_error(&text, "spec.http[0].redirect.derivePort", "FROM_NOWHERE");
    let text = doc(
        "VirtualService",
        "r",
        "hosts: [a]\nhttp:\n- route:\n  - destination:\n      host: a\n  timeout: 10\n",
    );
    assert_error(&text, "spec.http[0].timeout", "");
}

fn http(route: &str) -> String {
    doc(
        "VirtualService",
        "r",
        &format!("hosts: [reviews]\nhttp:\n{route}"),
    )
}

const ROUTE: &str = "  route:\n  - destination:\n      host: reviews\n";

/// (spec, path of the error, part of its message)
const ERRORS: &[(&str, &str, &str)] = &[
    // hosts
    ("hosts: [\"*\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.hosts[0]", "mesh"),
    ("hosts: [\"foo..com\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.hosts[0]", "invalid"),
    ("hosts: [a.com, \"*.com\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.hosts[1]", "overlaps"),
    ("hosts: [a]\n", "spec", "needs http, tls or tcp"),
    // delegate VirtualService
    ("gateways: [gw]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.gateways", "delegate"),
    ("tcp:\n- route:\n  - destination:\n      host: a\n", "spec.tcp", "delegate"),
    // gateways
    ("hosts: [a]\ngateways: [\"ns/Bad_Name\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.gateways[0]", "gateway name"),
    ("hosts: [a]\ngateways: [\"/gw\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.gateways[0]", "neither part empty"),
    ("hosts: [a]\ngateways: [\"bad_ns/gw\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.gateways[0]", "namespace"),
    // exportTo
    ("hosts: [a]\nexportTo: [\".\", \".\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.exportTo[1]", "duplicate"),
    ("hosts: [a]\nexportTo: [ns1, \".\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.exportTo[1]", "same"),
    ("hosts: [a]\nexportTo: [\"~\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.exportTo[0]", "only allowed on a ServiceEntry"),
    ("hosts: [a]\nexportTo: [\"*\", ns2]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.exportTo", "public"),
    ("hosts: [a]\nexportTo: [\"Bad_NS\"]\nhttp:\n- route:\n  - destination:\n      host: a\n", "spec.exportTo[0]", "namespace name"),
    // JWT claim routing needs a gateway
    ("hosts: [a]\nhttp:\n- match:\n  - headers:\n      \"@request.auth.claims.group\":\n        exact: admin\n  route:\n  - destination:\n      host: a\n", "spec.http[0].match[0].headers.@request.auth.claims.group", "only supported on gateways"),
    // tls routes
    ("hosts: [a.com]\ntls:\n- route:\n  - destination:\n      host: a\n", "spec.tls[0].match", "at least one match"),
    ("hosts: [a.com]\ntls:\n- match:\n  - port: 443\n  route:\n  - destination:\n      host: a\n", "spec.tls[0].match[0].sniHosts", "SNI host"),
    ("hosts: [a.com]\ntls:\n- match:\n  - sniHosts: [b.com]\n  route:\n  - destination:\n      host: a\n", "spec.tls[0].match[0].sniHosts[0]", "not covered"),
    ("hosts: [a.com]\ntls:\n- match:\n  - sniHosts: [a.com]\n    destinationSubnets: [10.0.0.0/33]\n  route:\n  - destination:\n      host: a\n", "spec.tls[0].match[0].destinationSubnets[0]", "CIDR"),
    ("hosts: [a.com]\ntls:\n- match:\n  - sniHosts: [a.com]\n", "spec.tls[0].route", "at least one destination"),
    // tcp routes
    ("hosts: [a]\ntcp:\n- match:\n  - port: 70000\n  route:\n  - destination:\n      host: a\n", "spec.tcp[0].match[0].port", "1..65535"),
    ("hosts: [a]\ntcp:\n- match:\n  - sourceSubnet: nope\n  route:\n  - destination:\n      host: a\n", "spec.tcp[0].match[0].sourceSubnet", "IP"),
    ("hosts: [a]\ntcp:\n- match:\n  - sourceLabels:\n      \"-bad\": x\n  route:\n  - destination:\n      host: a\n", "spec.tcp[0].match[0].sourceLabels.-bad", "label key"),
    ("hosts: [a]\ntcp:\n- match:\n  - port: 80\n", "spec.tcp[0].route", "at least one destination"),
    ("hosts: [a]\ntcp:\n- route:\n  - destination:\n      host: a\n    weight: 0\n  - destination:\n      host: b\n", "spec.tcp[0].route", "all weights are 0"),
];

#[test]
fn top_level_rules() {
    for (spec, path, needle) in ERRORS {
        let text = doc("VirtualService", "r", spec);
        assert_error(&text, path, needle);
    }
}

/// (http route, path of the error, part of its message)
const HTTP_ERRORS: &[(&str, &str, &str)] = &[
    // what a route does
    ("- name: nothing\n  timeout: 1s\n", "spec.http[0]", "needs route, redirect"),
    ("- redirect:\n    uri: /x\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].redirect", "route destinations"),
    ("- redirect:\n    uri: /x\n  rewrite:\n    uri: /y\n", "spec.http[0].redirect", "rewrite"),
    ("- redirect:\n    uri: /x\n  fault:\n    abort:\n      httpStatus: 500\n", "spec.http[0].redirect", "fault"),
    ("- redirect:\n    uri: /x\n  directResponse:\n    status: 200\n", "spec.http[0].redirect", "directResponse"),
    ("- directResponse:\n    status: 200\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].directResponse", "route destinations"),
    ("- delegate:\n    name: d\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].route", "delegates"),
    ("- delegate:\n    name: d\n  redirect:\n    uri: /x\n", "spec.http[0].redirect", "delegates"),
    ("- mirror:\n    host: m\n  mirrors:\n  - destination:\n      host: m2\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].mirrors", "mirror and mirrors"),
    // matches
    ("- match:\n  - uri:\n      exact: /a\n      prefix: /b\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].match[0].uri", "only one of"),
    ("- match:\n  - uri:\n      regex: \"(\"\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].match[0].uri.regex", "regular expression"),
    ("- match:\n  - method:\n      prefix: \"\"\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].match[0].method.prefix", "empty"),
    ("- match:\n  - headers:\n      \"bad header\":\n        exact: x\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].match[0].headers.bad header", "header name"),
    ("- match:\n  - withoutHeaders:\n      x:\n        regex: \"[\"\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].match[0].withoutHeaders.x.regex", "regular expression"),
    ("- match:\n  - queryParams:\n      q:\n        regex: \"\"\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].match[0].queryParams.q.regex", "empty"),
    ("- match:\n  - port: 0\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].match[0].port", "1..65535"),
    ("- match:\n  - sourceNamespace: Not_A_NS\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].match[0].sourceNamespace", "namespace"),
    ("- match:\n  - gateways: [\"a/b/c\"]\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].match[0].gateways[0]", "gateway name"),
    // destinations and weights
    ("- route:\n  - weight: 100\n", "spec.http[0].route[0].destination", "required"),
    ("- route:\n  - destination:\n      host: \"*\"\n", "spec.http[0].route[0].destination.host", "not \"*\""),
    ("- route:\n  - destination:\n      host: reviews\n      subset: V_1\n", "spec.http[0].route[0].destination.subset", "subset name"),
    ("- route:\n  - destination:\n      host: reviews\n      port:\n        number: 0\n", "spec.http[0].route[0].destination.port.number", "1..65535"),
    ("- route:\n  - destination:\n      host: reviews\n    weight: 50\n  - destination:\n      host: reviews\n    weight: -10\n", "spec.http[0].route[1].weight", "negative"),
    ("- route:\n  - destination:\n      host: reviews\n  - destination:\n      host: ratings\n", "spec.http[0].route", "all weights are 0"),
    // header manipulation
    ("- route:\n  - destination:\n      host: reviews\n    headers:\n      response:\n        set:\n          host: x\n", "spec.http[0].route[0].headers.response.set.host", "cannot be changed"),
    ("- headers:\n    request:\n      set:\n        \":path\": /x\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].headers.request.set.:path", "pseudo-headers"),
    ("- headers:\n    request:\n      remove: [Host]\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].headers.request.remove[0]", "cannot be changed"),
    ("- headers:\n    request:\n      add:\n        x: \"50%\"\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].headers.request.add.x", "%"),
    ("- headers:\n    request:\n      set:\n        host: a.com\n  rewrite:\n    authority: b.com\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0]", "authority is rewritten more than once"),
    // redirect
    ("- redirect:\n    uri: /a\n    prefixRewrite: /b\n", "spec.http[0].redirect", "only one of uri or prefixRewrite"),
    ("- match:\n  - uri:\n      exact: /a\n  redirect:\n    prefixRewrite: /b\n", "spec.http[0].redirect.prefixRewrite", "prefix match"),
    ("- redirect:\n    redirectCode: 301\n", "spec.http[0].redirect", "at least one of"),
    ("- redirect:\n    uri: /a\n    redirectCode: 200\n", "spec.http[0].redirect.redirectCode", "3xx"),
    ("- redirect:\n    scheme: ftp\n", "spec.http[0].redirect.scheme", "http"),
    ("- redirect:\n    port: 70000\n", "spec.http[0].redirect.port", "1..65535"),
    ("- redirect:\n    port: 8080\n    derivePort: FROM_REQUEST_PORT\n", "spec.http[0].redirect", "port or derivePort"),
    // direct response
    ("- directResponse:\n    status: 700\n", "spec.http[0].directResponse.status", "200 and 599"),
    ("- directResponse:\n    status: 200\n    body:\n      string: a\n      bytes: YQ==\n", "spec.http[0].directResponse.body", "only one of string or bytes"),
    ("- directResponse:\n    status: 200\n    body:\n      bytes: \"not base64!\"\n", "spec.http[0].directResponse.body.bytes", "base64"),
    // rewrite
    ("- rewrite:\n    uri: /a\n    uriRegexRewrite:\n      match: a\n      rewrite: b\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].rewrite", "only one of uri or uriRegexRewrite"),
    ("- rewrite: {}\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].rewrite", "needs uri"),
    ("- rewrite:\n    uriRegexRewrite:\n      match: \"(\"\n      rewrite: b\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].rewrite.uriRegexRewrite.match", "regular expression"),
    ("- rewrite:\n    uriRegexRewrite:\n      match: a\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].rewrite.uriRegexRewrite", "both match and rewrite"),
    // retries
    ("- retries:\n    attempts: -1\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].retries.attempts", "negative"),
    ("- retries:\n    retryOn: 5xx\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].retries.attempts", "disabled"),
    ("- retries:\n    attempts: 2\n    retryOn: 5xx,sometimes\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].retries.retryOn", "sometimes"),
    ("- retries:\n    attempts: 2\n    perTryTimeout: 0s\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].retries.perTryTimeout", "at least 1ms"),
    ("- retries:\n    attempts: 2\n    backoff: 1.0005s\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].retries.backoff", "whole milliseconds"),
    // timeout
    ("- timeout: 0s\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].timeout", "at least 1ms"),
    // fault injection
    ("- fault: {}\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault", "abort, a delay"),
    ("- fault:\n    abort:\n      httpStatus: 100\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault.abort.httpStatus", "200 and 599"),
    ("- fault:\n    abort:\n      grpcStatus: NOPE\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault.abort.grpcStatus", "gRPC status"),
    ("- fault:\n    abort:\n      http2Error: x\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault.abort.http2Error", "not supported"),
    ("- fault:\n    abort:\n      httpStatus: 500\n      grpcStatus: INTERNAL\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault.abort", "only one of"),
    ("- fault:\n    abort:\n      httpStatus: 500\n      percentage:\n        value: 101\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault.abort.percentage.value", "0.0001 and 100"),
    ("- fault:\n    delay:\n      fixedDelay: 1s\n      percentage:\n        value: 0.00001\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault.delay.percentage.value", "0.0001 and 100"),
    ("- fault:\n    delay:\n      exponentialDelay: 1s\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault.delay.exponentialDelay", "not supported"),
    ("- fault:\n    delay:\n      fixedDelay: 1s\n      exponentialDelay: 1s\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault.delay", "only one of"),
    ("- fault:\n    delay:\n      fixedDelay: 1s\n      percent: 120\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].fault.delay.percent", "0 and 100"),
    // mirroring
    ("- mirror:\n    host: m\n  mirrorPercent: 101\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].mirrorPercent", "at most 100"),
    ("- mirror:\n    host: m\n  mirrorPercentage:\n    value: -1\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].mirrorPercentage.value", "between 0 and 100"),
    ("- mirrors:\n  - percentage:\n      value: 5\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].mirrors[0].destination", "needs a destination"),
    ("- mirrors:\n  - destination:\n      host: m\n    percentage:\n      value: 200\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].mirrors[0].percentage.value", "between 0 and 100"),
    ("- mirror:\n    host: \"bad..host\"\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].mirror.host", "invalid"),
    // CORS
    ("- corsPolicy:\n    allowOrigins:\n    - exact: \"\"\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].corsPolicy.allowOrigins[0]", "must not be empty"),
    ("- corsPolicy:\n    allowOrigins:\n    - regex: \"(\"\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].corsPolicy.allowOrigins[0].regex", "regular expression"),
    ("- corsPolicy:\n    allowMethods: [get]\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].corsPolicy.allowMethods[0]", "HTTP method"),
    ("- corsPolicy:\n    allowHeaders: [\"a b\"]\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].corsPolicy.allowHeaders[0]", "header name"),
    ("- corsPolicy:\n    exposeHeaders: [\"\"]\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].corsPolicy.exposeHeaders[0]", "empty"),
    ("- corsPolicy:\n    maxAge: 1500ms\n  route:\n  - destination:\n      host: reviews\n", "spec.http[0].corsPolicy.maxAge", "whole number of seconds"),
];

#[test]
fn http_route_rules() {
    for (route, path, needle) in HTTP_ERRORS {
        let text = http(route);
        assert_error(&text, path, needle);
    }
}

#[test]
fn delegate_route_cannot_delegate_again() {
    let text = doc(
        "VirtualService",
        "d",
        "http:\n- delegate:\n    name: other\n",
    );
    assert_error(&text, "spec.http[0].delegate", "cannot delegate again");
}

#[test]
fn errors_carry_the_line_of_the_field() {
    let text = http(
        "- route:\n  - destination:\n      host: reviews\n    weight: 50\n  - destination:\n      host: reviews\n    weight: -10\n",
    );
    let d = assert_error(&text, "spec.http[0].route[1].weight", "negative");
    assert_eq!(d.origin.pos.line, line_of(&text, "weight: -10"));
    assert_eq!(d.origin.file.as_ref(), "test.yaml");
    assert!(!load(&text).resources[0].valid);
}

#[test]
fn warnings() {
    // a rule after a catch-all, and a repeated match
    let text = http(&format!(
        "-{}\n- match:\n  - uri:\n      prefix: /a\n{ROUTE}",
        &ROUTE[1..]
    ));
    assert_warning(&text, "spec.http[1]", "never used");
    let text = http(&format!(
        "- match:\n  - name: a\n    uri:\n      prefix: /a\n{ROUTE}- match:\n  - name: b\n    uri:\n      prefix: /a\n{ROUTE}"
    ));
    assert_warning(&text, "spec.http[1].match[0]", "same match");
    assert_warning(&text, "spec.http[1]", "all its matches");
    let text = doc(
        "VirtualService",
        "r",
        "hosts: [a]\ntcp:\n- route:\n  - destination:\n      host: a\n- route:\n  - destination:\n      host: b\n",
    );
    assert_warning(&text, "spec.tcp[1]", "only the last rule");
    // deprecated and legacy forms
    let text = http(&format!(
        "- mirror:\n    host: m\n  mirror_percent: 50\n{ROUTE}"
    ));
    assert_warning(&text, "spec.http[0].mirrorPercent", "deprecated");
    let text = doc(
        "VirtualService",
        "r",
        &format!(
            "hosts: [a.com]\ngateways: [gw.istio-system]\nhttp:\n-{}",
            &ROUTE[1..]
        ),
    );
    assert_warning(&text, "spec.gateways[0]", "istio-system/gw");
    let text = http(&format!(
        "- fault:\n    abort:\n      percentage:\n        value: 1\n{ROUTE}"
    ));
    assert_warning(&text, "spec.http[0].fault.abort", "nothing is injected");
    let text = doc(
        "VirtualService",
        "r",
        "hosts: [a.com]\ngateways: [gw]\ntls:\n- match:\n  - sniHosts: [\"10.0.0.1\"]\n  route:\n  - destination:\n      host: a\n",
    );
    assert_warning(&text, "spec.tls[0].match[0].sniHosts[0]", "IP address");
    let big = "x".repeat(200 * 1024);
    let text = http(&format!(
        "- directResponse:\n    status: 200\n    body:\n      string: {big}\n"
    ));
    assert_warning(&text, "spec.http[0].directResponse.body", "100KB");
    let huge = "x".repeat(1100 * 1024);
    let text = http(&format!(
        "- directResponse:\n    status: 200\n    body:\n      string: {huge}\n"
    ));
    assert_error(&text, "spec.http[0].directResponse.body", "1MB");
}

#[test]
fn gateway_bound_hosts() {
    // "*" and JWT claims are fine on a gateway; AUTO_PASSTHROUGH names are accepted as SNI.
    let text = doc(
        "VirtualService",
        "r",
        "hosts: [\"*\"]\ngateways: [istio-system/gw]\nhttp:\n- match:\n  - headers:\n      \"@request.auth.claims.group\":\n        exact: admin\n  route:\n  - destination:\n      host: a\n",
    );
    assert_clean(&text);
    let text = doc(
        "VirtualService",
        "r",
        "hosts: [\"*.mesh\"]\ngateways: [gw]\ntls:\n- match:\n  - sniHosts: [outbound_.80_._.e2e.foobar.mesh]\n  route:\n  - destination:\n      host: a\n",
    );
    assert_clean(&text);
    let text = doc(
        "VirtualService",
        "r",
        "hosts: [\"*.mesh\"]\ngateways: [gw]\ntls:\n- match:\n  - sniHosts: [outbound_.xx_._.e2e.foobar.mesh]\n  route:\n  - destination:\n      host: a\n",
    );
    assert_error(&text, "spec.tls[0].match[0].sniHosts[0]", "outbound_");
    assert!(load(&text)
        .diagnostics
        .iter()
        .all(|d| d.level != Level::Info));
}

#[test]
fn shorter_prefix_before_longer_one_hides_it() {
    let text = http(&format!(
        "- match:\n  - uri:\n      prefix: /api\n{ROUTE}- match:\n  - uri:\n      prefix: /api/v2\n{ROUTE}"
    ));
    assert_warning(&text, "spec.http[1].match[0]", "never used");
    // A different method (or header, port, authority) keeps the later match reachable,
    // and so does the longer prefix coming first.
    let text = http(&format!(
        "- match:\n  - uri:\n      prefix: /api\n{ROUTE}- match:\n  - uri:\n      prefix: /api/v2\n    method:\n      exact: POST\n{ROUTE}"
    ));
    assert_clean(&text);
    let text = http(&format!(
        "- match:\n  - uri:\n      prefix: /api/v2\n{ROUTE}- match:\n  - uri:\n      prefix: /api\n{ROUTE}"
    ));
    assert_clean(&text);
}
