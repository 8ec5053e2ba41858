//! The Kubernetes Gateway (gateway.networking.k8s.io Gateway): listeners that a GatewayClass's
//! controller (Istio, for class `istio`) programs into a deployed proxy. Fields verimesh does
//! not model are accepted, as the API grows new ones in each release.

use super::common::{
    validate_hostname, validate_port, validate_section_name, SecretObjectReference,
};
use crate::k8s::{validate_label_selector, LabelSelector};
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesGateway {
    #[serde(default)]
    pub gateway_class_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<Listener>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<GatewayAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listener {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default)]
    pub port: i64,
    /// HTTP, HTTPS, TLS, TCP, UDP, or a domain-prefixed custom protocol.
    #[serde(default)]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_routes: Option<AllowedRoutes>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerTls {
    /// `Terminate` (default) or `Passthrough`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificate_refs: Vec<SecretObjectReference>,
    /// Implementation options, e.g. `gateway.istio.io/tls-terminate-mode: ISTIO_MUTUAL`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend_validation: Option<serde_json::Value>,
}

impl ListenerTls {
    pub fn mode(&self) -> &str {
        self.mode.as_deref().unwrap_or("Terminate")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowedRoutes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<RouteNamespaces>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<RouteGroupKind>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteNamespaces {
    /// `All`, `Same` (default) or `Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteGroupKind {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default)]
    pub kind: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayAddress {
    /// `IPAddress` (default), `Hostname`, or a domain-prefixed custom type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default)]
    pub value: String,
}

const CORE_PROTOCOLS: &[&str] = &["HTTP", "HTTPS", "TLS", "TCP", "UDP"];

impl Validate for KubernetesGateway {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        if self.gateway_class_name.is_empty() {
            out.error(
                &at.field("gatewayClassName"),
                "the GatewayClass name is required",
            );
        }
        if self.listeners.is_empty() {
            out.error(&at.field("listeners"), "at least one listener is required");
        }
        if self.listeners.len() > 64 {
            out.error(&at.field("listeners"), "at most 64 listeners are allowed");
        }
        let mut names = BTreeSet::new();
        let mut bindings = BTreeSet::new();
        for (i, l) in self.listeners.iter().enumerate() {
            let p = at.field("listeners").index(i);
            validate_section_name(&l.name, &p.field("name"), out);
            if !l.name.is_empty() && !names.insert(l.name.as_str()) {
                out.error(
                    &p.field("name"),
                    format!("duplicate listener name {:?}", l.name),
                );
            }
            validate_port(l.port, &p.field("port"), out);
            let custom = l.protocol.contains('/');
            if !CORE_PROTOCOLS.contains(&l.protocol.as_str()) && !custom {
                out.error(
                    &p.field("protocol"),
                    format!(
                        "{:?} is not one of {} or a domain-prefixed protocol",
                        l.protocol,
                        CORE_PROTOCOLS.join(", ")
                    ),
                );
            }
            if let Some(h) = &l.hostname {
                validate_hostname(h, &p.field("hostname"), out);
                if matches!(l.protocol.as_str(), "TCP" | "UDP") {
                    out.error(
                        &p.field("hostname"),
                        format!("a {} listener cannot have a hostname", l.protocol),
                    );
                }
            }
            if !bindings.insert((
                l.port,
                l.protocol.as_str(),
                l.hostname.as_deref().unwrap_or(""),
            )) {
                out.error(
                    &p,
                    "another listener has the same port, protocol and hostname",
                );
            }
            match (&l.tls, l.protocol.as_str()) {
                (None, "HTTPS" | "TLS") => {
                    out.error(
                        &p.field("tls"),
                        format!("a {} listener needs tls", l.protocol),
                    );
                }
                (Some(_), "HTTP" | "TCP" | "UDP") => {
                    out.error(
                        &p.field("tls"),
                        format!("a {} listener cannot have tls", l.protocol),
                    );
                }
                (Some(tls), proto) => {
                    let tp = p.field("tls");
                    match tls.mode() {
                        "Terminate" => {
                            if tls.certificate_refs.is_empty() && tls.options.is_empty() {
                                out.error(&tp, "TLS termination needs certificateRefs (or implementation options)");
                            }
                        }
                        "Passthrough" => {
                            if proto == "HTTPS" {
                                out.error(&tp.field("mode"), "an HTTPS listener terminates TLS; use protocol TLS for passthrough");
                            }
                        }
                        m => out.error(
                            &tp.field("mode"),
                            format!("{m:?} is not one of Terminate, Passthrough"),
                        ),
                    }
                    for (j, c) in tls.certificate_refs.iter().enumerate() {
                        if c.name.is_empty() {
                            out.error(
                                &tp.field("certificateRefs").index(j).field("name"),
                                "the name is required",
                            );
                        }
                    }
                }
                _ => {}
            }
            if let Some(ns) = l
                .allowed_routes
                .as_ref()
                .and_then(|a| a.namespaces.as_ref())
            {
                let np = p.field("allowedRoutes").field("namespaces");
                match ns.from.as_deref().unwrap_or("Same") {
                    "All" | "Same" => {}
                    "Selector" => match &ns.selector {
                        None => out.error(&np.field("selector"), "from: Selector needs a selector"),
                        Some(s) => validate_label_selector(s, &np.field("selector"), out),
                    },
                    f => out.error(
                        &np.field("from"),
                        format!("{f:?} is not one of All, Same, Selector"),
                    ),
                }
            }
        }
        for (i, a) in self.addresses.iter().enumerate() {
            let p = at.field("addresses").index(i);
            match a.type_.as_deref().unwrap_or("IPAddress") {
                "IPAddress" if a.value.parse::<std::net::IpAddr>().is_err() => {
                    out.error(
                        &p.field("value"),
                        format!("{:?} is not an IP address", a.value),
                    );
                }
                "Hostname" => validate_hostname(&a.value, &p.field("value"), out),
                _ => {}
            }
        }
    }
}
