//! Istio's MeshConfig: from the `istio` ConfigMap in `istio-system` (key `mesh`) or a plain file.
//!
//! Mesh config files written for any Istio version must load: fields verimesh does not model
//! are kept (in each struct's `unmodeled` map) and listed by [`MeshConfig::unmodeled_fields`]
//! so that callers can warn, instead of being dropped or refused.

mod load;
mod networks;
mod providers;
mod proxy;
mod unmodeled;

pub use networks::*;
pub use providers::*;
pub use proxy::*;
pub use unmodeled::CollectUnmodeled;

use crate::k8s::LabelSelector;
use crate::types::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

type Unmodeled = BTreeMap<String, serde_json::Value>;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshConfig {
    /// The SPIFFE trust domain of workload identities; default `cluster.local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_domain: Option<String>,
    /// Other trust domains whose identities are treated as this one's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_domain_aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_traffic_policy: Option<InboundTrafficPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_normalization: Option<PathNormalization>,
    /// Defaults for every proxy, overridable per workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_config: Option<ProxyConfig>,
    /// Where mesh-wide policies live; default `istio-system`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_namespace: Option<String>,
    /// Use mutual TLS automatically towards workloads that have a sidecar; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_auto_mtls: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extension_providers: Vec<ExtensionProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_providers: Option<DefaultProviders>,
    /// Path of the proxies' access log, `/dev/stdout` for standard output; empty disables it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_encoding: Option<AccessLogEncoding>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_destination_rule_export_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_virtual_service_export_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_service_export_to: Vec<String>,
    /// The `kubernetes.io/ingress.class` Istio serves; default `istio`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_controller_mode: Option<IngressControllerMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_selector: Option<String>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_tracing: Option<bool>,
    /// Locality-aware load balancing (as a DestinationRule's `localityLbSetting`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality_lb_setting: Option<serde_json::Value>,
    #[serde(default, rename = "meshMTLS", skip_serializing_if = "Option::is_none")]
    pub mesh_mtls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_defaults: Option<TlsConfig>,
    /// Extra roots of trust, e.g. for multi-cluster or a CA migration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_certificates: Vec<CertificateData>,
    /// Only namespaces matching one of these are part of the mesh; none means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discovery_selectors: Vec<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_settings: Vec<ServiceSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_detection_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_refresh_rate: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2_upgrade_policy: Option<H2UpgradePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_prometheus_merge: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_listen_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_inbound_listen_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_http_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_http_retry_policy: Option<serde_json::Value>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundTrafficPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<OutboundMode>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboundMode {
    /// Only hosts in the service registry (services, ServiceEntries) are reachable.
    RegistryOnly,
    /// Unknown destinations are passed through.
    AllowAny,
    AllowAnyDynamicDns,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundTrafficPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<InboundMode>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InboundMode {
    Passthrough,
    Localhost,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathNormalization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalization: Option<NormalizationType>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

/// How request paths are normalized before routing and authorization.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NormalizationType {
    /// Currently BASE.
    #[default]
    Default,
    /// No normalization; risky with path-based policies.
    None,
    /// RFC 3986 normalization: resolves `.` and `..` segments, decodes unreserved characters.
    Base,
    /// BASE, then merges repeated slashes.
    MergeSlashes,
    /// BASE, decodes `%2F` / `%5C` to slashes, then merges repeated slashes.
    DecodeAndMergeSlashes,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessLogEncoding {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IngressControllerMode {
    Unspecified,
    Off,
    Default,
    Strict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum H2UpgradePolicy {
    DoNotUpgrade,
    Upgrade,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_protocol_version: Option<TlsProtocol>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ecdh_curves: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TlsProtocol {
    #[serde(rename = "TLS_AUTO")]
    TlsAuto,
    #[serde(rename = "TLSV1_2")]
    TlsV12,
    #[serde(rename = "TLSV1_3")]
    TlsV13,
}

/// A root of trust: PEM certificates or a SPIFFE bundle endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spiffe_bundle_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cert_signers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trust_domains: Vec<String>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<ServiceSettingsValues>,
    /// Hosts the settings apply to; `*` prefixes allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSettingsValues {
    /// Keep traffic to these services inside the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_local: Option<bool>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

impl MeshConfig {
    /// Parses a plain mesh config file (what the `mesh` key of the `istio` ConfigMap holds).
    pub fn from_yaml_str(file: &str, text: &str) -> Result<MeshConfig, Vec<crate::Diagnostic>> {
        load::from_yaml_str(file, text)
    }

    /// The mesh config held by a ConfigMap `istio` in `istio-system` under the key `mesh`;
    /// `None` for any other resource.
    pub fn from_config_map(
        res: &crate::Resource,
    ) -> Option<Result<MeshConfig, Vec<crate::Diagnostic>>> {
        load::from_config_map(res)
    }

    /// The checks a mesh config must pass (errors and warnings), with paths relative to its
    /// root. `from_yaml_str` and `from_config_map` already refuse a config with errors.
    pub fn validate(&self) -> crate::validate::Findings {
        load::validate(self)
    }

    /// Dotted paths of the fields present in the input that verimesh does not model, e.g.
    /// `defaultConfig.proxyStatsMatcher`, for callers to warn about.
    pub fn unmodeled_fields(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_unmodeled("", &mut out);
        out
    }

    pub fn trust_domain(&self) -> &str {
        self.trust_domain
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("cluster.local")
    }

    pub fn outbound_mode(&self) -> OutboundMode {
        self.outbound_traffic_policy
            .as_ref()
            .and_then(|p| p.mode)
            .unwrap_or(OutboundMode::AllowAny)
    }

    pub fn root_namespace(&self) -> &str {
        self.root_namespace
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("istio-system")
    }

    pub fn enable_auto_mtls(&self) -> bool {
        self.enable_auto_mtls.unwrap_or(true)
    }

    pub fn enable_tracing(&self) -> bool {
        self.enable_tracing.unwrap_or(true)
    }

    /// The normalization in effect: DEFAULT means BASE.
    pub fn path_normalization(&self) -> NormalizationType {
        match self
            .path_normalization
            .as_ref()
            .and_then(|p| p.normalization)
        {
            None | Some(NormalizationType::Default) => NormalizationType::Base,
            Some(n) => n,
        }
    }

    pub fn access_log_encoding(&self) -> AccessLogEncoding {
        self.access_log_encoding.unwrap_or(AccessLogEncoding::Text)
    }

    pub fn ingress_class(&self) -> &str {
        self.ingress_class.as_deref().unwrap_or("istio")
    }

    pub fn ingress_service(&self) -> &str {
        self.ingress_service
            .as_deref()
            .unwrap_or("istio-ingressgateway")
    }

    pub fn ingress_controller_mode(&self) -> IngressControllerMode {
        self.ingress_controller_mode
            .unwrap_or(IngressControllerMode::Strict)
    }

    pub fn connect_timeout(&self) -> std::time::Duration {
        self.connect_timeout
            .map_or(std::time::Duration::from_secs(10), |d| d.as_std())
    }

    /// The extension provider with this name (for AuthorizationPolicy CUSTOM, Telemetry).
    pub fn extension_provider(&self, name: &str) -> Option<&ExtensionProvider> {
        self.extension_providers.iter().find(|p| p.name == name)
    }

    /// The proxy defaults, Istio's when `defaultConfig` is absent.
    pub fn proxy_config(&self) -> ProxyConfig {
        self.default_config.clone().unwrap_or_default()
    }
}
