//! Policy fixtures: Istio YAML turned into the model's `security` section (what the compiler
//! would hand the proxy), server proxies that enforce it, a raw HTTP/1.1 client for request
//! targets hyper would normalize, a TCP echo server, and a JWKS server whose keys a test can
//! swap or take down.

use super::*;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use verimesh_config::mesh::NormalizationType;
use verimesh_config::{load_str, Loaded};
use verimesh_model::{Scoped, Security};
use verimesh_proxy::JwksOptions;

/// The AuthorizationPolicies and RequestAuthentications in `yaml`, unscoped (tests write
/// only policies that apply to the server workload, namespace `b`).
pub fn security(yaml: &str, normalization: NormalizationType) -> Security {
    let mut loaded = Loaded::default();
    load_str(&mut loaded, "test.yaml", yaml);
    assert!(loaded.unusable.is_empty(), "{:?}", loaded.diagnostics);
    let mut s = Security {
        path_normalization: normalization,
        ..Security::default()
    };
    for r in &loaded.resources {
        let dry_run = r
            .meta
            .annotations
            .get("istio.io/dry-run")
            .is_some_and(|v| v == "true");
        if let Some(p) = r.as_authorization_policy() {
            s.authorization_policies.push(Scoped {
                namespace: r.namespace().into(),
                name: r.name().into(),
                dry_run,
                spec: p.clone(),
            });
        }
        if let Some(p) = r.as_request_authentication() {
            s.request_authentications.push(Scoped {
                namespace: r.namespace().into(),
                name: r.name().into(),
                dry_run: false,
                spec: p.clone(),
            });
        }
    }
    s
}

/// A server proxy (workload `web-v1` in `b`) in front of `app` enforcing `security`, with
/// its access log in `log` and JWKS refreshed every `refresh`.
pub async fn policy_server(
    mesh: &Mesh,
    app: SocketAddr,
    protocol: Protocol,
    security: Security,
    log: &Path,
    refresh: Duration,
) -> Proxy {
    let cfg = policy_config(app, protocol, security);
    start_policy_server(mesh, cfg, app, log, refresh).await
}

/// The server proxy's config (a test may add services and clusters before starting it).
pub fn policy_config(app: SocketAddr, protocol: Protocol, security: Security) -> ProxyConfig {
    ProxyConfig {
        workload: Workload {
            name: "web-v1".into(),
            namespace: "b".into(),
            service_account: "server".into(),
            identity: SERVER_ID.into(),
            labels: [("app".to_string(), "web".to_string())].into(),
        },
        inbound: Inbound {
            mtls: MtlsMode::Permissive,
            ports: vec![InboundPort {
                port: app.port(),
                protocol,
                mtls: None,
            }],
            ..Default::default()
        },
        security,
        ..Default::default()
    }
}

pub async fn start_policy_server(
    mesh: &Mesh,
    cfg: ProxyConfig,
    app: SocketAddr,
    log: &Path,
    refresh: Duration,
) -> Proxy {
    let jwks = JwksOptions {
        refresh,
        timeout: Duration::from_secs(2),
        retry: refresh,
        allow_link_local: false,
        extra_roots: Vec::new(),
    };
    start_policy_server_with(mesh, cfg, app, log, jwks).await
}

/// As `start_policy_server`, with JWKS options of the test's own.
pub async fn start_policy_server_with(
    mesh: &Mesh,
    cfg: ProxyConfig,
    app: SocketAddr,
    log: &Path,
    jwks: JwksOptions,
) -> Proxy {
    let mut opts = options(app, LogTarget::File(log.to_path_buf()));
    opts.jwks = jwks;
    start(cfg, mesh.creds(SERVER_ID), opts)
        .await
        .expect("test setup")
}

/// An external authorizer after Istio's sample: allows requests carrying
/// `x-ext-authz: allow`, answering `x-ext-authz-check-result`; records the paths it saw.
pub async fn ext_authz_server() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("test setup");
    let addr = l.local_addr().expect("test setup");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = l.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    if let Ok(mut s) = s.lock() {
                        s.push(req.uri().to_string());
                    }
                    let allow = req
                        .headers()
                        .get("x-ext-authz")
                        .is_some_and(|v| v == "allow");
                    async move {
                        let (status, result, body) = if allow {
                            (StatusCode::OK, "allowed", "")
                        } else {
                            (StatusCode::FORBIDDEN, "denied", "denied by ext_authz")
                        };
                        let mut resp = Response::new(Full::new(Bytes::from(body)));
                        *resp.status_mut() = status;
                        resp.headers_mut()
                            .insert("x-ext-authz-check-result", result.parse().expect("static"));
                        if !allow {
                            // What a refusal passed on to the caller should carry instead of
                            // the proxy's own text/plain.
                            resp.headers_mut()
                                .insert("content-type", "text/x-denial".parse().expect("static"));
                        }
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, seen)
}

/// A client proxy with identity `id` whose service `HOST` (port 8080, `protocol`) is the
/// server proxy at `server`.
pub async fn client_as(mesh: &Mesh, id: &str, server: SocketAddr, protocol: Protocol) -> Proxy {
    let port = ServicePort {
        port: 8080,
        name: "p".into(),
        protocol,
        http_routes: vec![],
        tcp_routes: vec![],
        default_cluster: "web".into(),
    };
    let cfg = client_config(port, vec![mesh_cluster("web", vec![endpoint(server, &[])])]);
    start(
        cfg,
        mesh.creds(id),
        options(VIP.parse().expect("static"), LogTarget::Off),
    )
    .await
    .expect("test setup")
}

/// Sends `head` (request line and headers, CRLF-separated, without the final blank line)
/// as bytes, exactly as written, and returns the status and body.
pub async fn raw(addr: SocketAddr, head: &str) -> (u16, String) {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let req = format!("{head}\r\nconnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .expect("raw request timed out")
}

/// `GET <target>` with Host `HOST` and extra header lines.
pub async fn raw_get(addr: SocketAddr, target: &str, extra: &[&str]) -> (u16, String) {
    let mut head = format!("GET {target} HTTP/1.1\r\nhost: {HOST}");
    for h in extra {
        head.push_str("\r\n");
        head.push_str(h);
    }
    raw(addr, &head).await
}

/// A TCP server echoing what it receives.
pub async fn echo_server() -> SocketAddr {
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

/// Writes `msg` on a new connection and returns what comes back before the peer closes or
/// a second passes (empty: refused).
pub async fn echo_through(addr: SocketAddr, msg: &[u8]) -> Vec<u8> {
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return Vec::new();
    };
    let _ = s.write_all(msg).await;
    let mut buf = vec![0u8; msg.len()];
    match tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf)).await {
        Ok(Ok(_)) => buf,
        _ => Vec::new(),
    }
}

/// A JWKS server: every GET answers the current body, which a test can swap.
pub struct JwksServer {
    pub addr: SocketAddr,
    pub body: Arc<Mutex<String>>,
    pub fetches: Arc<AtomicU32>,
}

impl JwksServer {
    pub async fn start(body: &str) -> JwksServer {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("test setup");
        let addr = l.local_addr().expect("test setup");
        let body = Arc::new(Mutex::new(body.to_string()));
        let fetches = Arc::new(AtomicU32::new(0));
        let (b, f) = (body.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = l.accept().await {
                let (b, f) = (b.clone(), f.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req: Request<Incoming>| {
                        f.fetch_add(1, Ordering::SeqCst);
                        let text = b.lock().map(|t| t.clone()).unwrap_or_default();
                        async move {
                            let mut resp = Response::new(Full::new(Bytes::from(text)));
                            resp.headers_mut()
                                .insert("content-type", "application/json".parse().expect("s"));
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        JwksServer {
            addr,
            body,
            fetches,
        }
    }

    /// The same over TLS, with `chain` and `key` as the server's certificate.
    pub async fn start_https(
        body: &str,
        chain: Vec<rustls_pki_types::CertificateDer<'static>>,
        key: rustls_pki_types::PrivateKeyDer<'static>,
    ) -> JwksServer {
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("test setup")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("test setup");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let l = TcpListener::bind("127.0.0.1:0").await.expect("test setup");
        let addr = l.local_addr().expect("test setup");
        let body = Arc::new(Mutex::new(body.to_string()));
        let fetches = Arc::new(AtomicU32::new(0));
        let (b, f) = (body.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = l.accept().await {
                let (b, f, acceptor) = (b.clone(), f.clone(), acceptor.clone());
                tokio::spawn(async move {
                    // A client that does not trust the certificate gives up here.
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |_req: Request<Incoming>| {
                        f.fetch_add(1, Ordering::SeqCst);
                        let text = b.lock().map(|t| t.clone()).unwrap_or_default();
                        async move {
                            Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                                Bytes::from(text),
                            )))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        JwksServer {
            addr,
            body,
            fetches,
        }
    }

    pub fn uri(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    pub fn serve(&self, body: &str) {
        if let Ok(mut b) = self.body.lock() {
            *b = body.to_string();
        }
    }
}

/// Access-log entries with `response_code` `code`.
pub fn log_entries(path: &Path, code: u64) -> Vec<serde_json::Value> {
    read_log(path)
        .into_iter()
        .filter(|e| e["response_code"].as_u64() == Some(code))
        .collect()
}

/// Polls the access log until an entry satisfies `pred` (the log is written in the
/// background).
pub async fn wait_log(path: &Path, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    for _ in 0..100 {
        if let Some(e) = read_log(path).into_iter().find(|e| pred(e)) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no matching access-log entry in {:?}", read_log(path));
}
