//! ServiceEntry: adds services (often external ones) to Istio's service registry.

use super::checks::{self, check_export_to, check_protocol, check_workload_selector, Protocol};
use super::common::WorkloadSelector;
use super::workload_entry::{AddressRule, WorkloadEntry};
use crate::validate::common::{validate_ip_or_cidr, validate_port_name};
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

/// The spec of a ServiceEntry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntry {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<WorkloadEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<WorkloadSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_names: Vec<String>,
}

/// Whether the service is part of the mesh (mTLS, policies) or outside it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Location {
    #[default]
    MeshExternal,
    MeshInternal,
}

/// How the proxy finds the service's endpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resolution {
    /// Forward to the IP address the caller connected to.
    #[default]
    None,
    /// Use the endpoints' IP addresses.
    Static,
    /// Resolve the endpoints (or hosts) asynchronously by DNS, using every address.
    Dns,
    /// Resolve by DNS, using only the first address.
    DnsRoundRobin,
    /// Resolve the requested (wildcard) host by DNS at request time.
    DynamicDns,
}

impl Resolution {
    fn name(self) -> &'static str {
        match self {
            Resolution::None => "NONE",
            Resolution::Static => "STATIC",
            Resolution::Dns => "DNS",
            Resolution::DnsRoundRobin => "DNS_ROUND_ROBIN",
            Resolution::DynamicDns => "DYNAMIC_DNS",
        }
    }
}

/// A port of the service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    #[serde(default)]
    pub number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u32>,
}

impl ServicePort {
    fn protocol(&self) -> Option<Protocol> {
        Protocol::parse(self.protocol.as_deref().unwrap_or(""))
    }
}

impl ServiceEntry {
    fn check_ports(&self, at: &FieldPath, out: &mut Findings) {
        let mut names: Vec<&str> = Vec::new();
        let mut numbers: Vec<u32> = Vec::new();
        for (i, port) in self.ports.iter().enumerate() {
            let p = at.field("ports").index(i);
            if names.contains(&port.name.as_str()) {
                out.error(
                    &p.field("name"),
                    format!("port name {:?} is already used by another port", port.name),
                );
            }
            names.push(&port.name);
            if numbers.contains(&port.number) {
                out.error(
                    &p.field("number"),
                    format!(
                        "port number {} is already used by another port",
                        port.number
                    ),
                );
            }
            numbers.push(port.number);
            if let Some(t) = port.target_port.filter(|t| *t != 0) {
                checks::check_port(t, &p.field("targetPort"), out);
            }
            out.check(&p.field("name"), validate_port_name(&port.name));
            check_protocol(
                port.protocol.as_deref().unwrap_or(""),
                &p.field("protocol"),
                out,
            );
            checks::check_port(port.number, &p.field("number"), out);
        }
    }

    fn check_resolution(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        let resolution = self.resolution.unwrap_or_default();
        let port_names: Vec<&str> = self.ports.iter().map(|p| p.name.as_str()).collect();
        match resolution {
            Resolution::None => {
                if !self.endpoints.is_empty() {
                    out.error(&at.field("endpoints"), "resolution NONE forwards to the original destination, so it takes no endpoints");
                }
                if self.workload_selector.is_some() {
                    out.warning(
                        &at.field("workloadSelector"),
                        "workloadSelector has no effect with resolution NONE",
                    );
                }
            }
            Resolution::Static => {
                for (i, e) in self.endpoints.iter().enumerate() {
                    e.check(
                        AddressRule::IpOnly,
                        Some(&port_names),
                        &at.field("endpoints").index(i),
                        out,
                    );
                }
            }
            Resolution::Dns | Resolution::DnsRoundRobin => {
                if self.endpoints.is_empty() {
                    if let Some((i, h)) = self
                        .hosts
                        .iter()
                        .enumerate()
                        .find(|(_, h)| checks::fqdn(h).is_err())
                    {
                        out.error(
                            &at.field("hosts").index(i),
                            format!("with resolution {} and no endpoints the hosts are resolved, so {h:?} must be a fully qualified domain name", resolution.name()),
                        );
                    }
                }
                if resolution == Resolution::DnsRoundRobin && self.endpoints.len() > 1 {
                    out.error(
                        &at.field("endpoints"),
                        "resolution DNS_ROUND_ROBIN takes at most one endpoint",
                    );
                }
                for (i, e) in self.endpoints.iter().enumerate() {
                    e.check(
                        AddressRule::IpOrFqdn,
                        Some(&port_names),
                        &at.field("endpoints").index(i),
                        out,
                    );
                }
                if !self.addresses.is_empty()
                    && self.hosts.len() > 1
                    && self
                        .ports
                        .iter()
                        .any(|p| p.protocol().is_some_and(Protocol::is_tcp))
                {
                    out.warning(
                        &at.field("hosts"),
                        "with addresses and a TCP port, only one host can be told apart; use one ServiceEntry per host",
                    );
                }
            }
            Resolution::DynamicDns => {
                for (i, h) in self.hosts.iter().enumerate() {
                    if !h.starts_with('*') {
                        out.error(&at.field("hosts").index(i), format!("resolution DYNAMIC_DNS needs wildcard hosts (like *.example.com), not {h:?}"));
                    }
                }
                if !self.addresses.is_empty() {
                    out.error(&at.field("addresses"), "resolution DYNAMIC_DNS takes no addresses: the destination comes from the requested host");
                }
                if !self.endpoints.is_empty() {
                    out.error(&at.field("endpoints"), "resolution DYNAMIC_DNS takes no endpoints: the destination comes from the requested host");
                }
                for (i, p) in self.ports.iter().enumerate() {
                    let ok = matches!(
                        p.protocol(),
                        Some(Protocol::Http | Protocol::Tls | Protocol::Grpc | Protocol::Http2)
                    );
                    if !ok {
                        out.error(
                            &at.field("ports").index(i).field("protocol"),
                            "resolution DYNAMIC_DNS supports only HTTP, TLS, GRPC and HTTP2 ports",
                        );
                    }
                }
                let waypoint = cx
                    .meta
                    .labels
                    .get("istio.io/use-waypoint")
                    .is_some_and(|v| !v.is_empty() && !v.eq_ignore_ascii_case("none"));
                if self.location == Some(Location::MeshInternal) && waypoint {
                    out.error(&at.field("location"), "location MESH_INTERNAL with resolution DYNAMIC_DNS is not supported with a waypoint");
                }
            }
        }
        if resolution != Resolution::None && self.hosts.len() > 1 {
            if let Some(i) = self
                .ports
                .iter()
                .position(|p| !p.protocol().is_some_and(|pr| pr.is_http() || pr.is_tls()))
            {
                out.error(
                    &at.field("ports").index(i).field("protocol"),
                    format!("with several hosts and resolution {}, every port must be HTTP or TLS so the host can be told apart", resolution.name()),
                );
            }
        }
    }
}

impl Validate for ServiceEntry {
    fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        if let Some(sel) = &self.workload_selector {
            check_workload_selector(sel, &at.field("workloadSelector"), out);
            if !self.endpoints.is_empty() {
                out.error(
                    &at.field("endpoints"),
                    "endpoints and workloadSelector cannot both be set",
                );
            }
        }
        if self.hosts.is_empty() {
            out.error(&at.field("hosts"), "a ServiceEntry needs at least one host");
        }
        let resolution = self.resolution.unwrap_or_default();
        for (i, h) in self.hosts.iter().enumerate() {
            let p = at.field("hosts").index(i);
            if h == "*" {
                out.error(
                    &p,
                    "host \"*\" is not allowed; name the hosts (a \"*.\" prefix is allowed)",
                );
                continue;
            }
            out.check(&p, checks::wildcard_host(h));
            if resolution != Resolution::DynamicDns && h.contains('*') && !h.starts_with("*.") {
                out.warning(
                    &p,
                    format!("partial wildcard {h:?} is not supported; use a \"*.\" prefix"),
                );
            }
        }
        let mut cidr = false;
        for (i, a) in self.addresses.iter().enumerate() {
            cidr |= a.contains('/');
            out.check(&at.field("addresses").index(i), validate_ip_or_cidr(a));
        }
        if cidr && !matches!(resolution, Resolution::None | Resolution::Static) {
            out.error(
                &at.field("addresses"),
                "CIDR addresses are allowed only with resolution NONE or STATIC",
            );
        }
        self.check_ports(at, out);
        self.check_resolution(cx, at, out);
        check_export_to(
            cx.meta.namespace_or_default(),
            &self.export_to,
            true,
            false,
            &at.field("exportTo"),
            out,
        );
    }
}
