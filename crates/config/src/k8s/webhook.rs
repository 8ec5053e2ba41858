//! Admission webhook configurations (admissionregistration.k8s.io/v1): how the API server calls
//! the sidecar injector and Istio's config validation. verimesh reads which webhooks exist,
//! where they send requests, and which namespaces and objects they select.

use super::common::{validate_label_selector, LabelSelector};
use crate::validate::{common, Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutatingWebhookConfiguration {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Webhook>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatingWebhookConfiguration {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<Webhook>,
}

/// One webhook; mutating and validating webhooks share these fields (`reinvocationPolicy` is
/// only meaningful for mutating ones).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    /// Fully qualified, e.g. `namespace.sidecar-injector.istio.io`.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub client_config: WebhookClientConfig,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleWithOperations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_policy: Option<String>,
    /// Namespaces whose objects are sent; absent selects every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Objects sent, by their own labels; absent selects every object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_effects: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub admission_review_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinvocation_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_conditions: Vec<serde_json::Value>,
}

/// Where the API server sends admission requests: a URL, or a Service in the cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookClientConfig {
    /// `None` when absent or `null`; an external control plane is reached this way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceReference>,
    /// PEM bundle, base64; may be left for a controller to fill in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceReference {
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Default 443.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleWithOperations {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl Validate for MutatingWebhookConfiguration {
    fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        validate_webhooks(&self.webhooks, true, cx, at, out);
    }
}

impl Validate for ValidatingWebhookConfiguration {
    fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        validate_webhooks(&self.webhooks, false, cx, at, out);
    }
}

/// Warns that a cluster-scoped object's namespace is ignored.
pub(crate) fn warn_cluster_scoped(cx: &Context<'_>, kind: &str, out: &mut Findings) {
    if cx.meta.namespace.is_some() {
        out.warning(
            &FieldPath::root().field("metadata").field("namespace"),
            format!("a {kind} is not namespaced; this field is ignored"),
        );
    }
}

fn validate_webhooks(
    hooks: &[Webhook],
    mutating: bool,
    cx: &Context<'_>,
    at: &FieldPath,
    out: &mut Findings,
) {
    let kind = if mutating {
        "MutatingWebhookConfiguration"
    } else {
        "ValidatingWebhookConfiguration"
    };
    warn_cluster_scoped(cx, kind, out);
    let mut names = BTreeSet::new();
    for (i, h) in hooks.iter().enumerate() {
        let p = at.field("webhooks").index(i);
        let name = p.field("name");
        if h.name.is_empty() {
            out.error(&name, "a webhook needs a name");
        } else if !common::is_k8s_dns1123_subdomain(&h.name) || h.name.split('.').count() < 3 {
            out.error(
                &name,
                format!("{:?} must be a fully qualified name of at least three DNS labels, such as sidecar-injector.istio.io", h.name),
            );
        } else if !names.insert(h.name.as_str()) {
            out.error(&name, format!("duplicate webhook name {:?}", h.name));
        }
        validate_client_config(&h.client_config, &p.field("clientConfig"), out);
        check_one_of(
            h.failure_policy.as_deref(),
            &["Ignore", "Fail"],
            &p.field("failurePolicy"),
            out,
        );
        check_one_of(
            h.match_policy.as_deref(),
            &["Exact", "Equivalent"],
            &p.field("matchPolicy"),
            out,
        );
        match h.side_effects.as_deref() {
            None => out.error(
                &p.field("sideEffects"),
                "required: one of None or NoneOnDryRun",
            ),
            Some(v) => check_one_of(
                Some(v),
                &["None", "NoneOnDryRun"],
                &p.field("sideEffects"),
                out,
            ),
        }
        if let Some(t) = h.timeout_seconds {
            if !(1..=30).contains(&t) {
                out.error(
                    &p.field("timeoutSeconds"),
                    format!("{t} is out of range: must be 1 to 30 seconds"),
                );
            }
        }
        if h.admission_review_versions.is_empty() {
            out.error(
                &p.field("admissionReviewVersions"),
                "required: the AdmissionReview versions the webhook accepts, such as v1",
            );
        }
        if mutating {
            check_one_of(
                h.reinvocation_policy.as_deref(),
                &["Never", "IfNeeded"],
                &p.field("reinvocationPolicy"),
                out,
            );
        } else if h.reinvocation_policy.is_some() {
            out.error(
                &p.field("reinvocationPolicy"),
                "only mutating webhooks can be reinvoked",
            );
        }
        if let Some(s) = &h.namespace_selector {
            validate_label_selector(s, &p.field("namespaceSelector"), out);
        }
        if let Some(s) = &h.object_selector {
            validate_label_selector(s, &p.field("objectSelector"), out);
        }
        for (j, r) in h.rules.iter().enumerate() {
            let rp = p.field("rules").index(j);
            for (k, op) in r.operations.iter().enumerate() {
                check_one_of(
                    Some(op),
                    &["*", "CREATE", "UPDATE", "DELETE", "CONNECT"],
                    &rp.field("operations").index(k),
                    out,
                );
            }
            check_one_of(
                r.scope.as_deref(),
                &["*", "Cluster", "Namespaced"],
                &rp.field("scope"),
                out,
            );
        }
    }
}

fn check_one_of(v: Option<&str>, allowed: &[&str], at: &FieldPath, out: &mut Findings) {
    if let Some(v) = v {
        if !allowed.contains(&v) {
            out.error(at, format!("{v:?} is not one of: {}", allowed.join(", ")));
        }
    }
}

fn validate_client_config(c: &WebhookClientConfig, at: &FieldPath, out: &mut Findings) {
    match (&c.url, &c.service) {
        (Some(_), Some(_)) => out.error(at, "set either url or service, not both"),
        (None, None) => out.error(at, "exactly one of url or service is required"),
        (Some(url), None) => {
            let p = at.field("url");
            match url.strip_prefix("https://") {
                None => out.error(&p, format!("{url:?} must be an https:// URL")),
                Some(rest) => {
                    if rest.is_empty() || rest.starts_with('/') {
                        out.error(&p, format!("{url:?} has no host"));
                    }
                    if rest.contains('?') || rest.contains('#') {
                        out.error(&p, format!("{url:?} must not have a query or fragment"));
                    }
                }
            }
        }
        (None, Some(s)) => {
            let p = at.field("service");
            if s.name.is_empty() {
                out.error(&p.field("name"), "the service name is required");
            }
            if s.namespace.is_empty() {
                out.error(&p.field("namespace"), "the service namespace is required");
            }
            if let Some(port) = s.port {
                if !(1..=65535).contains(&port) {
                    out.error(
                        &p.field("port"),
                        format!("{port} is not a port in 1..65535"),
                    );
                }
            }
            if let Some(path) = &s.path {
                if !path.is_empty() && !path.starts_with('/') {
                    out.error(&p.field("path"), format!("{path:?} must start with '/'"));
                }
            }
        }
    }
}
