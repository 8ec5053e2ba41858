//! DestinationRule: policies applied to traffic for a service after routing.

use super::checks::{self, check_export_to, check_labels, check_match_labels};
use super::common::{check_subset_name, MatchLabelsSelector, PortSelector};
use super::connection_pool::{ConnectionPoolSettings, OutlierDetection};
use super::load_balancer::LoadBalancerSettings;
use super::tls::ClientTlsSettings;
use crate::types::Duration;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The spec of a DestinationRule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationRule {
    /// Required: the service the rule applies to (may have a wildcard prefix).
    #[serde(default)]
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<Box<TrafficPolicy>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Subset>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub export_to: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_selector: Option<MatchLabelsSelector>,
}

/// Traffic policies for a destination, optionally refined per port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPoolSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTlsSettings>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub port_level_settings: Vec<PortTrafficPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_protocol: Option<ProxyProtocol>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_budget: Option<RetryBudget>,
}

/// Policies for one port of the destination; they replace (not merge with) the top-level ones.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortTrafficPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_pool: Option<ConnectionPoolSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ClientTlsSettings>,
}

/// Tunnels the connection through a proxy with HTTP CONNECT or POST.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TunnelSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default)]
    pub target_host: String,
    #[serde(default)]
    pub target_port: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProxyProtocolVersion {
    #[default]
    V1,
    V2,
}

/// Sends the PROXY protocol header to the upstream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyProtocol {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<ProxyProtocolVersion>,
}

/// Limits concurrent retries relative to active requests.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetryBudget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_retry_concurrency: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_interval: Option<Duration>,
}

/// A named set of endpoints of the service, selected by labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Subset {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy: Option<TrafficPolicy>,
}

impl TrafficPolicy {
    fn is_empty(&self) -> bool {
        self.load_balancer.is_none()
            && self.connection_pool.is_none()
            && self.outlier_detection.is_none()
            && self.tls.is_none()
            && self.port_level_settings.is_empty()
            && self.tunnel.is_none()
            && self.proxy_protocol.is_none()
            && self.retry_budget.is_none()
    }

    pub(crate) fn check(&self, namespace: &str, at: &FieldPath, out: &mut Findings) {
        if self.is_empty() {
            out.error(at, "a traffic policy needs at least one setting");
            return;
        }
        if self.tunnel.is_some() && self.proxy_protocol.is_some() {
            out.error(at, "tunnel and proxyProtocol cannot both be set");
            return;
        }
        check_policy_parts(
            namespace,
            self.load_balancer.as_ref(),
            self.connection_pool.as_ref(),
            self.outlier_detection.as_ref(),
            self.tls.as_ref(),
            at,
            out,
        );
        for (i, pl) in self.port_level_settings.iter().enumerate() {
            let p = at.field("portLevelSettings").index(i);
            match &pl.port {
                None => out.error(&p.field("port"), "a port-level policy needs a port"),
                Some(port) => port.check(&p.field("port"), out),
            }
            if pl.load_balancer.is_none()
                && pl.connection_pool.is_none()
                && pl.outlier_detection.is_none()
                && pl.tls.is_none()
            {
                out.error(
                    &p,
                    "a port-level policy needs at least one setting besides port",
                );
            } else {
                check_policy_parts(
                    namespace,
                    pl.load_balancer.as_ref(),
                    pl.connection_pool.as_ref(),
                    pl.outlier_detection.as_ref(),
                    pl.tls.as_ref(),
                    &p,
                    out,
                );
            }
        }
        if let Some(t) = &self.tunnel {
            let p = at.field("tunnel");
            if let Some(proto) = &t.protocol {
                if !proto.is_empty() && proto != "CONNECT" && proto != "POST" {
                    out.error(
                        &p.field("protocol"),
                        format!("tunnel protocol {proto:?} must be CONNECT or POST"),
                    );
                }
            }
            if checks::fqdn(&t.target_host).is_err() && !checks::is_ip(&t.target_host) {
                out.error(
                    &p.field("targetHost"),
                    format!("tunnel targetHost {:?} must be a fully qualified domain name or an IP address", t.target_host),
                );
            }
            checks::check_port(t.target_port, &p.field("targetPort"), out);
        }
        if let Some(rb) = &self.retry_budget {
            if let Some(pct) = rb.percent {
                if !(0.0..=100.0).contains(&pct) {
                    out.error(
                        &at.field("retryBudget").field("percent"),
                        format!("retry budget percent {pct} must be between 0 and 100"),
                    );
                }
            }
        }
    }
}

fn check_policy_parts(
    namespace: &str,
    lb: Option<&LoadBalancerSettings>,
    pool: Option<&ConnectionPoolSettings>,
    outlier: Option<&OutlierDetection>,
    tls: Option<&ClientTlsSettings>,
    at: &FieldPath,
    out: &mut Findings,
) {
    if let Some(o) = outlier {
        o.check(&at.field("outlierDetection"), out);
    }
    if let Some(c) = pool {
        c.check(&at.field("connectionPool"), out);
    }
    if let Some(l) = lb {
        l.check(outlier, &at.field("loadBalancer"), out);
    }
    if let Some(t) = tls {
        t.check(namespace, &at.field("tls"), out);
    }
}

impl Validate for DestinationRule {
    fn validate(&self, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        let ns = cx.meta.namespace_or_default();
        let hp = at.field("host");
        if self.host.is_empty() {
            out.error(&hp, "host is required: the service this rule applies to");
        } else {
            out.check(&hp, checks::wildcard_host(&self.host));
        }
        if let Some(tp) = &self.traffic_policy {
            tp.check(ns, &at.field("trafficPolicy"), out);
        }
        let mut names: Vec<&str> = Vec::new();
        for (i, s) in self.subsets.iter().enumerate() {
            let p = at.field("subsets").index(i);
            if names.contains(&s.name.as_str()) {
                out.error(
                    &p.field("name"),
                    format!("duplicate subset name {:?}", s.name),
                );
            }
            names.push(&s.name);
            check_subset_name(&s.name, &p.field("name"), out);
            check_labels(&s.labels, &p.field("labels"), out);
            if let Some(tp) = &s.traffic_policy {
                tp.check(ns, &p.field("trafficPolicy"), out);
            }
        }
        check_export_to(
            ns,
            &self.export_to,
            false,
            self.workload_selector.is_some(),
            &at.field("exportTo"),
            out,
        );
        if let Some(sel) = &self.workload_selector {
            check_match_labels(sel, &at.field("workloadSelector"), out);
        }
    }
}
