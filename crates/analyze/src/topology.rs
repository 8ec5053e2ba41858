//! The topology labels Istio gives a workload's endpoints on top of the pod's own labels, so
//! that DestinationRule subsets (and other selectors) can select by region, zone, node, cluster
//! or network.
//!
//! The locality comes from the labels of the pod's Node and travels as one
//! `region/zone/subzone` string, as in istiod; that round trip is kept because it is what
//! decides the result when a part is missing (a subzone without a zone is lost) or holds a `/`.

use std::collections::BTreeMap;

pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
pub const LABEL_REGION: &str = "topology.kubernetes.io/region";
pub const LABEL_ZONE: &str = "topology.kubernetes.io/zone";
pub const LABEL_SUBZONE: &str = "topology.istio.io/subzone";
pub const LABEL_CLUSTER: &str = "topology.istio.io/cluster";
pub const LABEL_NETWORK: &str = "topology.istio.io/network";

/// The locality string of a node's labels: `region`, then `/zone` when there is a zone, then
/// `/subzone` when there is also a subzone.
pub fn node_locality(node_labels: &BTreeMap<String, String>) -> String {
    let get = |k: &str| node_labels.get(k).map_or("", String::as_str);
    let mut out = get(LABEL_REGION).to_string();
    let zone = get(LABEL_ZONE);
    if zone.is_empty() {
        return out;
    }
    out.push('/');
    out.push_str(zone);
    let subzone = get(LABEL_SUBZONE);
    if !subzone.is_empty() {
        out.push('/');
        out.push_str(subzone);
    }
    out
}

/// Splits a locality string into region, zone and subzone; parts after the third are dropped.
pub fn split_locality(locality: &str) -> (&str, &str, &str) {
    let mut parts = locality.split('/');
    let region = parts.next().unwrap_or("");
    let zone = parts.next().unwrap_or("");
    let subzone = parts.next().unwrap_or("");
    (region, zone, subzone)
}

/// A workload's labels with the topology labels added. Locality parts, the cluster and the node
/// replace labels of the same key when they are not empty; the network is added only where the
/// workload has no (or an empty) network label of its own.
pub fn augment_labels(
    labels: &BTreeMap<String, String>,
    cluster: &str,
    locality: &str,
    node: &str,
    network: &str,
) -> BTreeMap<String, String> {
    let mut out = labels.clone();
    let mut set = |k: &str, v: &str| {
        if !v.is_empty() {
            out.insert(k.to_string(), v.to_string());
        }
    };
    let (region, zone, subzone) = split_locality(locality);
    set(LABEL_REGION, region);
    set(LABEL_ZONE, zone);
    set(LABEL_SUBZONE, subzone);
    set(LABEL_CLUSTER, cluster);
    set(LABEL_HOSTNAME, node);
    if !network.is_empty() && out.get(LABEL_NETWORK).is_none_or(String::is_empty) {
        out.insert(LABEL_NETWORK.to_string(), network.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn locality_from_node_labels() {
        let full = labels(&[(LABEL_REGION, "r"), (LABEL_ZONE, "z"), (LABEL_SUBZONE, "s")]);
        assert_eq!(node_locality(&full), "r/z/s");
        // A subzone needs a zone; a zone without a region keeps its place.
        assert_eq!(
            node_locality(&labels(&[(LABEL_REGION, "r"), (LABEL_SUBZONE, "s")])),
            "r"
        );
        assert_eq!(node_locality(&labels(&[(LABEL_ZONE, "z")])), "/z");
        assert_eq!(split_locality("/z"), ("", "z", ""));
        assert_eq!(split_locality("a/b/c/d"), ("a", "b", "c"));
    }

    #[test]
    fn augmenting_overrides_topology_but_not_the_network() {
        let pod = labels(&[("app", "web"), (LABEL_ZONE, "old"), (LABEL_NETWORK, "own")]);
        let out = augment_labels(&pod, "c1", "r/z", "node-1", "net");
        assert_eq!(
            out,
            labels(&[
                ("app", "web"),
                (LABEL_REGION, "r"),
                (LABEL_ZONE, "z"),
                (LABEL_CLUSTER, "c1"),
                (LABEL_HOSTNAME, "node-1"),
                (LABEL_NETWORK, "own"),
            ])
        );
        let bare = augment_labels(&labels(&[("app", "web")]), "", "", "", "net");
        assert_eq!(bare, labels(&[("app", "web"), (LABEL_NETWORK, "net")]));
        assert_eq!(augment_labels(&pod, "", "", "", ""), pod);
    }
}
