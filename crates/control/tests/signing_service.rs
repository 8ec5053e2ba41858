//! The signing service over real TLS on 127.0.0.1: every request is authenticated, and a
//! workload gets its own identity only.

mod support;

use std::sync::Arc;
use std::time::Duration;
use support::*;
use verimesh_api::{CaClient, CaClientError};
use verimesh_identity::csr::KeyAndCsr;
use verimesh_identity::{Credentials, SpiffeMatcher, StaticCredentials};

fn code(e: &CaClientError) -> Option<tonic::Code> {
    match e {
        CaClientError::Status(s) => Some(s.code()),
        _ => None,
    }
}

#[tokio::test]
async fn a_workload_with_a_bootstrap_token_gets_its_own_identity_only() {
    let dir_tmp = temp_dir("svc-token");
    let dir = dir_tmp.path();
    let server = verimesh_control::start(opts(dir, None, Duration::from_secs(3600)))
        .await
        .unwrap();
    let bundle = bundle_of(dir);
    let web = client_for(&server, dir, bundle.clone(), "default", "web");

    // Own identity: signed, chain verifies, bundle returned.
    let own = KeyAndCsr::generate(&id("default", "web")).unwrap();
    let signed = web.create_certificate(own.csr_pem.clone()).await.unwrap();
    let creds = Credentials::new(signed.chain, own.private_key()).unwrap();
    assert_eq!(creds.identity(), &id("default", "web"));
    assert_eq!(signed.roots.roots(), bundle.roots());

    // Someone else's identity with web's token: refused, permission denied.
    let foreign = KeyAndCsr::generate(&id("default", "db")).unwrap();
    let err = web
        .create_certificate(foreign.csr_pem.clone())
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some(tonic::Code::PermissionDenied), "{err}");
    assert!(
        err.to_string()
            .contains("spiffe://cluster.local/ns/default/sa/db"),
        "{err}"
    );

    // No credentials, or an unknown token: unauthenticated.
    let anonymous = CaClient::new(server.local_addr(), control_matcher(), bundle.clone());
    let err = anonymous
        .create_certificate(own.csr_pem.clone())
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some(tonic::Code::Unauthenticated), "{err}");
    let forged = CaClient::new(server.local_addr(), control_matcher(), bundle.clone())
        .with_bootstrap_token("00".repeat(32));
    let err = forged
        .create_certificate(own.csr_pem.clone())
        .await
        .unwrap_err();
    assert_eq!(code(&err), Some(tonic::Code::Unauthenticated), "{err}");
}

#[tokio::test]
async fn a_workload_with_a_mesh_certificate_is_that_identity() {
    let dir_tmp = temp_dir("svc-mtls");
    let dir = dir_tmp.path();
    let server = verimesh_control::start(opts(dir, None, Duration::from_secs(3600)))
        .await
        .unwrap();
    let bundle = bundle_of(dir);
    // Get a certificate for db with a token, then renew with mTLS only (no token).
    let db = client_for(&server, dir, bundle.clone(), "default", "db");
    let kc = KeyAndCsr::generate(&id("default", "db")).unwrap();
    let signed = db.create_certificate(kc.csr_pem.clone()).await.unwrap();
    let creds = Credentials::new(signed.chain, kc.private_key()).unwrap();
    let mtls = CaClient::new(server.local_addr(), control_matcher(), bundle.clone());
    mtls.present_credentials(Arc::new(StaticCredentials::new(creds, bundle.clone())));
    let again = KeyAndCsr::generate(&id("default", "db")).unwrap();
    mtls.create_certificate(again.csr_pem).await.unwrap();
    // The certificate is db's; it cannot get web's identity.
    let web = KeyAndCsr::generate(&id("default", "web")).unwrap();
    let err = mtls.create_certificate(web.csr_pem).await.unwrap_err();
    assert_eq!(code(&err), Some(tonic::Code::PermissionDenied), "{err}");
}

#[tokio::test]
async fn the_client_verifies_the_control_planes_identity() {
    let dir_tmp = temp_dir("svc-server-id");
    let dir = dir_tmp.path();
    let server = verimesh_control::start(opts(dir, None, Duration::from_secs(3600)))
        .await
        .unwrap();
    let bundle = bundle_of(dir);
    let token = verimesh_control::tokens::TokenStore::new(dir, td())
        .add("default", "web")
        .unwrap();
    // Expecting some other identity at that address: the TLS handshake fails.
    let wrong = CaClient::new(
        server.local_addr(),
        SpiffeMatcher::Exact(id("default", "db")),
        bundle,
    )
    .with_bootstrap_token(token.clone());
    let kc = KeyAndCsr::generate(&id("default", "web")).unwrap();
    let err = wrong
        .create_certificate(kc.csr_pem.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, CaClientError::Connect { .. }), "{err}");
    // Trusting another root: fails too.
    let other_dir_tmp = temp_dir("svc-server-id-other");
    let other_dir = other_dir_tmp.path();
    let (other, _) = verimesh_identity::Ca::load_or_create(other_dir, td()).unwrap();
    let stranger = CaClient::new(
        server.local_addr(),
        control_matcher(),
        other.trust_bundle().clone(),
    )
    .with_bootstrap_token(token);
    let err = stranger.create_certificate(kc.csr_pem).await.unwrap_err();
    assert!(matches!(err, CaClientError::Connect { .. }), "{err}");
}
