//! Test harness for HTTP through the mesh on loopback: a mesh CA, backends (small HTTP
//! servers that say who they are and what they received), server-side proxies in front of
//! them, and a client-side proxy whose config the test writes.

#![allow(dead_code)]

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use verimesh_identity::{pem, Ca, CredentialSource, SpiffeId, StaticCredentials, TrustDomain};
use verimesh_model::{
    Cluster, Endpoint, Inbound, InboundPort, MtlsMode, Protocol, ProxyConfig, Service, ServicePort,
    Transport, Workload,
};
use verimesh_proxy::{start, LogTarget, OriginalDst, Proxy, ProxyOptions};

pub mod grpc_authz;
pub mod policy;

pub const CLIENT_ID: &str = "spiffe://cluster.local/ns/a/sa/client";
pub const SERVER_ID: &str = "spiffe://cluster.local/ns/b/sa/server";
pub const VIP: &str = "198.18.0.10:8080";
pub const HOST: &str = "web.b.svc.cluster.local";

pub struct Mesh {
    pub ca: Ca,
    pub dir: tempfile::TempDir,
}

impl Mesh {
    pub fn new() -> Mesh {
        let dir = tempfile::tempdir().expect("test setup");
        let td = TrustDomain::new("cluster.local").expect("test setup");
        let ca = Ca::load_or_create(&dir.path().join("ca"), td)
            .expect("test setup")
            .0;
        Mesh { ca, dir }
    }

    pub fn creds(&self, id: &str) -> Arc<dyn CredentialSource> {
        let sid = SpiffeId::parse(id).expect("test setup");
        let (issued, key) = self.ca.issue(&sid, None).expect("test setup");
        let d = self.dir.path().join(id.replace(['/', ':'], "_"));
        std::fs::create_dir_all(&d).expect("test setup");
        pem::write_file(&d.join("cert-chain.pem"), &issued.chain_pem(), 0o644).expect("w");
        pem::write_file(&d.join("key.pem"), &key, 0o600).expect("w");
        pem::write_file(&d.join("root-cert.pem"), &issued.roots_pem(), 0o644).expect("w");
        Arc::new(StaticCredentials::load_dir(&d).expect("test setup"))
    }
}

/// What a backend saw, for assertions.
#[derive(Default)]
pub struct Seen {
    pub requests: AtomicU32,
}

/// A backend answering every request with `x-backend: NAME`, the request's method, path
/// and headers as text lines. `/status/N` answers N; `/fail-first/N` answers 503 to the
/// first N requests it sees; `/delay/MS` (or `?delay=MS` on any path) waits; `/grpc`
/// answers with trailers;
/// `/echo-body` adds a `body=` line with what it received; an `upgrade: echo` request
/// switches protocols and echoes bytes.
pub async fn backend(name: &'static str) -> (SocketAddr, Arc<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("test setup");
    let addr = l.local_addr().expect("test setup");
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = l.accept().await {
            let seen = s.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let seen = seen.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(name, req, &seen).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, seen)
}

type TestBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

async fn answer(name: &'static str, mut req: Request<Incoming>, seen: &Seen) -> Response<TestBody> {
    let n = seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let path = req.uri().path().to_string();
    let mut text = format!(
        "backend={name}\nmethod={}\npath={}\nversion={:?}\n",
        req.method(),
        req.uri(),
        req.version()
    );
    for (k, v) in req.headers() {
        text.push_str(&format!("{}: {}\n", k, v.to_str().unwrap_or("?")));
    }
    let mut status = StatusCode::OK;
    if let Some(code) = path.strip_prefix("/status/") {
        status = code
            .parse()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
    }
    if let Some(k) = path.strip_prefix("/fail-first/") {
        if n <= k.parse::<u32>().unwrap_or(0) {
            status = StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    if let Some(ms) = path.strip_prefix("/delay/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
    }
    if let Some(ms) = req.uri().query().and_then(|q| q.strip_prefix("delay=")) {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
    }
    if path == "/echo-body" {
        let body = req.into_body().collect().await.map(|b| b.to_bytes());
        let body = body.map_or_else(
            |e| format!("<{e}>"),
            |b| String::from_utf8_lossy(&b).into_owned(),
        );
        text.push_str(&format!("body={body}\n"));
        return Response::new(Full::new(Bytes::from(text)).boxed());
    }
    if req.headers().get("upgrade").is_some_and(|v| v == "echo") {
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(up) = on.await {
                let mut io = TokioIo::new(up);
                let (mut r, mut w) = tokio::io::split(&mut io);
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }
        });
        let mut resp = Response::new(Full::new(Bytes::new()).boxed());
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        resp.headers_mut()
            .insert("upgrade", "echo".parse().expect("static"));
        resp.headers_mut()
            .insert("connection", "upgrade".parse().expect("static"));
        return resp;
    }
    let body: TestBody = if path == "/grpc" {
        let trailers = {
            let mut t = http::HeaderMap::new();
            t.insert("grpc-status", "0".parse().expect("static"));
            t
        };
        let frames = vec![
            Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from(text.clone()))),
            Ok(hyper::body::Frame::trailers(trailers)),
        ];
        http_body_util::StreamBody::new(futures_stream(frames)).boxed()
    } else {
        Full::new(Bytes::from(text)).boxed()
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("x-backend", name.parse().expect("static"));
    resp
}

fn futures_stream<T: Send + 'static>(items: Vec<T>) -> impl futures_core::Stream<Item = T> + Send {
    struct Iter<T>(std::vec::IntoIter<T>);
    impl<T> futures_core::Stream for Iter<T> {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    impl<T> Unpin for Iter<T> {}
    Iter(items.into_iter())
}

pub fn options(orig: SocketAddr, log: LogTarget) -> ProxyOptions {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    ProxyOptions {
        outbound: any,
        inbound: any,
        admin: any,
        original_dst: OriginalDst::Fixed(orig),
        detect_timeout: Duration::from_millis(200),
        access_log: log,
        jwks: Default::default(),
        gateway_bind: std::net::IpAddr::from([127, 0, 0, 1]),
        workers: 1,
    }
}

/// A server-side proxy in front of `app`, with the inbound port's protocol and mode.
pub async fn server_proxy(
    mesh: &Mesh,
    app: SocketAddr,
    protocol: Protocol,
    mode: MtlsMode,
) -> Proxy {
    let cfg = server_config(app, protocol, mode);
    start(cfg, mesh.creds(SERVER_ID), options(app, LogTarget::Off))
        .await
        .expect("test setup")
}

/// The config of a server-side proxy in front of `app`.
pub fn server_config(app: SocketAddr, protocol: Protocol, mode: MtlsMode) -> ProxyConfig {
    ProxyConfig {
        workload: Workload {
            name: "web-v1".into(),
            namespace: "b".into(),
            service_account: "server".into(),
            identity: SERVER_ID.into(),
            labels: BTreeMap::new(),
        },
        inbound: Inbound {
            mtls: mode,
            ports: vec![InboundPort {
                port: app.port(),
                protocol,
                mtls: None,
            }],
            ..Default::default()
        },
        ..Default::default()
    }
}

pub fn endpoint(addr: SocketAddr, labels: &[(&str, &str)]) -> Endpoint {
    Endpoint {
        address: addr,
        identity: Some(SERVER_ID.into()),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        weight: 1,
    }
}

pub fn mesh_cluster(name: &str, endpoints: Vec<Endpoint>) -> Cluster {
    Cluster {
        name: name.into(),
        transport: Transport::MeshMtls { identities: vec![] },
        endpoints,
        connect_timeout_ms: 1000,
        ..Default::default()
    }
}

/// The client side's config: the service `HOST` at `VIP` on one port with `port` settings.
pub fn client_config(port: ServicePort, clusters: Vec<Cluster>) -> ProxyConfig {
    ProxyConfig {
        version: "1".into(),
        workload: Workload {
            name: "client".into(),
            namespace: "a".into(),
            service_account: "client".into(),
            identity: CLIENT_ID.into(),
            labels: BTreeMap::new(),
        },
        services: vec![std::sync::Arc::new(Service {
            hostname: HOST.into(),
            aliases: vec!["web.b".into()],
            addresses: vec![VIP.parse::<SocketAddr>().expect("static").ip()],
            ports: vec![port],
        })],
        clusters: clusters.into_iter().map(std::sync::Arc::new).collect(),
        ..Default::default()
    }
}

pub async fn client_proxy(mesh: &Mesh, cfg: ProxyConfig, log: LogTarget) -> Proxy {
    start(
        cfg,
        mesh.creds(CLIENT_ID),
        options(VIP.parse().expect("static"), log),
    )
    .await
    .expect("test setup")
}

/// A plain HTTP/1.1 client: one request on a new connection to `addr`.
pub async fn get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, http::HeaderMap, String) {
    send(addr, http::Method::GET, path, headers, Bytes::new()).await
}

pub async fn send(
    addr: SocketAddr,
    method: http::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> (StatusCode, http::HeaderMap, String) {
    tokio::time::timeout(Duration::from_secs(10), async {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", HOST);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = sender
            .send_request(req.body(Full::new(body)).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    })
    .await
    .expect("request timed out")
}

/// A field of a backend's text answer (`path`, `backend`, or a lower-case header name).
pub fn field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines().find_map(|l| {
        l.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('=').or_else(|| rest.strip_prefix(": ")))
    })
}

pub fn read_log(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
