//! Test helpers: a CA that can issue deliberately bad certificates, temporary directories, and
//! TLS handshakes over real sockets on 127.0.0.1.
#![allow(dead_code)]
// Test scaffolding: a failure here is a test failure.
#![allow(clippy::unwrap_used)]

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use verimesh_identity::tls::{self, ClientAuth};
use verimesh_identity::{
    CredentialSource, Credentials, SpiffeMatcher, StaticCredentials, TrustBundle,
};

/// A directory for one test, removed when it is dropped (the test passed or panicked).
pub fn temp_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("verimesh-identity-{name}-"))
        .tempdir()
        .expect("temporary directory")
}

/// A root CA for tests, able to issue any leaf.
pub struct TestCa {
    pub root: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// What goes into a test leaf.
pub struct Leaf {
    pub sans: Vec<SanType>,
    pub ekus: Vec<ExtendedKeyUsagePurpose>,
    /// Seconds relative to now.
    pub not_before: i64,
    pub not_after: i64,
}

impl Leaf {
    pub fn spiffe(id: &str) -> Self {
        Self {
            sans: vec![SanType::URI(id.try_into().unwrap())],
            ekus: vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            not_before: -60,
            not_after: 3600,
        }
    }
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let root = p.self_signed(&key).unwrap().der().clone();
        Self {
            root,
            issuer: Issuer::new(p, key),
        }
    }

    pub fn bundle(&self) -> TrustBundle {
        TrustBundle::new(vec![self.root.clone()]).unwrap()
    }

    /// Chain (leaf, root) and key for `leaf`.
    pub fn issue(&self, leaf: Leaf) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new();
        p.subject_alt_names = leaf.sans;
        p.extended_key_usages = leaf.ekus;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let now = time::OffsetDateTime::now_utc();
        p.not_before = now + time::Duration::seconds(leaf.not_before);
        p.not_after = now + time::Duration::seconds(leaf.not_after);
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone(), self.root.clone()], key)
    }

    /// Credentials for `id` trusting `bundle`.
    pub fn source(&self, id: &str, bundle: TrustBundle) -> Arc<dyn CredentialSource> {
        let (chain, key) = self.issue(Leaf::spiffe(id));
        Arc::new(StaticCredentials::new(
            Credentials::new(chain, key).unwrap(),
            bundle,
        ))
    }
}

/// A source presenting `chain`/`key` as-is (even a certificate `Credentials` would refuse), so
/// tests can make a peer present a bad certificate.
#[derive(Debug)]
pub struct RawSource {
    key: Arc<rustls::sign::CertifiedKey>,
    bundle: Arc<TrustBundle>,
}

impl RawSource {
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        bundle: TrustBundle,
    ) -> Arc<Self> {
        let key = rustls::sign::CertifiedKey::from_der(chain, key, &tls::provider()).unwrap();
        Arc::new(Self {
            key: Arc::new(key),
            bundle: Arc::new(bundle),
        })
    }
}

/// A `CredentialSource` can only hand out `Credentials`, which refuse bad leaves; so `RawSource`
/// is used through rustls's own resolver traits instead.
impl rustls::server::ResolvesServerCert for RawSource {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.key.clone())
    }
}
impl rustls::client::ResolvesClientCert for RawSource {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.key.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// The outcome of one handshake plus a ping/pong exchange.
#[derive(Debug)]
pub struct Outcome {
    pub client: Result<Option<String>, String>,
    pub server: Result<Option<String>, String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.client.is_ok() && self.server.is_ok()
    }
}

/// Runs one TLS handshake over 127.0.0.1 between the given configs and exchanges a message.
/// Returns each side's view of the peer's SPIFFE ID, or its error text. Bounded to 10 s.
pub async fn handshake(server: rustls::ServerConfig, client: rustls::ClientConfig) -> Outcome {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let server_side = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut tls = acceptor.accept(tcp).await.map_err(|e| format!("{e:?}"))?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf)
            .await
            .map_err(|e| format!("{e:?}"))?;
        tls.write_all(b"pong").await.map_err(|e| format!("{e:?}"))?;
        tls.shutdown().await.ok();
        Ok::<_, String>(tls::peer_identity(tls.get_ref().1).map(|id| id.to_string()))
    });
    let client_side = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let name = ServerName::try_from("mesh.invalid").unwrap();
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("{e:?}"))?;
        tls.write_all(b"ping").await.map_err(|e| format!("{e:?}"))?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf)
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok::<_, String>(tls::peer_identity(tls.get_ref().1).map(|id| id.to_string()))
    };
    let limit = Duration::from_secs(10);
    let client = tokio::time::timeout(limit, client_side)
        .await
        .unwrap_or_else(|_| Err("client timed out".into()));
    let server = match tokio::time::timeout(limit, server_side).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("server timed out".into()),
    };
    Outcome { client, server }
}

pub fn td_matcher(td: &str) -> SpiffeMatcher {
    SpiffeMatcher::TrustDomain(td.parse().unwrap())
}

/// Mesh server and client configs from sources.
pub fn mesh_pair(
    server: Arc<dyn CredentialSource>,
    accept_clients: SpiffeMatcher,
    client: Arc<dyn CredentialSource>,
    expect_server: SpiffeMatcher,
) -> (rustls::ServerConfig, rustls::ClientConfig) {
    (
        tls::server_config(
            server,
            ClientAuth::Required(accept_clients),
            &[tls::ALPN_H2],
        )
        .unwrap(),
        tls::client_config(client, expect_server, &[tls::ALPN_H2]).unwrap(),
    )
}

/// A server config that presents `raw` as-is and asks for no client certificate.
pub fn raw_server(raw: Arc<RawSource>) -> rustls::ServerConfig {
    rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(raw)
}

/// A client config that presents `raw` as-is and accepts any server (the server side is
/// what these tests check).
pub fn raw_client(raw: Arc<RawSource>) -> rustls::ClientConfig {
    rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer))
        .with_client_cert_resolver(raw)
}

#[derive(Debug)]
pub struct AcceptAnyServer;

impl rustls::client::danger::ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls_pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        tls::provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
