//! VirtualService: traffic routing rules for a set of hosts, for HTTP, TLS (by SNI) and TCP.

use super::checks::{self, check_export_to, check_gateway_names, check_labels};
use super::common::Destination;
use super::http_route::{is_jwt_claim_header, HttpRoute, RouteType};
use crate::validate::common::validate_ip_or_cidr;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The spec of a VirtualService.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VirtualService {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http: Vec<HttpRoute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<TlsRoute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp: Vec<TcpRoute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
}

/// Routes unterminated TLS (and HTTPS) traffic by SNI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsRoute {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<TlsMatchAttributes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
}

/// Routes opaque TCP traffic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpRoute {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub r#match: Vec<L4MatchAttributes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteDestination>,
}

/// A weighted destination of a TLS or TCP route.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// Layer 4 connection match attributes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct L4MatchAttributes {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_subnet: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_namespace: Option<String>,
}

/// TLS connection match attributes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsMatchAttributes {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sni_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateways: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_namespace: Option<String>,
}

const MESH: &str = "mesh";

/// A host of a VirtualService bound to gateways; with TLS routes it may also be the
/// `outbound_.<port>_._.<host>` name that AUTO_PASSTHROUGH gateways use.
fn gateway_bound_host(sni: bool, host: &str) -> Result<(), String> {
    if sni && host.starts_with("outbound_") {
        let parts: Vec<&str> = host.split('_').collect();
        if parts.len() < 4 || parts[0] != "outbound" {
            return Err(format!(
                "host {host:?} must follow the form outbound_.<port>_._.<hostname>"
            ));
        }
        let port = parts[1].trim_matches('.');
        let name = parts[3].trim_matches('.');
        if !port.bytes().any(|b| b.is_ascii_digit())
            || !name.bytes().any(|b| b.is_ascii_alphabetic())
        {
            return Err(format!(
                "host {host:?} must follow the form outbound_.<port>_._.<hostname>"
            ));
        }
        if host.len() > 255 {
            return Err(format!("host {host:?} is longer than 255 characters"));
        }
        return Ok(());
    }
    checks::wildcard_host(host)
}

fn check_route_destinations(routes: &[RouteDestination], at: &FieldPath, out: &mut Findings) {
    let mut total: i64 = 0;
    for (i, r) in routes.iter().enumerate() {
        let p = at.index(i);
        match &r.destination {
            None => out.error(&p.field("destination"), "destination is required"),
            Some(d) => d.check(&p.field("destination"), out),
        }
        let w = r.weight.unwrap_or(0);
        if w < 0 {
            out.error(
                &p.field("weight"),
                format!("weight {w} must not be negative"),
            );
        }
        total += i64::from(w);
    }
    if routes.len() > 1 && total == 0 {
        out.error(
            at,
            "with several destinations, at least one needs a weight above 0 (all weights are 0)",
        );
    }
}

fn check_subnets(subnets: &[String], at: &FieldPath, out: &mut Findings) {
    for (i, s) in subnets.iter().enumerate() {
        out.check(&at.index(i), validate_ip_or_cidr(s));
    }
}

fn check_source_namespace(ns: &Option<String>, at: &FieldPath, out: &mut Findings) {
    if let Some(ns) = ns.as_deref().filter(|s| !s.is_empty()) {
        if !crate::validate::common::is_dns1123_label(ns) {
            out.error(
                at,
                format!("sourceNamespace {ns:?} is not a valid namespace name"),
            );
        }
    }
}

impl VirtualService {
    fn has_sni_hosts(&self) -> bool {
        self.tls
            .iter()
            .any(|t| t.r#match.iter().any(|m| !m.sni_hosts.is_empty()))
    }

    fn check_sni_host(&self, sni: &str, at: &FieldPath, out: &mut Findings) {
        let res = if self.gateways.iter().any(|g| g == MESH) {
            checks::wildcard_host(sni)
        } else {
            gateway_bound_host(true, sni)
        };
        if let Err(e) = res {
            if checks::is_ip(sni) {
                out.warning(
                    at,
                    format!("SNI {sni:?} is an IP address, which the SNI standard forbids and most clients never send"),
                );
            } else {
                out.error(at, e);
            }
            return;
        }
        if !self.hosts.iter().any(|h| checks::host_subset_of(sni, h)) {
            out.error(
                at,
                format!(
                    "SNI host {sni:?} is not covered by any of the VirtualService hosts [{}]",
                    self.hosts.join(", ")
                ),
            );
        }
    }

    fn check_hosts(&self, applies_to_gateway: bool, at: &FieldPath, out: &mut Findings) {
        let sni = self.has_sni_hosts();
        let mut all_valid = true;
        for (i, h) in self.hosts.iter().enumerate() {
            let p = at.field("hosts").index(i);
            let res = if applies_to_gateway {
                gateway_bound_host(sni, h)
            } else {
                checks::wildcard_host(h)
            };
            match res {
                Err(e) => {
                    if !checks::is_ip(h) {
                        out.error(&p, e);
                        all_valid = false;
                    }
                }
                Ok(()) if !applies_to_gateway && h == "*" => {
                    out.error(
                        &p,
                        "host \"*\" is not allowed for a VirtualService that applies to the mesh (sidecars); name the services",
                    );
                    all_valid = false;
                }
                Ok(()) => {}
            }
        }
        if all_valid {
            for j in 0..self.hosts.len() {
                for i in 0..j {
                    if checks::hosts_overlap(&self.hosts[i], &self.hosts[j]) {
                        out.error(
                            &at.field("hosts").index(j),
                            format!(
                                "host {:?} overlaps host {:?} given before it",
                                self.hosts[j], self.hosts[i]
                            ),
                        );
                    }
                }
            }
        }
    }
}

impl Validate for VirtualService {
    fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        let delegate = self.hosts.is_empty();
        if delegate {
            for (field, set) in [
                ("gateways", !self.gateways.is_empty()),
                ("tls", !self.tls.is_empty()),
                ("tcp", !self.tcp.is_empty()),
            ] {
                if set {
                    out.error(
                        &at.field(field),
                        format!("a VirtualService without hosts is a delegate and cannot have {field}; add hosts or remove {field}"),
                    );
                }
            }
        }
        check_gateway_names(&self.gateways, &at.field("gateways"), out);
        let applies_to_gateway =
            !self.gateways.is_empty() && !self.gateways.iter().any(|g| g == MESH);
        if !applies_to_gateway {
            for (i, h) in self.http.iter().enumerate() {
                for (j, m) in h.r#match.iter().enumerate() {
                    let mp = at.field("http").index(i).field("match").index(j);
                    for (field, map) in [
                        ("headers", &m.headers),
                        ("withoutHeaders", &m.without_headers),
                    ] {
                        for key in map.keys().filter(|k| is_jwt_claim_header(k)) {
                            out.error(
                                &mp.field(field).field(key),
                                "routing on JWT claims is only supported on gateways; this VirtualService applies to sidecars",
                            );
                        }
                    }
                }
            }
        }
        self.check_hosts(applies_to_gateway, at, out);
        if self.http.is_empty() && self.tcp.is_empty() && self.tls.is_empty() {
            out.error(at, "a VirtualService needs http, tls or tcp routes");
        }
        for (i, h) in self.http.iter().enumerate() {
            let route_type = if delegate {
                RouteType::Delegate
            } else if h.delegate.is_some() {
                RouteType::Root
            } else {
                RouteType::Independent
            };
            h.check(route_type, &at.field("http").index(i), out);
        }
        for (i, t) in self.tls.iter().enumerate() {
            let p = at.field("tls").index(i);
            if t.r#match.is_empty() {
                out.error(&p.field("match"), "a TLS route needs at least one match");
            }
            for (j, m) in t.r#match.iter().enumerate() {
                let mp = p.field("match").index(j);
                if m.sni_hosts.is_empty() {
                    out.error(
                        &mp.field("sniHosts"),
                        "a TLS match needs at least one SNI host",
                    );
                }
                for (k, sni) in m.sni_hosts.iter().enumerate() {
                    self.check_sni_host(sni, &mp.field("sniHosts").index(k), out);
                }
                check_subnets(&m.destination_subnets, &mp.field("destinationSubnets"), out);
                if let Some(port) = m.port.filter(|p| *p != 0) {
                    checks::check_port(port, &mp.field("port"), out);
                }
                check_labels(&m.source_labels, &mp.field("sourceLabels"), out);
                check_gateway_names(&m.gateways, &mp.field("gateways"), out);
                check_source_namespace(&m.source_namespace, &mp.field("sourceNamespace"), out);
            }
            if t.route.is_empty() {
                out.error(
                    &p.field("route"),
                    "a TLS route needs at least one destination",
                );
            }
            check_route_destinations(&t.route, &p.field("route"), out);
        }
        for (i, t) in self.tcp.iter().enumerate() {
            let p = at.field("tcp").index(i);
            for (j, m) in t.r#match.iter().enumerate() {
                let mp = p.field("match").index(j);
                check_subnets(&m.destination_subnets, &mp.field("destinationSubnets"), out);
                if let Some(s) = m.source_subnet.as_deref().filter(|s| !s.is_empty()) {
                    out.check(&mp.field("sourceSubnet"), validate_ip_or_cidr(s));
                }
                if let Some(port) = m.port.filter(|p| *p != 0) {
                    checks::check_port(port, &mp.field("port"), out);
                }
                check_labels(&m.source_labels, &mp.field("sourceLabels"), out);
                check_gateway_names(&m.gateways, &mp.field("gateways"), out);
                check_source_namespace(&m.source_namespace, &mp.field("sourceNamespace"), out);
            }
            if t.route.is_empty() {
                out.error(
                    &p.field("route"),
                    "a TCP route needs at least one destination",
                );
            }
            check_route_destinations(&t.route, &p.field("route"), out);
        }
        check_export_to(
            cx.meta.namespace_or_default(),
            &self.export_to,
            false,
            false,
            &at.field("exportTo"),
            out,
        );
        super::unreachable::check_unreachable(self, at, out);
    }
}
