//! The clusters of one service as one DestinationRule choice shapes them: for every port,
//! `outbound|<port>||<host>` over all endpoints and `outbound|<port>|<subset>|<host>` per
//! subset over the endpoints with the subset's labels, each with its merged traffic policy and
//! its transport (explicit TLS mode, or Istio's auto mTLS decided from the endpoints).

use crate::endpoints::{MeshEndpoint, PortEndpoints};
use crate::index::{Index, ServiceDef, ServiceKind};
use crate::policy::{effective, TlsChoice};
use std::collections::BTreeMap;
use verimesh_analyze::hosts::selector_matches;
use verimesh_config::networking::{Subset, TrafficPolicy};
use verimesh_model::{Cluster, Transport, TLS_MODE_LABEL};

pub(crate) fn cluster_name(port: u16, subset: &str, host: &str) -> String {
    format!("outbound|{port}|{subset}|{host}")
}

/// The merged view of the DestinationRules applying to a host: the first one's traffic policy
/// (or the first that has one), subsets by name with the first definition winning.
pub(crate) struct MergedRule<'a> {
    pub policy: Option<&'a TrafficPolicy>,
    pub subsets: Vec<&'a Subset>,
}

impl<'a> MergedRule<'a> {
    pub(crate) fn new(ix: &Index<'a>, rules: &[usize]) -> MergedRule<'a> {
        let specs: Vec<_> = rules
            .iter()
            .filter_map(|i| ix.destination_rules.get(*i))
            .map(|d| d.spec)
            .collect();
        let mut subsets: Vec<&'a Subset> = Vec::new();
        for s in specs.iter().flat_map(|d| &d.subsets) {
            if !subsets.iter().any(|have| have.name == s.name) {
                subsets.push(s);
            }
        }
        MergedRule {
            policy: specs.iter().find_map(|d| d.traffic_policy.as_deref()),
            subsets,
        }
    }

    pub(crate) fn has_subset(&self, name: &str) -> bool {
        self.subsets.iter().any(|s| s.name == name)
    }
}

/// Istio's auto mTLS: mesh mTLS to endpoints that run a proxy accepting it, plain TCP to the
/// others; a mixed set becomes `MeshMtls` with `auto_mtls` and the endpoints labelled.
fn auto_transport(endpoints: &[MeshEndpoint], external: bool, cluster: &mut Cluster) {
    let mesh = endpoints.iter().filter(|e| e.mesh).count();
    let identities = std::mem::take(&mut cluster.transport);
    if mesh == 0 && (!endpoints.is_empty() || external) {
        cluster.transport = Transport::Plain;
        return;
    }
    cluster.transport = identities;
    if mesh < endpoints.len() {
        cluster.auto_mtls = true;
        for (c, e) in cluster.endpoints.iter_mut().zip(endpoints) {
            if e.mesh {
                c.labels.insert(TLS_MODE_LABEL.into(), "istio".into());
            } else {
                c.labels.remove(TLS_MODE_LABEL);
            }
        }
    }
}

pub(crate) struct ClusterBuilder<'c, 'a> {
    pub ix: &'c Index<'a>,
    pub default_connect_timeout_ms: u64,
}

impl ClusterBuilder<'_, '_> {
    /// All clusters of a service; `endpoints` is per port, in the order of `svc.ports`.
    pub(crate) fn build(
        &self,
        svc: &ServiceDef<'_>,
        endpoints: &[PortEndpoints],
        rule: &MergedRule<'_>,
        notes: &mut Vec<String>,
    ) -> Vec<Cluster> {
        let mut out = Vec::new();
        for (port, eps) in svc.ports.iter().zip(endpoints) {
            out.push(self.one(svc, port.number, "", eps, rule.policy, None, notes));
            for s in &rule.subsets {
                out.push(self.one(
                    svc,
                    port.number,
                    &s.name,
                    eps,
                    rule.policy,
                    Some((&s.labels, s.traffic_policy.as_ref())),
                    notes,
                ));
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn one(
        &self,
        svc: &ServiceDef<'_>,
        port: u16,
        subset: &str,
        eps: &PortEndpoints,
        top: Option<&TrafficPolicy>,
        sub: Option<(&BTreeMap<String, String>, Option<&TrafficPolicy>)>,
        notes: &mut Vec<String>,
    ) -> Cluster {
        let selected: Vec<MeshEndpoint> = match sub {
            Some((labels, _)) => eps
                .endpoints
                .iter()
                .filter(|e| selector_matches(labels, &e.endpoint.labels))
                .cloned()
                .collect(),
            None => eps.endpoints.clone(),
        };
        let settings = effective(top, sub.and_then(|(_, p)| p), port).settings(notes);
        let external = svc.mesh_external();
        let sans = match svc.kind {
            ServiceKind::Entry(se) => se.subject_alt_names.clone(),
            ServiceKind::Kubernetes { .. } => Vec::new(),
        };
        let mut cluster = Cluster {
            name: cluster_name(port, subset, &svc.hostname),
            lb: settings.lb,
            transport: Transport::MeshMtls {
                identities: sans.clone(),
            },
            endpoints: selected.iter().map(|e| e.endpoint.clone()).collect(),
            connect_timeout_ms: settings
                .connect_timeout_ms
                .unwrap_or(self.default_connect_timeout_ms),
            limits: settings.limits,
            connections: settings.connections,
            original_destination: eps.original_destination || settings.passthrough,
            auto_mtls: false,
            // Subsets select by labels, which names resolved by DNS do not have.
            dns_endpoints: if sub.is_some() {
                Vec::new()
            } else {
                eps.dns.clone()
            },
            missing: None,
        };
        match settings.tls {
            TlsChoice::Auto if self.ix.mesh.enable_auto_mtls() => {
                auto_transport(&selected, external, &mut cluster);
            }
            TlsChoice::Auto | TlsChoice::Plain => cluster.transport = Transport::Plain,
            TlsChoice::Mesh => {}
            TlsChoice::Tls {
                sni,
                ca_certificates,
                client_certificate,
                private_key,
                subject_alt_names,
            } => {
                cluster.transport = Transport::Tls {
                    // Istio sends no SNI unless told; the service's name is the one a server
                    // outside the mesh expects, and wildcards cannot be sent.
                    sni: sni.unwrap_or_else(|| svc.hostname.trim_start_matches("*.").to_string()),
                    ca_certificates,
                    client_certificate,
                    private_key,
                    subject_alt_names: if subject_alt_names.is_empty() {
                        sans
                    } else {
                        subject_alt_names
                    },
                };
            }
        }
        cluster
    }
}

/// A cluster a route names that does not exist: no endpoints, and the reason.
pub(crate) fn missing_cluster(name: String, reason: String) -> Cluster {
    Cluster {
        name,
        transport: Transport::Plain,
        missing: Some(reason),
        ..Default::default()
    }
}
