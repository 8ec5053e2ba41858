//! The service registry as a sidecar in some namespace would see it: Kubernetes Services and
//! ServiceEntry hosts, each visible in the namespaces it is exported to.

use crate::hosts::{self, ScopedFqdn, EXPORT_ALL, EXPORT_LOCAL};
use std::collections::BTreeMap;
use verimesh_config::Resource;

/// A port of a registered service.
#[derive(Clone, Debug, PartialEq)]
pub struct RegistryPort {
    pub number: u32,
    pub name: String,
    pub protocol: String,
}

/// One registered service host.
#[derive(Clone, Debug)]
pub struct RegistryEntry<'a> {
    pub resource: &'a Resource,
    pub ports: Vec<RegistryPort>,
    /// Labels that select the service's workloads (Service selector or ServiceEntry
    /// workloadSelector); empty when it has none.
    pub selector: BTreeMap<String, String>,
}

#[derive(Default)]
pub struct Registry<'a> {
    pub hosts: BTreeMap<ScopedFqdn, RegistryEntry<'a>>,
}

const EXPORT_TO_ANNOTATION: &str = "networking.istio.io/exportTo";

impl<'a> Registry<'a> {
    pub(crate) fn build(resources: &[&'a Resource], ns_of: impl Fn(&Resource) -> String) -> Self {
        let mut reg = Registry::default();
        for r in resources {
            let ns = ns_of(r);
            if let Some(se) = r.as_service_entry() {
                let entry = RegistryEntry {
                    resource: r,
                    ports: se
                        .ports
                        .iter()
                        .map(|p| RegistryPort {
                            number: p.number,
                            name: p.name.clone(),
                            protocol: p.protocol.clone().unwrap_or_default(),
                        })
                        .collect(),
                    selector: se
                        .workload_selector
                        .as_ref()
                        .map(|s| s.labels.clone())
                        .unwrap_or_default(),
                };
                let scopes: Vec<String> = if hosts::exports_to_all(&se.export_to) {
                    vec![EXPORT_ALL.to_string()]
                } else {
                    se.export_to
                        .iter()
                        .map(|e| {
                            if e == EXPORT_LOCAL {
                                ns.clone()
                            } else {
                                e.clone()
                            }
                        })
                        .collect()
                };
                for h in &se.hosts {
                    for scope in &scopes {
                        reg.hosts
                            .insert(ScopedFqdn::new(scope, &ns, h), entry.clone());
                    }
                }
            } else if let Some(svc) = r.as_service() {
                let entry = RegistryEntry {
                    resource: r,
                    ports: svc
                        .spec
                        .ports
                        .iter()
                        .map(|p| RegistryPort {
                            number: u32::try_from(p.port).unwrap_or(0),
                            name: p.name.clone().unwrap_or_default(),
                            protocol: p
                                .protocol
                                .as_ref()
                                .map(|p| p.as_str().to_string())
                                .unwrap_or_default(),
                        })
                        .collect(),
                    selector: svc.spec.selector.clone(),
                };
                let scopes: Vec<String> = match r.meta.annotations.get(EXPORT_TO_ANNOTATION) {
                    None => vec![EXPORT_ALL.to_string()],
                    Some(anno) if anno.trim().is_empty() => vec![EXPORT_ALL.to_string()],
                    Some(anno) => anno
                        .split(',')
                        .map(str::trim)
                        .map(|e| {
                            if e == EXPORT_LOCAL {
                                ns.clone()
                            } else {
                                e.to_string()
                            }
                        })
                        .collect(),
                };
                for scope in scopes {
                    reg.hosts
                        .insert(ScopedFqdn::new(&scope, &ns, r.name()), entry.clone());
                }
            }
        }
        reg
    }

    /// The service a destination `host` refers to, from a resource in `source_ns` exported to
    /// `export_to`: exact scoped matches first, then wildcard ServiceEntry hosts.
    pub fn lookup(
        &self,
        source_ns: &str,
        export_to: &[String],
        host: &str,
    ) -> Option<&RegistryEntry<'a>> {
        if let Some(e) = self
            .hosts
            .get(&ScopedFqdn::new(EXPORT_ALL, source_ns, host))
        {
            return Some(e);
        }
        if export_to.is_empty() {
            if let Some(e) = self.hosts.get(&ScopedFqdn::new(source_ns, source_ns, host)) {
                return Some(e);
            }
        } else {
            for e in export_to {
                let scope = if e == EXPORT_LOCAL {
                    source_ns
                } else {
                    e.as_str()
                };
                if let Some(found) = self.hosts.get(&ScopedFqdn::new(scope, source_ns, host)) {
                    return Some(found);
                }
            }
        }
        let host_suffix = host.strip_prefix('*').unwrap_or(host);
        self.hosts.iter().find_map(|(key, entry)| {
            let se_suffix = key.fqdn.strip_prefix('*')?;
            let visible = key.scope == EXPORT_ALL || key.scope == source_ns;
            (visible && host_suffix.ends_with(se_suffix)).then_some(entry)
        })
    }
}
