//! rustls verifier and certificate-resolver implementations over a [`CredentialSource`]:
//! SPIFFE verification of servers (by clients) and of clients (by servers), and presenting the
//! source's current certificate.

use super::{verify_peer, SpiffeMatcher, Usage};
use crate::creds::CredentialSource;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use std::sync::Arc;

/// The one check both directions make: the peer's chain against the source's current trust
/// bundle, for the given use, and its SPIFFE ID against the matcher.
fn check(
    source: &Arc<dyn CredentialSource>,
    matcher: &SpiffeMatcher,
    provider: &CryptoProvider,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    usage: Usage,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let bundle = source.trust_bundle();
    verify_peer(
        end_entity,
        intermediates,
        &bundle,
        usage,
        matcher,
        now,
        &provider.signature_verification_algorithms,
    )
    .map_err(|e| {
        tracing::debug!(error = %e, ?usage, "refused peer certificate");
        rustls::Error::from(e)
    })
    .map(|_| ())
}

/// Verifies a server's certificate against the source's trust bundle and a SPIFFE matcher.
/// The TLS server name is not used: mesh servers are identified by SPIFFE ID, not DNS name.
#[derive(Debug)]
pub(crate) struct SpiffeServerVerifier {
    pub(crate) source: Arc<dyn CredentialSource>,
    pub(crate) matcher: SpiffeMatcher,
    pub(crate) provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for SpiffeServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        check(
            &self.source,
            &self.matcher,
            &self.provider,
            end_entity,
            intermediates,
            Usage::Server,
            now,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Verifies a client's certificate against the source's trust bundle and a SPIFFE matcher.
/// With `mandatory` false, a client may present no certificate at all (the CA port, where a
/// workload without a certificate authenticates with a bootstrap token instead); a certificate
/// that is presented is always verified.
#[derive(Debug)]
pub(crate) struct SpiffeClientVerifier {
    pub(crate) source: Arc<dyn CredentialSource>,
    pub(crate) matcher: SpiffeMatcher,
    pub(crate) provider: Arc<CryptoProvider>,
    pub(crate) mandatory: bool,
}

impl ClientCertVerifier for SpiffeClientVerifier {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        check(
            &self.source,
            &self.matcher,
            &self.provider,
            end_entity,
            intermediates,
            Usage::Client,
            now,
        )?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Presents the source's current certificate; none when it has none (fail closed).
#[derive(Debug)]
pub(crate) struct SourceCertResolver(pub(crate) Arc<dyn CredentialSource>);

impl rustls::server::ResolvesServerCert for SourceCertResolver {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.credentials().map(|c| c.certified_key().clone())
    }
}

impl rustls::client::ResolvesClientCert for SourceCertResolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.0.credentials().map(|c| c.certified_key().clone())
    }

    fn has_certs(&self) -> bool {
        self.0.credentials().is_some()
    }
}
