//! RequestAuthentication enforced by the real proxy, with tokens minted by PyJWT
//! (crates/policy/tests/jwt/mint.py, fresh keys each run, issued for the wall clock) and the
//! key set served over HTTP by the test and fetched by the proxy from `jwksUri`.

mod support;

use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::policy::*;
use support::*;
use verimesh_config::mesh::NormalizationType;
use verimesh_model::Protocol;

struct Minted {
    jwks: String,
    other_jwks: String,
    tokens: HashMap<String, String>,
}

impl Minted {
    fn token(&self, name: &str) -> String {
        self.tokens
            .get(name)
            .unwrap_or_else(|| panic!("no token {name}"))
            .clone()
    }
}

fn mint() -> Minted {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../policy/tests/jwt/mint.py");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let out = Command::new("python3")
        .arg(script)
        .env("MINT_NOW", now.to_string())
        .output()
        .expect("python3 with pyjwt and cryptography mints the test tokens");
    assert!(
        out.status.success(),
        "mint.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("mint.py output");
    Minted {
        jwks: v["jwks"].as_str().expect("jwks").into(),
        other_jwks: v["other_jwks"].as_str().expect("other_jwks").into(),
        tokens: v["tokens"]
            .as_object()
            .expect("tokens")
            .iter()
            .map(|(k, t)| (k.clone(), t.as_str().expect("token").to_string()))
            .collect(),
    }
}

fn policies(jwks_uri: &str, forward: bool) -> String {
    format!(
        r#"
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: b}}
spec:
  jwtRules:
  - issuer: https://issuer.example
    audiences: [svc]
    jwksUri: {jwks_uri}
    forwardOriginalToken: {forward}
    outputPayloadToHeader: x-jwt-payload
    outputClaimToHeaders: [{{header: x-sub, claim: sub}}, {{header: x-team, claim: org.team}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: require-alice, namespace: b}}
spec:
  rules:
  - from: [{{source: {{requestPrincipals: [https://issuer.example/alice]}}}}]
    to: [{{operation: {{paths: ["/secure/*"]}}}}]
  - to: [{{operation: {{paths: ["/public/*"]}}}}]
"#
    )
}

struct Setup {
    _mesh: Mesh,
    server: verimesh_proxy::Proxy,
    _dir: tempfile::TempDir,
    log: std::path::PathBuf,
}

async fn setup(jwks_uri: &str, forward: bool, refresh: Duration) -> Setup {
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let (app, _) = backend("web").await;
    let sec = security(&policies(jwks_uri, forward), NormalizationType::Base);
    let server = policy_server(&mesh, app, Protocol::Http, sec, &log, refresh).await;
    Setup {
        _mesh: mesh,
        server,
        _dir: dir,
        log,
    }
}

fn bearer(token: &str) -> String {
    format!("authorization: Bearer {token}")
}

#[tokio::test]
async fn valid_tokens_pass_with_their_outputs_and_bad_ones_are_401() {
    let m = mint();
    let keys = JwksServer::start(&m.jwks).await;
    let s = setup(&keys.uri(), false, Duration::from_secs(3600)).await;
    let addr = s.server.inbound_addr;
    let good = bearer(&m.token("RS256"));
    // Forged output headers from the caller never reach the app.
    let (status, body) = raw_get(
        addr,
        "/secure/x",
        &[&good, "x-jwt-payload: forged", "x-sub: mallory"],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(field(&body, "x-sub"), Some("alice"));
    assert_eq!(field(&body, "x-team"), Some("core"));
    let payload = m
        .token("RS256")
        .split('.')
        .nth(1)
        .expect("payload")
        .to_string();
    assert_eq!(field(&body, "x-jwt-payload"), Some(payload.as_str()));
    assert!(
        field(&body, "authorization").is_none(),
        "token removed: {body}"
    );
    for alg in ["ES256", "EdDSA", "PS256"] {
        let (status, body) = raw_get(addr, "/secure/x", &[&bearer(&m.token(alg))]).await;
        assert_eq!(status, 200, "{alg}: {body}");
    }
    // Another subject authenticates but is not allowed: 403, not 401.
    let (status, _) = raw_get(addr, "/secure/x", &[&bearer(&m.token("other_user"))]).await;
    assert_eq!(status, 403);
    let cases = [
        ("expired", "Jwt is expired"),
        ("unknown_issuer", "Jwt issuer is not configured"),
        ("wrong_aud", "Audiences in Jwt are not allowed"),
        ("tampered", "Jwt verification fails"),
        ("wrong_key_same_kid", "Jwt verification fails"),
        (
            "unknown_kid",
            "Jwks doesn't have key to match kid or alg from Jwt",
        ),
        // Unsigned: no third section to verify.
        (
            "alg_none",
            "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
        ),
        ("hs256_rsa_pubkey", "Jwt verification fails"),
    ];
    for (name, text) in cases {
        let (status, body) = raw_get(addr, "/public/x", &[&bearer(&m.token(name))]).await;
        assert_eq!((status, body.as_str()), (401, text), "{name}");
    }
    let e = wait_log(&s.log, |e| e["response_code"] == 401).await;
    assert!(
        e["response_code_details"]
            .as_str()
            .is_some_and(|d| d.starts_with("jwt_authn_access_denied{")),
        "{e}"
    );
    // No token: authentication passes, AuthorizationPolicy decides (requestPrincipals).
    assert_eq!(raw_get(addr, "/public/x", &[]).await.0, 200);
    assert_eq!(raw_get(addr, "/secure/x", &[]).await.0, 403);
    // The token in the query parameter counts too.
    let q = format!("/secure/x?access_token={}", m.token("RS256"));
    assert_eq!(raw_get(addr, &q, &[]).await.0, 200);
}

#[tokio::test]
async fn forward_original_token_keeps_it() {
    let m = mint();
    let keys = JwksServer::start(&m.jwks).await;
    let s = setup(&keys.uri(), true, Duration::from_secs(3600)).await;
    let token = m.token("RS256");
    let (status, body) = raw_get(s.server.inbound_addr, "/secure/x", &[&bearer(&token)]).await;
    assert_eq!(status, 200, "{body}");
    let expected = format!("Bearer {token}");
    assert_eq!(field(&body, "authorization"), Some(expected.as_str()));
}

#[tokio::test]
async fn key_rotation_takes_effect_after_refresh() {
    let m = mint();
    let keys = JwksServer::start(&m.jwks).await;
    let s = setup(&keys.uri(), false, Duration::from_millis(200)).await;
    let addr = s.server.inbound_addr;
    let old = bearer(&m.token("RS256"));
    // Signed by the key that other_jwks publishes under the same kid.
    let new = bearer(&m.token("wrong_key_same_kid"));
    assert_eq!(raw_get(addr, "/secure/x", &[&old]).await.0, 200);
    assert_eq!(raw_get(addr, "/secure/x", &[&new]).await.0, 401);
    keys.serve(&m.other_jwks);
    let mut rotated = false;
    for _ in 0..50 {
        if raw_get(addr, "/secure/x", &[&new]).await.0 == 200 {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(rotated, "the new key is used after a refresh");
    assert_eq!(
        raw_get(addr, "/secure/x", &[&old]).await.0,
        401,
        "the old key is gone"
    );
    assert!(keys.fetches.load(std::sync::atomic::Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn jwks_server_down_refuses_tokens_but_not_requests_without_one() {
    let m = mint();
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let s = setup(
        &format!("http://{closed}/jwks"),
        false,
        Duration::from_secs(3600),
    )
    .await;
    let addr = s.server.inbound_addr;
    let (status, body) = raw_get(addr, "/public/x", &[&bearer(&m.token("RS256"))]).await;
    assert_eq!(
        (status, body.as_str()),
        (401, "Jwks doesn't have key to match kid or alg from Jwt")
    );
    assert_eq!(raw_get(addr, "/public/x", &[]).await.0, 200);
    assert_eq!(raw_get(addr, "/secure/x", &[]).await.0, 403);
}

#[tokio::test]
async fn jwks_uri_on_a_metadata_address_is_never_fetched() {
    let m = mint();
    let s = setup(
        "http://169.254.169.254/jwks",
        false,
        Duration::from_secs(3600),
    )
    .await;
    let started = std::time::Instant::now();
    let (status, _) = raw_get(
        s.server.inbound_addr,
        "/public/x",
        &[&bearer(&m.token("RS256"))],
    )
    .await;
    assert_eq!(status, 401);
    // Refused before any connection attempt, not after a connect timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
