//! The kinds verimesh understands, their API groups and served versions, and how each body is
//! decoded. Adding a kind means one line in `kinds!` plus its type.

use crate::validate::{Context, Findings, Validate};
use crate::yaml::{DeError, FieldPath, Node};
use crate::{envoy_filter, gateway_api, k8s, networking, security, telemetry, verimesh};

/// How a kind lays out its document besides apiVersion/kind/metadata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Istio style: everything is under `spec` (and a server-set `status`); any other top-level
    /// field is an error, and the body type is the spec.
    Spec,
    /// Kubernetes style: the body type is the whole object less apiVersion/kind/metadata.
    Object,
}

pub struct KindInfo {
    pub kind: Kind,
    pub name: &'static str,
    /// API group; empty for the Kubernetes core group (`apiVersion: v1`).
    pub group: &'static str,
    pub versions: &'static [&'static str],
    pub layout: Layout,
}

/// Result of looking up an `apiVersion`/`kind` pair.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Known(Kind),
    /// The kind exists in this group, but not at this version.
    UnservedVersion(Kind),
    Unknown,
}

macro_rules! kinds {
    ($( $variant:ident($ty:ty) = $name:literal, $group:literal, [$($ver:literal),+], $layout:ident; )+) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind { $($variant),+ }

        pub const KINDS: &[KindInfo] = &[
            $(KindInfo {
                kind: Kind::$variant,
                name: $name,
                group: $group,
                versions: &[$($ver),+],
                layout: Layout::$layout,
            }),+
        ];

        /// The decoded body of a resource, one variant per kind.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Body { $($variant($ty)),+ }

        impl Body {
            pub fn kind(&self) -> Kind {
                match self { $(Body::$variant(_) => Kind::$variant),+ }
            }

            pub(crate) fn decode(
                kind: Kind,
                node: &Node,
            ) -> Result<Body, serde_path_to_error::Error<DeError>> {
                match kind {
                    $(Kind::$variant => serde_path_to_error::deserialize(node).map(Body::$variant)),+
                }
            }

            pub fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
                match self { $(Body::$variant(b) => b.validate(cx, at, out)),+ }
            }

            pub fn to_json(&self) -> serde_json::Value {
                let v = match self { $(Body::$variant(b) => serde_json::to_value(b)),+ };
                v.unwrap_or(serde_json::Value::Null)
            }
        }
    };
}

kinds! {
    VirtualService(networking::VirtualService) = "VirtualService", "networking.istio.io", ["v1alpha3", "v1beta1", "v1"], Spec;
    DestinationRule(networking::DestinationRule) = "DestinationRule", "networking.istio.io", ["v1alpha3", "v1beta1", "v1"], Spec;
    Gateway(networking::Gateway) = "Gateway", "networking.istio.io", ["v1alpha3", "v1beta1", "v1"], Spec;
    ServiceEntry(networking::ServiceEntry) = "ServiceEntry", "networking.istio.io", ["v1alpha3", "v1beta1", "v1"], Spec;
    Sidecar(networking::Sidecar) = "Sidecar", "networking.istio.io", ["v1alpha3", "v1beta1", "v1"], Spec;
    WorkloadEntry(networking::WorkloadEntry) = "WorkloadEntry", "networking.istio.io", ["v1alpha3", "v1beta1", "v1"], Spec;
    WorkloadGroup(networking::WorkloadGroup) = "WorkloadGroup", "networking.istio.io", ["v1alpha3", "v1beta1", "v1"], Spec;
    PeerAuthentication(security::PeerAuthentication) = "PeerAuthentication", "security.istio.io", ["v1beta1", "v1"], Spec;
    RequestAuthentication(security::RequestAuthentication) = "RequestAuthentication", "security.istio.io", ["v1beta1", "v1"], Spec;
    AuthorizationPolicy(security::AuthorizationPolicy) = "AuthorizationPolicy", "security.istio.io", ["v1beta1", "v1"], Spec;
    Namespace(k8s::Namespace) = "Namespace", "", ["v1"], Object;
    Service(k8s::Service) = "Service", "", ["v1"], Object;
    ServiceAccount(k8s::ServiceAccount) = "ServiceAccount", "", ["v1"], Object;
    Pod(k8s::Pod) = "Pod", "", ["v1"], Object;
    Deployment(k8s::Deployment) = "Deployment", "apps", ["v1"], Object;
    Secret(k8s::Secret) = "Secret", "", ["v1"], Object;
    ConfigMap(k8s::ConfigMap) = "ConfigMap", "", ["v1"], Object;
    Application(verimesh::Application) = "Application", "verimesh.io", ["v1alpha1"], Spec;
    SecureIngress(verimesh::SecureIngress) = "SecureIngress", "verimesh.io", ["v1alpha1"], Spec;
    EnvoyFilter(envoy_filter::EnvoyFilter) = "EnvoyFilter", "networking.istio.io", ["v1alpha3"], Spec;
    Telemetry(telemetry::Telemetry) = "Telemetry", "telemetry.istio.io", ["v1alpha1", "v1"], Spec;
    MutatingWebhookConfiguration(k8s::MutatingWebhookConfiguration) = "MutatingWebhookConfiguration", "admissionregistration.k8s.io", ["v1"], Object;
    ValidatingWebhookConfiguration(k8s::ValidatingWebhookConfiguration) = "ValidatingWebhookConfiguration", "admissionregistration.k8s.io", ["v1"], Object;
    CustomResourceDefinition(k8s::CustomResourceDefinition) = "CustomResourceDefinition", "apiextensions.k8s.io", ["v1"], Object;
    Node(k8s::Node) = "Node", "", ["v1"], Object;
    KubernetesGateway(gateway_api::KubernetesGateway) = "Gateway", "gateway.networking.k8s.io", ["v1", "v1beta1"], Spec;
    HttpRoute(gateway_api::HttpRoute) = "HTTPRoute", "gateway.networking.k8s.io", ["v1", "v1beta1"], Spec;
}

impl Kind {
    pub fn info(self) -> &'static KindInfo {
        // KINDS is generated in declaration order, so the discriminant is the index.
        &KINDS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    pub fn is_istio_networking(self) -> bool {
        self.info().group == "networking.istio.io"
    }

    pub fn lookup(api_version: &str, kind: &str) -> Lookup {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let mut found = Lookup::Unknown;
        for info in KINDS {
            if info.name == kind && info.group == group {
                if info.versions.contains(&version) {
                    return Lookup::Known(info.kind);
                }
                found = Lookup::UnservedVersion(info.kind);
            }
        }
        found
    }

    /// The `apiVersion` values this kind is served at, for error messages.
    pub fn api_versions(self) -> Vec<String> {
        let info = self.info();
        info.versions
            .iter()
            .map(|v| {
                if info.group.is_empty() {
                    (*v).to_string()
                } else {
                    format!("{}/{}", info.group, v)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        assert_eq!(
            Kind::lookup("networking.istio.io/v1beta1", "VirtualService"),
            Lookup::Known(Kind::VirtualService)
        );
        assert_eq!(
            Kind::lookup("networking.istio.io/v2", "VirtualService"),
            Lookup::UnservedVersion(Kind::VirtualService)
        );
        assert_eq!(Kind::lookup("v1", "Service"), Lookup::Known(Kind::Service));
        assert_eq!(
            Kind::lookup("gateway.networking.k8s.io/v1", "Gateway"),
            Lookup::Known(Kind::KubernetesGateway)
        );
        assert_eq!(
            Kind::lookup("gateway.networking.k8s.io/v1alpha2", "TCPRoute"),
            Lookup::Unknown
        );
        for (i, info) in KINDS.iter().enumerate() {
            assert_eq!(info.kind as usize, i);
        }
    }
}
