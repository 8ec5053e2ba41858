//! `verimesh-bench compile`: a synthetic mesh of N services (each with a DestinationRule of two
//! subsets and a VirtualService splitting 90/10) over 2N endpoints and N proxies; then a route
//! change (one VirtualService's weights), and the time to recompile every proxy after it:
//! index the new snapshot, then compile all proxies (outbound views shared).

use std::fmt::Write as _;
use std::time::Instant;
use verimesh_analyze::Snapshot;
use verimesh_compiler::{Compiler, Placement};

fn mesh_yaml(services: usize, namespaces: usize, first_weight: u32) -> String {
    let mut y = String::new();
    for i in 0..services {
        let ns = format!("ns-{}", i % namespaces);
        // Deployment i is in group i/2 with version i%2: service i selects group (i/2), so
        // every service has two endpoints and every instance serves two services.
        let group = i / 2;
        let _ = write!(
            y,
            "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}, labels: {{istio-injection: enabled}}}}\n\
---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app-{i}, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app: app-{i}}}}}\n  template:\n    metadata: {{labels: {{app: app-{i}, group: g-{group}, version: v{v}}}}}\n    spec:\n      serviceAccountName: sa-{i}\n      containers: [{{name: app, image: app, ports: [{{containerPort: 8080}}]}}]\n\
---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}, namespace: {ns}}}\nspec:\n  selector: {{group: g-{group}}}\n  ports: [{{name: http, port: 80, targetPort: 8080}}]\n\
---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: svc-{i}, namespace: {ns}}}\nspec:\n  host: svc-{i}\n  trafficPolicy: {{connectionPool: {{tcp: {{maxConnections: 100}}}}}}\n  subsets:\n  - {{name: v0, labels: {{version: v0}}}}\n  - {{name: v1, labels: {{version: v1}}}}\n\
---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: svc-{i}, namespace: {ns}}}\nspec:\n  hosts: [svc-{i}]\n  http:\n  - match: [{{headers: {{x-canary: {{exact: \"1\"}}}}}}]\n    route: [{{destination: {{host: svc-{i}, subset: v1}}}}]\n  - route:\n    - {{destination: {{host: svc-{i}, subset: v0}}, weight: {w0}}}\n    - {{destination: {{host: svc-{i}, subset: v1}}, weight: {w1}}}\n    timeout: 2s\n",
            v = i % 2,
            w0 = if i == 0 { first_weight } else { 90 },
            w1 = if i == 0 { 100 - first_weight } else { 10 },
        );
    }
    y
}

fn load(text: &str) -> verimesh_config::Loaded {
    let mut loaded = verimesh_config::Loaded::default();
    verimesh_config::load_str(&mut loaded, "mesh.yaml", text);
    loaded
}

pub fn run(services: usize, namespaces: usize, runs: usize) -> anyhow::Result<()> {
    let namespaces = namespaces.clamp(1, services.max(1));
    let before = load(&mesh_yaml(services, namespaces, 90));
    let after = load(&mesh_yaml(services, namespaces, 50));
    let snap_before = Snapshot::new(&before.resources, Default::default());
    let placement = Placement::synthesize(&snap_before, "cluster.local");
    let endpoints: usize = placement.instances.len() * 2;
    let old_versions: Vec<String> = Compiler::new(&snap_before, &placement)?
        .compile_all()
        .into_iter()
        .map(|p| p.version)
        .collect();
    let mut index_ms = Vec::new();
    let mut compile_ms = Vec::new();
    let mut changed = 0;
    let mut views = 0;
    let mut sample = None;
    for _ in 0..runs {
        let start = Instant::now();
        let snap = Snapshot::new(&after.resources, Default::default());
        let compiler = Compiler::new(&snap, &placement)?;
        let indexed = start.elapsed();
        let proxies = compiler.compile_all();
        let done = start.elapsed();
        index_ms.push(indexed.as_secs_f64() * 1e3);
        compile_ms.push(done.as_secs_f64() * 1e3);
        changed = proxies
            .iter()
            .zip(&old_versions)
            .filter(|(p, old)| p.version != **old)
            .count();
        let mut distinct: Vec<*const _> = proxies
            .iter()
            .map(|p| std::sync::Arc::as_ptr(&p.outbound))
            .collect();
        distinct.sort();
        distinct.dedup();
        views = distinct.len();
        sample = Some(proxies);
    }
    let proxies = sample.unwrap_or_default();
    // For reference: what materializing and serializing every config separately would cost,
    // extrapolated from one proxy (a push server should serialize each shared view once).
    let start = Instant::now();
    let one = proxies.first().map(|p| p.to_config());
    let materialize_ms = start.elapsed().as_secs_f64() * 1e3 * proxies.len() as f64;
    let start = Instant::now();
    let bytes = one
        .as_ref()
        .and_then(|c| serde_json::to_vec(c).ok())
        .map_or(0, |v| v.len());
    let serialize_ms = start.elapsed().as_secs_f64() * 1e3 * proxies.len() as f64;
    index_ms.sort_by(f64::total_cmp);
    compile_ms.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(0.0);
    println!(
        "compile: {services} services in {namespaces} namespaces, {endpoints} endpoints, {} proxies ({views} distinct outbound views)",
        proxies.len()
    );
    println!(
        "compile: route change -> index {:.1} ms (median {:.1}), index + compile all proxies best {:.1} ms, median {:.1} ms ({runs} runs; target: well under 1000 ms)",
        index_ms.first().copied().unwrap_or(0.0),
        median(&index_ms),
        compile_ms.first().copied().unwrap_or(0.0),
        median(&compile_ms)
    );
    println!(
        "compile: {changed} of {} proxies got a new version",
        proxies.len()
    );
    println!(
        "compile: for reference (extrapolated from one proxy), materializing every config separately {materialize_ms:.0} ms, serializing each to JSON {serialize_ms:.0} ms ({} KiB per proxy)",
        bytes / 1024
    );
    Ok(())
}
