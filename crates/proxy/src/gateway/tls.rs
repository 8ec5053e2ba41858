//! TLS termination on a gateway's HTTPS listeners: one rustls server config per server
//! certificate (SIMPLE, or MUTUAL with the server's CA verifying clients), chosen by the
//! ClientHello's SNI before the handshake goes on — as Envoy picks a filter chain by server
//! name. ALPN offers h2 and http/1.1.

use std::sync::Arc;
use verimesh_identity::pem;
use verimesh_model::{domain_rank, ServerTls, ServerTlsMode};

#[derive(Debug, thiserror::Error)]
pub enum GatewayTlsError {
    #[error("certificate from {source_name}: {error}")]
    Pem {
        source_name: String,
        error: pem::PemError,
    },
    #[error("certificate from {source_name}: {error}")]
    Rustls {
        source_name: String,
        error: rustls::Error,
    },
    #[error("client CA from {source_name}: {error}")]
    Verifier {
        source_name: String,
        error: rustls::server::VerifierBuilderError,
    },
}

/// One server certificate, ready to serve.
pub struct TlsServer {
    hosts: Vec<String>,
    pub config: Arc<rustls::ServerConfig>,
}

impl TlsServer {
    pub fn new(t: &ServerTls) -> Result<TlsServer, GatewayTlsError> {
        let source_name = t.source.clone();
        let pem_err = |error| GatewayTlsError::Pem {
            source_name: source_name.clone(),
            error,
        };
        let chain = pem::certs(&t.certificate_chain, "certificate chain").map_err(pem_err)?;
        let key = pem::private_key(&t.private_key, "private key").map_err(pem_err)?;
        let provider = verimesh_identity::tls::provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|error| GatewayTlsError::Rustls {
                source_name: source_name.clone(),
                error,
            })?;
        let builder = match (t.mode, &t.ca_certificates) {
            (ServerTlsMode::Mutual, Some(ca)) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in pem::certs(ca, "CA certificates").map_err(pem_err)? {
                    roots.add(c).map_err(|error| GatewayTlsError::Rustls {
                        source_name: source_name.clone(),
                        error,
                    })?;
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    roots.into(),
                    provider,
                )
                .build()
                .map_err(|error| GatewayTlsError::Verifier {
                    source_name: source_name.clone(),
                    error,
                })?;
                builder.with_client_cert_verifier(verifier)
            }
            _ => builder.with_no_client_auth(),
        };
        let mut config =
            builder
                .with_single_cert(chain, key)
                .map_err(|error| GatewayTlsError::Rustls {
                    source_name: source_name.clone(),
                    error,
                })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsServer {
            hosts: t.hosts.iter().map(|h| h.to_ascii_lowercase()).collect(),
            config: Arc::new(config),
        })
    }

    fn rank(&self, sni: Option<&str>) -> Option<usize> {
        match sni {
            Some(name) => self.hosts.iter().filter_map(|h| domain_rank(h, name)).max(),
            // No SNI: only a server for every host (`*`) can answer.
            None => self.hosts.iter().any(|h| h == "*").then_some(0),
        }
    }
}

/// The server whose hosts match the SNI best; `None` refuses the handshake.
pub fn choose<'a>(servers: &'a [TlsServer], sni: Option<&str>) -> Option<&'a TlsServer> {
    let sni = sni.map(str::to_ascii_lowercase);
    let mut best: Option<(usize, &TlsServer)> = None;
    for s in servers {
        if let Some(r) = s.rank(sni.as_deref()) {
            // The first listed wins a tie, as Istio orders servers.
            if best.is_none_or(|(b, _)| r > b) {
                best = Some((r, s));
            }
        }
    }
    best.map(|(_, s)| s)
}
