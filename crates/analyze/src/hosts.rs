//! Host names as Istio compares them: short names completed to cluster FQDNs, wildcard
//! matching, and hosts scoped to the namespaces they are exported to.

use std::collections::BTreeMap;

pub const CLUSTER_DOMAIN: &str = "svc.cluster.local";
pub const EXPORT_ALL: &str = "*";
pub const EXPORT_LOCAL: &str = ".";
pub const MESH_GATEWAY: &str = "mesh";

/// Completes a short service name (`reviews`) to `reviews.<namespace>.svc.cluster.local`;
/// names with a dot, and wildcards, are left as they are.
pub fn to_fqdn(namespace: &str, host: &str) -> String {
    if host.starts_with('*') || host.contains('.') {
        host.to_string()
    } else {
        format!("{host}.{namespace}.{CLUSTER_DOMAIN}")
    }
}

/// `(namespace, name)` of the Kubernetes Service a cluster-local FQDN names, if it is one.
pub fn service_of_fqdn(fqdn: &str) -> Option<(&str, &str)> {
    let rest = fqdn.strip_suffix(CLUSTER_DOMAIN)?.strip_suffix('.')?;
    // Greedy like Istio's pattern: the namespace is the last label before the domain.
    let (name, ns) = rest.rsplit_once('.')?;
    (!name.is_empty() && !ns.is_empty()).then_some((ns, name))
}

/// The `(namespace, name)` a destination host refers to, resolving short names in `namespace`.
pub fn resource_name_of_host(namespace: &str, host: &str) -> (String, String) {
    match service_of_fqdn(host) {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => (namespace.to_string(), host.to_string()),
    }
}

/// Istio's host matching: `*.example.com` matches `a.example.com` and `*.b.example.com`;
/// two wildcards match when one's suffix contains the other's.
pub fn host_matches(a: &str, b: &str) -> bool {
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (Some(a_suffix), Some(b_suffix)) => {
            if a.len() < b.len() {
                b_suffix.ends_with(a_suffix)
            } else {
                a_suffix.ends_with(b_suffix)
            }
        }
        (Some(a_suffix), None) => b.ends_with(a_suffix),
        (None, Some(b_suffix)) => a.ends_with(b_suffix),
        (None, None) => a == b,
    }
}

/// Gateway/Sidecar hosts of the form `ns/host`, keeping those visible from `namespace`
/// (`*/host`, `<namespace>/host`, or unscoped) with the scope removed.
pub fn hosts_for_namespace<'a>(hosts: &'a [String], namespace: &str) -> Vec<&'a str> {
    hosts
        .iter()
        .filter_map(|h| match h.split_once('/') {
            Some((ns, name)) if ns == namespace || ns == "*" => Some(name),
            Some(_) => None,
            None => Some(h.as_str()),
        })
        .collect()
}

/// A reference that is either `name` (in `default_ns`) or `namespace/name`, as Gateways and
/// credential names are written; returns `(namespace, name)`.
pub fn short_or_full_name<'a>(default_ns: &'a str, name: &'a str) -> (&'a str, &'a str) {
    name.split_once('/').unwrap_or((default_ns, name))
}

/// The namespaces an exportTo list makes a resource visible in: `*` alone when exported
/// everywhere, `.` resolved to the resource's own namespace; sorted, without duplicates.
pub fn export_scopes(export_to: &[String], namespace: &str) -> Vec<String> {
    if exports_to_all(export_to) {
        return vec![EXPORT_ALL.to_string()];
    }
    let set: std::collections::BTreeSet<String> = export_to
        .iter()
        .map(|e| {
            if e == EXPORT_LOCAL {
                namespace.to_string()
            } else {
                e.clone()
            }
        })
        .collect();
    set.into_iter().collect()
}

/// True when an exportTo list makes a resource visible everywhere (empty means everywhere).
pub fn exports_to_all(export_to: &[String]) -> bool {
    export_to.is_empty() || export_to.iter().any(|e| e == EXPORT_ALL)
}

/// A host made visible to one namespace scope (`*` for all).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopedFqdn {
    pub scope: String,
    pub fqdn: String,
}

impl ScopedFqdn {
    pub fn new(scope: &str, namespace: &str, host: &str) -> Self {
        ScopedFqdn {
            scope: scope.to_string(),
            fqdn: to_fqdn(namespace, host),
        }
    }
}

impl std::fmt::Display for ScopedFqdn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.scope, self.fqdn)
    }
}

/// A label selector in Kubernetes' string form (`a=b,c=d`, keys sorted); empty selects all.
pub fn selector_string(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Equality-based selection: every selector label is present with the same value.
pub fn selector_matches(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fqdn_and_matching() {
        assert_eq!(to_fqdn("ns", "reviews"), "reviews.ns.svc.cluster.local");
        assert_eq!(to_fqdn("ns", "a.b"), "a.b");
        assert_eq!(to_fqdn("ns", "*"), "*");
        assert_eq!(
            service_of_fqdn("reviews.ns.svc.cluster.local"),
            Some(("ns", "reviews"))
        );
        assert_eq!(service_of_fqdn("example.com"), None);
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(host_matches("a.example.com", "*.example.com"));
        assert!(host_matches("*.example.com", "*.b.example.com"));
        assert!(!host_matches("*.example.com", "example.org"));
        assert!(host_matches("*", "anything"));
        assert!(!host_matches("a", "b"));
        let hosts = vec![
            "ns1/a".to_string(),
            "*/b".into(),
            "c".into(),
            "ns2/d".into(),
        ];
        assert_eq!(hosts_for_namespace(&hosts, "ns1"), ["a", "b", "c"]);
        assert_eq!(short_or_full_name("d", "gw"), ("d", "gw"));
        assert_eq!(short_or_full_name("d", "ns/gw"), ("ns", "gw"));
        assert_eq!(export_scopes(&[], "ns"), ["*"]);
        let ex = vec![".".to_string(), "b".into(), "ns".into()];
        assert_eq!(export_scopes(&ex, "ns"), ["b", "ns"]);
    }

    #[test]
    fn selectors() {
        let sel: BTreeMap<_, _> =
            [("b".to_string(), "2".to_string()), ("a".into(), "1".into())].into();
        assert_eq!(selector_string(&sel), "a=1,b=2");
        let mut labels = sel.clone();
        labels.insert("c".into(), "3".into());
        assert!(selector_matches(&sel, &labels));
        assert!(selector_matches(&BTreeMap::new(), &labels));
        labels.insert("a".into(), "x".into());
        assert!(!selector_matches(&sel, &labels));
    }
}
