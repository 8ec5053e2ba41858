//! Regressions from Istio's published security bulletins and the bypass classes behind
//! them, as tests of the pure decision engine (the proxy runs the same code).

mod common;

use common::*;
use verimesh_policy::Verdict;

fn deny(spec_to: &str) -> String {
    format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: deny, namespace: foo}}\nspec:\n  action: DENY\n  rules:\n{spec_to}\n")
}

fn allow(spec: &str) -> String {
    format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: allow, namespace: foo}}\nspec:\n  rules:\n{spec}\n")
}

fn normalization(mode: &str) -> verimesh_config::mesh::MeshConfig {
    mesh(&format!("pathNormalization: {{normalization: {mode}}}\n"))
}

/// ISTIO-SECURITY-2020-001 (CVE-2020-8595): exact path matches compared the query and
/// fragment too, so `/admin?x` escaped a DENY on `/admin`.
#[test]
fn cve_2020_8595_query_and_fragment_never_part_of_the_path() {
    let e = engine(&deny("  - to:\n    - operation: {paths: [/admin]}"));
    for p in [
        "/admin",
        "/admin?",
        "/admin?x=1",
        "/admin#",
        "/admin#frag",
        "/admin?a#b",
    ] {
        assert_eq!(http(&e, &conn(None), &get(p)).status, Some(403), "{p}");
    }
    let e = engine(&allow("  - to:\n    - operation: {paths: [/public]}"));
    assert_eq!(
        http(&e, &conn(None), &get("/public?debug=1")).status,
        Some(200)
    );
    let o = http(&e, &conn(None), &get("/public?debug=1"));
    assert_eq!(
        o.request.unwrap().query.as_deref(),
        Some("debug=1"),
        "the query is still forwarded"
    );
}

/// ISTIO-SECURITY-2021-005 (CVE-2021-31920): multiple and escaped slashes.
#[test]
fn cve_2021_31920_slashes() {
    let spec = deny("  - to:\n    - operation: {paths: [/admin, '/admin/*']}");
    let decode = engine_with(&spec, &normalization("DECODE_AND_MERGE_SLASHES"));
    for p in [
        "//admin",
        "///admin/x",
        "/%2Fadmin",
        "/%2fadmin",
        "/%5Cadmin",
        "/%5cadmin",
        "/x/..%2Fadmin",
        "/admin%2Fx",
    ] {
        assert_eq!(http(&decode, &conn(None), &get(p)).status, Some(403), "{p}");
    }
    let merge = engine_with(&spec, &normalization("MERGE_SLASHES"));
    assert_eq!(http(&merge, &conn(None), &get("//admin")).status, Some(403));
    // As documented: BASE does not merge slashes, so `//admin` is a different path there.
    let base = engine_with(&spec, &normalization("BASE"));
    assert_eq!(http(&base, &conn(None), &get("//admin")).status, Some(200));
    // ALLOW + notPaths, the bulletin's other vulnerable pattern.
    let e = engine_with(
        &allow("  - to:\n    - operation: {notPaths: [/admin]}"),
        &normalization("DECODE_AND_MERGE_SLASHES"),
    );
    for p in ["//admin", "/%2Fadmin", "/./admin", "/a/../admin"] {
        assert_eq!(http(&e, &conn(None), &get(p)).status, Some(403), "{p}");
    }
}

/// Dot segments, backslashes and encoded dots (BASE, the default).
#[test]
fn dot_segments_and_backslashes_by_default() {
    let e = engine(&deny("  - to:\n    - operation: {paths: [/admin]}"));
    for p in [
        "/public/../admin",
        "/./admin",
        "/%2e%2e/admin",
        "/public/%2E%2E/admin",
        "/public\\..\\admin",
        "/%61dmin",
    ] {
        assert_eq!(http(&e, &conn(None), &get(p)).status, Some(403), "{p}");
    }
}

/// ISTIO-SECURITY-2021-008 (CVE-2021-39156): a `#fragment` in the path.
#[test]
fn cve_2021_39156_fragment() {
    let e = engine(&deny("  - to:\n    - operation: {paths: ['/admin*']}"));
    assert_eq!(
        http(&e, &conn(None), &get("/admin#/../public")).status,
        Some(403)
    );
    let e = engine(&allow("  - to:\n    - operation: {paths: ['/public/*']}"));
    assert_eq!(
        http(&e, &conn(None), &get("/admin#/public/x")).status,
        Some(403)
    );
}

/// ISTIO-SECURITY-2021-008 (CVE-2021-39155): hosts compared case-sensitively. And ports:
/// Istio matches the authority as sent, so a port needs `host:*`.
#[test]
fn cve_2021_39155_host_case_and_ports() {
    let e = engine(&deny(
        "  - to:\n    - operation: {hosts: [httpbin.foo, 'httpbin.foo:*']}",
    ));
    for h in [
        "httpbin.foo",
        "Httpbin.Foo",
        "HTTPBIN.FOO",
        "httpbin.foo:8000",
        "HttpBin.foo:80",
    ] {
        let r = req("GET", "/", &[("host", h)]);
        assert_eq!(http(&e, &conn(None), &r).status, Some(403), "{h}");
    }
    let e = engine(&deny("  - to:\n    - operation: {hosts: [httpbin.foo]}"));
    let r = req("GET", "/", &[("host", "httpbin.foo:8000")]);
    assert_eq!(
        http(&e, &conn(None), &r).status,
        Some(200),
        "documented: exact host without port"
    );
    let mut r2 = req("GET", "/", &[]);
    r2.authority = Some("HTTPBIN.foo".into());
    assert_eq!(
        http(&e, &conn(None), &r2).status,
        Some(403),
        ":authority too"
    );
    let two = req("GET", "/", &[("host", "ok.foo"), ("host", "httpbin.foo")]);
    assert_eq!(
        http(&e, &conn(None), &two).status,
        Some(400),
        "two Host headers"
    );
}

/// Repeated and comma-joined headers (CVE-2026-26308 class): each value on its own.
#[test]
fn repeated_headers_each_value_checked() {
    let e = engine(&deny(
        "  - when:\n    - key: request.headers[x-role]\n      values: [admin]",
    ));
    let cases: &[&[(&str, &str)]] = &[
        &[("x-role", "admin")],
        &[("x-role", "user"), ("x-role", "admin")],
        &[("X-Role", "user"), ("x-ROLE", "admin")],
        &[("x-role", "user,admin")],
        &[("x-role", "user, admin")],
    ];
    for h in cases {
        assert_eq!(
            http(&e, &conn(None), &req("GET", "/", h)).status,
            Some(403),
            "{h:?}"
        );
    }
    // ALLOW: every value must pass.
    let e = engine(&allow(
        "  - when:\n    - key: request.headers[x-role]\n      values: [admin]",
    ));
    assert_eq!(
        http(&e, &conn(None), &req("GET", "/", &[("x-role", "admin")])).status,
        Some(200)
    );
    let both = req("GET", "/", &[("x-role", "admin"), ("x-role", "guest")]);
    assert_eq!(http(&e, &conn(None), &both).status, Some(403));
    // ALLOW + notValues: an excluded value anywhere denies.
    let e = engine(&allow(
        "  - when:\n    - key: request.headers[x-user]\n      notValues: [mallory]",
    ));
    for h in [
        &[("x-user", "alice"), ("x-user", "mallory")][..],
        &[("x-user", "alice,mallory")][..],
    ] {
        assert_eq!(
            http(&e, &conn(None), &req("GET", "/", h)).status,
            Some(403),
            "{h:?}"
        );
    }
    // DENY + notValues: one value outside the allowed set denies.
    let e = engine(&deny(
        "  - when:\n    - key: request.headers[x-tenant]\n      notValues: [a]",
    ));
    let mixed = req("GET", "/", &[("x-tenant", "a"), ("x-tenant", "b")]);
    assert_eq!(http(&e, &conn(None), &mixed).status, Some(403));
    assert_eq!(
        http(&e, &conn(None), &req("GET", "/", &[("x-tenant", "a")])).status,
        Some(200)
    );
}

/// Trailing and leading whitespace in header values, lower-case methods, NUL bytes.
#[test]
fn whitespace_methods_and_nul() {
    let e = engine(&deny(
        "  - when:\n    - key: request.headers[x-user]\n      values: [mallory]",
    ));
    for v in ["mallory ", " mallory", "mallory\t", "\tmallory  "] {
        assert_eq!(
            http(&e, &conn(None), &req("GET", "/", &[("x-user", v)])).status,
            Some(403),
            "{v:?}"
        );
    }
    let e = engine(&deny("  - to:\n    - operation: {methods: [DELETE]}"));
    for m in ["delete", "Delete", "DELETE "] {
        assert_eq!(
            http(&e, &conn(None), &req(m, "/", &[])).status,
            Some(400),
            "{m:?}"
        );
    }
    assert_eq!(
        http(&e, &conn(None), &req("DELETE", "/", &[])).status,
        Some(403)
    );
    assert_eq!(http(&e, &conn(None), &get("/admin\0")).status, Some(400));
    assert_eq!(
        http(&e, &conn(None), &req("GET", "/", &[("x", "a\0")])).status,
        Some(400)
    );
    assert_eq!(
        http(&e, &conn(None), &req("GET", "/", &[("bad header", "a")])).status,
        Some(400)
    );
}

/// Mesh-internal headers from outside are stripped, so they cannot satisfy a policy.
#[test]
fn internal_headers_cannot_be_forged() {
    let e = engine(&allow(
        "  - when:\n    - key: request.headers[x-forwarded-client-cert]\n      values: ['*']",
    ));
    let r = req(
        "GET",
        "/",
        &[(
            "x-forwarded-client-cert",
            "By=spiffe://cluster.local/ns/foo/sa/admin",
        )],
    );
    assert_eq!(http(&e, &conn(None), &r).status, Some(403));
    let e = engine(&allow(
        "  - when:\n    - key: request.headers[x-envoy-peer-metadata]\n      values: ['*']",
    ));
    let r = req("GET", "/", &[("X-Envoy-Peer-Metadata", "x")]);
    assert_eq!(http(&e, &conn(None), &r).status, Some(403));
}

/// Plaintext callers against negative identity rules: a plaintext caller has no identity,
/// so it never matches a positive identity value and always matches a negative one.
#[test]
fn plaintext_callers_and_negative_identity_rules() {
    let sa = "spiffe://cluster.local/ns/foo/sa/a";
    // DENY + notPrincipals / notNamespaces: plaintext is denied (the safe pattern).
    for src in [
        "{notPrincipals: [cluster.local/ns/foo/sa/a]}",
        "{notNamespaces: [foo]}",
        "{notPrincipals: ['*']}",
    ] {
        let e = engine(&deny(&format!("  - from:\n    - source: {src}")));
        assert_eq!(http(&e, &conn(None), &get("/")).status, Some(403), "{src}");
        assert_eq!(
            tcp(&e, &conn(None)).verdict,
            Verdict::Deny,
            "{src} over TCP"
        );
        assert_eq!(
            http(&e, &conn(Some(sa)), &get("/")).status,
            Some(200),
            "{src}"
        );
    }
    // ALLOW + principals ['*']: requires mTLS.
    let e = engine(&allow("  - from:\n    - source: {principals: ['*']}"));
    assert_eq!(http(&e, &conn(None), &get("/")).status, Some(403));
    assert_eq!(http(&e, &conn(Some(sa)), &get("/")).status, Some(200));
    // ALLOW + notNamespaces: Istio's documented pitfall — plaintext matches the negation.
    let e = engine(&allow("  - from:\n    - source: {notNamespaces: [evil]}"));
    assert_eq!(http(&e, &conn(None), &get("/")).status, Some(200));
}

/// Wildcard principals in DENY rules on TCP traffic.
#[test]
fn wildcard_principals_in_tcp_deny_rules() {
    let sa = "spiffe://cluster.local/ns/foo/sa/a";
    let e = engine(&deny(
        "  - from:\n    - source: {principals: ['*']}\n    to:\n    - operation: {ports: ['8080']}",
    ));
    assert_eq!(tcp(&e, &conn(Some(sa))).verdict, Verdict::Deny);
    assert_eq!(
        tcp(&e, &conn(None)).verdict,
        Verdict::Allow,
        "'*' needs an identity"
    );
    let e = engine(&deny(
        "  - from:\n    - source: {principals: ['cluster.local/ns/foo/*']}",
    ));
    assert_eq!(tcp(&e, &conn(Some(sa))).verdict, Verdict::Deny);
    assert_eq!(
        tcp(&e, &conn(Some("spiffe://cluster.local/ns/bar/sa/a"))).verdict,
        Verdict::Allow
    );
    // HTTP-only fields beside it are dropped on TCP: the DENY widens, never narrows.
    let e = engine(&deny(
        "  - from:\n    - source: {principals: ['*'], requestPrincipals: ['*']}",
    ));
    assert_eq!(tcp(&e, &conn(Some(sa))).verdict, Verdict::Deny);
}

/// Service-account names with dots: a dot is literal, never "any character".
#[test]
fn service_account_names_with_dots() {
    let e = engine(&allow(
        "  - from:\n    - source: {serviceAccounts: [foo/app.v1]}",
    ));
    assert_eq!(
        http(
            &e,
            &conn(Some("spiffe://cluster.local/ns/foo/sa/app.v1")),
            &get("/")
        )
        .status,
        Some(200)
    );
    for other in ["app-v1", "appXv1", "app.v10", "app.v"] {
        let p = format!("spiffe://cluster.local/ns/foo/sa/{other}");
        assert_eq!(
            http(&e, &conn(Some(&p)), &get("/")).status,
            Some(403),
            "{other}"
        );
    }
    let e = engine(&allow(
        "  - from:\n    - source: {principals: [cluster.local/ns/foo/sa/app.v1]}",
    ));
    assert_eq!(
        http(
            &e,
            &conn(Some("spiffe://cluster.local/ns/foo/sa/appXv1")),
            &get("/")
        )
        .status,
        Some(403)
    );
    let e = engine(&allow(
        "  - when:\n    - key: source.serviceAccount\n      values: [foo/app.v1]",
    ));
    assert_eq!(
        http(
            &e,
            &conn(Some("spiffe://cluster.local/ns/foo/sa/app-v1")),
            &get("/")
        )
        .status,
        Some(403)
    );
}
