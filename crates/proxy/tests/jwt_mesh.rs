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
    // Every algorithm RequestAuthentication accepts, each with its own key in the JWKS.
    for alg in [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ] {
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

/// A CA of the test's own and a server certificate it signed for `names`.
struct TestPki {
    ca: rustls_pki_types::CertificateDer<'static>,
    chain: Vec<rustls_pki_types::CertificateDer<'static>>,
    key: rustls_pki_types::PrivateKeyDer<'static>,
}

fn test_pki(names: &[&str]) -> TestPki {
    let alg = &rcgen::PKCS_ECDSA_P256_SHA256;
    let ca_key = rcgen::KeyPair::generate_for(alg).expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "jwks test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate_for(alg).expect("server key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let leaf = rcgen::CertificateParams::new(names)
        .expect("server params")
        .signed_by(&key, &issuer)
        .expect("server certificate");
    TestPki {
        ca: ca_cert.der().clone(),
        chain: vec![leaf.der().clone()],
        key: rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    }
}

/// A server proxy whose JWKS fetches trust `roots` beyond the system store.
async fn setup_trusting(
    jwks_uri: &str,
    roots: Vec<rustls_pki_types::CertificateDer<'static>>,
) -> Setup {
    let mesh = Mesh::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let (app, _) = backend("web").await;
    let sec = security(&policies(jwks_uri, false), NormalizationType::Base);
    let cfg = policy_config(app, Protocol::Http, sec);
    let jwks = verimesh_proxy::JwksOptions {
        refresh: Duration::from_secs(3600),
        timeout: Duration::from_secs(2),
        retry: Duration::from_secs(3600),
        allow_link_local: false,
        extra_roots: roots,
    };
    let server = start_policy_server_with(&mesh, cfg, app, &log, jwks).await;
    Setup {
        _mesh: mesh,
        server,
        _dir: dir,
        log,
    }
}

/// An `https://` jwksUri over real TLS on loopback: fetched when the server's certificate
/// chains to a trusted root and names the URI's host; otherwise no keys, so tokens are
/// refused (401) while requests without one are still decided by policy.
#[tokio::test]
async fn https_jwks_uri_is_fetched_only_from_a_verified_server() {
    let m = mint();
    let pki = test_pki(&["localhost"]);
    let keys = JwksServer::start_https(&m.jwks, pki.chain.clone(), pki.key.clone_key()).await;
    let port = keys.addr.port();
    let token = bearer(&m.token("RS256"));

    let trusted = setup_trusting(
        &format!("https://localhost:{port}/jwks"),
        vec![pki.ca.clone()],
    )
    .await;
    let (status, body) = raw_get(trusted.server.inbound_addr, "/secure/x", &[&token]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(field(&body, "x-sub"), Some("alice"));
    assert!(keys.fetches.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    // Signed by a CA the proxy does not trust: the handshake fails, no keys.
    let stranger = test_pki(&["localhost"]).ca;
    let untrusted = setup_trusting(&format!("https://localhost:{port}/jwks"), vec![stranger]).await;
    let (status, body) = raw_get(untrusted.server.inbound_addr, "/secure/x", &[&token]).await;
    assert_eq!(
        (status, body.as_str()),
        (401, "Jwks doesn't have key to match kid or alg from Jwt")
    );
    assert_eq!(
        raw_get(untrusted.server.inbound_addr, "/public/x", &[])
            .await
            .0,
        200
    );

    // The right CA, but the certificate does not name the host the URI asked for.
    let misnamed = setup_trusting(
        &format!("https://127.0.0.1:{port}/jwks"),
        vec![pki.ca.clone()],
    )
    .await;
    let (status, _) = raw_get(misnamed.server.inbound_addr, "/secure/x", &[&token]).await;
    assert_eq!(status, 401);
    let refused = wait_log(&untrusted.log, |e| e["response_code"] == 401).await;
    assert_eq!(refused["path"], "/secure/x");
    // Only the verified proxy ever completed a request to the key server.
    assert_eq!(keys.fetches.load(std::sync::atomic::Ordering::SeqCst), 1);
}
