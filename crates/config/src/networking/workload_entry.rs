//! WorkloadEntry: a non-Kubernetes workload (a VM, a bare-metal host) and its properties. The
//! same message describes ServiceEntry endpoints and WorkloadGroup templates.

use super::checks::{self, check_labels, UNIX_PREFIX};
use crate::validate::common::{validate_port_name, validate_unix_address};
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The spec of a WorkloadEntry (also a ServiceEntry endpoint).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadEntry {
    /// An IP address, a DNS name (DNS resolution), or `unix:///path` / `unix://@abstract`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Service port name to the port the workload listens on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u32>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
}

/// What kind of address an endpoint may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddressRule {
    /// IP addresses only (STATIC resolution).
    IpOnly,
    /// IP addresses or DNS names.
    IpOrFqdn,
}

impl WorkloadEntry {
    fn address(&self) -> &str {
        self.address.as_deref().unwrap_or("")
    }

    /// Ports and labels, as also required of WorkloadGroup templates.
    pub(crate) fn check_ports_and_labels(
        &self,
        service_ports: Option<&[&str]>,
        at: &FieldPath,
        out: &mut Findings,
    ) {
        for (name, port) in &self.ports {
            let p = at.field("ports").field(name);
            if let Some(sp) = service_ports {
                if !sp.contains(&name.as_str()) {
                    out.error(
                        &p,
                        format!("endpoint port {name:?} is not a port name of the ServiceEntry (one of: {})", sp.join(", ")),
                    );
                }
            }
            out.check(&p, validate_port_name(name));
            checks::check_port(*port, &p, out);
        }
        check_labels(&self.labels, &at.field("labels"), out);
    }

    /// An endpoint (or standalone WorkloadEntry). `service_ports` are the port names of the
    /// enclosing ServiceEntry, when there is one.
    pub(crate) fn check(
        &self,
        rule: AddressRule,
        service_ports: Option<&[&str]>,
        at: &FieldPath,
        out: &mut Findings,
    ) {
        let addr = self.address();
        let ap = at.field("address");
        if addr.is_empty() {
            match self.network.as_deref().filter(|n| !n.is_empty()) {
                None => {
                    out.error(&ap, "address is required (or a network, for a workload reached through its network's gateway)");
                    return;
                }
                Some(n) => out.warning(
                    &ap,
                    format!(
                        "address is unset; the workload is reached through network {n:?}'s gateway"
                    ),
                ),
            }
        }
        if addr.len() > 256 {
            out.error(&ap, "address must be at most 256 characters");
        }
        if let Some(path) = addr.strip_prefix(UNIX_PREFIX) {
            out.check(&ap, validate_unix_address(path));
            if !self.ports.is_empty() {
                out.error(
                    &at.field("ports"),
                    "a unix domain socket endpoint has no ports",
                );
            }
            if service_ports.is_some_and(|sp| sp.len() != 1) {
                out.error(
                    &ap,
                    "a unix domain socket endpoint needs a ServiceEntry with exactly one port",
                );
            }
        } else if !addr.is_empty() && !checks::is_ip(addr) {
            match rule {
                AddressRule::IpOnly => out.error(
                    &ap,
                    format!("address {addr:?} must be an IP address (or use resolution DNS for host names)"),
                ),
                AddressRule::IpOrFqdn => {
                    if checks::fqdn(addr).is_err() {
                        out.error(
                            &ap,
                            format!("address {addr:?} must be an IP address or a fully qualified domain name"),
                        );
                    }
                }
            }
        }
        self.check_ports_and_labels(service_ports, at, out);
    }
}

impl Validate for WorkloadEntry {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        self.check(AddressRule::IpOrFqdn, None, at, out);
    }
}
