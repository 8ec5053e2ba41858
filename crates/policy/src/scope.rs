//! Which workloads a security policy (AuthorizationPolicy, RequestAuthentication) applies
//! to. This is the authoritative version of Istio's policy attachment rules:
//!
//! - only policies in the mesh root namespace and in the workload's own namespace count;
//! - a policy without `targetRef(s)` applies by `selector` (none: every workload in its
//!   namespace, or in the whole mesh from the root namespace; a root-namespace selector
//!   matches workloads in every namespace);
//! - a policy with `targetRef(s)` never applies to sidecars; it applies to a Kubernetes
//!   Gateway's proxies (label `gateway.networking.k8s.io/gateway-name`) in its namespace,
//!   and, for waypoints, to the Services / ServiceEntries they serve and to the
//!   `istio-waypoint` GatewayClass from the root namespace;
//! - a Gateway's proxies take selector-based policies only when they have no targetRef.

use std::collections::BTreeMap;
use verimesh_config::security::{PolicyTargetReference, WorkloadSelector};

pub const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";
const WAYPOINT_CLASS: &str = "istio-waypoint";

/// A service a waypoint serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
    /// A ServiceEntry rather than a Kubernetes Service.
    pub external: bool,
}

/// The proxy a decision is made for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub waypoint: bool,
    pub services: Vec<ServiceRef>,
}

/// How a policy chose its targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyScope {
    pub namespace: String,
    pub selector: Option<WorkloadSelector>,
    pub target_refs: Vec<PolicyTargetReference>,
}

impl PolicyScope {
    pub fn new(
        namespace: &str,
        selector: Option<&WorkloadSelector>,
        target_ref: Option<&PolicyTargetReference>,
        target_refs: &[PolicyTargetReference],
    ) -> PolicyScope {
        let refs = if target_refs.is_empty() {
            target_ref.into_iter().cloned().collect()
        } else {
            target_refs.to_vec()
        };
        PolicyScope {
            namespace: namespace.to_string(),
            selector: selector.cloned(),
            target_refs: refs,
        }
    }

    /// Whether the policy applies to the workload.
    pub fn applies_to(&self, w: &Workload, root_namespace: &str) -> bool {
        if self.namespace != root_namespace
            && self.namespace != w.namespace
            && !w.services.iter().any(|s| s.namespace == self.namespace)
        {
            return false;
        }
        let selected = || {
            (self.namespace == root_namespace || self.namespace == w.namespace)
                && self.selector.as_ref().is_none_or(|s| s.matches(&w.labels))
        };
        let gateway = w.labels.get(GATEWAY_NAME_LABEL);
        let Some(gateway) = gateway else {
            return self.target_refs.is_empty() && selected();
        };
        if self.target_refs.is_empty() {
            return !w.waypoint && selected();
        }
        self.target_refs
            .iter()
            .any(|r| self.ref_matches(r, w, gateway, root_namespace))
    }

    fn ref_matches(
        &self,
        r: &PolicyTargetReference,
        w: &Workload,
        gateway: &str,
        root_namespace: &str,
    ) -> bool {
        let group = if r.group == "core" {
            ""
        } else {
            r.group.as_str()
        };
        let is = |g: &str, k: &str| group == g && r.kind == k;
        if w.waypoint {
            let service = is("", "Service");
            let entry = is("networking.istio.io", "ServiceEntry");
            if (service || entry)
                && w.services.iter().any(|s| {
                    s.name == r.name && s.namespace == self.namespace && s.external == entry
                })
            {
                return true;
            }
            if self.namespace == root_namespace
                && is("gateway.networking.k8s.io", "GatewayClass")
                && r.name == WAYPOINT_CLASS
            {
                return true;
            }
        }
        if w.namespace != self.namespace {
            return false;
        }
        if r.namespace
            .as_deref()
            .is_some_and(|ns| !ns.is_empty() && ns != w.namespace)
        {
            return false;
        }
        is("gateway.networking.k8s.io", "Gateway") && r.name == gateway
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(ns: &str, labels: &[(&str, &str)]) -> Workload {
        Workload {
            namespace: ns.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Workload::default()
        }
    }

    fn sel(labels: &[(&str, &str)]) -> WorkloadSelector {
        WorkloadSelector {
            match_labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn namespaces_and_selectors() {
        let app = w("foo", &[("app", "a")]);
        assert!(PolicyScope::new("foo", None, None, &[]).applies_to(&app, "istio-system"));
        assert!(!PolicyScope::new("bar", None, None, &[]).applies_to(&app, "istio-system"));
        assert!(PolicyScope::new("istio-system", None, None, &[]).applies_to(&app, "istio-system"));
        let s = sel(&[("app", "a")]);
        assert!(
            PolicyScope::new("istio-system", Some(&s), None, &[]).applies_to(&app, "istio-system")
        );
        assert!(
            !PolicyScope::new("foo", Some(&sel(&[("app", "b")])), None, &[])
                .applies_to(&app, "istio-system")
        );
    }

    #[test]
    fn target_refs() {
        let gw_ref = PolicyTargetReference {
            group: "gateway.networking.k8s.io".into(),
            kind: "Gateway".into(),
            name: "edge".into(),
            namespace: None,
        };
        let sidecar = w("foo", &[("app", "a")]);
        let gateway = w("foo", &[(GATEWAY_NAME_LABEL, "edge")]);
        let p = PolicyScope::new("foo", None, Some(&gw_ref), &[]);
        assert!(
            !p.applies_to(&sidecar, "istio-system"),
            "targetRef never applies to sidecars"
        );
        assert!(p.applies_to(&gateway, "istio-system"));
        assert!(
            !PolicyScope::new("bar", None, Some(&gw_ref), &[]).applies_to(&gateway, "istio-system")
        );
    }
}
