//! Services: a stable name and ports in front of the pods a selector picks.

use super::common::{
    validate_int_or_port_name, validate_label_map, validate_port_number, IntOrString,
};
use super::container::Protocol;
use crate::validate::{common, Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    #[serde(default)]
    pub spec: Box<ServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Default ClusterIP.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ServiceType>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// An address, `None` for a headless service, or empty to allocate one.
    #[serde(default, rename = "clusterIP", skip_serializing_if = "Option::is_none")]
    pub cluster_ip: Option<String>,
    #[serde(default, rename = "clusterIPs", skip_serializing_if = "Vec::is_empty")]
    pub cluster_ips: Vec<String>,
    #[serde(default, rename = "externalIPs", skip_serializing_if = "Vec::is_empty")]
    pub external_ips: Vec<String>,
    /// The DNS name an ExternalName service aliases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_traffic_policy: Option<TrafficPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_traffic_policy: Option<TrafficPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_families: Vec<IpFamily>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family_policy: Option<IpFamilyPolicy>,
    #[serde(
        default,
        rename = "loadBalancerIP",
        skip_serializing_if = "Option::is_none"
    )]
    pub load_balancer_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_source_ranges: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocate_load_balancer_node_ports: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_node_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity: Option<SessionAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_not_ready_addresses: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_distribution: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
    ExternalName,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrafficPolicy {
    Cluster,
    Local,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IpFamily {
    IPv4,
    IPv6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IpFamilyPolicy {
    SingleStack,
    PreferDualStack,
    RequireDualStack,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SessionAffinity {
    None,
    ClientIP,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Required when the service has more than one port. Istio reads the protocol from a
    /// `<protocol>[-suffix]` name when `appProtocol` is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Default TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// The application protocol (`http`, `http2`, `grpc`, `tcp`, `tls`, `https`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    #[serde(default)]
    pub port: i64,
    /// The pods' port, by number or container port name; default `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_port: Option<i64>,
}

impl ServiceSpec {
    pub fn service_type(&self) -> ServiceType {
        self.type_.unwrap_or_default()
    }

    pub fn is_headless(&self) -> bool {
        self.cluster_ip.as_deref() == Some("None")
    }
}

impl ServicePort {
    /// The target port, `port` when not set.
    pub fn target(&self) -> IntOrString {
        self.target_port
            .clone()
            .unwrap_or(IntOrString::Int(self.port))
    }
}

impl Validate for Service {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        let spec = &self.spec;
        let at = at.field("spec");
        let ty = spec.service_type();
        if ty == ServiceType::ExternalName {
            match spec.external_name.as_deref() {
                None | Some("") => out.error(
                    &at.field("externalName"),
                    "an ExternalName service needs externalName",
                ),
                Some(n) => out.check(&at.field("externalName"), common::validate_fqdn(n)),
            }
        } else if spec.ports.is_empty() && !spec.is_headless() {
            out.error(&at.field("ports"), "a service needs at least one port (only headless and ExternalName services may have none)");
        }
        validate_label_map(&spec.selector, &at.field("selector"), out);
        if let Some(ip) = spec
            .cluster_ip
            .as_deref()
            .filter(|ip| !ip.is_empty() && *ip != "None")
        {
            out.check(&at.field("clusterIP"), common::validate_ip(ip));
        }
        for (i, ip) in spec.cluster_ips.iter().enumerate() {
            if ip != "None" {
                out.check(&at.field("clusterIPs").index(i), common::validate_ip(ip));
            }
        }
        for (i, ip) in spec.external_ips.iter().enumerate() {
            out.check(&at.field("externalIPs").index(i), common::validate_ip(ip));
        }
        for (i, r) in spec.load_balancer_source_ranges.iter().enumerate() {
            out.check(
                &at.field("loadBalancerSourceRanges").index(i),
                common::validate_ip_or_cidr(r),
            );
        }
        let mut names = BTreeSet::new();
        let mut ports = BTreeSet::new();
        for (i, p) in spec.ports.iter().enumerate() {
            let pp = at.field("ports").index(i);
            out.check(&pp.field("port"), validate_port_number(p.port));
            match p.name.as_deref().filter(|n| !n.is_empty()) {
                None if spec.ports.len() > 1 => out.error(
                    &pp.field("name"),
                    "each port needs a name when the service has more than one",
                ),
                None => {}
                Some(n) => {
                    if !common::is_k8s_dns1123_label(n) {
                        out.error(
                            &pp.field("name"),
                            format!("port name {n:?} must be a lower-case DNS-1123 label"),
                        );
                    }
                    if !names.insert(n) {
                        out.error(&pp.field("name"), format!("duplicate port name {n:?}"));
                    }
                }
            }
            if let Some(proto) = &p.protocol {
                out.check(&pp.field("protocol"), proto.check());
            }
            if !ports.insert((p.port, p.protocol.clone().unwrap_or_default())) {
                out.error(
                    &pp.field("port"),
                    format!("port {} is listed twice for the same protocol", p.port),
                );
            }
            if let Some(t) = &p.target_port {
                out.check(&pp.field("targetPort"), validate_int_or_port_name(t));
            }
            if let Some(np) = p.node_port {
                if !matches!(ty, ServiceType::NodePort | ServiceType::LoadBalancer) {
                    out.error(
                        &pp.field("nodePort"),
                        "nodePort is only allowed on NodePort and LoadBalancer services",
                    );
                } else {
                    out.check(&pp.field("nodePort"), validate_port_number(np));
                }
            }
        }
    }
}
