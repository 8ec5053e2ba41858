//! Analyzers of Kubernetes workloads and services.

mod application_uid;
mod port_name;
mod service_association;

pub use application_uid::ApplicationUid;
pub use port_name::PortName;
pub use service_association::ServiceAssociation;

use std::collections::BTreeMap;

/// Istio's own control-plane objects, which some analyzers skip.
pub(crate) fn is_istio_control_plane(labels: &BTreeMap<String, String>) -> bool {
    labels.contains_key("istio") || labels.get("release").map(String::as_str) == Some("istio")
}
