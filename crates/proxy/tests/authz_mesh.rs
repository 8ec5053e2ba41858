//! AuthorizationPolicy enforced by the real proxy: a server proxy (workload `web` in `b`)
//! in front of a backend that echoes what it received, called through a client proxy over
//! mTLS (principal `cluster.local/ns/a/sa/client`) or directly in plaintext (no principal).
//! The security-bulletin regressions of crates/policy are replayed here with raw request
//! targets, so the proxy's own parsing and forwarding are under test, not only the engine.

mod support;

use http::StatusCode;
use std::time::Duration;
use support::grpc_authz::*;
use support::policy::*;
use support::*;
use verimesh_config::mesh::NormalizationType;
use verimesh_model::Protocol;

const NEVER: Duration = Duration::from_secs(3600);

struct Setup {
    _mesh: Mesh,
    server: verimesh_proxy::Proxy,
    client: verimesh_proxy::Proxy,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn setup(yaml: &str, normalization: NormalizationType) -> Setup {
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let (app, _) = backend("web").await;
    let server = policy_server(
        &mesh,
        app,
        Protocol::Http,
        security(yaml, normalization),
        &log,
        NEVER,
    )
    .await;
    let client = client_as(&mesh, CLIENT_ID, server.inbound_addr, Protocol::Http).await;
    Setup {
        _mesh: mesh,
        server,
        client,
        log,
        _dir: dir,
    }
}

const MESH_DENY_NS_ALLOW: &str = r#"
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-deny, namespace: istio-system}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin", "/admin/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: b}
spec:
  rules:
  - from: [{source: {principals: [cluster.local/ns/a/sa/client]}}]
    to: [{operation: {methods: [GET], paths: ["/api/*"]}}]
"#;

#[tokio::test]
async fn mesh_wide_deny_and_namespace_allow_decide_as_istio_documents() {
    let s = setup(MESH_DENY_NS_ALLOW, NormalizationType::Base).await;
    let out = s.client.outbound_addr;
    let (status, _, body) = get(out, "/api/items", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "path"), Some("/api/items"));
    let (status, _, body) = send(
        out,
        http::Method::POST,
        "/api/items",
        &[],
        Default::default(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "POST is not among the methods"
    );
    assert_eq!(body, "RBAC: access denied");
    let (status, _, _) = get(out, "/other", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no ALLOW rule matches");
    let (status, _, _) = get(out, "/admin/users", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the mesh-wide DENY");
    // Plaintext: no principal, so the ALLOW rule cannot match.
    let (status, _) = raw_get(s.server.inbound_addr, "/api/items", &[]).await;
    assert_eq!(status, 403);
    // The access log names what decided, with Envoy's details and no response flag.
    let deny = wait_log(&s.log, |e| e["path"] == "/admin/users").await;
    assert_eq!(deny["authz_policy"], "DENY istio-system/mesh-deny rule 0");
    assert_eq!(
        deny["response_code_details"],
        "rbac_access_denied_matched_policy[ns[istio-system]-policy[mesh-deny]-rule[0]]"
    );
    assert_eq!(deny["response_flags"], "-");
    let none = wait_log(&s.log, |e| e["path"] == "/other").await;
    assert_eq!(
        none["response_code_details"],
        "rbac_access_denied_matched_policy[none]"
    );
    let ok = wait_log(&s.log, |e| e["response_code"] == 200).await;
    assert_eq!(ok["authz_policy"], "ALLOW b/allow-client rule 0");
}

fn deny_paths(paths: &str) -> String {
    format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: deny, namespace: b}}\nspec:\n  action: DENY\n  rules: [{{to: [{{operation: {{paths: {paths}}}}}]}}]\n")
}

/// CVE-2020-8595 and CVE-2021-39156: the query and fragment are never part of the path.
#[tokio::test]
async fn exact_path_deny_is_not_bypassed_by_query_or_fragment() {
    let s = setup(&deny_paths("[/admin]"), NormalizationType::Base).await;
    let addr = s.server.inbound_addr;
    for target in [
        "/admin",
        "/admin?",
        "/admin?x=1",
        "/admin#frag",
        "/admin?a#b",
    ] {
        assert_eq!(raw_get(addr, target, &[]).await.0, 403, "{target}");
    }
    // What passes is forwarded as decided: the query kept, the path normalized.
    let (status, body) = raw_get(addr, "/public/./x/../y?debug=1", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(field(&body, "path"), Some("/public/y?debug=1"));
    for target in ["/public/../admin", "/%61dmin", "/public/%2e%2e/admin"] {
        assert_eq!(raw_get(addr, target, &[]).await.0, 403, "{target}");
    }
}

/// CVE-2021-31920: `//` and `%2F` under DECODE_AND_MERGE_SLASHES; what the backend receives
/// is the merged path the policy judged.
#[tokio::test]
async fn escaped_and_doubled_slashes_are_merged_before_the_decision() {
    let s = setup(
        &deny_paths("[/admin, '/admin/*']"),
        NormalizationType::DecodeAndMergeSlashes,
    )
    .await;
    let addr = s.server.inbound_addr;
    for target in [
        "//admin",
        "///admin/x",
        "/%2Fadmin",
        "/%2fadmin",
        "/%5Cadmin",
        "/x/..%2Fadmin",
    ] {
        assert_eq!(raw_get(addr, target, &[]).await.0, 403, "{target}");
    }
    let (status, body) = raw_get(addr, "//public%2F%2Fx", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(field(&body, "path"), Some("/public/x"));
}

/// CVE-2021-39155: hosts compared case-insensitively, ports as Istio documents them.
#[tokio::test]
async fn host_case_and_ports() {
    let yaml = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny, namespace: b}\nspec:\n  action: DENY\n  rules: [{to: [{operation: {hosts: [httpbin.foo, 'httpbin.foo:*']}}]}]\n";
    let s = setup(yaml, NormalizationType::Base).await;
    let addr = s.server.inbound_addr;
    for host in [
        "httpbin.foo",
        "Httpbin.Foo",
        "HTTPBIN.FOO",
        "httpbin.foo:8000",
    ] {
        let (status, _) = raw(addr, &format!("GET / HTTP/1.1\r\nhost: {host}")).await;
        assert_eq!(status, 403, "{host}");
    }
    let (status, _) = raw(addr, "GET / HTTP/1.1\r\nhost: ok.foo").await;
    assert_eq!(status, 200);
}

/// Repeated and comma-joined headers: each value judged on its own; surrounding
/// whitespace never hides a value.
#[tokio::test]
async fn repeated_headers_and_trailing_whitespace() {
    let yaml = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny, namespace: b}\nspec:\n  action: DENY\n  rules:\n  - when: [{key: 'request.headers[x-role]', values: [admin]}]\n";
    let s = setup(yaml, NormalizationType::Base).await;
    let addr = s.server.inbound_addr;
    let cases: &[&[&str]] = &[
        &["x-role: admin"],
        &["x-role: user", "x-role: admin"],
        &["X-Role: user", "x-ROLE: admin"],
        &["x-role: user,admin"],
        &["x-role: admin \t"],
    ];
    for h in cases {
        assert_eq!(raw_get(addr, "/", h).await.0, 403, "{h:?}");
    }
    let (status, body) = raw_get(addr, "/", &["x-role: user"]).await;
    assert_eq!(status, 200, "{body}");
    // Two Host headers are refused before any policy.
    let (status, _) = raw(addr, "GET / HTTP/1.1\r\nhost: a.foo\r\nhost: b.foo").await;
    assert_eq!(status, 400);
}

/// A plaintext caller has no principal: it matches every `notPrincipals`, never `'*'`.
#[tokio::test]
async fn plaintext_callers_against_not_principals() {
    let yaml = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: deny, namespace: b}\nspec:\n  action: DENY\n  rules: [{from: [{source: {notPrincipals: [cluster.local/ns/a/sa/client]}}]}]\n";
    let s = setup(yaml, NormalizationType::Base).await;
    assert_eq!(raw_get(s.server.inbound_addr, "/", &[]).await.0, 403);
    let (status, _, body) = get(s.client.outbound_addr, "/", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Dots in service-account names are literal.
#[tokio::test]
async fn dots_in_service_account_names() {
    let yaml = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow, namespace: b}\nspec:\n  rules: [{from: [{source: {principals: [cluster.local/ns/a/sa/app.v1]}}]}]\n";
    let s = setup(yaml, NormalizationType::Base).await;
    let dotted = client_as(
        &s._mesh,
        "spiffe://cluster.local/ns/a/sa/app.v1",
        s.server.inbound_addr,
        Protocol::Http,
    )
    .await;
    let (status, _, body) = get(dotted.outbound_addr, "/", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lookalike = client_as(
        &s._mesh,
        "spiffe://cluster.local/ns/a/sa/appXv1",
        s.server.inbound_addr,
        Protocol::Http,
    )
    .await;
    let (status, _, _) = get(lookalike.outbound_addr, "/", &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// CUSTOM with an authorizer this proxy cannot reach (its service is not in the proxy's
/// config): the proxy fails closed. AUDIT never changes the outcome but is logged.
#[tokio::test]
async fn unreachable_custom_provider_fails_closed_and_audit_is_logged() {
    let yaml = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext, namespace: b}\nspec:\n  action: CUSTOM\n  provider: {name: opa}\n  rules: [{to: [{operation: {paths: ['/ext/*']}}]}]\n---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: audit, namespace: b}\nspec:\n  action: AUDIT\n  rules: [{to: [{operation: {paths: ['/audited']}}]}]\n";
    let mut sec = security(yaml, NormalizationType::Base);
    sec.extension_providers = vec![serde_json::from_str(
        r#"{"name": "opa", "envoyExtAuthzHttp": {"service": "opa.b.svc.cluster.local", "port": 8181}}"#,
    )
    .expect("provider")];
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let (app, _) = backend("web").await;
    let server = policy_server(&mesh, app, Protocol::Http, sec, &log, NEVER).await;
    let addr = server.inbound_addr;
    assert_eq!(raw_get(addr, "/ext/x", &[]).await.0, 403);
    assert_eq!(raw_get(addr, "/other", &[]).await.0, 200);
    assert_eq!(raw_get(addr, "/audited", &[]).await.0, 200);
    let ext = wait_log(&log, |e| e["path"] == "/ext/x").await;
    assert_eq!(ext["response_flags"], "UAEX");
    assert_eq!(ext["response_code_details"], "ext_authz_error");
    let audited = wait_log(&log, |e| e["path"] == "/audited").await;
    assert_eq!(audited["authz_audit"], "AUDIT b/audit rule 0");
}

/// TCP: decided when the connection opens, with the peer identity and port; a DENY with
/// `principals: ['*']` refuses mTLS callers and closes the connection, while a plaintext
/// caller (no identity) passes.
#[tokio::test]
async fn tcp_deny_with_wildcard_principals_closes_the_connection() {
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let echo = echo_server().await;
    let yaml = format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: deny-tcp, namespace: b}}\nspec:\n  action: DENY\n  rules:\n  - from: [{{source: {{principals: ['*']}}}}]\n    to: [{{operation: {{ports: ['{}']}}}}]\n", echo.port());
    let sec = security(&yaml, NormalizationType::Base);
    let server = policy_server(&mesh, echo, Protocol::Tcp, sec, &log, NEVER).await;
    let client = client_as(&mesh, CLIENT_ID, server.inbound_addr, Protocol::Tcp).await;
    assert_eq!(echo_through(client.outbound_addr, b"hello").await, b"");
    assert_eq!(echo_through(server.inbound_addr, b"plain").await, b"plain");
    let denied = wait_log(&log, |e| e["connection_termination_details"].is_string()).await;
    assert_eq!(denied["authz_policy"], "DENY b/deny-tcp rule 0");
    assert_eq!(denied["source_principal"], CLIENT_ID);
    // Another port is not covered by the rule.
    let other = format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: deny-tcp, namespace: b}}\nspec:\n  action: DENY\n  rules:\n  - from: [{{source: {{principals: ['*']}}}}]\n    to: [{{operation: {{ports: ['{}']}}}}]\n", echo.port().wrapping_add(1));
    let server2 = policy_server(
        &mesh,
        echo,
        Protocol::Tcp,
        security(&other, NormalizationType::Base),
        &dir.path().join("s2.log"),
        NEVER,
    )
    .await;
    let client2 = client_as(&mesh, CLIENT_ID, server2.inbound_addr, Protocol::Tcp).await;
    assert_eq!(
        echo_through(client2.outbound_addr, b"hello").await,
        b"hello"
    );
}

/// CUSTOM asks the provider (Istio's envoyExtAuthzHttp contract) through the proxy's own
/// outbound config: its answer decides, its headers go where the provider config says.
#[tokio::test]
async fn custom_policies_ask_the_external_authorizer() {
    let yaml = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext, namespace: b}\nspec:\n  action: CUSTOM\n  provider: {name: sample}\n  rules: [{to: [{operation: {paths: ['/ext/*']}}]}]\n";
    let mut sec = security(yaml, NormalizationType::Base);
    sec.extension_providers = vec![serde_json::from_str(
        r#"{"name": "sample", "envoyExtAuthzHttp": {"service": "b/authz.b.svc.cluster.local",
            "port": 8000, "pathPrefix": "/check",
            "includeRequestHeadersInCheck": ["x-ext-authz"],
            "headersToUpstreamOnAllow": ["x-ext-authz-check-result"],
            "headersToDownstreamOnDeny": ["x-ext-authz-check-result", "content-type"]}}"#,
    )
    .expect("provider")];
    let (authz, seen) = ext_authz_server().await;
    let (app, _) = backend("web").await;
    let mut cfg = policy_config(app, Protocol::Http, sec);
    with_authz_service(&mut cfg, 8000, authz, Protocol::Http);
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let server = start_policy_server(&mesh, cfg, app, &log, NEVER).await;
    let addr = server.inbound_addr;
    let (status, body) = raw_get(addr, "/ext/a?q=1", &["x-ext-authz: allow"]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(field(&body, "x-ext-authz-check-result"), Some("allowed"));
    let (status, body) = raw_get(addr, "/ext/b", &[]).await;
    assert_eq!((status, body.as_str()), (403, "denied by ext_authz"));
    assert_eq!(raw_get(addr, "/other", &[]).await.0, 200);
    let asked = seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(
        asked,
        ["/check/ext/a?q=1", "/check/ext/b"],
        "only CUSTOM matches are asked"
    );
    let denied = wait_log(&log, |e| e["path"] == "/ext/b").await;
    assert_eq!(denied["response_flags"], "UAEX");
    assert_eq!(denied["response_code_details"], "ext_authz_denied");
    assert_eq!(
        denied["authz_policy"],
        "CUSTOM (provider sample) b/ext rule 0"
    );
    // The deny headers reach the caller.
    let (_, headers, _) = get(addr, "/ext/c", &[]).await;
    assert_eq!(
        headers
            .get("x-ext-authz-check-result")
            .map(|v| v.as_bytes()),
        Some(&b"denied"[..])
    );
    // The authorizer's content-type replaces the refusal's own rather than joining it.
    let types: Vec<_> = headers.get_all("content-type").iter().collect();
    assert_eq!(types, ["text/x-denial"]);
}

/// Adds `authz.b.svc.cluster.local:port` (plain, no sidecar) at `addr` to `cfg`, as the
/// compiler does for a provider's service.
fn with_authz_service(
    cfg: &mut verimesh_model::ProxyConfig,
    port: u16,
    addr: std::net::SocketAddr,
    protocol: Protocol,
) {
    cfg.services
        .push(std::sync::Arc::new(verimesh_model::Service {
            hostname: "authz.b.svc.cluster.local".into(),
            aliases: vec![],
            addresses: vec![],
            ports: vec![verimesh_model::ServicePort {
                port,
                name: format!("{protocol:?}").to_lowercase(),
                protocol,
                http_routes: vec![],
                tcp_routes: vec![],
                default_cluster: "authz".into(),
            }],
        }));
    cfg.clusters
        .push(std::sync::Arc::new(verimesh_model::Cluster {
            name: "authz".into(),
            transport: verimesh_model::Transport::Plain,
            endpoints: vec![verimesh_model::Endpoint {
                address: addr,
                identity: None,
                labels: Default::default(),
                weight: 1,
            }],
            connect_timeout_ms: 1000,
            ..Default::default()
        }));
}

const GRPC_CUSTOM: &str = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: ext, namespace: b}\nspec:\n  action: CUSTOM\n  provider: {name: grpc}\n  rules: [{to: [{operation: {paths: ['/ext/*', /echo-body]}}]}]\n";

/// A server proxy enforcing GRPC_CUSTOM with the provider `grpc` configured by `provider`
/// (JSON of `envoyExtAuthzGrpc`), whose service is at `authz`; and its application's address
/// (the connections' original destination).
async fn grpc_setup(
    mesh: &Mesh,
    provider: &str,
    authz: std::net::SocketAddr,
    log: &std::path::Path,
) -> (verimesh_proxy::Proxy, std::net::SocketAddr) {
    let mut sec = security(GRPC_CUSTOM, NormalizationType::Base);
    sec.extension_providers = vec![serde_json::from_str(&format!(
        r#"{{"name": "grpc", "envoyExtAuthzGrpc": {provider}}}"#
    ))
    .expect("provider")];
    let (app, _) = backend("web").await;
    let mut cfg = policy_config(app, Protocol::Http, sec);
    with_authz_service(&mut cfg, 9000, authz, Protocol::Grpc);
    (start_policy_server(mesh, cfg, app, log, NEVER).await, app)
}

/// CUSTOM with an `envoyExtAuthzGrpc` provider: the proxy calls Authorization/Check with the
/// request's attributes; OK applies the answer's header changes, a denial's status, body and
/// headers reach the caller.
#[tokio::test]
async fn custom_policies_ask_a_grpc_authorizer() {
    let (authz, checks) = grpc_authz_server().await;
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let provider = r#"{"service": "b/authz.b.svc.cluster.local", "port": 9000, "timeout": "5s"}"#;
    let (server, app) = grpc_setup(&mesh, provider, authz, &log).await;
    let client = client_as(&mesh, CLIENT_ID, server.inbound_addr, Protocol::Http).await;

    // Allowed, through the client proxy (mTLS): the answer's header operations applied.
    let (status, headers, body) = get(
        client.outbound_addr,
        "/ext/a?q=1",
        &[
            ("x-ext-authz", "allow"),
            ("x-secret", "s3cr3t"),
            ("x-added", "mine"),
            ("x-request-id", "req-1"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "x-ext-authz-check-result"), Some("allowed"));
    assert!(
        body.contains("x-added: mine\n") && body.contains("x-added: yes\n"),
        "{body}"
    );
    assert_eq!(field(&body, "x-secret"), None, "removed by the authorizer");
    assert_eq!(
        headers.get("x-down").map(|v| v.as_bytes()),
        Some(&b"yes"[..])
    );
    let seen = checks.lock().map(|c| c.clone()).unwrap_or_default();
    assert_eq!(seen.len(), 1);
    let a = seen[0].attributes.clone().expect("attributes");
    let (src, dst) = (
        a.source.expect("source"),
        a.destination.expect("destination"),
    );
    assert_eq!(src.principal, CLIENT_ID);
    assert_eq!(dst.principal, SERVER_ID);
    let port_of =
        |p: &verimesh_envoy_auth::Peer| match p.address.as_ref().and_then(|a| a.address.clone()) {
            Some(verimesh_envoy_auth::address::Address::SocketAddress(s)) => {
                (s.address, s.port_specifier)
            }
            None => panic!("no address"),
        };
    assert_eq!(port_of(&src).0, "127.0.0.1");
    // The destination is the connection's original destination: the application.
    assert_eq!(
        port_of(&dst).1,
        Some(verimesh_envoy_auth::socket_address::PortSpecifier::PortValue(u32::from(app.port())))
    );
    let http = a.request.and_then(|r| r.http).expect("http");
    assert_eq!(http.method, "GET");
    assert_eq!(http.path, "/ext/a?q=1");
    assert_eq!(http.host, HOST);
    assert_eq!(http.id, "req-1");
    assert_eq!(
        http.headers.get("x-ext-authz").map(String::as_str),
        Some("allow")
    );
    assert_eq!(
        http.headers.get(":path").map(String::as_str),
        Some("/ext/a?q=1")
    );
    assert!(http.protocol.starts_with("HTTP/"), "{}", http.protocol);
    assert!(
        http.body.is_empty() && http.raw_body.is_empty(),
        "no body unless asked"
    );

    // Denied, plaintext: the authorizer's status, body and headers; no principals.
    let (status, headers, body) = get(server.inbound_addr, "/ext/b", &[]).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::UNAUTHORIZED, "denied by test")
    );
    assert_eq!(
        headers
            .get("x-ext-authz-check-result")
            .map(|v| v.as_bytes()),
        Some(&b"denied"[..])
    );
    let seen = checks.lock().map(|c| c.clone()).unwrap_or_default();
    let a = seen[1].attributes.clone().expect("attributes");
    assert_eq!(a.source.expect("source").principal, "");
    assert_eq!(a.destination.expect("destination").principal, "");
    let denied = wait_log(&log, |e| e["path"] == "/ext/b").await;
    assert_eq!(denied["response_flags"], "UAEX");
    assert_eq!(denied["response_code_details"], "ext_authz_denied");
    assert_eq!(
        denied["authz_policy"],
        "CUSTOM (provider grpc) b/ext rule 0"
    );

    // Paths the policy does not cover are not checked.
    assert_eq!(raw_get(server.inbound_addr, "/other", &[]).await.0, 200);
    assert_eq!(checks.lock().map(|c| c.len()).unwrap_or_default(), 2);
}

/// No answer: the authorizer down or slower than `timeout` denies with `statusOnError`,
/// unless `failOpen`.
#[tokio::test]
async fn grpc_authorizer_down_or_slow_fails_closed_unless_fail_open() {
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tempdir");
    // A port nothing listens on.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let (closed, _) = grpc_setup(
        &mesh,
        r#"{"service": "authz.b.svc.cluster.local", "port": 9000, "statusOnError": "503"}"#,
        down,
        &dir.path().join("a.log"),
    )
    .await;
    let (status, _) = raw_get(closed.inbound_addr, "/ext/x", &["x-ext-authz: allow"]).await;
    assert_eq!(status, 503);
    let err = wait_log(&dir.path().join("a.log"), |e| e["path"] == "/ext/x").await;
    assert_eq!(err["response_code_details"], "ext_authz_error");
    assert_eq!(err["response_flags"], "UAEX");
    let (open, _) = grpc_setup(
        &mesh,
        r#"{"service": "authz.b.svc.cluster.local", "port": 9000, "failOpen": true}"#,
        down,
        &dir.path().join("b.log"),
    )
    .await;
    let (status, body) = raw_get(open.inbound_addr, "/ext/x", &[]).await;
    assert_eq!(status, 200, "{body}");

    let (authz, _) = grpc_authz_server().await;
    let (slow, _) = grpc_setup(
        &mesh,
        r#"{"service": "authz.b.svc.cluster.local", "port": 9000, "timeout": "0.3s"}"#,
        authz,
        &dir.path().join("c.log"),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, _) = raw_get(
        slow.inbound_addr,
        "/ext/x",
        &["x-ext-authz: allow", "x-slow: 1"],
    )
    .await;
    assert_eq!(status, 403, "statusOnError defaults to 403");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    let (status, _) = raw_get(slow.inbound_addr, "/ext/x", &["x-ext-authz: allow"]).await;
    assert_eq!(status, 200, "a prompt answer still allows");
}

/// `includeRequestBodyInCheck`: the authorizer sees the body (up to `maxRequestBytes`) and the
/// application still receives all of it; a longer body is 413 unless partial messages are
/// allowed.
#[tokio::test]
async fn grpc_authorizer_sees_the_body_when_asked() {
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let (authz, checks) = grpc_authz_server().await;
    let (strict, _) = grpc_setup(
        &mesh,
        r#"{"service": "authz.b.svc.cluster.local", "port": 9000,
            "includeRequestBodyInCheck": {"maxRequestBytes": 8}}"#,
        authz,
        &dir.path().join("a.log"),
    )
    .await;
    let post = |addr, body: &'static str| async move {
        send(
            addr,
            http::Method::POST,
            "/echo-body",
            &[("x-ext-authz", "allow")],
            bytes::Bytes::from_static(body.as_bytes()),
        )
        .await
    };
    let (status, _, body) = post(strict.inbound_addr, "short").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "body"), Some("short"));
    let last = |c: &Checks| {
        c.lock()
            .ok()
            .and_then(|c| c.last().cloned())
            .and_then(|c| c.attributes)
            .and_then(|a| a.request)
            .and_then(|r| r.http)
            .expect("a check")
    };
    assert_eq!(last(&checks).body, "short");
    let (status, _, _) = post(strict.inbound_addr, "far longer than eight").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let (partial, _) = grpc_setup(
        &mesh,
        r#"{"service": "authz.b.svc.cluster.local", "port": 9000,
            "includeRequestBodyInCheck": {"maxRequestBytes": 8, "allowPartialMessage": true,
            "packAsBytes": true}}"#,
        authz,
        &dir.path().join("b.log"),
    )
    .await;
    let (status, _, body) = post(partial.inbound_addr, "far longer than eight").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "body"), Some("far longer than eight"));
    let seen = last(&checks);
    assert_eq!(seen.raw_body, b"far long");
    assert_eq!(
        seen.headers
            .get("x-envoy-auth-partial-body")
            .map(String::as_str),
        Some("true")
    );
}
