//! The authorization benchmark: 1,000 generated AuthorizationPolicies, then the time of one
//! decision per request (normalization + authorization, and authorization alone).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;
use verimesh_config::mesh::MeshConfig;
use verimesh_config::{load_str, Loaded};
use verimesh_policy::{
    Attributes, Connection, Engine, Normalizer, Peer, RawRequest, Verdict, Workload,
};

const NAMESPACES: usize = 20;

/// `policies` policies: a few mesh-wide DENYs in the root namespace, the rest spread over
/// namespaces and apps (`app-<i % 50>`), mostly ALLOW with principals, methods, paths and
/// header conditions, one in ten DENY. `one_scope`: every policy namespace-wide in `all`,
/// so all of them apply to one workload (the worst case).
fn corpus(policies: usize, one_scope: bool) -> String {
    let mut y = String::new();
    for i in 0..policies {
        let (ns, selector) = if one_scope {
            ("all".to_string(), String::new())
        } else if i < 5 {
            ("istio-system".to_string(), String::new())
        } else {
            (
                format!("ns-{}", i % NAMESPACES),
                format!(
                    "  selector: {{matchLabels: {{app: app-{}}}}}\n",
                    (i / NAMESPACES) % 5
                ),
            )
        };
        let deny = i < 5 || i % 10 == 0;
        let action = if deny { "DENY" } else { "ALLOW" };
        let _ = write!(
            y,
            "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: p-{i}, namespace: {ns}}}\nspec:\n{selector}  action: {action}\n  rules:\n"
        );
        if deny {
            let _ = write!(
                y,
                "  - to:\n    - operation: {{paths: ['/admin-{i}/*', /debug-{i}]}}\n  - when:\n    - key: request.headers[x-block-{i}]\n      values: ['*']\n"
            );
        } else {
            let _ = write!(
                y,
                "  - from:\n    - source: {{principals: [cluster.local/ns/{ns}/sa/client-{i}, 'cluster.local/ns/other/*']}}\n    to:\n    - operation: {{methods: [GET, HEAD], paths: ['/api/v{i}/*', '/items/{{*}}/detail']}}\n    when:\n    - key: request.headers[x-tenant]\n      values: [tenant-{i}, 'shared-*']\n  - from:\n    - source: {{namespaces: [ns-{}]}}\n    to:\n    - operation: {{ports: ['8080'], notPaths: ['/internal/*']}}\n",
                (i + 1) % NAMESPACES
            );
        }
        y.push_str("---\n");
    }
    y
}

fn requests(n: usize) -> Vec<(Connection, RawRequest)> {
    (0..n)
        .map(|i| {
            let principal = format!(
                "spiffe://cluster.local/ns/ns-{}/sa/client-{}",
                i % 7,
                i % 13
            );
            let conn = Connection {
                peer: Peer::parse(&principal),
                source_ip: Some(
                    "10.0.0.1"
                        .parse()
                        .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
                ),
                remote_ip: None,
                destination_ip: None,
                destination_port: 8080,
                sni: None,
            };
            let target = match i % 4 {
                0 => format!("/api/v{}/orders?id={i}", i % 97),
                1 => format!("/items/{i}/detail"),
                2 => "/internal/../public//x".to_string(),
                _ => format!("/admin-{}/x", i % 11),
            };
            let raw = RawRequest {
                method: if i % 5 == 0 { "POST" } else { "GET" }.into(),
                target,
                authority: Some("svc.ns-0.svc.cluster.local:8080".into()),
                headers: vec![
                    ("x-tenant".into(), format!("tenant-{}", i % 9)),
                    ("user-agent".into(), "bench/1.0".into()),
                    ("accept".into(), "*/*".into()),
                ],
            };
            (conn, raw)
        })
        .collect()
}

fn percentile(sorted_ns: &[u64], p: f64) -> f64 {
    let i = ((sorted_ns.len() as f64 - 1.0) * p).round() as usize;
    sorted_ns.get(i).copied().unwrap_or(0) as f64 / 1e3
}

/// Times `f` once per request, `rounds` times over; returns (median µs, p99 µs).
fn time_each(n: usize, rounds: usize, mut f: impl FnMut(usize) -> bool) -> (f64, f64, usize) {
    let mut ns = Vec::with_capacity(n * rounds);
    let mut allowed = 0;
    for _ in 0..rounds {
        for i in 0..n {
            let start = Instant::now();
            let ok = f(i);
            ns.push(start.elapsed().as_nanos() as u64);
            allowed += usize::from(ok);
        }
    }
    ns.sort_unstable();
    (
        percentile(&ns, 0.5),
        percentile(&ns, 0.99),
        allowed / rounds,
    )
}

pub fn run(policies: usize, requests_n: usize, rounds: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut loaded = Loaded::default();
    load_str(&mut loaded, "bench.yaml", &corpus(policies, false));
    anyhow::ensure!(loaded.unusable.is_empty(), "generated YAML did not load");
    let engine = Engine::build(&loaded.resources, &MeshConfig::default(), HashMap::new());
    println!(
        "authz: {} policies loaded and compiled in {:.0} ms",
        engine.policies.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
    let reqs = requests(requests_n);
    let workloads = [
        (
            "typical workload",
            Workload {
                namespace: "ns-0".into(),
                labels: [("app".to_string(), "app-0".to_string())].into(),
                ..Workload::default()
            },
        ),
        ("every policy in scope", Workload::default()),
    ];
    for (label, w) in workloads {
        // The worst case: the same policies, all namespace-wide in one namespace.
        let engine = if w.namespace.is_empty() {
            let mut l = Loaded::default();
            load_str(&mut l, "bench-all.yaml", &corpus(policies, true));
            Engine::build(&l.resources, &MeshConfig::default(), HashMap::new())
        } else {
            engine.clone()
        };
        let w = if w.namespace.is_empty() {
            Workload {
                namespace: "all".into(),
                ..Workload::default()
            }
        } else {
            w
        };
        let wp = engine.for_workload(&w);
        let in_scope = wp.selected.allow.len() + wp.selected.deny.len();
        let (med, p99, allowed) = time_each(reqs.len(), rounds, |i| {
            let (c, r) = &reqs[i];
            engine.decide_quiet(&wp, c, Some(r), 0).verdict == Verdict::Allow
        });
        println!(
            "authz: {label} ({in_scope} policies in scope): decide (normalize + authorize) median {med:.2} µs, p99 {p99:.2} µs; {allowed}/{} allowed",
            reqs.len()
        );
        let normalized: Vec<_> = reqs
            .iter()
            .filter_map(|(c, r)| {
                Normalizer::default()
                    .normalize(r)
                    .ok()
                    .map(|h| (c.clone(), h))
            })
            .collect();
        let (med, p99, _) = time_each(normalized.len(), rounds, |i| {
            let (c, h) = &normalized[i];
            let a = Attributes {
                conn: c,
                http: Some(h),
                auth: None,
            };
            engine.policies.evaluate_quiet(&wp.selected, &a).allowed
        });
        let (emed, ep99, _) = time_each(normalized.len(), rounds, |i| {
            let (c, h) = &normalized[i];
            let a = Attributes {
                conn: c,
                http: Some(h),
                auth: None,
            };
            engine.policies.evaluate(&wp.selected, &a).allowed
        });
        println!("authz: {label}: authorize only median {med:.2} µs, p99 {p99:.2} µs; with reasons recorded median {emed:.2} µs, p99 {ep99:.2} µs");
    }
    Ok(())
}
