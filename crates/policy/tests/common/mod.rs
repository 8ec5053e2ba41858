//! Shared helpers: load YAML, build an engine, describe workloads, connections and requests.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use verimesh_config::mesh::MeshConfig;
use verimesh_config::{load_str, Loaded, Resource};
use verimesh_policy::{Connection, Engine, Outcome, Peer, RawRequest, Verdict, Workload};

pub fn load(yaml: &str) -> Vec<Resource> {
    let mut loaded = Loaded::default();
    load_str(&mut loaded, "test.yaml", yaml);
    assert!(
        loaded.unusable.is_empty(),
        "unusable YAML: {:?}",
        loaded.diagnostics
    );
    loaded.resources
}

pub fn mesh(yaml: &str) -> MeshConfig {
    MeshConfig::from_yaml_str("mesh.yaml", yaml).expect("mesh config")
}

pub fn engine(yaml: &str) -> Engine {
    engine_with(yaml, &MeshConfig::default())
}

pub fn engine_with(yaml: &str, mesh: &MeshConfig) -> Engine {
    let res = load(yaml);
    Engine::build(&res, mesh, HashMap::new())
}

pub fn workload(ns: &str, labels: &[(&str, &str)]) -> Workload {
    Workload {
        namespace: ns.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..Workload::default()
    }
}

/// An mTLS connection from `principal` (`None`: plaintext) to port 8080.
pub fn conn(principal: Option<&str>) -> Connection {
    Connection {
        peer: principal.and_then(Peer::parse),
        source_ip: Some("10.0.0.1".parse().expect("literal address")),
        remote_ip: None,
        destination_ip: Some("10.0.0.2".parse().expect("literal address")),
        destination_port: 8080,
        sni: None,
    }
}

pub fn req(method: &str, target: &str, headers: &[(&str, &str)]) -> RawRequest {
    RawRequest {
        method: method.into(),
        target: target.into(),
        authority: None,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

pub fn get(path: &str) -> RawRequest {
    req("GET", path, &[("host", "svc.foo.svc.cluster.local")])
}

pub const NOW: u64 = 1_700_000_000;

/// Decides an HTTP request for workload `app=a` in `foo`.
pub fn http(e: &Engine, c: &Connection, r: &RawRequest) -> Outcome {
    let wp = e.for_workload(&workload("foo", &[("app", "a")]));
    e.decide(&wp, c, Some(r), NOW)
}

pub fn tcp(e: &Engine, c: &Connection) -> Outcome {
    let wp = e.for_workload(&workload("foo", &[("app", "a")]));
    e.decide(&wp, c, None, NOW)
}

pub fn allowed(o: &Outcome) -> bool {
    o.verdict == Verdict::Allow
}

/// `namespace/name rule N` of the deciding rule, or "default".
pub fn decided_by(e: &Engine, o: &Outcome) -> String {
    match o.decision.as_ref().and_then(|d| d.deciding) {
        Some(r) => format!(
            "{} rule {}",
            e.policies.policy_id(r.policy),
            r.rule.map_or("-".into(), |n| n.to_string())
        ),
        None => "default".into(),
    }
}
