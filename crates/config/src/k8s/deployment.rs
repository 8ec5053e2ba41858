//! apps/v1 Deployment: replicas of a pod template, chosen by a label selector.

use super::common::{validate_label_selector, IntOrString, LabelSelector};
use super::pod::{validate_pod_spec, PodSpec};
use crate::meta::ObjectMeta;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Boxed: a pod template is large, and resources are kept in one enum.
    #[serde(default)]
    pub spec: Box<DeploymentSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    #[serde(default)]
    pub selector: LabelSelector,
    #[serde(default)]
    pub template: PodTemplateSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<DeploymentStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_history_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateSpec {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStrategy {
    /// Default RollingUpdate.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<StrategyType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdate>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StrategyType {
    Recreate,
    RollingUpdate,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    /// A count or a percentage; default 25%.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
}

impl DeploymentSpec {
    pub fn replicas(&self) -> i64 {
        self.replicas.unwrap_or(1)
    }
}

/// A count (>= 0) or a percentage like `25%`; returns whether it is zero.
fn check_count_or_percent(v: &IntOrString) -> Result<bool, String> {
    match v {
        IntOrString::Int(n) if *n >= 0 => Ok(*n == 0),
        IntOrString::Int(n) => Err(format!("{n} must not be negative")),
        IntOrString::String(s) => match s.strip_suffix('%').map(str::parse::<u32>) {
            Some(Ok(p)) if p <= 100 => Ok(p == 0),
            _ => Err(format!(
                "{s:?} must be a count or a percentage from 0% to 100%"
            )),
        },
    }
}

impl Validate for Deployment {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        let spec = &self.spec;
        let at = at.field("spec");
        if let Some(r) = spec.replicas {
            if r < 0 {
                out.error(&at.field("replicas"), "replicas must not be negative");
            }
        }
        let sel = at.field("selector");
        if spec.selector.is_empty() {
            out.error(
                &sel,
                "a Deployment needs a selector with matchLabels or matchExpressions",
            );
        } else {
            validate_label_selector(&spec.selector, &sel, out);
            if !spec.selector.matches(&spec.template.metadata.labels) {
                out.error(
                    &at.field("template").field("metadata").field("labels"),
                    "the template's labels do not match spec.selector, so the Deployment would not own its own pods",
                );
            }
        }
        super::common::validate_label_map(
            &spec.template.metadata.labels,
            &at.field("template").field("metadata").field("labels"),
            out,
        );
        validate_pod_spec(
            &spec.template.spec,
            &at.field("template").field("spec"),
            out,
        );
        if let Some(ru) = spec
            .strategy
            .as_ref()
            .and_then(|s| s.rolling_update.as_ref())
        {
            let p = at.field("strategy").field("rollingUpdate");
            let mut zero = 0;
            for (field, v) in [
                ("maxSurge", &ru.max_surge),
                ("maxUnavailable", &ru.max_unavailable),
            ] {
                if let Some(v) = v {
                    match check_count_or_percent(v) {
                        Ok(true) => zero += 1,
                        Ok(false) => {}
                        Err(e) => out.error(&p.field(field), e),
                    }
                }
            }
            if zero == 2 {
                out.error(&p, "maxSurge and maxUnavailable cannot both be 0: the rollout could never progress");
            }
            if spec.strategy.as_ref().and_then(|s| s.type_) == Some(StrategyType::Recreate) {
                out.error(
                    &p,
                    "rollingUpdate is only allowed with the RollingUpdate strategy",
                );
            }
        }
    }
}
