//! The gateway role through real sockets: a client outside the mesh → gateway listener
//! (plaintext or TLS by SNI) → mesh mTLS → a sidecar → the app. Edge headers, virtual hosts,
//! policies on the gateway (ipBlocks vs remoteIpBlocks with trusted proxies), listener
//! changes with the config.

mod support;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use support::policy::security;
use support::*;
use verimesh_config::mesh::NormalizationType;
use verimesh_model::{
    Gateway, GatewayListener, HttpAction, HttpRoute, ListenerProtocol, MtlsMode, Protocol,
    ProxyConfig, ServerTls, ServerTlsMode, VirtualHost, WeightedCluster, Workload,
};
use verimesh_proxy::{start, LogTarget, Proxy};

const GATEWAY_ID: &str = "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway";
const CLUSTER: &str = "outbound|8000||httpbin.foo.svc.cluster.local";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn route_all() -> HttpRoute {
    HttpRoute {
        name: "foo/httpbin[0]".into(),
        matches: vec![],
        action: HttpAction::Route {
            clusters: vec![WeightedCluster {
                cluster: CLUSTER.into(),
                weight: 100,
            }],
        },
        timeout_ms: None,
        retries: None,
        rewrite: None,
        request_headers: None,
        response_headers: None,
    }
}

fn vhost(domains: &[&str]) -> VirtualHost {
    VirtualHost {
        name: "foo/httpbin".into(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        https_redirect: false,
        routes: vec![route_all()],
    }
}

fn gateway_config(sidecar_inbound: SocketAddr, gateway: Gateway) -> ProxyConfig {
    ProxyConfig {
        version: "1".into(),
        workload: Workload {
            name: "istio-ingressgateway-0".into(),
            namespace: "istio-system".into(),
            service_account: "istio-ingressgateway".into(),
            identity: GATEWAY_ID.into(),
            labels: [("istio".to_string(), "ingressgateway".to_string())].into(),
        },
        clusters: vec![Arc::new(mesh_cluster(
            CLUSTER,
            vec![endpoint(sidecar_inbound, &[])],
        ))],
        gateway: Some(gateway),
        ..Default::default()
    }
}

async fn start_gateway(mesh: &Mesh, cfg: ProxyConfig) -> Proxy {
    // The gateway dials the sidecar's inbound listener directly (no interception here).
    let unused: SocketAddr = "127.0.0.1:9".parse().expect("static");
    start(cfg, mesh.creds(GATEWAY_ID), options(unused, LogTarget::Off))
        .await
        .expect("gateway starts")
}

/// One HTTP/1.1 request with the given Host on a new connection.
async fn request(
    addr: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, String) {
    tokio::time::timeout(Duration::from_secs(10), async {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        exchange(TokioIo::new(stream), host, path, headers).await
    })
    .await
    .expect("request timed out")
}

async fn exchange<I>(
    io: TokioIo<I>,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, String)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = Request::builder().uri(path).header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::new())).expect("request"))
        .await
        .expect("response");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// A sidecar (STRICT) in front of the httpbin backend, as the gateway's upstream.
async fn httpbin(mesh: &Mesh) -> (Proxy, Arc<Seen>) {
    let (app, seen) = backend("httpbin").await;
    (
        server_proxy(mesh, app, Protocol::Http, MtlsMode::Strict).await,
        seen,
    )
}

#[tokio::test]
async fn plaintext_listener_routes_by_host_over_mesh_mtls_with_edge_headers() {
    let mesh = Mesh::new();
    let (sidecar, seen) = httpbin(&mesh).await;
    let port = free_port();
    let gw = start_gateway(
        &mesh,
        gateway_config(
            sidecar.inbound_addr,
            Gateway {
                listeners: vec![GatewayListener {
                    port,
                    protocol: ListenerProtocol::Http,
                    tls: vec![],
                    virtual_hosts: vec![vhost(&["httpbin.example.com"])],
                }],
                num_trusted_proxies: 0,
            },
        ),
    )
    .await;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (status, _, body) = request(
        addr,
        "httpbin.example.com:8080",
        "/headers?x=1",
        &[
            ("x-forwarded-for", "9.9.9.9"),
            ("x-verimesh-peer", "evil;ns"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "backend"), Some("httpbin"));
    assert_eq!(field(&body, "path"), Some("/headers?x=1"));
    // The sidecar received it over mTLS from the gateway's identity.
    let xfcc = field(&body, "x-forwarded-client-cert").expect("xfcc");
    assert!(xfcc.contains(&format!("URI={GATEWAY_ID}")), "{xfcc}");
    // The peer is appended to what the client sent; the scheme is the listener's.
    assert_eq!(field(&body, "x-forwarded-for"), Some("9.9.9.9, 127.0.0.1"));
    assert_eq!(field(&body, "x-forwarded-proto"), Some("http"));
    assert_eq!(seen.requests.load(std::sync::atomic::Ordering::SeqCst), 1);

    // A host no virtual host serves: 404 with Envoy's NR, and nothing reaches the app.
    let (status, _, _) = request(addr, "other.example.com", "/headers", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(seen.requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    drop(gw);
}

#[tokio::test]
async fn ip_blocks_see_the_peer_and_remote_ip_blocks_the_trusted_client() {
    let mesh = Mesh::new();
    let (sidecar, _) = httpbin(&mesh).await;
    let port = free_port();
    let mut cfg = gateway_config(
        sidecar.inbound_addr,
        Gateway {
            listeners: vec![GatewayListener {
                port,
                protocol: ListenerProtocol::Http,
                tls: vec![],
                virtual_hosts: vec![vhost(&["*"])],
            }],
            num_trusted_proxies: 1,
        },
    );
    cfg.security = security(
        r#"
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ingress-policy, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  action: DENY
  rules:
  - from:
    - source: {remoteIpBlocks: ["1.2.3.4"]}
  - from:
    - source: {ipBlocks: ["5.6.7.8"]}
"#,
        NormalizationType::Base,
    );
    let gw = start_gateway(&mesh, cfg).await;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    // One trusted proxy in front: the client is the last X-Forwarded-For entry.
    let (status, _, body) = request(addr, "a", "/ip", &[("x-forwarded-for", "1.2.3.4")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body, "RBAC: access denied");
    let (status, _, _) = request(addr, "a", "/ip", &[("x-forwarded-for", "4.3.2.1")]).await;
    assert_eq!(status, StatusCode::OK);
    // ipBlocks is the direct peer (127.0.0.1), whatever the header claims.
    let (status, _, _) = request(addr, "a", "/ip", &[("x-forwarded-for", "5.6.7.8")]).await;
    assert_eq!(status, StatusCode::OK);
    drop(gw);
}

struct TestCert {
    ca_pem: String,
    chain_pem: String,
    key_pem: String,
}

fn server_cert(host: &str) -> TestCert {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec![host.to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("leaf");
    TestCert {
        ca_pem: ca_cert.pem(),
        chain_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

fn tls_client(ca_pem: &str) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in verimesh_identity::pem::certs(ca_pem, "ca").expect("ca") {
        roots.add(c).expect("root");
    }
    let config = rustls::ClientConfig::builder_with_provider(verimesh_identity::tls::provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn https_listener_terminates_tls_by_sni_and_listeners_follow_the_config() {
    let mesh = Mesh::new();
    let (sidecar, _) = httpbin(&mesh).await;
    let cert = server_cert("httpbin.example.com");
    let (https_port, http_port) = (free_port(), free_port());
    let https = GatewayListener {
        port: https_port,
        protocol: ListenerProtocol::Https,
        tls: vec![ServerTls {
            hosts: vec!["httpbin.example.com".into()],
            mode: ServerTlsMode::Simple,
            certificate_chain: cert.chain_pem.clone(),
            private_key: cert.key_pem.clone(),
            ca_certificates: None,
            source: "istio-system/httpbin-credential".into(),
        }],
        virtual_hosts: vec![vhost(&["httpbin.example.com"])],
    };
    let cfg = gateway_config(
        sidecar.inbound_addr,
        Gateway {
            listeners: vec![https.clone()],
            num_trusted_proxies: 0,
        },
    );
    let gw = start_gateway(&mesh, cfg.clone()).await;
    let addr: SocketAddr = ([127, 0, 0, 1], https_port).into();
    let connector = tls_client(&cert.ca_pem);
    let name = rustls_pki_types::ServerName::try_from("httpbin.example.com").expect("name");
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let tls = connector
        .connect(name, tcp)
        .await
        .expect("handshake by SNI");
    let (status, _, body) = exchange(TokioIo::new(tls), "httpbin.example.com", "/get", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(field(&body, "x-forwarded-proto"), Some("https"));

    // An SNI no server names gets no certificate: the handshake fails.
    let other = rustls_pki_types::ServerName::try_from("other.example.com").expect("name");
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    assert!(connector.connect(other, tcp).await.is_err());

    // The admin endpoint never shows the private key.
    let dump = admin_get(gw.admin_addr, "/config_dump").await;
    assert!(dump.contains("[redacted]") && !dump.contains("PRIVATE KEY"));

    // A new config: the HTTPS port closes, a plaintext one opens.
    let mut next = cfg.clone();
    next.version = "2".into();
    next.gateway = Some(Gateway {
        listeners: vec![GatewayListener {
            port: http_port,
            protocol: ListenerProtocol::Http,
            tls: vec![],
            virtual_hosts: vec![vhost(&["*"])],
        }],
        num_trusted_proxies: 0,
    });
    gw.update(next).expect("accepted");
    let http_addr: SocketAddr = ([127, 0, 0, 1], http_port).into();
    let (status, _, _) = request(http_addr, "x", "/get", &[]).await;
    assert_eq!(status, StatusCode::OK);
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the dropped listener is closed");

    // A certificate that does not parse is refused with the config; the old one stays.
    let mut bad = cfg;
    bad.version = "3".into();
    if let Some(g) = bad.gateway.as_mut() {
        g.listeners[0].tls[0].certificate_chain = "not a certificate".into();
    }
    let err = gw.update(bad).expect_err("refused");
    assert!(
        err.to_string().contains("istio-system/httpbin-credential"),
        "{err}"
    );
    let (status, _, _) = request(http_addr, "x", "/get", &[]).await;
    assert_eq!(status, StatusCode::OK);
}

/// GET on the admin port with a bare HTTP/1.1 exchange.
async fn admin_get(addr: SocketAddr, path: &str) -> String {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("admin");
    exchange(TokioIo::new(stream), "localhost", path, &[])
        .await
        .2
}
