//! Extension providers: external authorizers (for AuthorizationPolicy CUSTOM), tracers,
//! metrics and access-log sinks, each named for policies to refer to.

use super::Unmodeled;
use crate::types::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionProvider {
    /// Unique among providers; what `provider.name` in policies refers to.
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy_ext_authz_http: Option<ExtAuthzHttp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy_ext_authz_grpc: Option<ExtAuthzGrpc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipkin: Option<ZipkinProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datadog: Option<ServicePortProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skywalking: Option<ServicePortProvider>,
    /// Deprecated: Lightstep now takes OpenTelemetry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lightstep: Option<LightstepProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opentelemetry: Option<OpenTelemetryProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<EmptyProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy_file_access_log: Option<FileAccessLogProvider>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub envoy_otel_als: Option<OtelAccessLogProvider>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

/// Which kind of provider an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    ExtAuthzHttp,
    ExtAuthzGrpc,
    Zipkin,
    Datadog,
    SkyWalking,
    Lightstep,
    OpenTelemetry,
    Prometheus,
    FileAccessLog,
    OtelAccessLog,
    /// A provider type verimesh does not model (kept in `unmodeled`).
    Other,
}

impl ExtensionProvider {
    pub fn kind(&self) -> ProviderKind {
        use ProviderKind as K;
        let typed = [
            (self.envoy_ext_authz_http.is_some(), K::ExtAuthzHttp),
            (self.envoy_ext_authz_grpc.is_some(), K::ExtAuthzGrpc),
            (self.zipkin.is_some(), K::Zipkin),
            (self.datadog.is_some(), K::Datadog),
            (self.skywalking.is_some(), K::SkyWalking),
            (self.lightstep.is_some(), K::Lightstep),
            (self.opentelemetry.is_some(), K::OpenTelemetry),
            (self.prometheus.is_some(), K::Prometheus),
            (self.envoy_file_access_log.is_some(), K::FileAccessLog),
            (self.envoy_otel_als.is_some(), K::OtelAccessLog),
        ];
        typed
            .iter()
            .find(|(set, _)| *set)
            .map_or(K::Other, |(_, k)| *k)
    }

    /// Whether this provider can serve an AuthorizationPolicy with action CUSTOM.
    pub fn is_ext_authz(&self) -> bool {
        matches!(
            self.kind(),
            ProviderKind::ExtAuthzHttp | ProviderKind::ExtAuthzGrpc
        )
    }
}

/// An external authorization service called over HTTP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtAuthzHttp {
    /// `[<namespace>/]<hostname>` of the service, e.g. `ext-authz.foo.svc.cluster.local`.
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Allow the request when the authorizer cannot be reached; default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_open: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_route_cache: Option<bool>,
    /// HTTP status returned when the authorizer fails; default 403.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_on_error: Option<String>,
    /// Deprecated alias of `includeRequestHeadersInCheck`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_headers_in_check: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_request_headers_in_check: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub include_additional_headers_in_check: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_request_body_in_check: Option<RequestBodyInCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers_to_upstream_on_allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers_to_downstream_on_deny: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers_to_downstream_on_allow: Vec<String>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

/// An external authorization service speaking Envoy's gRPC ext_authz API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtAuthzGrpc {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_open: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_route_cache: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_on_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_request_body_in_check: Option<RequestBodyInCheck>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestBodyInCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_partial_message: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack_as_bytes: Option<bool>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZipkinProvider {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tag_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_64bit_trace_id: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

/// A provider that is just a service address (Datadog, SkyWalking).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePortProvider {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub port: u32,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

/// The (deprecated) Lightstep tracer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LightstepProvider {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tag_length: Option<u32>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenTelemetryProvider {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tag_length: Option<u32>,
    /// Export over OTLP/HTTP instead of gRPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<serde_json::Value>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

/// A provider without settings, such as `prometheus: {}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EmptyProvider {
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileAccessLogProvider {
    /// e.g. `/dev/stdout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `{text: "..."}` or `{labels: {...}}` (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<serde_json::Value>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtelAccessLogProvider {
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<serde_json::Value>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}

/// Providers used when a Telemetry resource does not name one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultProviders {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracing: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_logging: Vec<String>,
    #[serde(flatten)]
    pub unmodeled: Unmodeled,
}
