//! Lists the mesh config fields that were kept but not modeled, with their dotted paths.

use super::*;

/// Implemented by every mesh config struct that keeps unknown fields.
pub trait CollectUnmodeled {
    /// Appends the paths of unmodeled fields, each prefixed with `prefix`.
    fn collect_unmodeled(&self, prefix: &str, out: &mut Vec<String>);
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl<T: CollectUnmodeled> CollectUnmodeled for Option<T> {
    fn collect_unmodeled(&self, prefix: &str, out: &mut Vec<String>) {
        if let Some(v) = self {
            v.collect_unmodeled(prefix, out);
        }
    }
}

impl<T: CollectUnmodeled> CollectUnmodeled for Vec<T> {
    fn collect_unmodeled(&self, prefix: &str, out: &mut Vec<String>) {
        for (i, v) in self.iter().enumerate() {
            v.collect_unmodeled(&format!("{prefix}[{i}]"), out);
        }
    }
}

macro_rules! collect {
    ($($ty:ty { $($field:ident: $name:literal),* })+) => {
        $(
            impl CollectUnmodeled for $ty {
                fn collect_unmodeled(&self, prefix: &str, out: &mut Vec<String>) {
                    for k in self.unmodeled.keys() {
                        out.push(join(prefix, k));
                    }
                    $( self.$field.collect_unmodeled(&join(prefix, $name), out); )*
                }
            }
        )+
    };
}

collect! {
    MeshConfig {
        outbound_traffic_policy: "outboundTrafficPolicy",
        inbound_traffic_policy: "inboundTrafficPolicy",
        path_normalization: "pathNormalization",
        default_config: "defaultConfig",
        extension_providers: "extensionProviders",
        default_providers: "defaultProviders",
        mesh_mtls: "meshMTLS",
        tls_defaults: "tlsDefaults",
        ca_certificates: "caCertificates",
        service_settings: "serviceSettings"
    }
    OutboundTrafficPolicy {}
    InboundTrafficPolicy {}
    PathNormalization {}
    TlsConfig {}
    CertificateData {}
    ServiceSettings { settings: "settings" }
    ServiceSettingsValues {}
    ProxyConfig { tracing: "tracing" }
    Tracing { zipkin: "zipkin", datadog: "datadog" }
    TracerAddress {}
    ExtensionProvider {
        envoy_ext_authz_http: "envoyExtAuthzHttp",
        envoy_ext_authz_grpc: "envoyExtAuthzGrpc",
        zipkin: "zipkin",
        datadog: "datadog",
        skywalking: "skywalking",
        lightstep: "lightstep",
        opentelemetry: "opentelemetry",
        prometheus: "prometheus",
        envoy_file_access_log: "envoyFileAccessLog",
        envoy_otel_als: "envoyOtelAls"
    }
    ExtAuthzHttp { include_request_body_in_check: "includeRequestBodyInCheck" }
    ExtAuthzGrpc { include_request_body_in_check: "includeRequestBodyInCheck" }
    RequestBodyInCheck {}
    ZipkinProvider {}
    ServicePortProvider {}
    LightstepProvider {}
    OpenTelemetryProvider {}
    EmptyProvider {}
    FileAccessLogProvider {}
    OtelAccessLogProvider {}
    DefaultProviders {}
}
