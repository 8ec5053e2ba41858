//! Sidecar: narrows what a workload's proxy listens on and which services it can reach.

use super::checks::{
    self, check_namespace_slash_host, check_protocol, check_workload_selector, UNIX_PREFIX,
};
use super::common::{Destination, WorkloadSelector};
use super::connection_pool::ConnectionPoolSettings;
use super::tls::{ServerTlsMode, ServerTlsSettings};
use crate::validate::common::{validate_ip, validate_port_name, validate_unix_address};
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The spec of a Sidecar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Sidecar {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<WorkloadSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<IstioIngressListener>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<IstioEgressListener>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_connection_pool: Option<Box<ConnectionPoolSettings>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound_traffic_policy: Option<Box<OutboundTrafficPolicy>>,
}

/// How traffic reaches a listener.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaptureMode {
    #[default]
    Default,
    Iptables,
    None,
}

/// A port the sidecar accepts inbound traffic on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IstioIngressListener {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<SidecarPort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_mode: Option<CaptureMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTlsSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPoolSettings>,
}

/// Outbound traffic the sidecar handles, and the services it can reach.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IstioEgressListener {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<SidecarPort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_mode: Option<CaptureMode>,
    /// Required: `namespace/dnsName` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SidecarPort {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Deprecated; has no effect on sidecars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboundTrafficPolicyMode {
    /// Only services in the registry are reachable.
    #[default]
    RegistryOnly,
    /// Unknown destinations are passed through.
    AllowAny,
}

/// What happens to traffic for destinations outside the registry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutboundTrafficPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<OutboundTrafficPolicyMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_proxy: Option<Destination>,
}

impl SidecarPort {
    fn number(&self) -> u32 {
        self.number.unwrap_or(0)
    }

    fn check_name_and_protocol(&self, at: &FieldPath, out: &mut Findings) {
        if let Some(name) = self.name.as_deref().filter(|n| !n.is_empty()) {
            out.check(&at.field("name"), validate_port_name(name));
        }
        check_protocol(
            self.protocol.as_deref().unwrap_or(""),
            &at.field("protocol"),
            out,
        );
        if self.target_port.is_some_and(|t| t > 0) {
            out.error(
                &at.field("targetPort"),
                "targetPort has no effect on sidecars; remove it",
            );
        }
    }
}

/// `127.0.0.1:<port>`, `0.0.0.0:<port>`, `[::1]:<port>`, `[::]:<port>`, `:<port>` or `unix://path`.
fn check_default_endpoint(ep: &str, at: &FieldPath, out: &mut Findings) {
    if let Some(path) = ep.strip_prefix(UNIX_PREFIX) {
        out.check(at, validate_unix_address(path));
        return;
    }
    let split = if let Some(rest) = ep.strip_prefix('[') {
        rest.split_once("]:")
    } else {
        ep.rsplit_once(':').filter(|(h, _)| !h.contains(':'))
    };
    let Some((host, port)) = split else {
        out.error(
            at,
            format!("defaultEndpoint {ep:?} must be <address>:<port> or unix://<path>"),
        );
        return;
    };
    if !matches!(host, "" | "127.0.0.1" | "0.0.0.0" | "::1" | "::") {
        out.error(
            at,
            "defaultEndpoint must be 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix://<path>",
        );
    }
    match port.parse::<u32>() {
        Ok(n) => checks::check_port(n, at, out),
        Err(_) => out.error(at, format!("defaultEndpoint port {port:?} is not a number")),
    }
}

impl IstioIngressListener {
    fn check(&self, port: &SidecarPort, at: &FieldPath, out: &mut Findings) {
        let pp = at.field("port");
        port.check_name_and_protocol(&pp, out);
        checks::check_port(port.number(), &pp.field("number"), out);
        if let Some(bind) = self.bind.as_deref().filter(|b| !b.is_empty()) {
            out.check(&at.field("bind"), validate_ip(bind));
        }
        if let Some(ep) = self.default_endpoint.as_deref().filter(|e| !e.is_empty()) {
            check_default_endpoint(ep, &at.field("defaultEndpoint"), out);
        }
        let protocol = checks::Protocol::parse(port.protocol.as_deref().unwrap_or(""));
        if let Some(tls) = &self.tls {
            let tp = at.field("tls");
            let unsupported = [
                ("subjectAltNames", !tls.subject_alt_names.is_empty()),
                ("httpsRedirect", tls.https_redirect == Some(true)),
                (
                    "credentialName",
                    tls.credential_name
                        .as_deref()
                        .is_some_and(|c| !c.is_empty()),
                ),
                ("credentialNames", !tls.credential_names.is_empty()),
                ("tlsCertificates", !tls.tls_certificates.is_empty()),
            ];
            for (field, set) in unsupported {
                if set {
                    out.error(
                        &tp.field(field),
                        format!("{field} is not supported on sidecar ingress listeners"),
                    );
                }
            }
            if matches!(
                tls.mode(),
                ServerTlsMode::IstioMutual | ServerTlsMode::AutoPassthrough
            ) {
                out.error(
                    &tp.field("mode"),
                    format!(
                        "mode {} cannot be used on a sidecar ingress listener",
                        tls.mode().name()
                    ),
                );
            }
            if !protocol.is_some_and(|p| p.is_tls()) {
                out.error(&tp, "only HTTPS and TLS ports may have tls settings");
            }
            tls.check(&tp, out);
        }
        if let Some(cp) = &self.connection_pool {
            cp.check(&at.field("connectionPool"), out);
            if cp.http.is_some() && !protocol.is_some_and(|p| p.is_http()) {
                out.warning(
                    &at.field("connectionPool").field("http"),
                    format!(
                        "port {} is not an HTTP port, so only the tcp connection pool settings apply",
                        port.number()
                    ),
                );
            }
        }
    }
}

impl IstioEgressListener {
    fn check_port(&self, port: &SidecarPort, at: &FieldPath, out: &mut Findings) {
        let pp = at.field("port");
        port.check_name_and_protocol(&pp, out);
        let bind = self.bind.as_deref().unwrap_or("");
        if port.number() == 0 {
            match bind.strip_prefix(UNIX_PREFIX) {
                None => out.error(
                    &pp.field("number"),
                    "port 0 is only for unix domain socket listeners; set bind to unix://<path>",
                ),
                Some(path) => out.check(&at.field("bind"), validate_unix_address(path)),
            }
            if !matches!(
                self.capture_mode.unwrap_or_default(),
                CaptureMode::Default | CaptureMode::None
            ) {
                out.error(
                    &at.field("captureMode"),
                    "unix domain socket listeners need captureMode DEFAULT or NONE",
                );
            }
        } else {
            checks::check_port(port.number(), &pp.field("number"), out);
            if !bind.is_empty() {
                out.check(&at.field("bind"), validate_ip(bind));
            }
        }
    }

    fn check_hosts(&self, namespace: &str, at: &FieldPath, out: &mut Findings) {
        let hp = at.field("hosts");
        if self.hosts.is_empty() {
            out.error(&hp, "an egress listener needs at least one host");
            return;
        }
        let mut by_ns: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (i, host) in self.hosts.iter().enumerate() {
            let p = hp.index(i);
            if let Some((ns, svc)) = host.split_once('/') {
                if !ns.starts_with('~') {
                    let ns = if ns == "." { namespace } else { ns };
                    let set = by_ns.entry(ns).or_default();
                    let duplicate = if svc == "*" {
                        !set.is_empty()
                    } else {
                        set.contains(svc) || set.contains("*")
                    };
                    if duplicate {
                        out.warning(
                            &p,
                            format!("egress host {host:?} is already covered by another entry"),
                        );
                    }
                    set.insert(svc);
                }
            }
            check_namespace_slash_host(host, false, &p, out);
        }
        if by_ns.get("*").is_some_and(|s| s.contains("*")) && by_ns.len() != 1 {
            out.warning(
                &hp,
                "\"*/*\" already selects every service; the other hosts add nothing",
            );
        }
    }
}

impl Validate for Sidecar {
    fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        if let Some(sel) = &self.workload_selector {
            check_workload_selector(sel, &at.field("workloadSelector"), out);
        }
        if self.egress.is_empty()
            && self.ingress.is_empty()
            && self.outbound_traffic_policy.is_none()
            && self.inbound_connection_pool.is_none()
        {
            out.error(
                at,
                "a Sidecar needs ingress, egress, outboundTrafficPolicy or inboundConnectionPool",
            );
            return;
        }
        let mut ports = BTreeSet::new();
        for (i, l) in self.ingress.iter().enumerate() {
            let p = at.field("ingress").index(i);
            let Some(port) = &l.port else {
                out.error(&p.field("port"), "an ingress listener needs a port");
                continue;
            };
            l.check(port, &p, out);
            if !ports.insert(port.number()) {
                out.error(
                    &p.field("port").field("number"),
                    format!("port {} is used by another ingress listener", port.number()),
                );
            }
        }
        if let Some(cp) = &self.inbound_connection_pool {
            cp.check(&at.field("inboundConnectionPool"), out);
        }
        let mut ports = BTreeSet::new();
        let mut sockets = BTreeSet::new();
        let mut catch_all = false;
        let last = self.egress.len().saturating_sub(1);
        for (i, l) in self.egress.iter().enumerate() {
            let p = at.field("egress").index(i);
            match &l.port {
                None => {
                    if catch_all {
                        out.error(&p, "only one egress listener may leave out the port");
                        continue;
                    }
                    if i == last {
                        catch_all = true;
                    } else {
                        out.error(
                            &p,
                            "the egress listener without a port must be the last one",
                        );
                    }
                }
                Some(port) => {
                    l.check_port(port, &p, out);
                    if port.number() == 0 {
                        if !sockets.insert(l.bind.as_deref().unwrap_or("")) {
                            out.error(
                                &p.field("bind"),
                                "unix domain socket listeners must use different sockets",
                            );
                        }
                    } else if !ports.insert(port.number()) {
                        out.error(
                            &p.field("port").field("number"),
                            format!("port {} is used by another egress listener", port.number()),
                        );
                    }
                }
            }
            l.check_hosts(cx.meta.namespace_or_default(), &p, out);
        }
        if let Some(otp) = &self.outbound_traffic_policy {
            let p = at.field("outboundTrafficPolicy");
            if let Some(proxy) = &otp.egress_proxy {
                let ep = p.field("egressProxy");
                if otp.mode.unwrap_or_default() != OutboundTrafficPolicyMode::AllowAny {
                    out.error(&ep, "egressProxy can only be set with mode ALLOW_ANY");
                } else {
                    out.check(&ep.field("host"), checks::fqdn(&proxy.host));
                    if proxy.port.is_none() {
                        out.error(&ep.field("port"), "egressProxy needs a port");
                    } else {
                        proxy.check(&ep, out);
                    }
                }
            }
        }
    }
}
