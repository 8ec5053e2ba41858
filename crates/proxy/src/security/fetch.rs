//! Fetching a JWKS from its `jwksUri`: one HTTP/1.1 GET with a deadline and a size limit,
//! to an address that was resolved and checked first. The URI comes from a policy, so the
//! proxy must not become a way to reach what only it can reach: link-local addresses
//! (169.254.0.0/16, fe80::/10) and cloud metadata endpoints are refused unless allowed, and
//! the connection goes to the very address that was checked (no second resolution that a
//! rebinding DNS server could answer differently).
//!
//! `https://` servers are verified against the roots of `jwks_tls` (the system trust store
//! and any extra CA), for the URI's host name; a server that cannot be verified is a failed
//! fetch, never an unverified one.

use super::jwks_tls::JwksTls;
use bytes::Bytes;
use http::uri::Authority;
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A JWKS larger than this is refused (real ones are a few KiB).
pub const MAX_JWKS_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0:?} is not an absolute http:// or https:// URI")]
    BadUri(String),
    #[error("no TLS client for https: {0}")]
    TlsConfig(String),
    #[error("TLS with {host}: {source}")]
    Tls {
        host: String,
        source: std::io::Error,
    },
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("{host} resolves to no address")]
    NoAddress { host: String },
    #[error("{host} resolves to {addr}, a link-local or cloud metadata address (refused)")]
    Forbidden { host: String, addr: IpAddr },
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    #[error("the server answered {0}")]
    Status(StatusCode),
    #[error("reading the body: {0}")]
    Body(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

/// Whether a policy-supplied URI may make the proxy connect to `ip`.
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            // AWS's IPv6 instance metadata endpoint.
            let aws = v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            link_local || aws
        }
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    // 169.254.169.254 (AWS, GCP, Azure, OpenStack) and 169.254.170.2 (ECS) are link-local;
    // Alibaba Cloud's metadata service is not.
    v4.is_link_local() || v4 == Ipv4Addr::new(100, 100, 100, 200)
}

/// Fetches `uri` and returns the body as text; `tls` verifies `https://` servers.
pub async fn fetch(
    uri: &str,
    timeout: Duration,
    allow_link_local: bool,
    tls: &JwksTls,
) -> Result<String, FetchError> {
    tokio::time::timeout(timeout, fetch_inner(uri, allow_link_local, tls))
        .await
        .map_err(|_| FetchError::Timeout(timeout))?
}

async fn fetch_inner(
    uri: &str,
    allow_link_local: bool,
    tls: &JwksTls,
) -> Result<String, FetchError> {
    let parsed: Uri = uri.parse().map_err(|_| FetchError::BadUri(uri.into()))?;
    let https = match parsed.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(FetchError::BadUri(uri.into())),
    };
    let authority = parsed
        .authority()
        .filter(|a| !a.as_str().contains('@'))
        .ok_or_else(|| FetchError::BadUri(uri.into()))?;
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    // Settled before any connection: a URI whose TLS cannot even be set up is not dialled.
    let tls = if https {
        let config = tls.client_config().map_err(FetchError::TlsConfig)?;
        let name =
            ServerName::try_from(host.to_string()).map_err(|_| FetchError::BadUri(uri.into()))?;
        Some((TlsConnector::from(config), name))
    } else {
        None
    };
    let addrs = resolve(host, port).await?;
    if !allow_link_local {
        if let Some(bad) = addrs.iter().find(|a| forbidden(a.ip())) {
            return Err(FetchError::Forbidden {
                host: host.into(),
                addr: bad.ip(),
            });
        }
    }
    let mut last = None;
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(source) => {
                last = Some(FetchError::Connect {
                    addr: *addr,
                    source,
                })
            }
        }
    }
    let Some(stream) = stream else {
        return Err(last.unwrap_or(FetchError::NoAddress { host: host.into() }));
    };
    let path = parsed.path_and_query().map_or("/", |pq| pq.as_str());
    match tls {
        None => get(stream, authority, path).await,
        Some((connector, name)) => {
            let stream =
                connector
                    .connect(name, stream)
                    .await
                    .map_err(|source| FetchError::Tls {
                        host: host.into(),
                        source,
                    })?;
            get(stream, authority, path).await
        }
    }
}

/// One GET on an established connection (plain or TLS).
async fn get<IO>(io: IO, authority: &Authority, path: &str) -> Result<String, FetchError>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn);
    let req = Request::get(path)
        .header(http::header::HOST, authority.as_str())
        .header(http::header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|_| FetchError::BadUri(path.into()))?;
    let resp = sender.send_request(req).await?;
    if resp.status() != StatusCode::OK {
        return Err(FetchError::Status(resp.status()));
    }
    let body = Limited::new(resp.into_body(), MAX_JWKS_BYTES)
        .collect()
        .await
        .map_err(|e| FetchError::Body(e.to_string()))?
        .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|e| FetchError::Body(e.to_string()))
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, FetchError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|source| FetchError::Resolve {
            host: host.into(),
            source,
        })?
        .collect();
    if addrs.is_empty() {
        return Err(FetchError::NoAddress { host: host.into() });
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_and_metadata_addresses_are_forbidden() {
        for bad in [
            "169.254.169.254",
            "169.254.170.2",
            "169.254.0.1",
            "100.100.100.200",
            "fe80::1",
            "febf::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(forbidden(bad.parse().unwrap()), "{bad}");
        }
        for ok in [
            "127.0.0.1",
            "10.0.0.1",
            "8.8.8.8",
            "::1",
            "fec0::1",
            "2001:db8::1",
        ] {
            assert!(!forbidden(ok.parse().unwrap()), "{ok}");
        }
    }

    #[tokio::test]
    async fn forbidden_destinations_are_never_dialled() {
        let tls = JwksTls::default();
        let limit = Duration::from_secs(5);
        for uri in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]:8080/jwks",
            "https://169.254.169.254/jwks",
            "https://[fe80::1]/jwks",
        ] {
            let err = fetch(uri, limit, false, &tls).await.unwrap_err();
            assert!(matches!(err, FetchError::Forbidden { .. }), "{uri}: {err}");
        }
        for bad in [
            "ftp://x/y",
            "/relative",
            "http://user@host/x",
            "https://user@host/x",
        ] {
            let err = fetch(bad, limit, false, &tls).await.unwrap_err();
            assert!(matches!(err, FetchError::BadUri(_)), "{bad}: {err}");
        }
    }
}
