//! `serviceentry.ConflictingServiceEntryProtocolAnalyzer`: ServiceEntries visible in the same
//! namespaces that give one host and port different protocols. Only one protocol can be used
//! for the listener, so traffic for the other entries is handled wrongly.

use crate::analyzers::Analyzer;
use crate::hosts::{export_scopes, EXPORT_ALL};
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::{BTreeMap, BTreeSet};
use verimesh_config::{Kind, Resource};

pub struct ConflictingServiceEntryProtocolAnalyzer;

/// (export scope, host as written, port number).
type Key = (String, String, u32);

impl Analyzer for ConflictingServiceEntryProtocolAnalyzer {
    fn name(&self) -> &'static str {
        "serviceentry.ConflictingServiceEntryProtocolAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let mut index: BTreeMap<Key, Vec<(String, &Resource)>> = BTreeMap::new();
        for r in snap.of_kind(Kind::ServiceEntry) {
            let Some(se) = r.as_service_entry() else {
                continue;
            };
            for scope in export_scopes(&se.export_to, snap.ns(r)) {
                for h in &se.hosts {
                    for p in &se.ports {
                        let proto = p.protocol.clone().unwrap_or_default().to_uppercase();
                        index
                            .entry((scope.clone(), h.clone(), p.number))
                            .or_default()
                            .push((proto, r));
                    }
                }
            }
        }
        let mut reported: BTreeSet<String> = BTreeSet::new();
        for ((scope, host, port), own) in &index {
            let mut entries = own.clone();
            if scope != EXPORT_ALL {
                if let Some(all) = index.get(&(EXPORT_ALL.to_string(), host.clone(), *port)) {
                    entries.extend(all.iter().cloned());
                }
            }
            let protocols: BTreeSet<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
            if protocols.len() < 2 {
                continue;
            }
            let names: BTreeSet<String> = entries.iter().map(|(_, r)| snap.full_name(r)).collect();
            let names: Vec<String> = names.into_iter().collect();
            let protocols: Vec<&str> = protocols.into_iter().collect();
            for (_, r) in &entries {
                if !reported.insert(snap.full_name(r)) {
                    continue;
                }
                out.add(
                    messages::CONFLICTING_SERVICE_ENTRY_PROTOCOL,
                    r,
                    "metadata.name",
                    format!(
                        "ServiceEntries {} give {host:?} port {port} different protocols ({}); only one can apply, so \
                         some traffic is handled with the wrong protocol. Use one protocol for the port, or one entry",
                        names.join(", "),
                        protocols.join(", ")
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    fn se(name: &str, proto: &str, export: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {{name: {name}, namespace: ns}}\n\
             spec:\n  hosts: [api.example.com]\n  addresses: [240.0.0.1]\n  resolution: DNS\n  exportTo: [{export}]\n  \
             ports: [{{number: 443, name: p, protocol: {proto}}}]\n---\n"
        )
    }

    #[test]
    fn reports_each_entry_of_a_conflict_once() {
        let yaml = se("a", "HTTPS", "\"*\"") + &se("b", "TLS", "\".\"") + &se("c", "tls", "\".\"");
        assert_eq!(
            run(&ConflictingServiceEntryProtocolAnalyzer, &yaml),
            [
                "IST0177 ServiceEntry ns/a",
                "IST0177 ServiceEntry ns/b",
                "IST0177 ServiceEntry ns/c"
            ]
        );
    }

    #[test]
    fn silent_for_same_protocol_in_any_case() {
        let yaml = se("a", "TLS", "\"*\"") + &se("b", "tls", "\".\"");
        assert!(run(&ConflictingServiceEntryProtocolAnalyzer, &yaml).is_empty());
    }
}
