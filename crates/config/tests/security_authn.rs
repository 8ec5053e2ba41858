//! PeerAuthentication and RequestAuthentication: full examples decode, and each validation
//! rule reports its path.

mod common;

use common::{assert_error, assert_warning, istio, load_ok};
use verimesh_config::security::MtlsMode;

fn pa(spec: &str) -> String {
    istio("security.istio.io/v1beta1", "PeerAuthentication", spec)
}

fn ra(spec: &str) -> String {
    istio("security.istio.io/v1", "RequestAuthentication", spec)
}

#[test]
fn peer_authentication_full() {
    let l = load_ok(&pa("selector:\n  matchLabels: {app: reviews}\nmtls: {mode: STRICT}\nportLevelMtls:\n  8080: {mode: DISABLE}\n  \"9090\": {mode: PERMISSIVE}\n"));
    let p = l.resources[0].as_peer_authentication().unwrap();
    assert_eq!(p.mode(), MtlsMode::Strict);
    let ports: Vec<_> = p.port_modes().collect();
    assert_eq!(
        ports,
        [(8080, MtlsMode::Disable), (9090, MtlsMode::Permissive)]
    );
}

#[test]
fn peer_authentication_rules() {
    assert_error(
        &pa("mtls: {mode: STRICT}\nportLevelMtls:\n  8080: {mode: DISABLE}\n"),
        "spec.portLevelMtls",
        "needs a selector",
    );
    assert_error(
        &pa("selector: {matchLabels: {}}\nportLevelMtls:\n  8080: {mode: DISABLE}\n"),
        "spec.portLevelMtls",
        "needs a selector",
    );
    assert_error(
        &pa("selector: {matchLabels: {a: b}}\nportLevelMtls:\n  \"0\": {mode: DISABLE}\n"),
        "spec.portLevelMtls.0",
        "1..65535",
    );
    assert_error(
        &pa("selector: {matchLabels: {a: b}}\nportLevelMtls:\n  http: {mode: DISABLE}\n"),
        "spec.portLevelMtls.http",
        "port number",
    );
    assert_error(
        &pa("mtls: {mode: SOMETIMES}\n"),
        "spec.mtls.mode",
        "unknown variant",
    );
    assert_error(
        &pa("selector: {matchLabels: {app: \"*\"}}\n"),
        "spec.selector.matchLabels.app",
        "wildcards",
    );
    assert_warning(
        &pa("selector: {}\n"),
        "spec.selector",
        "selects every workload",
    );
    assert_error(
        &pa("mtls: {mode: STRICT, extra: 1}\n"),
        "spec.mtls.extra",
        "unknown field",
    );
}

const JWT_FULL: &str = r#"selector:
  matchLabels: {app: httpbin}
jwtRules:
- issuer: testing@secure.istio.io
  audiences: [app, web]
  jwksUri: https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json
  fromHeaders:
  - {name: x-jwt-assertion, prefix: "Bearer "}
  fromParams: [my_token]
  fromCookies: [session]
  outputPayloadToHeader: x-jwt-payload
  forwardOriginalToken: true
  outputClaimToHeaders:
  - {header: x-jwt-claim-foo, claim: foo}
  timeout: 10s
  spaceDelimitedClaims: [roles]
- issuer: other
  jwks: '{"keys":[{"kty":"RSA","e":"AQAB","n":"xyz","kid":"k1"}]}'
"#;

#[test]
fn request_authentication_full() {
    let l = load_ok(&ra(JWT_FULL));
    let r = l.resources[0].as_request_authentication().unwrap();
    assert_eq!(r.jwt_rules.len(), 2);
    assert_eq!(
        r.jwt_rules[0].from_headers[0].prefix.as_deref(),
        Some("Bearer ")
    );
    assert_eq!(r.jwt_rules[0].timeout_or_default().as_secs(), 10);
    assert_eq!(r.jwt_rules[1].timeout_or_default().as_secs(), 5);
    load_ok(&ra("targetRefs:\n- {kind: Gateway, group: gateway.networking.k8s.io, name: gw}\njwtRules:\n- {issuer: a, jwksUri: \"http://jwks.default.svc:8000/keys\"}\n"));
}

#[test]
fn request_authentication_rules() {
    let rule = |r: &str| ra(&format!("jwtRules:\n- {r}\n"));
    assert_error(
        &rule("{audiences: [a]}"),
        "spec.jwtRules[0].issuer",
        "issuer is required",
    );
    assert_warning(
        &rule("{jwksUri: \"https://a.example/k\"}"),
        "spec.jwtRules[0].issuer",
        "any issuer",
    );
    assert_error(
        &rule("{issuer: a, jwksUri: \"ftp://x/k\"}"),
        "spec.jwtRules[0].jwksUri",
        "http:// or https://",
    );
    assert_error(
        &rule("{issuer: a, jwksUri: \"https://\"}"),
        "spec.jwtRules[0].jwksUri",
        "host is missing",
    );
    assert_warning(
        &rule("{issuer: a, jwksUri: \"https://a.example/k\", jwks: '{\"keys\":[]}'}"),
        "spec.jwtRules[0].jwks",
        "both jwks and jwksUri",
    );
    assert_error(
        &rule("{issuer: a, jwks: 'not json'}"),
        "spec.jwtRules[0].jwks",
        "not a valid JSON Web Key Set",
    );
    assert_error(
        &rule("{issuer: a, jwks: '{\"keys\": 3}'}"),
        "spec.jwtRules[0].jwks",
        "must be a list",
    );
    assert_warning(
        &rule("{issuer: a, jwks: '{\"keys\":[{\"kty\":\"EC\",\"d\":\"x\"}]}'}"),
        "spec.jwtRules[0].jwks",
        "private key",
    );
    assert_error(
        &rule("{issuer: a, audiences: [\"\"]}"),
        "spec.jwtRules[0].audiences[0]",
        "empty",
    );
    assert_error(
        &rule("{issuer: a, fromHeaders: [{name: \"bad header\"}]}"),
        "spec.jwtRules[0].fromHeaders[0].name",
        "not a valid HTTP header name",
    );
    assert_error(
        &rule("{issuer: a, fromHeaders: [{prefix: x}]}"),
        "spec.jwtRules[0].fromHeaders[0].name",
        "must not be empty",
    );
    assert_error(
        &rule("{issuer: a, fromParams: [\"\"]}"),
        "spec.jwtRules[0].fromParams[0]",
        "empty",
    );
    assert_error(
        &rule("{issuer: a, fromCookies: [\"\"]}"),
        "spec.jwtRules[0].fromCookies[0]",
        "empty",
    );
    assert_error(
        &rule("{issuer: a, outputPayloadToHeader: \"a b\"}"),
        "spec.jwtRules[0].outputPayloadToHeader",
        "header name",
    );
    assert_error(
        &rule("{issuer: a, outputClaimToHeaders: [{header: x.y, claim: c}]}"),
        "spec.jwtRules[0].outputClaimToHeaders[0].header",
        "letters, digits, '-' and '_'",
    );
    assert_error(
        &rule("{issuer: a, outputClaimToHeaders: [{header: x}]}"),
        "spec.jwtRules[0].outputClaimToHeaders[0].claim",
        "required",
    );
    assert_error(
        &rule("{issuer: a, timeout: 0s}"),
        "spec.jwtRules[0].timeout",
        "at least 1ms",
    );
    assert_error(
        &ra("selector: {matchLabels: {a: b}}\ntargetRef: {kind: Service, name: s}\n"),
        "spec.targetRef",
        "mutually exclusive",
    );
    assert_error(
        &ra("targetRef: {kind: Service, name: s, namespace: other}\n"),
        "spec.targetRef.namespace",
        "own namespace",
    );
    assert_error(
        &ra("targetRef: {kind: Service}\n"),
        "spec.targetRef.name",
        "required",
    );
    assert_error(
        &ra("targetRefs:\n- {kind: Deployment, group: apps, name: d}\n"),
        "spec.targetRefs[0].kind",
        "cannot target apps/Deployment",
    );
}
