//! Root rotation without downtime: while old and new roots are both in every trust bundle,
//! workloads holding certificates from either root talk to each other, both ways.

mod support;

use support::*;
use verimesh_identity::{SpiffeId, SpiffeMatcher};

const WEB: &str = "spiffe://cluster.local/ns/default/sa/web";
const DB: &str = "spiffe://cluster.local/ns/default/sa/db";

#[tokio::test]
async fn certificates_from_old_and_new_roots_interoperate_with_both_roots_in_the_bundle() {
    let old = TestCa::new("old root");
    let new = TestCa::new("new root");
    let both = old.bundle().merged(&new.bundle());
    let web_id = SpiffeMatcher::Exact(SpiffeId::parse(WEB).unwrap());
    let db_id = SpiffeMatcher::Exact(SpiffeId::parse(DB).unwrap());

    // web still has an old-root certificate, db already a new-root one; each direction.
    let web_old = old.source(WEB, both.clone());
    let db_new = new.source(DB, both.clone());
    let (s, c) = mesh_pair(
        db_new.clone(),
        web_id.clone(),
        web_old.clone(),
        db_id.clone(),
    );
    let out = handshake(s, c).await;
    assert_eq!(out.client, Ok(Some(DB.to_string())), "{out:?}");
    assert_eq!(out.server, Ok(Some(WEB.to_string())), "{out:?}");
    let (s, c) = mesh_pair(
        web_old.clone(),
        db_id.clone(),
        db_new.clone(),
        web_id.clone(),
    );
    assert!(handshake(s, c).await.ok());

    // Not vacuous: a workload that trusts only the old root refuses a new-root peer.
    let db_old_only = old.source(DB, old.bundle());
    let web_new = new.source(WEB, both.clone());
    let (s, c) = mesh_pair(db_old_only, web_id, web_new, db_id);
    let out = handshake(s, c).await;
    assert!(
        out.server
            .as_ref()
            .is_err_and(|e| e.contains("UnknownIssuer")),
        "{out:?}"
    );
}
