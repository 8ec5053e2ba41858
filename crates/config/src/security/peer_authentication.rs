//! PeerAuthentication: which mutual-TLS mode a workload accepts, mesh-, namespace-, workload-
//! or port-wide.

use super::target::{validate_selector, WorkloadSelector};
use crate::validate::{common, Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerAuthentication {
    /// Workloads the policy applies to; without it, every workload in the namespace (or the
    /// whole mesh, in the root namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<MutualTls>,
    /// Per-port overrides, keyed by the workload's port number as written in YAML (`"8080"`).
    /// Only allowed with a selector.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub port_level_mtls: BTreeMap<String, MutualTls>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MutualTls {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<MtlsMode>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MtlsMode {
    /// Inherit from the parent scope; PERMISSIVE when nothing sets a mode.
    #[default]
    Unset,
    /// Plain text only.
    Disable,
    /// Both plain text and mutual TLS.
    Permissive,
    /// Mutual TLS only.
    Strict,
}

impl PeerAuthentication {
    /// The workload-wide mode, or `Unset`.
    pub fn mode(&self) -> MtlsMode {
        self.mtls.as_ref().and_then(|m| m.mode).unwrap_or_default()
    }

    /// Port-level overrides whose keys are valid port numbers.
    pub fn port_modes(&self) -> impl Iterator<Item = (u16, MtlsMode)> + '_ {
        self.port_level_mtls.iter().filter_map(|(k, m)| {
            let port = k.parse::<u16>().ok().filter(|p| *p > 0)?;
            Some((port, m.mode.unwrap_or_default()))
        })
    }
}

impl Validate for PeerAuthentication {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        if let Some(sel) = &self.selector {
            validate_selector(sel, &at.field("selector"), out);
        }
        let has_labels = self
            .selector
            .as_ref()
            .is_some_and(|s| !s.match_labels.is_empty());
        let ports = at.field("portLevelMtls");
        if !self.port_level_mtls.is_empty() && !has_labels {
            out.error(
                &ports,
                "port-level mTLS needs a selector with labels: a mesh- or namespace-wide policy cannot set modes per port",
            );
        }
        for key in self.port_level_mtls.keys() {
            let res = match key.parse::<u32>() {
                Ok(n) => common::validate_port(n),
                Err(_) => Err(format!("key {key:?} must be a port number in 1..65535")),
            };
            out.check(&ports.field(key), res);
        }
    }
}
