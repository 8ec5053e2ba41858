//! Verification of one peer certificate chain against a trust bundle, and extraction of the
//! SPIFFE ID from a leaf certificate.

use super::{PeerError, SpiffeMatcher, Usage};
use crate::bundle::TrustBundle;
use crate::spiffe::{SpiffeId, SpiffeIdError};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::{CertificateDer, UnixTime};
use x509_parser::extensions::GeneralName;

/// What is wrong with a leaf certificate's identity fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeafError {
    #[error("certificate cannot be parsed")]
    Unparseable,
    #[error("certificate has no URI SAN with a SPIFFE ID (DNS names: {dns:?})")]
    NoSpiffeId { dns: Vec<String> },
    #[error("certificate has {0} URI SANs; a SPIFFE certificate has exactly one")]
    SeveralUris(usize),
    #[error("certificate has a wildcard DNS SAN {0:?}; wildcards are not mesh identities")]
    WildcardDns(String),
    #[error("URI SAN {uri:?} is not a valid SPIFFE ID: {reason}")]
    InvalidSpiffeId { uri: String, reason: SpiffeIdError },
    #[error("certificate has a SAN with an embedded NUL byte")]
    EmbeddedNul,
}

/// The SPIFFE ID in a leaf certificate: its one URI SAN, strictly validated.
pub fn spiffe_id_of(leaf: &CertificateDer<'_>) -> Result<SpiffeId, LeafError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|_| LeafError::Unparseable)?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext.value.general_names.clone(),
        Ok(None) => Vec::new(),
        Err(_) => return Err(LeafError::Unparseable),
    };
    let mut uris = Vec::new();
    let mut dns = Vec::new();
    for name in &names {
        match name {
            GeneralName::URI(u) => uris.push(*u),
            GeneralName::DNSName(d) => dns.push(*d),
            _ => {}
        }
    }
    if uris.iter().chain(dns.iter()).any(|s| s.contains('\0')) {
        return Err(LeafError::EmbeddedNul);
    }
    if let Some(w) = dns.iter().find(|d| d.contains('*')) {
        return Err(LeafError::WildcardDns((*w).to_string()));
    }
    match uris.as_slice() {
        [] => Err(LeafError::NoSpiffeId {
            dns: dns.iter().map(|d| d.to_string()).collect(),
        }),
        [uri] => SpiffeId::parse(uri).map_err(|reason| LeafError::InvalidSpiffeId {
            uri: uri.to_string(),
            reason,
        }),
        many => Err(LeafError::SeveralUris(many.len())),
    }
}

/// Whether the leaf's extended key usage extension is present and lists `usage`'s purpose.
/// (webpki accepts a leaf with no EKU extension for any purpose; the mesh does not.)
fn has_eku(leaf: &CertificateDer<'_>, usage: Usage) -> Result<bool, LeafError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(leaf.as_ref()).map_err(|_| LeafError::Unparseable)?;
    Ok(match cert.extended_key_usage() {
        Ok(Some(eku)) => match usage {
            Usage::Server => eku.value.server_auth,
            Usage::Client => eku.value.client_auth,
        },
        Ok(None) => false,
        Err(_) => return Err(LeafError::Unparseable),
    })
}

/// Verifies a peer's chain (`end_entity` plus `intermediates`) at time `now`: it must lead to a
/// root in `bundle`, be valid now, carry `usage`'s EKU, and name one SPIFFE ID accepted by
/// `matcher`. Returns that ID.
pub fn verify_peer(
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    bundle: &TrustBundle,
    usage: Usage,
    matcher: &SpiffeMatcher,
    now: UnixTime,
    algs: &WebPkiSupportedAlgorithms,
) -> Result<SpiffeId, PeerError> {
    let cert = webpki::EndEntityCert::try_from(end_entity).map_err(PeerError::from)?;
    let eku = match usage {
        Usage::Server => webpki::KeyUsage::server_auth(),
        Usage::Client => webpki::KeyUsage::client_auth(),
    };
    cert.verify_for_usage(
        algs.all,
        bundle.anchors(),
        intermediates,
        now,
        eku,
        None,
        None,
    )?;
    if !has_eku(end_entity, usage)? {
        return Err(PeerError::MissingEku(usage.eku_name()));
    }
    let id = spiffe_id_of(end_entity)?;
    if !matcher.matches(&id) {
        return Err(PeerError::NotAllowed {
            got: id,
            expected: matcher.to_string(),
        });
    }
    Ok(id)
}
