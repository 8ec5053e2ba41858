//! Telemetry (telemetry.istio.io): which tracing, metrics and access-log providers a workload,
//! namespace or the mesh uses, and how.

use crate::security::target::{validate_selector, validate_target_ref};
use crate::security::{PolicyTargetReference, WorkloadSelector};
use crate::types::Duration;
use crate::validate::{common, Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Telemetry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<PolicyTargetReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_refs: Vec<PolicyTargetReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tracing: Vec<Tracing>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<Metrics>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_logging: Vec<AccessLogging>,
}

/// A provider by the name it has in the mesh config's `extensionProviders`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderRef {
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkloadMode {
    #[default]
    ClientAndServer,
    Client,
    Server,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModeSelector {
    #[serde(default)]
    pub mode: WorkloadMode,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tracing {
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<ModeSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderRef>,
    /// 0.0 to 100.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_sampling_percentage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_span_reporting: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_tags: BTreeMap<String, CustomTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_request_id_for_trace_sampling: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_istio_tags: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_context_propagation: Option<bool>,
}

/// One of literal, environment, header or formatter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomTag {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<ValueTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<NamedTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<NamedTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatter: Option<ValueTag>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValueTag {
    #[serde(default)]
    pub value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamedTag {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_value: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metrics {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<MetricsOverrides>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_interval: Option<Duration>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricsOverrides {
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<MetricSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tag_overrides: BTreeMap<String, TagOverride>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<IstioMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_metric: Option<String>,
    #[serde(default)]
    pub mode: WorkloadMode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IstioMetric {
    AllMetrics,
    RequestCount,
    RequestDuration,
    RequestSize,
    ResponseSize,
    TcpOpenedConnections,
    TcpClosedConnections,
    TcpSentBytes,
    TcpReceivedBytes,
    GrpcRequestMessages,
    GrpcResponseMessages,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TagOverride {
    #[serde(default)]
    pub operation: TagOperation,
    /// A CEL expression; only with UPSERT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TagOperation {
    #[default]
    Upsert,
    Remove,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessLogging {
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<ModeSelector>,
    /// Without providers, the mesh's default access-log providers are used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<AccessLogFilter>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessLogFilter {
    /// A CEL expression on the request and response.
    #[serde(default)]
    pub expression: String,
}

fn validate_providers(ps: &[ProviderRef], at: &FieldPath, out: &mut Findings) {
    for (i, p) in ps.iter().enumerate() {
        if p.name.is_empty() {
            out.error(&at.index(i).field("name"), "a provider needs a name");
        }
    }
}

impl Validate for Telemetry {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        if let Some(sel) = &self.selector {
            validate_selector(sel, &at.field("selector"), out);
        }
        let targets =
            usize::from(self.target_ref.is_some()) + usize::from(!self.target_refs.is_empty());
        if targets > 1 {
            out.error(
                &at.field("targetRefs"),
                "set either targetRef or targetRefs, not both",
            );
        }
        if self.selector.is_some() && targets > 0 {
            out.error(
                &at.field("selector"),
                "set either selector or targetRef(s), not both",
            );
        }
        if let Some(r) = &self.target_ref {
            validate_target_ref(r, &at.field("targetRef"), out);
        }
        for (i, r) in self.target_refs.iter().enumerate() {
            validate_target_ref(r, &at.field("targetRefs").index(i), out);
        }
        for (i, t) in self.tracing.iter().enumerate() {
            let p = at.field("tracing").index(i);
            validate_providers(&t.providers, &p.field("providers"), out);
            if t.providers.len() > 1 {
                out.error(
                    &p.field("providers"),
                    "at most one tracing provider is supported",
                );
            }
            if let Some(pct) = t.random_sampling_percentage {
                if !(0.0..=100.0).contains(&pct) {
                    out.error(
                        &p.field("randomSamplingPercentage"),
                        format!("{pct} is not a percentage in 0..100"),
                    );
                }
            }
            for (name, tag) in &t.custom_tags {
                let tp = p.field("customTags").field(name);
                let set = [
                    tag.literal.is_some(),
                    tag.environment.is_some(),
                    tag.header.is_some(),
                    tag.formatter.is_some(),
                ]
                .iter()
                .filter(|s| **s)
                .count();
                if set != 1 {
                    out.error(&tp, "a custom tag needs exactly one of literal, environment, header or formatter");
                }
                if tag.literal.as_ref().is_some_and(|l| l.value.is_empty()) {
                    out.error(&tp.field("literal").field("value"), "the value is required");
                }
                if tag.formatter.as_ref().is_some_and(|l| l.value.is_empty()) {
                    out.error(
                        &tp.field("formatter").field("value"),
                        "the value is required",
                    );
                }
                if tag.environment.as_ref().is_some_and(|e| e.name.is_empty()) {
                    out.error(
                        &tp.field("environment").field("name"),
                        "the name is required",
                    );
                }
                if let Some(h) = &tag.header {
                    out.check(
                        &tp.field("header").field("name"),
                        common::validate_http_header_name(&h.name),
                    );
                }
            }
        }
        for (i, m) in self.metrics.iter().enumerate() {
            let p = at.field("metrics").index(i);
            validate_providers(&m.providers, &p.field("providers"), out);
            if let Some(d) = &m.reporting_interval {
                if d.is_zero() {
                    out.error(&p.field("reportingInterval"), "must be greater than zero");
                }
            }
            for (j, o) in m.overrides.iter().enumerate() {
                let op = p.field("overrides").index(j);
                if let Some(sel) = &o.match_ {
                    if sel.metric.is_some() && sel.custom_metric.is_some() {
                        out.error(
                            &op.field("match"),
                            "set either metric or customMetric, not both",
                        );
                    }
                    if sel.custom_metric.as_deref() == Some("") {
                        out.error(
                            &op.field("match").field("customMetric"),
                            "must not be empty",
                        );
                    }
                }
                for (tag, t) in &o.tag_overrides {
                    let tp = op.field("tagOverrides").field(tag);
                    if tag.is_empty() {
                        out.error(&tp, "tag names must not be empty");
                    }
                    match (t.operation, &t.value) {
                        (TagOperation::Upsert, None) => {
                            out.error(&tp.field("value"), "UPSERT needs a value");
                        }
                        (TagOperation::Remove, Some(_)) => {
                            out.error(&tp.field("value"), "REMOVE takes no value");
                        }
                        _ => {}
                    }
                }
            }
        }
        for (i, a) in self.access_logging.iter().enumerate() {
            let p = at.field("accessLogging").index(i);
            validate_providers(&a.providers, &p.field("providers"), out);
        }
    }
}
