//! Timing, not a check: how long N namespaces take to create and tear down. Ignored by
//! default; run with
//! `VERIMESH_LOCAL_SCALE=200 cargo test -p verimesh-local --test scale -- --ignored --nocapture`.

mod common;

use common::*;
use std::time::{Duration, Instant};
use verimesh_local::{ProcessSpec, ServiceEntry, WorkloadSpec};

#[test]
#[ignore = "prints timings; run explicitly"]
fn create_and_tear_down_many() {
    if !available() {
        return;
    }
    let n: u32 = std::env::var("VERIMESH_LOCAL_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    // A /20 so a few hundred workloads fit in the first half.
    let third = 8 + (std::process::id() % 14) as u8 * 16;
    let net = format!("198.19.{third}.0/20").parse().expect("subnet");
    let t = Instant::now();
    let mut run = create('s', net);
    let created = t.elapsed();

    let t = Instant::now();
    let mut names = Vec::new();
    for i in 0..n {
        let w = run
            .add_workload(&WorkloadSpec::new(&format!("w{i:04}"), 0, "default"))
            .expect("workload");
        names.push(w.name);
    }
    let workloads = t.elapsed();

    let services: Vec<ServiceEntry> = run
        .addressing()
        .service_addresses()
        .take(n as usize)
        .enumerate()
        .map(|(i, vip)| ServiceEntry {
            name: format!("svc{i:04}"),
            namespace: "default".into(),
            vip,
        })
        .collect();
    let t = Instant::now();
    run.set_services(&services).expect("services");
    let hosts = t.elapsed();

    let t = Instant::now();
    for name in &names {
        run.spawn(name, &ProcessSpec::new("app", "sleep", &["1000"]))
            .expect("spawn");
    }
    let spawned = t.elapsed();

    let t = Instant::now();
    let report = run.teardown().expect("teardown");
    let down = t.elapsed();
    assert_eq!(report.namespaces, n as usize);
    let per = |d: Duration| d / n.max(1);
    println!(
        "{n} workloads: bridge {created:?}; namespaces {workloads:?} ({:?} each); \
         {n} services into {n} hosts files {hosts:?}; {n} processes {spawned:?} ({:?} each); \
         teardown {down:?} ({:?} each)",
        per(workloads),
        per(spawned),
        per(down)
    );
}
