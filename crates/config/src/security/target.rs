//! How a security policy chooses what it applies to: a workload selector, or references to
//! Services, ServiceEntries and Kubernetes Gateways (`istio.type.v1beta1`).

use crate::validate::Findings;
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Selects workloads (pods, VMs) in the policy's namespace by their labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

impl WorkloadSelector {
    /// Whether a workload with these labels is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// A reference to the resource a policy attaches to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyTargetReference {
    /// API group; empty for the Kubernetes core group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    /// Must be empty: cross-namespace references are not supported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The (group, kind) pairs a policy may target.
const ALLOWED_TARGETS: &[(&str, &str)] = &[
    ("", "Service"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
];

pub(crate) fn validate_selector(sel: &WorkloadSelector, at: &FieldPath, out: &mut Findings) {
    if sel.match_labels.is_empty() {
        out.warning(
            at,
            "the selector has no labels, so it selects every workload in the namespace; remove it if that is what you mean",
        );
    }
    let labels = at.field("matchLabels");
    for (k, v) in &sel.match_labels {
        if k.is_empty() {
            out.error(&labels, "label keys must not be empty");
        } else if k.contains('*') || v.contains('*') {
            out.error(
                &labels.field(k),
                format!("wildcards are not supported in selectors: {k}={v}"),
            );
        }
    }
}

pub(crate) fn validate_target_ref(r: &PolicyTargetReference, at: &FieldPath, out: &mut Findings) {
    if r.name.is_empty() {
        out.error(&at.field("name"), "the name of the target is required");
    }
    if r.namespace.as_deref().is_some_and(|ns| !ns.is_empty()) {
        out.error(
            &at.field("namespace"),
            "must not be set: a policy can only target resources in its own namespace",
        );
    }
    let group = if r.group == "core" {
        ""
    } else {
        r.group.as_str()
    };
    if !ALLOWED_TARGETS
        .iter()
        .any(|(g, k)| *g == group && *k == r.kind)
    {
        let allowed: Vec<String> = ALLOWED_TARGETS
            .iter()
            .map(|(g, k)| {
                if g.is_empty() {
                    (*k).to_string()
                } else {
                    format!("{g}/{k}")
                }
            })
            .collect();
        out.error(
            &at.field("kind"),
            format!(
                "cannot target {}/{}: the target must be one of {}",
                if r.group.is_empty() { "core" } else { &r.group },
                r.kind,
                allowed.join(", ")
            ),
        );
    }
}

/// Selector, targetRef and targetRefs are three exclusive ways to scope a policy.
pub(crate) fn validate_scope(
    selector: Option<&WorkloadSelector>,
    target_ref: Option<&PolicyTargetReference>,
    target_refs: &[PolicyTargetReference],
    at: &FieldPath,
    out: &mut Findings,
) {
    let set = [
        selector.is_some(),
        target_ref.is_some(),
        !target_refs.is_empty(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set > 1 {
        let field = if target_ref.is_some() {
            "targetRef"
        } else {
            "targetRefs"
        };
        out.error(
            &at.field(field),
            "selector, targetRef and targetRefs are mutually exclusive: set only one",
        );
    }
    if let Some(sel) = selector {
        validate_selector(sel, &at.field("selector"), out);
    }
    if let Some(r) = target_ref {
        validate_target_ref(r, &at.field("targetRef"), out);
    }
    for (i, r) in target_refs.iter().enumerate() {
        validate_target_ref(r, &at.field("targetRefs").index(i), out);
    }
}
