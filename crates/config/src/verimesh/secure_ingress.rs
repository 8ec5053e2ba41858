//! SecureIngress (verimesh.io/v1alpha1): what a platform operator decides about exposing
//! Applications — which ones, on which domains, through which gateway, with which certificate,
//! token issuer and DNS provider. Secrets it names live in the SecureIngress's namespace, the
//! namespace of the ingress gateway.

use crate::types::Duration;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecureIngress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IngressGateway>,
    /// Host names served; `*.example.com` covers one level of subdomains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Applications exposed, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<ApplicationRef>,
    /// Namespaces whose every Application is exposed, on the first domain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<TlsSpec>>,
    /// The token issuer for AUTHENTICATED routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Box<JwtIssuer>>,
    /// Where DNS records for the domains are kept; absent: records are managed elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Box<DnsSpec>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressGateway {
    /// Labels of the ingress gateway pods, e.g. `istio: ingressgateway`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    /// Default 443.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_port: Option<u32>,
    /// Plain-HTTP port, for the redirect and ACME HTTP-01 challenges; absent: no HTTP listener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u32>,
    /// Answer plain HTTP with a redirect to HTTPS; default true when `httpPort` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_http_to_https: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationRef {
    #[serde(default)]
    pub name: String,
    /// Default: the SecureIngress's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// One of `domains` (or a name a wildcard domain covers); default the first domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// Exactly one of `credentialName` or `acme`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsSpec {
    /// A `kubernetes.io/tls` Secret (tls.crt, tls.key) covering every domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_name: Option<String>,
    /// Certificates obtained and renewed from an ACME CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acme: Option<AcmeSpec>,
    /// Default TLSV1_2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_protocol_version: Option<TlsVersion>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TlsVersion {
    #[serde(rename = "TLSV1_2")]
    TlsV12,
    #[serde(rename = "TLSV1_3")]
    TlsV13,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcmeSpec {
    /// e.g. `https://acme-v02.api.letsencrypt.org/directory`.
    #[serde(default)]
    pub directory_url: String,
    /// The account's contact; the CA sends expiry notices there.
    #[serde(default)]
    pub email: String,
    /// Default HTTP_01.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<AcmeChallenge>,
    /// External account binding, for CAs that require one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_account_binding: Option<ExternalAccountBinding>,
    /// Secret where the ACME account key is kept; default `<SecureIngress name>-acme-account`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_secret_name: Option<String>,
    /// Renew this long before expiry; default 720h (30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AcmeChallenge {
    /// A token served on the gateway's plain-HTTP port (no wildcard domains).
    #[serde(rename = "HTTP_01")]
    Http01,
    /// A TXT record written through the DNS provider.
    #[serde(rename = "DNS_01")]
    Dns01,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalAccountBinding {
    #[serde(default)]
    pub key_id: String,
    /// The base64url HMAC key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_key_secret_ref: Option<SecretKeyRef>,
}

/// A key of a Secret in the SecureIngress's namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub key: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtIssuer {
    /// The `iss` claim tokens must carry.
    #[serde(default)]
    pub issuer: String,
    /// Where the issuer publishes its public keys.
    #[serde(default)]
    pub jwks_uri: String,
    /// Accepted `aud` values; empty accepts any audience.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// Pass the token on to the Application; default false (it is removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_original_token: Option<bool>,
}

/// Exactly one of `rfc2136` or `route53`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DnsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfc2136: Option<Rfc2136>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route53: Option<Route53>,
    /// TTL of the records written; default 300s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
    /// What the records point at: an IP (A/AAAA) or a host name (CNAME). Default: the gateway
    /// Service's load-balancer address, followed as it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Dynamic DNS updates (RFC 2136) signed with TSIG (RFC 8945).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rfc2136 {
    /// `host[:port]` of the primary server; port default 53.
    #[serde(default)]
    pub server: String,
    /// The zone updated; every domain must be inside it.
    #[serde(default)]
    pub zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_key_name: Option<String>,
    /// Default HMAC_SHA256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_algorithm: Option<TsigAlgorithm>,
    /// The base64 TSIG secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsig_secret_ref: Option<SecretKeyRef>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TsigAlgorithm {
    HmacSha256,
    HmacSha384,
    HmacSha512,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route53 {
    /// e.g. `Z0123456789ABCDEFGHIJ`.
    #[serde(default)]
    pub hosted_zone_id: String,
    /// e.g. `us-east-1`.
    #[serde(default)]
    pub region: String,
    /// Static credentials; absent: the controller's ambient credentials (e.g. a pod identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<AwsCredentials>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsCredentials {
    /// A Secret in the SecureIngress's namespace.
    #[serde(default)]
    pub secret_name: String,
    /// Default `AWS_ACCESS_KEY_ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id_key: Option<String>,
    /// Default `AWS_SECRET_ACCESS_KEY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key_key: Option<String>,
}

impl IngressGateway {
    pub fn https_port(&self) -> u32 {
        self.https_port.unwrap_or(443)
    }

    pub fn redirect_http_to_https(&self) -> bool {
        self.http_port.is_some() && self.redirect_http_to_https.unwrap_or(true)
    }
}

impl AcmeSpec {
    pub fn challenge(&self) -> AcmeChallenge {
        self.challenge.unwrap_or(AcmeChallenge::Http01)
    }
}

impl SecureIngress {
    /// Whether `host` is served: listed, or covered by a listed `*.` wildcard (one level).
    pub fn serves(&self, host: &str) -> bool {
        self.domains.iter().any(|d| domain_covers(d, host))
    }
}

/// Whether domain `d` (possibly `*.x`) covers `host`; comparison ignores case.
pub fn domain_covers(d: &str, host: &str) -> bool {
    let (d, host) = (d.to_ascii_lowercase(), host.to_ascii_lowercase());
    match d.strip_prefix("*.") {
        Some(parent) => {
            host.split_once('.')
                .is_some_and(|(first, rest)| !first.is_empty() && rest == parent)
                || host == d
        }
        None => host == d,
    }
}

impl Validate for SecureIngress {
    fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        super::secure_ingress_rules::validate(self, cx, at, out);
    }
}
