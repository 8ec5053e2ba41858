//! Root rotation through the control plane: the old CA first hands out a bundle with both
//! roots; then a CA signing with the new root takes over. A workload still holding an
//! old-root certificate and one already holding a new-root certificate talk both ways.

mod support;

use std::path::Path;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use verimesh_api::CaClient;
use verimesh_control::tokens::TokenStore;
use verimesh_identity::ca::{self, generate_root};
use verimesh_identity::tls;
use verimesh_identity::{SpiffeId, SpiffeMatcher, TrustBundle};

/// A `cacerts` directory whose CA is `root` and whose trust bundle is `bundle`.
fn cacerts(dir: &Path, root: &ca::RootFiles, bundle: &str) {
    std::fs::create_dir_all(dir).expect("test setup");
    std::fs::write(dir.join(ca::CA_CERT), &root.cert).expect("test setup");
    std::fs::write(dir.join(ca::CA_KEY), &root.key).expect("test setup");
    std::fs::write(dir.join(ca::CERT_CHAIN), &root.cert).expect("test setup");
    std::fs::write(dir.join(ca::ROOT_CERT), bundle).expect("test setup");
}

async fn round_trip(
    server: std::sync::Arc<dyn verimesh_identity::CredentialSource>,
    server_id: &SpiffeId,
    client: std::sync::Arc<dyn verimesh_identity::CredentialSource>,
    client_id: &SpiffeId,
) -> Result<String, String> {
    let echo = echo_server(server, SpiffeMatcher::Exact(client_id.clone())).await;
    let config = tls::client_config(client, SpiffeMatcher::Exact(server_id.clone()), &[])
        .expect("test setup");
    let tcp = tokio::net::TcpStream::connect(echo.addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls_pki_types::ServerName::try_from("peer.invalid").expect("test setup");
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (r, mut w) = tokio::io::split(tls);
    w.write_all(b"hello\n").await.map_err(|e| e.to_string())?;
    let line = tokio::time::timeout(
        Duration::from_secs(5),
        BufReader::new(r).lines().next_line(),
    )
    .await
    .map_err(|_| "timed out".to_string())?
    .map_err(|e| e.to_string())?;
    line.ok_or_else(|| "connection closed".to_string())
}

#[tokio::test]
async fn workloads_on_old_and_new_roots_interoperate_during_root_rotation() {
    let dir_tmp = temp_dir("root-rotation-e2e");
    let dir = dir_tmp.path();
    let old = generate_root(&td()).unwrap();
    let new = generate_root(&td()).unwrap();
    let both_old_first = format!("{}{}", old.cert, new.cert);
    let both_new_first = format!("{}{}", new.cert, old.cert);
    cacerts(&dir.join("old"), &old, &both_old_first);
    cacerts(&dir.join("new"), &new, &both_new_first);
    let ttl = Duration::from_secs(3600);

    // Phase 1: the old CA signs, and already distributes both roots.
    let old_cp = verimesh_control::start(opts(dir, Some(dir.join("old")), ttl))
        .await
        .unwrap();
    // Phase 2: the new CA signs (both run at once here, on two ports, to keep the test short).
    let new_cp = verimesh_control::start(opts(dir, Some(dir.join("new")), ttl))
        .await
        .unwrap();

    let initial = TrustBundle::from_pem(&both_old_first).unwrap();
    let db_id = id("default", "db");
    let web_id = id("default", "web");
    let tokens = TokenStore::new(dir, td());
    let db_client = CaClient::new(old_cp.local_addr(), control_matcher(), initial.clone())
        .with_bootstrap_token(tokens.add("default", "db").unwrap());
    let web_client = CaClient::new(new_cp.local_addr(), control_matcher(), initial.clone())
        .with_bootstrap_token(tokens.add("default", "web").unwrap());
    let db = workload(db_client, db_id.clone()).await;
    let web = workload(web_client, web_id.clone()).await;

    // db holds an old-root certificate, web a new-root one; both bundles hold both roots.
    let signer_of =
        |w: &verimesh_identity::CertificateWatcher| w.current().unwrap().chain()[1].clone();
    let root_der = |pem: &str| {
        verimesh_identity::pem::certs(pem, "root")
            .unwrap()
            .remove(0)
    };
    assert_eq!(signer_of(&db), root_der(&old.cert));
    assert_eq!(signer_of(&web), root_der(&new.cert));
    assert_eq!(db.source().trust_bundle().roots().len(), 2);
    assert_eq!(web.source().trust_bundle().roots().len(), 2);

    assert_eq!(
        round_trip(db.source(), &db_id, web.source(), &web_id).await,
        Ok("echo hello".to_string())
    );
    assert_eq!(
        round_trip(web.source(), &web_id, db.source(), &db_id).await,
        Ok("echo hello".to_string())
    );

    // Not vacuous: a db that trusted only the old root would refuse web's new-root certificate.
    let old_ca = verimesh_identity::Ca::load_cacerts(&dir.join("old"), td()).unwrap();
    let (issued, key) = old_ca.issue(&db_id, None).unwrap();
    let db_old_only = verimesh_identity::StaticCredentials::new(
        verimesh_identity::Credentials::from_pem(&issued.chain_pem(), &key).unwrap(),
        TrustBundle::from_pem(&old.cert).unwrap(),
    );
    let result = round_trip(
        std::sync::Arc::new(db_old_only),
        &db_id,
        web.source(),
        &web_id,
    )
    .await;
    assert!(result.is_err(), "{result:?}");
}
