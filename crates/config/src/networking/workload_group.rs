//! WorkloadGroup: a template for WorkloadEntries of VMs that register themselves, with a
//! readiness probe.

use super::checks::{self, check_labels};
use super::workload_entry::WorkloadEntry;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The spec of a WorkloadGroup.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadGroup {
    /// Labels and annotations copied to each generated WorkloadEntry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<WorkloadGroupMetadata>,
    /// Required: the template for generated WorkloadEntries (address and labels are filled in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Box<WorkloadEntry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Box<ReadinessProbe>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadGroupMetadata {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// How the agent on the VM checks that the workload is ready (one of httpGet, tcpSocket, exec
/// or grpc).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReadinessProbe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpHealthCheckConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpHealthCheckConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecHealthCheckConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcHealthCheckConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHealthCheckConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default)]
    pub port: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<HttpHeader>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpHealthCheckConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default)]
    pub port: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecHealthCheckConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrpcHealthCheckConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

impl ReadinessProbe {
    fn check(&self, at: &FieldPath, out: &mut Findings) {
        for (field, v) in [
            ("initialDelaySeconds", self.initial_delay_seconds),
            ("timeoutSeconds", self.timeout_seconds),
            ("periodSeconds", self.period_seconds),
            ("successThreshold", self.success_threshold),
            ("failureThreshold", self.failure_threshold),
        ] {
            if let Some(n) = v.filter(|n| *n < 0) {
                out.error(
                    &at.field(field),
                    format!("{field} must not be negative (got {n})"),
                );
            }
        }
        let methods = [
            self.http_get.is_some(),
            self.tcp_socket.is_some(),
            self.exec.is_some(),
            self.grpc.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if methods == 0 {
            out.error(at, "a probe needs one of httpGet, tcpSocket, exec or grpc");
        } else if methods > 1 {
            out.error(
                at,
                "a probe takes only one of httpGet, tcpSocket, exec or grpc",
            );
        }
        if let Some(h) = &self.http_get {
            let p = at.field("httpGet");
            checks::check_port(h.port, &p.field("port"), out);
            if let Some(s) = h.scheme.as_deref().filter(|s| !s.is_empty()) {
                if s != "HTTP" && s != "HTTPS" {
                    out.error(
                        &p.field("scheme"),
                        format!("scheme {s:?} must be HTTP or HTTPS"),
                    );
                }
            }
            for (i, hd) in h.http_headers.iter().enumerate() {
                let name = hd.name.as_deref().unwrap_or("");
                let ok = !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !ok {
                    out.error(
                        &p.field("httpHeaders").index(i).field("name"),
                        format!("probe header name {name:?} must be letters, digits and '-'"),
                    );
                }
            }
        }
        if let Some(t) = &self.tcp_socket {
            checks::check_port(t.port, &at.field("tcpSocket").field("port"), out);
        }
        if let Some(e) = &self.exec {
            let p = at.field("exec").field("command");
            if e.command.is_empty() {
                out.error(&p, "exec needs a command");
            }
            for (i, c) in e.command.iter().enumerate() {
                if c.is_empty() {
                    out.error(&p.index(i), "command arguments must not be empty");
                }
            }
        }
        if let Some(g) = &self.grpc {
            if let Some(port) = g.port {
                checks::check_port(port, &at.field("grpc").field("port"), out);
            }
        }
    }
}

impl Validate for WorkloadGroup {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        match &self.template {
            None => out.error(&at.field("template"), "template is required"),
            // Address and labels are filled in per workload, so only the rest is checked.
            Some(t) => t.check_ports_and_labels(None, &at.field("template"), out),
        }
        if let Some(m) = &self.metadata {
            check_labels(&m.labels, &at.field("metadata").field("labels"), out);
        }
        if let Some(p) = &self.probe {
            p.check(&at.field("probe"), out);
        }
    }
}
