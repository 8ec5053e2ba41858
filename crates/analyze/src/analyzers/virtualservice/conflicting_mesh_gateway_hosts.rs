//! `virtualservice.ConflictingMeshGatewayHostsAnalyzer`: two VirtualServices that apply to the
//! sidecars (the `mesh` gateway) and claim the same host for the same namespaces. Only one of
//! them takes effect, and which one is not defined.

use crate::analyzers::Analyzer;
use crate::hosts::{export_scopes, host_matches, ScopedFqdn, EXPORT_ALL, MESH_GATEWAY};
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::{BTreeMap, BTreeSet};
use verimesh_config::{Kind, Resource};

pub struct ConflictingMeshGatewayHostsAnalyzer;

impl Analyzer for ConflictingMeshGatewayHostsAnalyzer {
    fn name(&self) -> &'static str {
        "virtualservice.ConflictingMeshGatewayHostsAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let by_host = mesh_hosts(snap);
        let mut reported: BTreeSet<String> = BTreeSet::new();
        for (key, own) in &by_host {
            let mut list: Vec<&Resource> = own.clone();
            if key.scope != EXPORT_ALL {
                // VirtualServices exported everywhere also reach this scope.
                for (other, rs) in &by_host {
                    if other.scope == EXPORT_ALL && host_matches(&key.fqdn, &other.fqdn) {
                        list.extend(rs);
                    }
                }
            }
            if list.len() < 2 {
                continue;
            }
            let mut names: Vec<String> = list.iter().map(|r| snap.full_name(r)).collect();
            names.sort();
            for r in list {
                if !reported.insert(snap.full_name(r)) {
                    continue;
                }
                out.add(
                    messages::CONFLICTING_MESH_GATEWAY_VIRTUAL_SERVICE_HOSTS,
                    r,
                    "metadata.name",
                    format!(
                        "VirtualServices {} all apply to sidecars for host {key}; only one of them takes effect and \
                         which one is undefined. Merge them into a single VirtualService (or narrow their exportTo)",
                        names.join(", ")
                    ),
                );
            }
        }
    }
}

/// VirtualServices that apply to the mesh (no gateways, or `mesh` among them), by each
/// (export scope, FQDN) pair of their hosts.
fn mesh_hosts<'a>(snap: &Snapshot<'a>) -> BTreeMap<ScopedFqdn, Vec<&'a Resource>> {
    let mut by_host: BTreeMap<ScopedFqdn, Vec<&'a Resource>> = BTreeMap::new();
    for r in snap.of_kind(Kind::VirtualService) {
        let Some(vs) = r.as_virtual_service() else {
            continue;
        };
        let on_mesh = vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == MESH_GATEWAY);
        if !on_mesh {
            continue;
        }
        let ns = snap.ns(r);
        for scope in export_scopes(&vs.export_to, ns) {
            for h in &vs.hosts {
                by_host
                    .entry(ScopedFqdn::new(&scope, ns, h))
                    .or_default()
                    .push(r);
            }
        }
    }
    by_host
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    fn vs(name: &str, ns: &str, host: &str, extra: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}, namespace: {ns}}}\n\
             spec:\n  hosts: [{host}]\n{extra}  http: [{{route: [{{destination: {{host: x}}}}]}}]\n---\n"
        )
    }

    #[test]
    fn reports_each_conflicting_virtual_service_once() {
        let yaml = vs("a", "foo", "reviews", "")
            + &vs("b", "bar", "reviews.foo.svc.cluster.local", "")
            + &vs(
                "c",
                "bar",
                "\"*.foo.svc.cluster.local\"",
                "  exportTo: [\".\"]\n",
            );
        assert_eq!(
            run(&ConflictingMeshGatewayHostsAnalyzer, &yaml),
            [
                "IST0109 VirtualService bar/b",
                "IST0109 VirtualService bar/c",
                "IST0109 VirtualService foo/a"
            ]
        );
    }

    #[test]
    fn silent_for_gateway_only_or_private_virtual_services() {
        let yaml = vs("a", "foo", "reviews", "")
            + &vs(
                "b",
                "bar",
                "reviews.foo.svc.cluster.local",
                "  gateways: [gw]\n",
            )
            + &vs("c", "foo", "reviews", "  exportTo: [other]\n");
        // c is exported to "other" only, where it meets a (exported everywhere): a conflict
        // there, but b (gateways only) never conflicts.
        assert_eq!(
            run(&ConflictingMeshGatewayHostsAnalyzer, &yaml),
            [
                "IST0109 VirtualService foo/a",
                "IST0109 VirtualService foo/c"
            ]
        );
        let quiet = vs("a", "foo", "reviews", "") + &vs("b", "bar", "reviews", "");
        assert!(run(&ConflictingMeshGatewayHostsAnalyzer, &quiet).is_empty());
    }
}
