//! JWT verification with real tokens minted by PyJWT (tests/jwt/mint.py, fresh keys each
//! run): every algorithm verifies; every listed failure is a 401.

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use verimesh_config::security::JwtRule;
use verimesh_policy::jwt::{HeaderOp, Jwks, JwtError, JwtPolicy};
use verimesh_policy::{Normalizer, Verdict};

struct Minted {
    now: u64,
    issuer: String,
    jwks: String,
    other_jwks: String,
    tokens: HashMap<String, String>,
}

impl Minted {
    fn token(&self, name: &str) -> &str {
        self.tokens
            .get(name)
            .unwrap_or_else(|| panic!("no token {name}"))
    }
}

fn mint() -> Minted {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/jwt/mint.py");
    let out = Command::new("python3")
        .arg(script)
        .output()
        .expect("python3 is needed to mint test tokens (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "mint.py failed (scripts/setup.sh installs pyjwt and cryptography): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("mint.py output");
    Minted {
        now: v["now"].as_u64().expect("mint.py output"),
        issuer: v["issuer"].as_str().expect("mint.py output").into(),
        jwks: v["jwks"].as_str().expect("mint.py output").into(),
        other_jwks: v["other_jwks"].as_str().expect("mint.py output").into(),
        tokens: v["tokens"]
            .as_object()
            .expect("tokens object")
            .iter()
            .map(|(k, t)| (k.clone(), t.as_str().expect("mint.py output").to_string()))
            .collect(),
    }
}

fn rule(m: &Minted) -> JwtRule {
    JwtRule {
        issuer: m.issuer.clone(),
        audiences: vec!["svc".into()],
        jwks: Some(m.jwks.clone()),
        ..JwtRule::default()
    }
}

fn authn(
    policy: &JwtPolicy,
    m: &Minted,
    headers: &[(&str, &str)],
    target: &str,
) -> Result<verimesh_policy::jwt::AuthnResult, JwtError> {
    let raw = req("GET", target, headers);
    let r = Normalizer::default()
        .normalize(&raw)
        .expect("a valid request");
    policy.authenticate(&r, m.now)
}

fn bearer(
    policy: &JwtPolicy,
    m: &Minted,
    token: &str,
) -> Result<verimesh_policy::jwt::AuthnResult, JwtError> {
    let h = format!("Bearer {token}");
    authn(policy, m, &[("authorization", &h)], "/")
}

#[test]
fn every_algorithm_verifies() {
    let m = mint();
    let p = JwtPolicy::new([&rule(&m)], &HashMap::new());
    for alg in [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
    ] {
        let a = bearer(&p, &m, m.token(alg)).unwrap_or_else(|e| panic!("{alg}: {e}"));
        let auth = a.auth.expect("authenticated");
        assert_eq!(auth.principal, format!("{}/alice", m.issuer), "{alg}");
        assert_eq!(auth.audiences, ["svc"]);
        assert_eq!(auth.presenter.as_deref(), Some("web-client"));
        assert_eq!(
            auth.claims["scope"],
            serde_json::json!(["read", "write"]),
            "scope is split"
        );
    }
}

type IsExpected = fn(&JwtError) -> bool;

#[test]
fn every_failure_is_refused() {
    let m = mint();
    let p = JwtPolicy::new([&rule(&m)], &HashMap::new());
    let cases: &[(&str, IsExpected)] = &[
        ("expired", |e| *e == JwtError::Expired),
        ("not_yet_valid", |e| *e == JwtError::NotYetValid),
        ("wrong_aud", |e| *e == JwtError::BadAudience),
        ("unknown_issuer", |e| {
            matches!(e, JwtError::UnknownIssuer(_))
        }),
        ("unknown_kid", |e| matches!(e, JwtError::UnknownKid(_))),
        ("wrong_key_same_kid", |e| *e == JwtError::BadSignature),
        ("tampered", |e| *e == JwtError::BadSignature),
        ("alg_none", |e| matches!(e, JwtError::Malformed(_))),
        ("hs256_rsa_pubkey", |e| {
            matches!(e, JwtError::AlgorithmNotAllowed(_))
        }),
        ("es256_with_p384_kid", |e| {
            matches!(e, JwtError::AlgorithmNotAllowed(_))
        }),
    ];
    for (name, expected) in cases {
        match bearer(&p, &m, m.token(name)) {
            Ok(_) => panic!("{name} was accepted"),
            Err(e) => assert!(expected(&e), "{name}: unexpected error {e:?}"),
        }
    }
    assert!(matches!(
        bearer(&p, &m, "not.a.jwt"),
        Err(JwtError::Malformed(_))
    ));
}

#[test]
fn skew_kid_and_audience_details() {
    let m = mint();
    let p = JwtPolicy::new([&rule(&m)], &HashMap::new());
    for ok in [
        "expired_within_skew",
        "nbf_within_skew",
        "no_kid",
        "aud_list",
        "no_exp",
    ] {
        assert!(bearer(&p, &m, m.token(ok)).is_ok(), "{ok} must verify");
    }
    let mut any_aud = rule(&m);
    any_aud.audiences.clear();
    let p = JwtPolicy::new([&any_aud], &HashMap::new());
    assert!(
        bearer(&p, &m, m.token("wrong_aud")).is_ok(),
        "no audiences: any accepted"
    );
}

#[test]
fn empty_or_missing_jwks_rejects_everything() {
    let m = mint();
    let mut r = rule(&m);
    r.jwks = None;
    r.jwks_uri = Some("https://issuer.example/jwks".into());
    // Not fetched (fetch failed): nothing verifies.
    let p = JwtPolicy::new([&r], &HashMap::new());
    assert!(matches!(
        bearer(&p, &m, m.token("RS256")),
        Err(JwtError::NoKeys(_))
    ));
    // An empty fetched set: the same.
    let empty = HashMap::from([(
        r.jwks_uri.clone().unwrap(),
        Jwks::parse(r#"{"keys":[]}"#).unwrap(),
    )]);
    let p = JwtPolicy::new([&r], &empty);
    assert!(matches!(
        bearer(&p, &m, m.token("RS256")),
        Err(JwtError::NoKeys(_))
    ));
    // The fetched set in place: verifies.
    let fetched = HashMap::from([(r.jwks_uri.clone().unwrap(), Jwks::parse(&m.jwks).unwrap())]);
    let p = JwtPolicy::new([&r], &fetched);
    assert!(bearer(&p, &m, m.token("RS256")).is_ok());
    // Keys of another issuer: bad signature.
    let other = HashMap::from([(
        r.jwks_uri.clone().unwrap(),
        Jwks::parse(&m.other_jwks).unwrap(),
    )]);
    let p = JwtPolicy::new([&r], &other);
    assert!(bearer(&p, &m, m.token("no_kid")).is_err());
}

#[test]
fn missing_token_passes_authentication() {
    let m = mint();
    let p = JwtPolicy::new([&rule(&m)], &HashMap::new());
    let a = authn(&p, &m, &[("authorization", "Basic dXNlcjpwYXNz")], "/").unwrap();
    assert!(a.auth.is_none());
    assert!(authn(&p, &m, &[], "/").unwrap().auth.is_none());
}

#[test]
fn locations_headers_params_cookies() {
    let m = mint();
    let tok = m.token("ES256");
    let mut r = rule(&m);
    r.from_headers = vec![verimesh_config::security::JwtHeader {
        name: "X-Token".into(),
        prefix: Some("Tok ".into()),
    }];
    r.from_params = vec!["t".into()];
    r.from_cookies = vec!["session".into()];
    let p = JwtPolicy::new([&r], &HashMap::new());
    let h = format!("Tok {tok}");
    assert!(authn(&p, &m, &[("x-token", &h)], "/")
        .unwrap()
        .auth
        .is_some());
    assert!(authn(&p, &m, &[], &format!("/x?a=1&t={tok}"))
        .unwrap()
        .auth
        .is_some());
    let c = format!("a=b; session={tok}");
    assert!(authn(&p, &m, &[("cookie", &c)], "/")
        .unwrap()
        .auth
        .is_some());
    // Explicit locations replace the defaults.
    let b = format!("Bearer {tok}");
    assert!(authn(&p, &m, &[("authorization", &b)], "/")
        .unwrap()
        .auth
        .is_none());
    // The default access_token parameter.
    let d = JwtPolicy::new([&rule(&m)], &HashMap::new());
    assert!(authn(&d, &m, &[], &format!("/?access_token={tok}"))
        .unwrap()
        .auth
        .is_some());
    // Two different tokens: refused.
    let two = format!("Bearer {}", m.token("RS256"));
    assert_eq!(
        authn(
            &d,
            &m,
            &[("authorization", &two)],
            &format!("/?access_token={tok}")
        )
        .unwrap_err(),
        JwtError::MultipleTokens
    );
}

#[test]
fn outputs_and_forwarding() {
    let m = mint();
    let tok = m.token("RS256");
    let mut r = rule(&m);
    r.output_payload_to_header = Some("X-Jwt-Payload".into());
    r.output_claim_to_headers = vec![
        verimesh_config::security::ClaimToHeader {
            header: "x-email".into(),
            claim: "email".into(),
        },
        verimesh_config::security::ClaimToHeader {
            header: "x-team".into(),
            claim: "org.team".into(),
        },
        verimesh_config::security::ClaimToHeader {
            header: "x-level".into(),
            claim: "level".into(),
        },
    ];
    let p = JwtPolicy::new([&r], &HashMap::new());
    let ops = bearer(&p, &m, tok).unwrap().header_ops;
    let payload = tok.split('.').nth(1).unwrap().to_string();
    assert!(ops.contains(&HeaderOp::Remove("authorization".into())));
    assert!(ops.contains(&HeaderOp::Set("x-jwt-payload".into(), payload)));
    assert!(ops.contains(&HeaderOp::Set("x-email".into(), "alice@example.com".into())));
    assert!(ops.contains(&HeaderOp::Set("x-team".into(), "core".into())));
    assert!(ops.contains(&HeaderOp::Set("x-level".into(), "3".into())));
    assert_eq!(
        p.output_headers(),
        ["x-email", "x-jwt-payload", "x-level", "x-team"]
    );
    r.forward_original_token = Some(true);
    let p = JwtPolicy::new([&r], &HashMap::new());
    assert!(!bearer(&p, &m, tok)
        .unwrap()
        .header_ops
        .contains(&HeaderOp::Remove("authorization".into())));
}

#[test]
fn engine_statuses_and_claims_in_policies() {
    let m = mint();
    let yaml = format!(
        r#"
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {{name: jwt, namespace: foo}}
spec:
  jwtRules:
  - issuer: {iss}
    audiences: [svc]
    jwks: '{jwks}'
    outputPayloadToHeader: x-jwt-payload
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: need-admin, namespace: foo}}
spec:
  rules:
  - from:
    - source: {{requestPrincipals: ["{iss}/*"]}}
    when:
    - key: request.auth.claims[groups]
      values: [admin]
    - key: request.auth.claims[org][team]
      values: [core]
    - key: request.auth.audiences
      values: [svc]
    - key: request.auth.presenter
      values: [web-client]
"#,
        iss = m.issuer,
        jwks = m.jwks
    );
    let e = engine(&yaml);
    let c = conn(None);
    let with = |tok: &str| {
        let h = format!("Bearer {tok}");
        let r = req(
            "GET",
            "/",
            &[("authorization", &h), ("x-jwt-payload", "forged")],
        );
        let wp = e.for_workload(&workload("foo", &[]));
        e.decide(&wp, &c, Some(&r), m.now)
    };
    let ok = with(m.token("PS256"));
    assert_eq!((ok.verdict, ok.status), (Verdict::Allow, Some(200)));
    let req = ok.request.unwrap();
    assert_eq!(
        req.header_values("x-jwt-payload").count(),
        0,
        "forged output header stripped"
    );
    assert_eq!(
        with(m.token("other_user")).status,
        Some(403),
        "claims do not match"
    );
    assert_eq!(with(m.token("expired")).status, Some(401));
    assert_eq!(with(m.token("unknown_issuer")).status, Some(401));
    let none = http(&e, &c, &get("/"));
    assert_eq!(
        none.status,
        Some(403),
        "no token: authN passes, requestPrincipals denies"
    );
}
