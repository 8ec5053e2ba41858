//! Internal consistency of a compiled config: every route names an existing cluster, weights
//! are usable, names and ports are unique. A proxy refuses (NACKs) a config that fails.

use crate::{HttpAction, ProxyConfig, Service, WeightedCluster};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("not a valid proxy config: {0}")]
    Parse(String),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

pub(crate) fn invalid(path: String, message: impl Into<String>) -> ModelError {
    ModelError::Invalid {
        path,
        message: message.into(),
    }
}

impl ProxyConfig {
    /// Checks the whole config.
    pub fn validate(&self) -> Result<(), ModelError> {
        let mut clusters = BTreeSet::new();
        for (i, c) in self.clusters.iter().enumerate() {
            if !clusters.insert(c.name.as_str()) {
                return Err(invalid(
                    format!("clusters[{i}].name"),
                    format!("duplicate cluster {:?}", c.name),
                ));
            }
            self.validate_cluster(i)?;
        }
        self.validate_core(|name| clusters.contains(name))?;
        let mut hostnames = BTreeSet::new();
        for (i, s) in self.services.iter().enumerate() {
            if !hostnames.insert(s.hostname.as_str()) {
                return Err(invalid(
                    format!("services[{i}].hostname"),
                    format!("duplicate service {:?}", s.hostname),
                ));
            }
            self.validate_service(i, |name| clusters.contains(name))?;
        }
        Ok(())
    }

    /// Checks the top-level fields (everything but services and clusters): what a change of
    /// the core alone needs checked. A gateway's routes name clusters; `has_cluster` says
    /// which exist, as for services.
    pub fn validate_core(&self, has_cluster: impl Fn(&str) -> bool) -> Result<(), ModelError> {
        let mut ports = BTreeSet::new();
        for (i, p) in self.inbound.ports.iter().enumerate() {
            if !ports.insert(p.port) {
                return Err(invalid(
                    format!("inbound.ports[{i}].port"),
                    format!("port {} listed twice", p.port),
                ));
            }
        }
        self.validate_gateway(&has_cluster)?;
        self.security.validate(&self.workload.namespace)
    }

    /// A gateway's listeners: ports, certificates, and that every route names a cluster
    /// that exists (the core refers to clusters only here).
    fn validate_gateway(&self, has_cluster: &impl Fn(&str) -> bool) -> Result<(), ModelError> {
        let Some(g) = &self.gateway else {
            return Ok(());
        };
        let mut ports = BTreeSet::new();
        for (i, l) in g.listeners.iter().enumerate() {
            let at = format!("gateway.listeners[{i}]");
            if l.port == 0 || !ports.insert(l.port) {
                return Err(invalid(
                    format!("{at}.port"),
                    format!("port {} is zero or listed twice", l.port),
                ));
            }
            if l.protocol == crate::ListenerProtocol::Https && l.tls.is_empty() {
                return Err(invalid(
                    format!("{at}.tls"),
                    "an HTTPS listener needs at least one certificate",
                ));
            }
            for (j, t) in l.tls.iter().enumerate() {
                let at = format!("{at}.tls[{j}]");
                if t.certificate_chain.trim().is_empty() || t.private_key.trim().is_empty() {
                    return Err(invalid(
                        at,
                        "a certificate chain and a private key are required",
                    ));
                }
                if t.mode == crate::ServerTlsMode::Mutual
                    && t.ca_certificates
                        .as_deref()
                        .is_none_or(|c| c.trim().is_empty())
                {
                    return Err(invalid(
                        format!("{at}.caCertificates"),
                        "MUTUAL TLS needs CA certificates to verify clients with",
                    ));
                }
            }
            for (j, vh) in l.virtual_hosts.iter().enumerate() {
                let at = format!("{at}.virtualHosts[{j}]");
                if vh.domains.is_empty() {
                    return Err(invalid(
                        format!("{at}.domains"),
                        "a virtual host needs a domain",
                    ));
                }
                for (k, r) in vh.routes.iter().enumerate() {
                    if let HttpAction::Route { clusters: targets } = &r.action {
                        check_targets(
                            format!("{at}.routes[{k}].action.clusters"),
                            targets,
                            has_cluster,
                        )?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks cluster `i` on its own (its name's uniqueness is the caller's). Out of range:
    /// nothing to check.
    pub fn validate_cluster(&self, i: usize) -> Result<(), ModelError> {
        let Some(c) = self.clusters.get(i) else {
            return Ok(());
        };
        // A missing cluster stands for "not found": it must never reach anything.
        if c.missing.is_some()
            && (!c.endpoints.is_empty() || !c.dns_endpoints.is_empty() || c.original_destination)
        {
            return Err(invalid(
                format!("clusters[{i}].missing"),
                "a missing cluster cannot have endpoints",
            ));
        }
        for (k, d) in c.dns_endpoints.iter().enumerate() {
            let port_ok = d
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
            if !port_ok {
                return Err(invalid(
                    format!("clusters[{i}].dnsEndpoints[{k}]"),
                    format!("{d:?} is not host:port"),
                ));
            }
        }
        Ok(())
    }

    /// Checks service `i` (its hostname's uniqueness is the caller's): ports, weights, and
    /// that every cluster it names exists by `has_cluster`. Out of range: nothing to check.
    pub fn validate_service(
        &self,
        i: usize,
        has_cluster: impl Fn(&str) -> bool,
    ) -> Result<(), ModelError> {
        let Some(s) = self.services.get(i) else {
            return Ok(());
        };
        let check =
            |path: String, targets: &[WeightedCluster]| check_targets(path, targets, &has_cluster);
        let at = format!("services[{i}]");
        let mut seen = BTreeSet::new();
        for (j, p) in s.ports.iter().enumerate() {
            let at = format!("{at}.ports[{j}]");
            if !seen.insert(p.port) {
                return Err(invalid(
                    format!("{at}.port"),
                    format!("port {} listed twice", p.port),
                ));
            }
            if !has_cluster(p.default_cluster.as_str()) {
                return Err(invalid(
                    format!("{at}.defaultCluster"),
                    format!("unknown cluster {:?}", p.default_cluster),
                ));
            }
            for (k, r) in p.http_routes.iter().enumerate() {
                if let HttpAction::Route { clusters: targets } = &r.action {
                    check(format!("{at}.httpRoutes[{k}].action.clusters"), targets)?;
                }
            }
            for (k, r) in p.tcp_routes.iter().enumerate() {
                check(format!("{at}.tcpRoutes[{k}].clusters"), &r.clusters)?;
            }
        }
        Ok(())
    }
}

/// A route's weighted targets: at least one, not all weightless, every cluster known.
fn check_targets(
    path: String,
    targets: &[WeightedCluster],
    has_cluster: &impl Fn(&str) -> bool,
) -> Result<(), ModelError> {
    if targets.is_empty() {
        return Err(invalid(path, "a route needs at least one cluster"));
    }
    if targets.iter().all(|t| t.weight == 0) {
        return Err(invalid(path, "all weights are zero"));
    }
    for (k, t) in targets.iter().enumerate() {
        if !has_cluster(t.cluster.as_str()) {
            return Err(invalid(
                format!("{path}[{k}].cluster"),
                format!("unknown cluster {:?}", t.cluster),
            ));
        }
    }
    Ok(())
}

impl Service {
    /// Every cluster name the service refers to (default clusters and route targets), with
    /// repeats: what removing a cluster must be checked against.
    pub fn referenced_clusters(&self) -> impl Iterator<Item = &str> {
        self.ports.iter().flat_map(|p| {
            let http = p.http_routes.iter().flat_map(|r| match &r.action {
                HttpAction::Route { clusters } => clusters.as_slice(),
                _ => &[],
            });
            let tcp = p.tcp_routes.iter().flat_map(|r| r.clusters.iter());
            std::iter::once(p.default_cluster.as_str())
                .chain(http.chain(tcp).map(|t| t.cluster.as_str()))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::*;
    use std::sync::Arc;

    fn sample() -> ProxyConfig {
        ProxyConfig {
            version: "1".into(),
            clusters: vec![Arc::new(Cluster {
                name: "outbound|9080||reviews.default.svc.cluster.local".into(),
                endpoints: vec![Endpoint {
                    address: "198.18.0.5:9080".parse().unwrap(),
                    identity: Some("spiffe://cluster.local/ns/default/sa/reviews".into()),
                    labels: Default::default(),
                    weight: 1,
                }],
                ..Default::default()
            })],
            services: vec![Arc::new(Service {
                hostname: "reviews.default.svc.cluster.local".into(),
                aliases: vec!["reviews".into()],
                addresses: vec!["198.19.0.10".parse().unwrap()],
                ports: vec![ServicePort {
                    port: 9080,
                    name: "http".into(),
                    protocol: Protocol::Http,
                    http_routes: vec![HttpRoute {
                        name: "default/reviews[0]".into(),
                        matches: vec![HttpMatch {
                            uri: Some(StringMatch::Prefix("/reviews".into())),
                            ..Default::default()
                        }],
                        action: HttpAction::Route {
                            clusters: vec![WeightedCluster {
                                cluster: "outbound|9080||reviews.default.svc.cluster.local".into(),
                                weight: 100,
                            }],
                        },
                        timeout_ms: Some(2000),
                        retries: None,
                        rewrite: None,
                        request_headers: None,
                        response_headers: None,
                    }],
                    tcp_routes: vec![],
                    default_cluster: "outbound|9080||reviews.default.svc.cluster.local".into(),
                }],
            })],
            ..Default::default()
        }
    }

    #[test]
    fn round_trips_through_json_and_validates() {
        let cfg = sample();
        let text = serde_json::to_string_pretty(&cfg).unwrap();
        assert_eq!(ProxyConfig::from_json(&text).unwrap(), cfg);
    }

    #[test]
    fn dangling_cluster_references_are_refused() {
        let mut cfg = sample();
        Arc::make_mut(&mut cfg.services[0]).ports[0].default_cluster = "nope".into();
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.starts_with("services[0].ports[0].defaultCluster: unknown cluster"),
            "{err}"
        );
        let mut cfg = sample();
        if let HttpAction::Route { clusters } =
            &mut Arc::make_mut(&mut cfg.services[0]).ports[0].http_routes[0].action
        {
            clusters[0].weight = 0;
        }
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("all weights are zero"));
        assert!(matches!(
            ProxyConfig::from_json("{\"version\": 1}"),
            Err(ModelError::Parse(_))
        ));
    }

    #[test]
    fn missing_clusters_stay_empty_and_dns_endpoints_name_ports() {
        let mut cfg = sample();
        Arc::make_mut(&mut cfg.clusters[0]).missing = Some("no subset v9".into());
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains("a missing cluster cannot have endpoints"),
            "{err}"
        );
        Arc::make_mut(&mut cfg.clusters[0]).endpoints.clear();
        cfg.validate().unwrap();
        let mut cfg = sample();
        Arc::make_mut(&mut cfg.clusters[0]).dns_endpoints = vec!["api.example.com:443".into()];
        cfg.validate().unwrap();
        Arc::make_mut(&mut cfg.clusters[0]).dns_endpoints = vec!["api.example.com".into()];
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not host:port"));
    }
}
