//! Gateway: a load balancer at the edge of the mesh, with the ports, protocols, hosts and TLS
//! settings it serves.

use super::checks::{self, check_namespace_slash_host, check_protocol, UNIX_PREFIX};
use super::tls::{ServerTlsMode, ServerTlsSettings};
use crate::validate::common::{is_dns1123_label, validate_ip, validate_unix_address};
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The spec of a Gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<Server>,
    /// Labels of the gateway pods this configuration applies to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
}

/// One listener of a gateway.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTlsSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A port a gateway listens on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    #[serde(default)]
    pub number: u32,
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub name: String,
    /// Deprecated; has no effect on gateways.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u32>,
}

impl Server {
    fn check(&self, at: &FieldPath, out: &mut Findings) {
        if self.hosts.is_empty() {
            out.error(&at.field("hosts"), "a server needs at least one host");
        }
        for (i, h) in self.hosts.iter().enumerate() {
            check_namespace_slash_host(h, true, &at.field("hosts").index(i), out);
        }
        let bind = self.bind.as_deref().unwrap_or("");
        let mut port_ok = false;
        let mut protocol = None;
        match &self.port {
            None => out.error(&at.field("port"), "a server needs a port"),
            Some(port) => {
                let pp = at.field("port");
                let before = out.items.len();
                protocol = check_protocol(&port.protocol, &pp.field("protocol"), out);
                if port.protocol.is_empty() {
                    out.error(
                        &pp.field("protocol"),
                        format!("port protocol is required; one of {}", checks::PROTOCOLS),
                    );
                }
                if port.number > 0 || !bind.starts_with(UNIX_PREFIX) {
                    checks::check_port(port.number, &pp.field("number"), out);
                }
                if port.target_port.is_some_and(|t| t > 0) {
                    out.error(
                        &pp.field("targetPort"),
                        "targetPort has no effect on gateways; remove it",
                    );
                }
                if port.name.is_empty() {
                    out.error(&pp.field("name"), "port name is required");
                }
                port_ok = out.items.len() == before;
            }
        }
        if let Some(path) = bind.strip_prefix(UNIX_PREFIX) {
            out.check(&at.field("bind"), validate_unix_address(path));
            if self.port.as_ref().is_some_and(|p| p.number != 0) {
                out.error(
                    &at.field("port").field("number"),
                    "a server bound to a unix domain socket must have port number 0",
                );
            }
        } else if !bind.is_empty() {
            out.check(&at.field("bind"), validate_ip(bind));
        }
        if let Some(tls) = &self.tls {
            tls.check(&at.field("tls"), out);
        }
        if port_ok {
            let is_tls = protocol.is_some_and(|p| p.is_tls());
            let is_http = protocol.is_some_and(|p| p.is_http());
            match &self.tls {
                None if is_tls => {
                    out.error(&at.field("tls"), "HTTPS and TLS servers need tls settings")
                }
                Some(tls) if !is_tls => {
                    let passthrough = matches!(
                        tls.mode(),
                        ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough
                    );
                    let has_certs = [
                        &tls.ca_certificates,
                        &tls.private_key,
                        &tls.server_certificate,
                    ]
                    .iter()
                    .any(|s| s.as_deref().is_some_and(|s| !s.is_empty()));
                    if is_http {
                        if !passthrough || has_certs {
                            out.error(
                                &at.field("tls"),
                                "a plain-text HTTP server may only use tls.httpsRedirect; serve TLS on an HTTPS port",
                            );
                        }
                    } else {
                        out.error(
                            &at.field("tls"),
                            "only HTTPS and TLS servers may have tls settings",
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

impl Validate for Gateway {
    fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        let name = &cx.meta.name;
        if !name.is_empty() && !is_dns1123_label(name) {
            out.error(
                &FieldPath::root().field("metadata").field("name"),
                format!("gateway name {name:?} must be a DNS-1123 label (no dots), so VirtualServices can refer to it"),
            );
        }
        if self.servers.is_empty() {
            out.error(&at.field("servers"), "a gateway needs at least one server");
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, s) in self.servers.iter().enumerate() {
            let p = at.field("servers").index(i);
            s.check(&p, out);
            if let Some(port) = &s.port {
                if names.contains(&port.name.as_str()) {
                    out.error(
                        &p.field("port").field("name"),
                        format!(
                            "port name {:?} is used by another server; port names must be unique",
                            port.name
                        ),
                    );
                }
                names.push(&port.name);
                let http = checks::Protocol::parse(&port.protocol).is_some_and(|p| p.is_http());
                if !http && s.tls.as_ref().and_then(|t| t.https_redirect) == Some(true) {
                    out.warning(
                        &p.field("tls").field("httpsRedirect"),
                        "httpsRedirect only makes sense on HTTP servers",
                    );
                }
            }
        }
    }
}
