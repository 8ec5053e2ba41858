//! TLS settings: client side (DestinationRule) and server side (Gateway, Sidecar ingress).

use crate::validate::Findings;
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

/// How a client (the sidecar or gateway, as origin) speaks TLS to the upstream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClientTlsMode {
    /// Plain text.
    #[default]
    Disable,
    /// TLS to the upstream.
    Simple,
    /// Mutual TLS with certificates given here.
    Mutual,
    /// Mutual TLS with Istio's workload certificates.
    IstioMutual,
}

/// TLS settings for upstream connections.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientTlsSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ClientTlsMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificates: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_crl: Option<String>,
}

fn set(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

impl ClientTlsSettings {
    pub(crate) fn check(&self, namespace: &str, at: &FieldPath, out: &mut Findings) {
        let mode = self.mode.unwrap_or_default();
        if let Some(cred) = &self.credential_name {
            if let Some(rest) = cred.strip_prefix("configmap://") {
                let p = at.field("credentialName");
                match rest.split_once('/') {
                    Some((ns, name)) if !ns.is_empty() && !name.is_empty() => {
                        if ns != namespace {
                            out.error(
                                &p,
                                format!("a configmap:// credential must be in this resource's namespace {namespace:?}, not {ns:?}"),
                            );
                        }
                    }
                    _ => out.error(
                        &p,
                        format!("configmap:// credential {cred:?} must be written configmap://<namespace>/<name>"),
                    ),
                }
            }
        }
        if self.insecure_skip_verify == Some(true) {
            let p = at.field("insecureSkipVerify");
            let sans = !self.subject_alt_names.is_empty();
            if mode == ClientTlsMode::Simple
                && (set(&self.ca_certificates) || set(&self.credential_name) || sans)
            {
                out.error(
                    &p,
                    "insecureSkipVerify disables server verification, so caCertificates, credentialName and subjectAltNames must not be set",
                );
            }
            if mode == ClientTlsMode::Mutual && (set(&self.ca_certificates) || sans) {
                out.error(
                    &p,
                    "insecureSkipVerify disables server verification, so caCertificates and subjectAltNames must not be set",
                );
            }
        }
        let simple_or_mutual = matches!(mode, ClientTlsMode::Simple | ClientTlsMode::Mutual);
        if simple_or_mutual && set(&self.credential_name) {
            for (field, v) in [
                ("clientCertificate", &self.client_certificate),
                ("caCertificates", &self.ca_certificates),
                ("privateKey", &self.private_key),
                ("caCrl", &self.ca_crl),
            ] {
                if set(v) {
                    out.error(
                        &at.field(field),
                        format!("{field} must not be set together with credentialName, which supplies the certificates"),
                    );
                }
            }
            return;
        }
        if mode == ClientTlsMode::Mutual {
            if !set(&self.client_certificate) {
                out.error(
                    at,
                    "MUTUAL mode needs a clientCertificate (or a credentialName)",
                );
            }
            if !set(&self.private_key) {
                out.error(at, "MUTUAL mode needs a privateKey (or a credentialName)");
            }
        }
    }
}

/// How a server (gateway or sidecar ingress) handles TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerTlsMode {
    /// Forward the TLS connection by SNI without terminating it.
    #[default]
    Passthrough,
    Simple,
    Mutual,
    /// Route by SNI to the mesh service named in it, without terminating TLS.
    AutoPassthrough,
    IstioMutual,
    /// Request a client certificate but accept connections without one.
    OptionalMutual,
}

impl ServerTlsMode {
    pub fn name(self) -> &'static str {
        match self {
            ServerTlsMode::Passthrough => "PASSTHROUGH",
            ServerTlsMode::Simple => "SIMPLE",
            ServerTlsMode::Mutual => "MUTUAL",
            ServerTlsMode::AutoPassthrough => "AUTO_PASSTHROUGH",
            ServerTlsMode::IstioMutual => "ISTIO_MUTUAL",
            ServerTlsMode::OptionalMutual => "OPTIONAL_MUTUAL",
        }
    }
}

/// TLS protocol versions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TlsProtocol {
    #[default]
    #[serde(rename = "TLS_AUTO")]
    TlsAuto,
    #[serde(rename = "TLSV1_0")]
    TlsV1_0,
    #[serde(rename = "TLSV1_1")]
    TlsV1_1,
    #[serde(rename = "TLSV1_2")]
    TlsV1_2,
    #[serde(rename = "TLSV1_3")]
    TlsV1_3,
}

/// One server certificate and key (and CA bundle).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsCertificate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificates: Option<String>,
}

/// TLS settings of a server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerTlsSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_redirect: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ServerTlsMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificates: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_crl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert_credential_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_certificates: Vec<TlsCertificate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify_certificate_spki: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify_certificate_hash: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_protocol_version: Option<TlsProtocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_protocol_version: Option<TlsProtocol>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// Cipher suites a gateway accepts by name.
const CIPHER_SUITES: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "AES256-SHA",
    "DES-CBC3-SHA",
];

fn known_cipher(cs: &str) -> bool {
    // Expressions with operators (`-`, `+`, `!`, `[`) are passed through to the TLS library.
    cs.is_empty()
        || cs == "ALL"
        || !cs.chars().next().is_some_and(char::is_alphanumeric)
        || CIPHER_SUITES.contains(&cs)
}

impl ServerTlsSettings {
    pub fn mode(&self) -> ServerTlsMode {
        self.mode.unwrap_or_default()
    }

    fn has(&self, s: &Option<String>) -> bool {
        set(s)
    }

    pub(crate) fn check(&self, at: &FieldPath, out: &mut Findings) {
        let mode = self.mode();
        if matches!(
            self.min_protocol_version,
            Some(TlsProtocol::TlsV1_0 | TlsProtocol::TlsV1_1)
        ) && self.cipher_suites.is_empty()
        {
            out.warning(
                &at.field("minProtocolVersion"),
                "TLS versions below 1.2 need compatible cipherSuites; the defaults no longer include any",
            );
        }
        let mut seen = Vec::new();
        for (i, cs) in self.cipher_suites.iter().enumerate() {
            let p = at.field("cipherSuites").index(i);
            if !known_cipher(cs) {
                out.warning(&p, format!("unknown cipher suite {cs:?} will be ignored"));
            } else if seen.contains(&cs) {
                out.warning(&p, format!("duplicate cipher suite {cs:?} will be ignored"));
            } else {
                seen.push(cs);
            }
        }
        let certs_given = self.has(&self.server_certificate)
            || self.has(&self.private_key)
            || self.has(&self.ca_certificates)
            || !self.tls_certificates.is_empty()
            || self.has(&self.credential_name)
            || !self.credential_names.is_empty();
        if mode == ServerTlsMode::IstioMutual {
            for (field, given) in [
                ("serverCertificate", self.has(&self.server_certificate)),
                ("privateKey", self.has(&self.private_key)),
                ("caCertificates", self.has(&self.ca_certificates)),
                ("tlsCertificates", !self.tls_certificates.is_empty()),
                ("credentialName", self.has(&self.credential_name)),
                ("credentialNames", !self.credential_names.is_empty()),
            ] {
                if given {
                    out.error(
                        &at.field(field),
                        format!(
                            "ISTIO_MUTUAL uses Istio's own certificates; {field} must not be set"
                        ),
                    );
                }
            }
            return;
        }
        if matches!(
            mode,
            ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough
        ) && (certs_given || self.has(&self.ca_crl))
        {
            out.warning(
                at,
                format!(
                    "{} mode does not terminate TLS; the certificates given are ignored",
                    mode.name()
                ),
            );
        }
        let sources = [
            self.has(&self.server_certificate) && self.has(&self.private_key),
            self.has(&self.credential_name),
            !self.credential_names.is_empty(),
            !self.tls_certificates.is_empty(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if sources > 1 {
            out.error(
                at,
                "give certificates in only one way: credentialName, credentialNames, serverCertificate/privateKey, or tlsCertificates",
            );
        }
        for (field, n) in [
            ("credentialNames", self.credential_names.len()),
            ("tlsCertificates", self.tls_certificates.len()),
        ] {
            if n > 2 {
                out.error(
                    &at.field(field),
                    format!(
                        "{field} takes at most 2 entries (e.g. one RSA and one ECDSA certificate)"
                    ),
                );
            }
        }
        let terminating = matches!(
            mode,
            ServerTlsMode::Simple | ServerTlsMode::Mutual | ServerTlsMode::OptionalMutual
        );
        let remote = self.has(&self.credential_name) || !self.credential_names.is_empty();
        if terminating && !remote {
            let label = if mode == ServerTlsMode::Simple {
                "SIMPLE"
            } else {
                "MUTUAL"
            };
            if mode != ServerTlsMode::Simple && !self.has(&self.ca_certificates) {
                out.error(
                    at,
                    format!(
                        "{} mode needs caCertificates to verify clients (or a credentialName)",
                        mode.name()
                    ),
                );
            }
            if self.tls_certificates.is_empty() {
                if !self.has(&self.server_certificate) {
                    out.error(
                        at,
                        format!("{label} TLS needs a serverCertificate (or a credentialName)"),
                    );
                }
                if !self.has(&self.private_key) {
                    out.error(
                        at,
                        format!("{label} TLS needs a privateKey (or a credentialName)"),
                    );
                }
            } else {
                for (i, c) in self.tls_certificates.iter().enumerate() {
                    let p = at.field("tlsCertificates").index(i);
                    if !self.has(&c.server_certificate) {
                        out.error(&p, format!("{label} TLS needs a serverCertificate"));
                    }
                    if !self.has(&c.private_key) {
                        out.error(&p, format!("{label} TLS needs a privateKey"));
                    }
                }
            }
        }
        if self.has(&self.ca_crl) {
            let p = at.field("caCrl");
            if self.has(&self.credential_name) {
                out.error(
                    &p,
                    "caCrl cannot be combined with credentialName; put the CRL in the credential",
                );
            }
            if mode == ServerTlsMode::Simple {
                out.error(
                    &p,
                    "caCrl has no effect in SIMPLE mode, which does not verify clients",
                );
            }
        }
    }
}
