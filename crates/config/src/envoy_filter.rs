//! EnvoyFilter (networking.istio.io/v1alpha3): raw patches to the Envoy configuration Istio
//! generates. The patch values are Envoy's own protobufs and are kept as JSON.

use crate::networking::WorkloadSelector;
use crate::security::PolicyTargetReference;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvoyFilter {
    /// Workloads patched; without it (and without targetRefs), every workload in the namespace
    /// (or the mesh, in the root namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<WorkloadSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_refs: Vec<PolicyTargetReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_patches: Vec<EnvoyConfigObjectPatch>,
    /// Order among filters in the same context; lower first, 0 (default) after negatives.
    #[serde(default)]
    pub priority: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvoyConfigObjectPatch {
    #[serde(default)]
    pub apply_to: ApplyTo,
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<EnvoyConfigObjectMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Patch>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplyTo {
    #[default]
    Invalid,
    Listener,
    FilterChain,
    NetworkFilter,
    HttpFilter,
    RouteConfiguration,
    VirtualHost,
    HttpRoute,
    Cluster,
    ExtensionConfig,
    Bootstrap,
    ListenerFilter,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PatchContext {
    #[default]
    Any,
    SidecarInbound,
    SidecarOutbound,
    Gateway,
    Waypoint,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvoyConfigObjectMatch {
    #[serde(default)]
    pub context: PatchContext,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<ListenerMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_configuration: Option<RouteConfigurationMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waypoint: Option<WaypointMatch>,
}

impl EnvoyConfigObjectMatch {
    /// How many of the object matches (one of) are set.
    fn object_matches(&self) -> usize {
        [
            self.listener.is_some(),
            self.route_configuration.is_some(),
            self.cluster.is_some(),
            self.waypoint.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyMatch {
    /// A regular expression on the proxy's version, e.g. `^1\.2.*`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub proxy_version: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerMatch {
    #[serde(default)]
    pub port_number: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub port_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_chain: Option<FilterChainMatch>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listener_filter: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterChainMatch {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sni: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub transport_protocol: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub application_protocols: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterMatch>,
    #[serde(default)]
    pub destination_port: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterMatch {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_filter: Option<NameMatch>,
}

/// A match on a name only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NameMatch {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteConfigurationMatch {
    #[serde(default)]
    pub port_number: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub port_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vhost: Option<VirtualHostMatch>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualHostMatch {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteMatch>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteMatch {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub action: RouteAction,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RouteAction {
    #[default]
    Any,
    Route,
    Redirect,
    DirectResponse,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterMatch {
    #[serde(default)]
    pub port_number: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subset: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaypointMatch {
    #[serde(default)]
    pub port_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<NameMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterMatch>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Patch {
    #[serde(default)]
    pub operation: Operation,
    /// The Envoy object (or fragment) to add, merge or insert, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    #[serde(default)]
    pub filter_class: FilterClass,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Operation {
    #[default]
    Invalid,
    Merge,
    Add,
    Remove,
    InsertBefore,
    InsertAfter,
    InsertFirst,
    Replace,
    MergeAndReplaceList,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterClass {
    #[default]
    Unspecified,
    Authn,
    Authz,
    Stats,
}

/// The network filter whose HTTP filters a sub-filter match looks into.
const HTTP_CONNECTION_MANAGER: &[&str] = &[
    "envoy.filters.network.http_connection_manager",
    "envoy.http_connection_manager",
];

/// Longest proxyVersion pattern that is compiled; longer ones are ignored by Istio.
const MAX_PROXY_VERSION_LEN: usize = 1024;

impl Validate for EnvoyFilter {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        if let Some(sel) = &self.workload_selector {
            if sel.labels.is_empty() {
                out.warning(
                    &at.field("workloadSelector"),
                    "the selector has no labels, so the filter applies to every workload in the namespace",
                );
            }
            if !self.target_refs.is_empty() {
                out.error(
                    &at.field("targetRefs"),
                    "set either workloadSelector or targetRefs, not both",
                );
            }
        }
        for (i, r) in self.target_refs.iter().enumerate() {
            crate::security::target::validate_target_ref(r, &at.field("targetRefs").index(i), out);
        }
        for (i, cp) in self.config_patches.iter().enumerate() {
            validate_patch(cp, &at.field("configPatches").index(i), out);
        }
    }
}

fn validate_patch(cp: &EnvoyConfigObjectPatch, at: &FieldPath, out: &mut Findings) {
    if cp
        .match_
        .as_ref()
        .is_some_and(|m| m.context == PatchContext::Waypoint)
    {
        return;
    }
    if cp.apply_to == ApplyTo::Invalid {
        out.error(&at.field("applyTo"), "applyTo is required");
        return;
    }
    let Some(patch) = &cp.patch else {
        out.error(&at.field("patch"), "a patch is required");
        return;
    };
    if patch.operation == Operation::Invalid {
        out.error(
            &at.field("patch").field("operation"),
            "the patch operation is required",
        );
        return;
    }
    if patch.operation != Operation::Remove && patch.value.is_none() {
        out.error(
            &at.field("patch").field("value"),
            format!("a value is required for {:?}", patch.operation),
        );
        return;
    }
    if let Some(v) = &patch.value {
        if !v.is_object() {
            out.error(
                &at.field("patch").field("value"),
                "the value must be an object",
            );
        }
    }
    let Some(m) = &cp.match_ else {
        return;
    };
    let mp = at.field("match");
    if m.object_matches() > 1 {
        out.error(
            &mp,
            "set at most one of listener, routeConfiguration, cluster and waypoint",
        );
        return;
    }
    if let Some(v) = m.proxy.as_ref().map(|p| p.proxy_version.as_str()) {
        let p = mp.field("proxy").field("proxyVersion");
        if v.len() > MAX_PROXY_VERSION_LEN {
            out.warning(
                &p,
                format!("longer than {MAX_PROXY_VERSION_LEN} characters, so it is ignored"),
            );
        } else if !v.is_empty() {
            if let Err(e) = regex::Regex::new(v) {
                out.error(&p, format!("not a valid regular expression: {e}"));
                return;
            }
        }
    }
    let has_object_match = m.object_matches() == 1;
    match cp.apply_to {
        ApplyTo::Listener | ApplyTo::FilterChain | ApplyTo::NetworkFilter | ApplyTo::HttpFilter => {
            if !has_object_match {
                return;
            }
            let Some(l) = &m.listener else {
                out.error(
                    &mp,
                    format!("applyTo {:?} needs a listener match", cp.apply_to),
                );
                return;
            };
            let Some(f) = l.filter_chain.as_ref().and_then(|fc| fc.filter.as_ref()) else {
                return;
            };
            let fp = mp.field("listener").field("filterChain").field("filter");
            if matches!(cp.apply_to, ApplyTo::Listener | ApplyTo::FilterChain) {
                out.warning(
                    &fp,
                    format!(
                        "a filter match has no effect with applyTo {:?}",
                        cp.apply_to
                    ),
                );
            }
            if f.name.is_empty() {
                out.error(&fp.field("name"), "a filter match needs a name");
                return;
            }
            if let Some(sub) = &f.sub_filter {
                if cp.apply_to != ApplyTo::HttpFilter {
                    out.error(
                        &fp.field("subFilter"),
                        "a subFilter match can only be used with applyTo HTTP_FILTER",
                    );
                } else if !HTTP_CONNECTION_MANAGER.contains(&f.name.as_str()) {
                    out.error(
                        &fp.field("name"),
                        "a subFilter match needs the filter match to be envoy.filters.network.http_connection_manager",
                    );
                } else if sub.name.is_empty() {
                    out.error(
                        &fp.field("subFilter").field("name"),
                        "a subFilter match needs a name",
                    );
                }
            }
        }
        ApplyTo::RouteConfiguration | ApplyTo::VirtualHost | ApplyTo::HttpRoute
            if has_object_match && m.route_configuration.is_none() =>
        {
            out.error(
                &mp,
                format!("applyTo {:?} needs a routeConfiguration match", cp.apply_to),
            );
        }
        ApplyTo::Cluster if has_object_match && m.cluster.is_none() => {
            out.error(&mp, "applyTo CLUSTER needs a cluster match");
        }
        _ => {}
    }
}
