//! Every rejection mesh TLS must make, proven with real handshakes over 127.0.0.1: the side
//! using verimesh's configs refuses the peer, and says why.

mod support;

use rcgen::{ExtendedKeyUsagePurpose as Eku, SanType};
use support::*;
use verimesh_identity::tls::{self, ClientAuth};
use verimesh_identity::{SpiffeId, SpiffeMatcher, StaticCredentials};

const WEB: &str = "spiffe://cluster.local/ns/default/sa/web";
const DB: &str = "spiffe://cluster.local/ns/default/sa/db";

fn id(s: &str) -> SpiffeId {
    SpiffeId::parse(s).expect("test setup")
}

/// A client built by verimesh (trusting `ca`, expecting `expect`) dials a server presenting
/// `leaf`; returns the client's error text, or panics if the handshake succeeded.
async fn client_refuses(
    ca: &TestCa,
    leaf_ca: &TestCa,
    leaf: Leaf,
    expect: SpiffeMatcher,
) -> String {
    let (chain, key) = leaf_ca.issue(leaf);
    let server = raw_server(RawSource::new(chain, key, ca.bundle()));
    let client = tls::client_config(
        std::sync::Arc::new(StaticCredentials::trust_only(ca.bundle())),
        expect,
        &[],
    )
    .expect("test setup");
    let out = handshake(server, client).await;
    assert!(out.client.is_err(), "client accepted the server: {out:?}");
    out.client.expect_err("peer must be refused")
}

/// A server built by verimesh (trusting `ca`, accepting `accept`) is dialled by a client
/// presenting `leaf`; returns the server's error text, or panics if it accepted.
async fn server_refuses(
    ca: &TestCa,
    leaf_ca: &TestCa,
    leaf: Leaf,
    accept: SpiffeMatcher,
) -> String {
    let (chain, key) = leaf_ca.issue(leaf);
    let client = raw_client(RawSource::new(chain, key, ca.bundle()));
    let server = tls::server_config(
        ca.source(DB, ca.bundle()),
        ClientAuth::Required(accept),
        &[],
    )
    .expect("test setup");
    let out = handshake(server, client).await;
    assert!(out.server.is_err(), "server accepted the client: {out:?}");
    out.server.expect_err("peer must be refused")
}

fn assert_reason(err: &str, want: &str) {
    assert!(err.contains(want), "expected {want:?} in: {err}");
}

#[tokio::test]
async fn baseline_mtls_succeeds_and_both_sides_see_spiffe_ids() {
    let ca = TestCa::new("root");
    let (s, c) = mesh_pair(
        ca.source(DB, ca.bundle()),
        td_matcher("cluster.local"),
        ca.source(WEB, ca.bundle()),
        SpiffeMatcher::Exact(id(DB)),
    );
    let out = handshake(s, c).await;
    assert_eq!(out.client, Ok(Some(DB.to_string())), "{out:?}");
    assert_eq!(out.server, Ok(Some(WEB.to_string())), "{out:?}");
}

#[tokio::test]
async fn wrong_trust_domain_is_refused_both_ways() {
    let ca = TestCa::new("root");
    let evil = "spiffe://evil.local/ns/default/sa/db";
    let e = client_refuses(&ca, &ca, Leaf::spiffe(evil), td_matcher("cluster.local")).await;
    assert_reason(&e, "NotAllowed");
    let e = server_refuses(&ca, &ca, Leaf::spiffe(evil), td_matcher("cluster.local")).await;
    assert_reason(&e, "NotAllowed");
}

#[tokio::test]
async fn identity_must_match_exactly_or_be_in_the_allowed_set() {
    let ca = TestCa::new("root");
    let e = client_refuses(&ca, &ca, Leaf::spiffe(WEB), SpiffeMatcher::Exact(id(DB))).await;
    assert_reason(&e, "NotAllowed");
    let set = SpiffeMatcher::any_of([id(DB), id("spiffe://cluster.local/ns/prod/sa/web")]);
    let e = server_refuses(&ca, &ca, Leaf::spiffe(WEB), set.clone()).await;
    assert_reason(&e, "NotAllowed");
    // And a member of the set is accepted.
    let (s, c) = mesh_pair(
        ca.source(DB, ca.bundle()),
        SpiffeMatcher::any_of([id(WEB)]),
        ca.source(WEB, ca.bundle()),
        set,
    );
    assert!(handshake(s, c).await.ok());
}

#[tokio::test]
async fn expired_and_not_yet_valid_certificates_are_refused() {
    let ca = TestCa::new("root");
    let expired = Leaf {
        not_before: -7200,
        not_after: -3600,
        ..Leaf::spiffe(DB)
    };
    let e = client_refuses(&ca, &ca, expired, td_matcher("cluster.local")).await;
    assert_reason(&e, "Expired");
    let expired = Leaf {
        not_before: -7200,
        not_after: -3600,
        ..Leaf::spiffe(WEB)
    };
    let e = server_refuses(&ca, &ca, expired, td_matcher("cluster.local")).await;
    assert_reason(&e, "Expired");
    let future = Leaf {
        not_before: 3600,
        not_after: 7200,
        ..Leaf::spiffe(DB)
    };
    let e = client_refuses(&ca, &ca, future, td_matcher("cluster.local")).await;
    assert_reason(&e, "NotValidYet");
    let future = Leaf {
        not_before: 3600,
        not_after: 7200,
        ..Leaf::spiffe(WEB)
    };
    let e = server_refuses(&ca, &ca, future, td_matcher("cluster.local")).await;
    assert_reason(&e, "NotValidYet");
}

#[tokio::test]
async fn certificates_without_the_needed_eku_are_refused() {
    let ca = TestCa::new("root");
    // A client-only certificate cannot serve, a server-only one cannot be a client.
    let client_only = Leaf {
        ekus: vec![Eku::ClientAuth],
        ..Leaf::spiffe(DB)
    };
    let e = client_refuses(&ca, &ca, client_only, td_matcher("cluster.local")).await;
    assert_reason(&e, "InvalidPurpose");
    let server_only = Leaf {
        ekus: vec![Eku::ServerAuth],
        ..Leaf::spiffe(WEB)
    };
    let e = server_refuses(&ca, &ca, server_only, td_matcher("cluster.local")).await;
    assert_reason(&e, "InvalidPurpose");
    // No EKU extension at all: webpki would allow any use; the mesh does not.
    let none = Leaf {
        ekus: vec![],
        ..Leaf::spiffe(DB)
    };
    let e = client_refuses(&ca, &ca, none, td_matcher("cluster.local")).await;
    assert_reason(&e, "InvalidPurpose");
    let none = Leaf {
        ekus: vec![],
        ..Leaf::spiffe(WEB)
    };
    let e = server_refuses(&ca, &ca, none, td_matcher("cluster.local")).await;
    assert_reason(&e, "InvalidPurpose");
}

fn dns(name: &str) -> SanType {
    SanType::DnsName(name.try_into().expect("test setup"))
}

#[tokio::test]
async fn dns_only_and_wildcard_sans_are_not_identities() {
    let ca = TestCa::new("root");
    let dns_only = Leaf {
        sans: vec![dns("db.default.svc.cluster.local")],
        ..Leaf::spiffe(DB)
    };
    let e = client_refuses(&ca, &ca, dns_only, td_matcher("cluster.local")).await;
    assert_reason(&e, "NoSpiffeId");
    let dns_only = Leaf {
        sans: vec![dns("web.default.svc.cluster.local")],
        ..Leaf::spiffe(WEB)
    };
    let e = server_refuses(&ca, &ca, dns_only, td_matcher("cluster.local")).await;
    assert_reason(&e, "NoSpiffeId");
    let wildcard = Leaf {
        sans: vec![dns("*.default.svc.cluster.local")],
        ..Leaf::spiffe(DB)
    };
    let e = client_refuses(&ca, &ca, wildcard, td_matcher("cluster.local")).await;
    assert_reason(&e, "WildcardDns");
    // A wildcard beside a valid SPIFFE ID is refused too.
    let mut both = Leaf::spiffe(WEB);
    both.sans.push(dns("*.cluster.local"));
    let e = server_refuses(&ca, &ca, both, td_matcher("cluster.local")).await;
    assert_reason(&e, "WildcardDns");
}

#[tokio::test]
async fn san_with_embedded_nul_is_refused() {
    let ca = TestCa::new("root");
    let nul = Leaf {
        sans: vec![SanType::URI(
            "spiffe://cluster.local/ns/default/sa/db\0.evil.local"
                .try_into()
                .unwrap(),
        )],
        ..Leaf::spiffe(DB)
    };
    let e = client_refuses(&ca, &ca, nul, td_matcher("cluster.local")).await;
    assert_reason(&e, "EmbeddedNul");
    let nul = Leaf {
        sans: vec![SanType::URI(
            "spiffe://cluster.local/ns/default/sa/web\0"
                .try_into()
                .unwrap(),
        )],
        ..Leaf::spiffe(WEB)
    };
    let e = server_refuses(&ca, &ca, nul, td_matcher("cluster.local")).await;
    assert_reason(&e, "EmbeddedNul");
}

#[tokio::test]
async fn several_uri_sans_or_a_non_spiffe_uri_are_refused() {
    let ca = TestCa::new("root");
    let mut two = Leaf::spiffe(DB);
    two.sans.push(SanType::URI(WEB.try_into().unwrap()));
    let e = client_refuses(&ca, &ca, two, td_matcher("cluster.local")).await;
    assert_reason(&e, "SeveralUris");
    let https = Leaf {
        sans: vec![SanType::URI(
            "https://cluster.local/ns/default/sa/db".try_into().unwrap(),
        )],
        ..Leaf::spiffe(DB)
    };
    let e = client_refuses(&ca, &ca, https, td_matcher("cluster.local")).await;
    assert_reason(&e, "InvalidSpiffeId");
}

#[tokio::test]
async fn chain_to_an_unknown_root_is_refused() {
    let ca = TestCa::new("root");
    let stranger = TestCa::new("stranger");
    let e = client_refuses(
        &ca,
        &stranger,
        Leaf::spiffe(DB),
        td_matcher("cluster.local"),
    )
    .await;
    assert_reason(&e, "UnknownIssuer");
    let e = server_refuses(
        &ca,
        &stranger,
        Leaf::spiffe(WEB),
        td_matcher("cluster.local"),
    )
    .await;
    assert_reason(&e, "UnknownIssuer");
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_when_required() {
    let ca = TestCa::new("root");
    let server = tls::server_config(
        ca.source(DB, ca.bundle()),
        ClientAuth::Required(td_matcher("cluster.local")),
        &[],
    )
    .unwrap();
    let client = tls::client_config(
        std::sync::Arc::new(StaticCredentials::trust_only(ca.bundle())),
        SpiffeMatcher::Exact(id(DB)),
        &[],
    )
    .unwrap();
    let out = handshake(server.clone(), client.clone()).await;
    assert_reason(&out.server.unwrap_err(), "NoCertificatesPresented");
    // With client auth optional, the same client gets through, with no identity.
    let server = tls::server_config(
        ca.source(DB, ca.bundle()),
        ClientAuth::Optional(td_matcher("cluster.local")),
        &[],
    )
    .unwrap();
    let out = handshake(server, client).await;
    assert_eq!(out.server, Ok(None), "{out:?}");
}

#[tokio::test]
async fn only_tls13_is_offered_and_alpn_is_negotiated() {
    let ca = TestCa::new("root");
    let (s, c) = mesh_pair(
        ca.source(DB, ca.bundle()),
        td_matcher("cluster.local"),
        ca.source(WEB, ca.bundle()),
        SpiffeMatcher::Exact(id(DB)),
    );
    // A TLS 1.2-only client cannot connect to a mesh server.
    let tls12 = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(AcceptAnyServer))
        .with_no_client_auth();
    let out = handshake(s.clone(), tls12).await;
    assert!(out.server.is_err(), "{out:?}");
    // ALPN: both configs carry h2.
    assert_eq!(s.alpn_protocols, vec![b"h2".to_vec()]);
    assert_eq!(c.alpn_protocols, vec![b"h2".to_vec()]);
}
