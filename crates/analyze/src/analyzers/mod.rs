//! The analyzers. Each has Istio's analyzer name when Istio has the same check, so a
//! conformance run can select it; verimesh's own are named `verimesh.*`.

pub mod deprecation;
pub mod destinationrule;
pub mod envoyfilter;
pub mod externalcontrolplane;
pub mod gateway;
pub mod injection;
pub mod k8s;
pub mod k8sgateway;
pub mod multicluster;
pub mod schema;
pub mod security;
pub mod serviceentry;
pub mod sidecar;
pub mod telemetry;
#[cfg(test)]
pub(crate) mod testutil;
pub mod verimesh;
pub mod virtualservice;

use crate::report::Report;
use crate::snapshot::Snapshot;

pub trait Analyzer: Sync {
    fn name(&self) -> &'static str;
    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report);
}

/// An analyzer that compares clusters: it gets one snapshot per cluster, each with the
/// cluster's id (as a multi-cluster mesh names it), in a fixed order. Resources in a cluster
/// with an empty id belong to no cluster and are not compared.
pub trait MultiClusterAnalyzer: Sync {
    fn name(&self) -> &'static str;
    fn analyze(&self, clusters: &[(&str, Snapshot<'_>)], out: &mut Report);
}

/// Every analyzer, in the order their messages are printed.
pub fn all() -> Vec<&'static dyn Analyzer> {
    vec![
        &k8s::PortName,
        &k8s::ApplicationUid,
        &k8s::ServiceAssociation,
        &security::AuthorizationPolicies,
        &security::BlockedCidrs,
        &verimesh::MtlsConflict,
        &verimesh::HttpOnTcpPort,
        &verimesh::PolicyNeverMatches,
        &verimesh::JwtNotRequired,
        &schema::VirtualServiceValidationAnalyzer,
        &deprecation::FieldAnalyzer,
        &virtualservice::DestinationHostAnalyzer,
        &virtualservice::DestinationRuleAnalyzer,
        &virtualservice::GatewayAnalyzer,
        &virtualservice::ConflictingMeshGatewayHostsAnalyzer,
        &virtualservice::JwtClaimRouteAnalyzer,
        &gateway::IngressGatewayPortAnalyzer,
        &gateway::ConflictingGatewayAnalyzer,
        &gateway::CertificateAnalyzer,
        &gateway::SecretAnalyzer,
        &destinationrule::CaCertificateAnalyzer,
        &destinationrule::PodNotSelectedAnalyzer,
        &serviceentry::ProtocolAddressesAnalyzer,
        &serviceentry::ConflictingServiceEntryProtocolAnalyzer,
        &sidecar::SelectorAnalyzer,
        &envoyfilter::patch::EnvoyPatchAnalyzer,
        &telemetry::provider::ProviderAnalyzer,
        &telemetry::lightstep::LightstepAnalyzer,
        &telemetry::selector::SelectorAnalyzer,
        &telemetry::default_selector::DefaultSelectorAnalyzer,
        &externalcontrolplane::webhooks::ExternalControlPlaneAnalyzer,
        &k8sgateway::crd_version::CrdVersionAnalyzer,
        &injection::namespaces::InjectionAnalyzer,
        &injection::image::ImageAnalyzer,
        &injection::image_auto::ImageAutoAnalyzer,
        &multicluster::mesh_networks::MeshNetworksAnalyzer,
    ]
}

pub fn by_name(name: &str) -> Option<&'static dyn Analyzer> {
    all().into_iter().find(|a| a.name() == name)
}

/// Every analyzer that compares clusters, in the order their messages are printed.
pub fn all_multi_cluster() -> Vec<&'static dyn MultiClusterAnalyzer> {
    vec![&multicluster::service::ServiceAnalyzer]
}

pub fn multi_cluster_by_name(name: &str) -> Option<&'static dyn MultiClusterAnalyzer> {
    all_multi_cluster().into_iter().find(|a| a.name() == name)
}
