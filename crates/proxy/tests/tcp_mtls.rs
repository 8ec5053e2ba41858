//! Opaque TCP over mesh mTLS on loopback, no iptables: two proxies in-process with fixed
//! original destinations, certificates from an in-process mesh CA loaded from files as
//! `verimesh ca issue` writes them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use verimesh_identity::{pem, Ca, CredentialSource, SpiffeId, StaticCredentials, TrustDomain};
use verimesh_model::{
    Cluster, Endpoint, Inbound, MtlsMode, ProxyConfig, Service, ServicePort, Transport,
};
use verimesh_proxy::{start, OriginalDst, Proxy, ProxyOptions};

const CLIENT_ID: &str = "spiffe://cluster.local/ns/a/sa/client";
const ECHO_ID: &str = "spiffe://cluster.local/ns/b/sa/echo";
const VIP: &str = "198.18.0.10:9000";

fn issue(ca: &Ca, id: &str, dir: &std::path::Path) -> Arc<dyn CredentialSource> {
    let id = SpiffeId::parse(id).expect("test setup");
    let (issued, key) = ca.issue(&id, None).expect("test setup");
    std::fs::create_dir_all(dir).expect("test setup");
    pem::write_file(&dir.join("cert-chain.pem"), &issued.chain_pem(), 0o644).expect("test setup");
    pem::write_file(&dir.join("key.pem"), &key, 0o600).expect("test setup");
    pem::write_file(&dir.join("root-cert.pem"), &issued.roots_pem(), 0o644).expect("test setup");
    Arc::new(StaticCredentials::load_dir(dir).expect("test setup"))
}

fn mesh_ca(dir: &std::path::Path) -> Ca {
    Ca::load_or_create(dir, TrustDomain::new("cluster.local").expect("test setup"))
        .expect("test setup")
        .0
}

async fn echo_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("test setup");
    let addr = l.local_addr().expect("test setup");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    addr
}

fn loopback(orig: SocketAddr) -> ProxyOptions {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    ProxyOptions {
        outbound: any,
        inbound: any,
        admin: any,
        original_dst: OriginalDst::Fixed(orig),
        detect_timeout: Duration::from_millis(200),
        access_log: verimesh_proxy::LogTarget::Off,
        jwks: Default::default(),
        gateway_bind: std::net::IpAddr::from([127, 0, 0, 1]),
        workers: 1,
    }
}

/// The echo side: inbound with `mode` in front of an echo server.
async fn server_proxy(source: Arc<dyn CredentialSource>, mode: MtlsMode) -> Proxy {
    let echo = echo_server().await;
    let cfg = ProxyConfig {
        inbound: Inbound {
            mtls: mode,
            ..Default::default()
        },
        ..Default::default()
    };
    start(cfg, source, loopback(echo))
        .await
        .expect("test setup")
}

/// The client side: the service at VIP, one endpoint (the server proxy's inbound) of `identity`.
async fn client_proxy(source: Arc<dyn CredentialSource>, ep: SocketAddr, identity: &str) -> Proxy {
    let cfg = ProxyConfig {
        services: vec![std::sync::Arc::new(Service {
            hostname: "echo.b.svc.cluster.local".into(),
            addresses: vec![VIP.parse::<SocketAddr>().expect("test setup").ip()],
            ports: vec![ServicePort {
                port: 9000,
                default_cluster: "echo".into(),
                ..Default::default()
            }],
            ..Default::default()
        })],
        clusters: vec![std::sync::Arc::new(Cluster {
            name: "echo".into(),
            transport: Transport::MeshMtls { identities: vec![] },
            endpoints: vec![Endpoint {
                address: ep,
                identity: Some(identity.into()),
                labels: Default::default(),
                weight: 1,
            }],
            connect_timeout_ms: 2000,
            ..Default::default()
        })],
        ..Default::default()
    };
    start(cfg, source, loopback(VIP.parse().expect("test setup")))
        .await
        .expect("test setup")
}

/// Writes a line and reads what comes back until `want` bytes or the connection closes.
async fn exchange(addr: SocketAddr, line: &[u8]) -> Vec<u8> {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut s = TcpStream::connect(addr).await.expect("test setup");
        let _ = s.write_all(line).await;
        let mut got = vec![0u8; line.len()];
        let mut n = 0;
        while n < got.len() {
            match s.read(&mut got[n..]).await {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        got.truncate(n);
        got
    })
    .await
    .expect("bounded exchange")
}

struct Mesh {
    _dir: tempfile::TempDir,
    client: Arc<dyn CredentialSource>,
    echo: Arc<dyn CredentialSource>,
    root: std::path::PathBuf,
}

fn mesh() -> Mesh {
    let dir = tempfile::tempdir().expect("test setup");
    let root = dir.path().to_path_buf();
    let ca = mesh_ca(&root.join("state"));
    let client = issue(&ca, CLIENT_ID, &root.join("a"));
    let echo = issue(&ca, ECHO_ID, &root.join("b"));
    Mesh {
        _dir: dir,
        client,
        echo,
        root,
    }
}

#[tokio::test]
async fn tcp_crosses_the_mesh_over_mtls() {
    let m = mesh();
    let b = server_proxy(m.echo.clone(), MtlsMode::Strict).await;
    let a = client_proxy(m.client.clone(), b.inbound_addr, ECHO_ID).await;
    assert_eq!(
        exchange(a.outbound_addr, b"hello mesh\n").await,
        b"hello mesh\n"
    );
}

#[tokio::test]
async fn strict_refuses_plaintext_and_permissive_accepts_it() {
    let m = mesh();
    let strict = server_proxy(m.echo.clone(), MtlsMode::Strict).await;
    assert_eq!(exchange(strict.inbound_addr, b"plain\n").await, b"");
    let permissive = server_proxy(m.echo.clone(), MtlsMode::Permissive).await;
    assert_eq!(
        exchange(permissive.inbound_addr, b"plain\n").await,
        b"plain\n"
    );
}

#[tokio::test]
async fn the_client_refuses_an_endpoint_with_another_identity() {
    let m = mesh();
    let b = server_proxy(m.echo.clone(), MtlsMode::Strict).await;
    let a = client_proxy(
        m.client.clone(),
        b.inbound_addr,
        "spiffe://cluster.local/ns/b/sa/other",
    )
    .await;
    assert_eq!(exchange(a.outbound_addr, b"hello\n").await, b"");
}

#[tokio::test]
async fn the_server_refuses_a_client_of_another_ca() {
    let m = mesh();
    let b = server_proxy(m.echo.clone(), MtlsMode::Strict).await;
    // Another CA, same trust domain name: its certificates do not chain to B's roots.
    let rogue_ca = mesh_ca(&m.root.join("rogue-state"));
    let rogue = issue(&rogue_ca, CLIENT_ID, &m.root.join("rogue"));
    // Its proxy trusts B's roots too, so only B's check of the client can fail.
    let bundle = m.echo.trust_bundle().merged(&rogue.trust_bundle());
    let creds = rogue.credentials().expect("test setup");
    let chain = pem::encode_certs(creds.chain());
    let key = std::fs::read_to_string(m.root.join("rogue/key.pem")).expect("test setup");
    let rogue: Arc<dyn CredentialSource> = Arc::new(StaticCredentials::new(
        verimesh_identity::Credentials::from_pem(&chain, &key).expect("test setup"),
        bundle,
    ));
    let a = client_proxy(rogue, b.inbound_addr, ECHO_ID).await;
    assert_eq!(exchange(a.outbound_addr, b"hello\n").await, b"");
}

#[tokio::test]
async fn unknown_destinations_pass_through_only_when_allowed() {
    let m = mesh();
    let echo = echo_server().await;
    let mut cfg = ProxyConfig::default();
    let p = start(cfg.clone(), m.client.clone(), loopback(echo))
        .await
        .expect("test setup");
    assert_eq!(exchange(p.outbound_addr, b"x\n").await, b"");
    cfg.allow_unknown_destinations = true;
    let p = start(cfg, m.client.clone(), loopback(echo))
        .await
        .expect("test setup");
    assert_eq!(exchange(p.outbound_addr, b"x\n").await, b"x\n");
}

#[tokio::test]
async fn admin_serves_readiness_and_the_config() {
    let m = mesh();
    let p = server_proxy(m.echo.clone(), MtlsMode::Strict).await;
    let get = |path: &str| {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let addr = p.admin_addr;
        async move {
            let mut s = TcpStream::connect(addr).await.expect("test setup");
            s.write_all(req.as_bytes()).await.expect("test setup");
            let mut out = String::new();
            s.read_to_string(&mut out).await.expect("test setup");
            out
        }
    };
    tokio::time::timeout(Duration::from_secs(5), async {
        assert!(get("/ready").await.starts_with("HTTP/1.1 200"));
        assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
        let dump = get("/config_dump").await;
        assert!(dump.contains("\"mtls\": \"STRICT\""), "{dump}");
        assert!(get("/nope").await.starts_with("HTTP/1.1 404"));
    })
    .await
    .expect("bounded");
}

/// A TLS client straight from the identity crate, offering `alpn`; returns what comes back
/// for one line (empty when the handshake or the connection is refused).
async fn tls_exchange(
    addr: SocketAddr,
    source: Arc<dyn CredentialSource>,
    alpn: &[u8],
    line: &[u8],
) -> Vec<u8> {
    let matcher = verimesh_identity::SpiffeMatcher::Exact(SpiffeId::parse(ECHO_ID).expect("id"));
    let config = verimesh_identity::tls::client_config(source, matcher, &[alpn]).expect("config");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    tokio::time::timeout(Duration::from_secs(5), async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = rustls_pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
        let Ok(mut s) = connector.connect(name, tcp).await else {
            return Vec::new();
        };
        if s.write_all(line).await.is_err() {
            return Vec::new();
        }
        let mut got = vec![0u8; line.len()];
        let mut n = 0;
        while n < got.len() {
            match s.read(&mut got[n..]).await {
                Ok(0) | Err(_) => break,
                Ok(k) => n += k,
            }
        }
        got.truncate(n);
        got
    })
    .await
    .expect("bounded exchange")
}

#[tokio::test]
async fn inbound_terminates_mesh_tls_only_for_mesh_clients_with_certificates() {
    let m = mesh();
    let b = server_proxy(m.echo.clone(), MtlsMode::Strict).await;
    let alpn = verimesh_proxy::MESH_ALPN;
    assert_eq!(
        tls_exchange(b.inbound_addr, m.client.clone(), alpn, b"direct\n").await,
        b"direct\n"
    );
    // No client certificate: the handshake fails (STRICT requires one from the mesh).
    let anonymous: Arc<dyn CredentialSource> = Arc::new(StaticCredentials::trust_only(
        (*m.client.trust_bundle()).clone(),
    ));
    assert_eq!(
        tls_exchange(b.inbound_addr, anonymous, alpn, b"anon\n").await,
        b""
    );
    // TLS without the mesh ALPN is the application's own TLS, i.e. not mTLS: refused.
    assert_eq!(
        tls_exchange(b.inbound_addr, m.client.clone(), b"h2", b"app\n").await,
        b""
    );
}

#[tokio::test]
async fn disable_passes_bytes_through_untouched() {
    let m = mesh();
    let b = server_proxy(m.echo.clone(), MtlsMode::Disable).await;
    assert_eq!(exchange(b.inbound_addr, b"plain\n").await, b"plain\n");
    // Mesh TLS is not terminated: the echo server answers the ClientHello with itself, which
    // is no TLS server hello, so the handshake fails.
    let alpn = verimesh_proxy::MESH_ALPN;
    assert_eq!(
        tls_exchange(b.inbound_addr, m.client.clone(), alpn, b"x\n").await,
        b""
    );
}
