//! ProxyConfig: the mesh-wide defaults for every proxy (`defaultConfig`).

use super::Unmodeled;
use crate::types::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyConfig {
    /// The control plane's address; default `istiod.istio-system.svc:15012`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_address: Option<String>,
    /// Environment variables for the proxy.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_metadata: BTreeMap<String, String>,
    /// Start the application only once the proxy is ready; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_application_until_proxy_starts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
    /// Worker threads; 0 means one per core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_duration: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_drain_duration: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_admin_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat_name_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_stats_matcher: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_topology: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_headers: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub readiness_probe: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<serde_json::Value>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

impl ProxyConfig {
    pub fn discovery_address(&self) -> &str {
        self.discovery_address
            .as_deref()
            .unwrap_or("istiod.istio-system.svc:15012")
    }

    pub fn hold_application_until_proxy_starts(&self) -> bool {
        self.hold_application_until_proxy_starts.unwrap_or(false)
    }

    pub fn concurrency(&self) -> u32 {
        self.concurrency.unwrap_or(2)
    }

    pub fn status_port(&self) -> u32 {
        self.status_port.unwrap_or(15020)
    }

    pub fn proxy_admin_port(&self) -> u32 {
        self.proxy_admin_port.unwrap_or(15000)
    }

    /// `gatewayTopology.numTrustedProxies`: how many proxies in front of a gateway append to
    /// `X-Forwarded-For` (0 when unset or not a count).
    pub fn num_trusted_proxies(&self) -> u32 {
        self.gateway_topology
            .as_ref()
            .and_then(|t| t.get("numTrustedProxies"))
            .and_then(serde_json::Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    }
}

/// The proxy's legacy tracing settings (the Telemetry API and extension providers supersede
/// them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracing {
    /// Percentage of requests traced, 0.0 to 100.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_path_tag_length: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_tags: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipkin: Option<TracerAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datadog: Option<TracerAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_settings: Option<serde_json::Value>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TracerAddress {
    /// `host:port` of the collector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}
