//! A loaded resource: its kind, metadata, decoded body, and where it came from.

use crate::diag::{Origin, ResourceRef};
use crate::kind::{Body, Kind};
use crate::meta::ObjectMeta;
use crate::yaml::{FieldPath, Node};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Resource {
    pub kind: Kind,
    /// As written, e.g. `networking.istio.io/v1alpha3`.
    pub api_version: String,
    pub meta: ObjectMeta,
    pub body: Body,
    /// The file and the line where the resource's document starts.
    pub origin: Origin,
    /// The resource's YAML tree, kept to place messages on the line of a field.
    pub doc: Arc<Node>,
    /// False when the resource decoded but breaks a rule of its kind.
    pub valid: bool,
}

impl Resource {
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// The namespace the resource lives in: as written, or `default`.
    pub fn namespace(&self) -> &str {
        self.meta.namespace_or_default()
    }

    /// Reference as Istio's messages print it: no namespace part when the YAML omits it.
    pub fn reference(&self) -> ResourceRef {
        ResourceRef {
            kind: self.kind.name().to_string(),
            namespace: self.meta.namespace.clone(),
            name: self.meta.name.clone(),
        }
    }

    /// Where a field is written, e.g. `spec.http[0].route[1].destination.host`; falls back to
    /// the nearest enclosing node that exists.
    pub fn origin_of(&self, path: &str) -> Origin {
        Origin {
            file: self.origin.file.clone(),
            pos: self.doc.pos_of(&FieldPath::parse(path)),
        }
    }

    /// The line of a field's key when present, else the line of the resource itself.
    pub fn line_of(&self, path: &str) -> u32 {
        let p = FieldPath::parse(path);
        let (_, found) = self.doc.lookup(&p);
        if found {
            self.doc.pos_of(&p).line
        } else {
            self.origin.pos.line
        }
    }
}

macro_rules! accessors {
    ($($fn:ident: $variant:ident => $ty:ty;)+) => {
        impl Resource {
            $(
                pub fn $fn(&self) -> Option<&$ty> {
                    match &self.body {
                        Body::$variant(b) => Some(b),
                        _ => None,
                    }
                }
            )+
        }
    };
}

accessors! {
    as_virtual_service: VirtualService => crate::networking::VirtualService;
    as_destination_rule: DestinationRule => crate::networking::DestinationRule;
    as_gateway: Gateway => crate::networking::Gateway;
    as_service_entry: ServiceEntry => crate::networking::ServiceEntry;
    as_sidecar: Sidecar => crate::networking::Sidecar;
    as_workload_entry: WorkloadEntry => crate::networking::WorkloadEntry;
    as_workload_group: WorkloadGroup => crate::networking::WorkloadGroup;
    as_peer_authentication: PeerAuthentication => crate::security::PeerAuthentication;
    as_request_authentication: RequestAuthentication => crate::security::RequestAuthentication;
    as_authorization_policy: AuthorizationPolicy => crate::security::AuthorizationPolicy;
    as_namespace: Namespace => crate::k8s::Namespace;
    as_service: Service => crate::k8s::Service;
    as_service_account: ServiceAccount => crate::k8s::ServiceAccount;
    as_pod: Pod => crate::k8s::Pod;
    as_deployment: Deployment => crate::k8s::Deployment;
    as_secret: Secret => crate::k8s::Secret;
    as_config_map: ConfigMap => crate::k8s::ConfigMap;
    as_application: Application => crate::verimesh::Application;
    as_secure_ingress: SecureIngress => crate::verimesh::SecureIngress;
    as_envoy_filter: EnvoyFilter => crate::envoy_filter::EnvoyFilter;
    as_telemetry: Telemetry => crate::telemetry::Telemetry;
    as_mutating_webhook_configuration: MutatingWebhookConfiguration => crate::k8s::MutatingWebhookConfiguration;
    as_validating_webhook_configuration: ValidatingWebhookConfiguration => crate::k8s::ValidatingWebhookConfiguration;
    as_custom_resource_definition: CustomResourceDefinition => crate::k8s::CustomResourceDefinition;
    as_node: Node => crate::k8s::Node;
    as_kubernetes_gateway: KubernetesGateway => crate::gateway_api::KubernetesGateway;
    as_http_route: HttpRoute => crate::gateway_api::HttpRoute;
}
