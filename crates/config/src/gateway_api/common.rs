//! Types and checks shared by the Gateway API kinds: references, hostnames and names.

use crate::validate::{common, Findings};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

pub const GROUP: &str = "gateway.networking.k8s.io";

/// A reference from a route to the Gateway (or Service, for mesh routing) it attaches to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentReference {
    /// Default `gateway.networking.k8s.io`; `""` is the core group (Services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Default `Gateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Default: the route's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: String,
    /// A listener name (Gateway) or port name (Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

impl ParentReference {
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(GROUP)
    }

    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("Gateway")
    }
}

/// A reference to a backend: by default a Service (core group) port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendObjectReference {
    /// Default `""` (the core group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Default `Service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

impl BackendObjectReference {
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("Service")
    }

    /// Whether the reference is to a Kubernetes Service, which needs a port.
    pub fn is_service(&self) -> bool {
        self.group().is_empty() && self.kind() == "Service"
    }
}

/// A reference to a Secret (or other certificate holder).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretObjectReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A route or listener hostname: a DNS name, optionally with a leading `*.` label; never an IP.
pub fn validate_hostname(h: &str, at: &FieldPath, out: &mut Findings) {
    if h.parse::<std::net::IpAddr>().is_ok() {
        out.error(
            at,
            format!("{h:?} is an IP address; a hostname is required"),
        );
        return;
    }
    let rest = h.strip_prefix("*.").unwrap_or(h);
    if h.len() > 253 || rest.contains('*') || !common::is_k8s_dns1123_subdomain(rest) {
        out.error(
            at,
            format!("{h:?} is not a valid hostname: lower-case DNS labels, with at most a leading \"*.\""),
        );
    }
}

/// Listener, rule and section names: a DNS-1123 label-like name.
pub fn validate_section_name(name: &str, at: &FieldPath, out: &mut Findings) {
    if name.is_empty() || name.len() > 253 || !common::is_k8s_dns1123_subdomain(name) {
        out.error(
            at,
            format!("{name:?} is not a valid name: lower-case letters, digits, '-' and '.'"),
        );
    }
}

pub fn validate_port(port: i64, at: &FieldPath, out: &mut Findings) {
    if !(1..=65535).contains(&port) {
        out.error(at, format!("{port} is not a port in 1..65535"));
    }
}

pub fn validate_parent_ref(r: &ParentReference, at: &FieldPath, out: &mut Findings) {
    if r.name.is_empty() {
        out.error(&at.field("name"), "the name of the parent is required");
    }
    if let Some(ns) = &r.namespace {
        if !common::is_k8s_dns1123_label(ns) {
            out.error(
                &at.field("namespace"),
                format!("{ns:?} is not a valid namespace"),
            );
        }
    }
    if let Some(s) = &r.section_name {
        validate_section_name(s, &at.field("sectionName"), out);
    }
    if let Some(p) = r.port {
        validate_port(p, &at.field("port"), out);
    }
}

pub fn validate_backend_ref(r: &BackendObjectReference, at: &FieldPath, out: &mut Findings) {
    if r.name.is_empty() {
        out.error(&at.field("name"), "the name of the backend is required");
    }
    if let Some(ns) = &r.namespace {
        if !common::is_k8s_dns1123_label(ns) {
            out.error(
                &at.field("namespace"),
                format!("{ns:?} is not a valid namespace"),
            );
        }
    }
    match r.port {
        Some(p) => validate_port(p, &at.field("port"), out),
        None if r.is_service() => out.error(
            &at.field("port"),
            "a port is required when the backend is a Service",
        ),
        None => {}
    }
}
