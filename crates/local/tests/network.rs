//! Real namespaces on a real bridge: workloads reach each other by address, a VIP with no
//! interface reaches a listener through a REDIRECT rule (what the sidecar's rules do), service
//! names resolve through the hosts file, and two runs coexist. Needs root; skips otherwise.

mod common;

use common::*;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use verimesh_local::{ProcessSpec, Run, ServiceEntry, WorkloadSpec};

fn svc(name: &str, ns: &str, vip: Ipv4Addr) -> ServiceEntry {
    ServiceEntry {
        name: name.into(),
        namespace: ns.into(),
        vip,
    }
}

#[test]
fn workloads_reach_each_other_over_the_bridge() {
    if !available() {
        return;
    }
    let mut run = create('a', subnet(0));
    let a = run
        .add_workload(&WorkloadSpec::new("client", 0, "default"))
        .expect("a");
    let b = run
        .add_workload(&WorkloadSpec::new("server", 0, "default"))
        .expect("b");
    assert_ne!(a.address, b.address);
    assert!(run.addressing().workload_net().contains(&a.address));
    let to = SocketAddr::from((b.address, 8080));
    let server = echo_once(&b.netns, to);
    assert_eq!(talk(&a.netns, to).expect("connect over bridge"), "hello");
    server.join().expect("server");
    // The gateway (the bridge's address) answers from inside too: the host is reachable.
    let out = ns_exec(&a.netns, &["ip", "route", "get", &b.address.to_string()]);
    assert!(stdout(&out).contains("dev eth0"), "{}", stdout(&out));
    let report = run.teardown().expect("teardown");
    assert_eq!((report.namespaces, report.links), (2, 3));
    assert!(leftovers(&format!("vm-{}", run_name('a'))).is_empty());
}

#[test]
fn a_vip_needs_no_interface_only_the_redirect() {
    if !available() {
        return;
    }
    let mut run = create('b', subnet(1));
    let a = run
        .add_workload(&WorkloadSpec::new("client", 0, "default"))
        .expect("a");
    let vip = run.addressing().service_addresses().next().expect("a VIP");
    // What the sidecar's iptables does, reduced to one rule: the VIP's port to a local one.
    let rule = [
        "iptables",
        "-w",
        "-t",
        "nat",
        "-A",
        "OUTPUT",
        "-p",
        "tcp",
        "-d",
        &vip.to_string(),
        "--dport",
        "80",
        "-j",
        "REDIRECT",
        "--to-ports",
        "18080",
    ];
    assert!(ns_exec(&a.netns, &rule).status.success());
    let server = echo_once(&a.netns, SocketAddr::from(([0, 0, 0, 0], 18080)));
    let reply = talk(&a.netns, SocketAddr::from((vip, 80))).expect("connect to VIP");
    assert_eq!(reply, "hello");
    server.join().expect("server");
    // Without the redirect the VIP is routed to the gateway, which does not forward: nothing
    // answers, and nothing leaks out of the host either.
    let vip2 = SocketAddr::from((
        run.addressing().service_addresses().nth(1).expect("VIP"),
        80,
    ));
    assert!(talk(&a.netns, vip2).is_err());
}

#[test]
fn service_names_resolve_and_updates_reach_running_processes() {
    if !available() {
        return;
    }
    let mut run = create('c', subnet(2));
    let vips: Vec<Ipv4Addr> = run.addressing().service_addresses().take(3).collect();
    run.set_services(&[
        svc("reviews", "default", vips[0]),
        svc("db", "data", vips[1]),
    ])
    .expect("services");
    let w = run
        .add_workload(&WorkloadSpec::new("productpage", 0, "default"))
        .expect("workload");
    let other = run
        .add_workload(&WorkloadSpec::new("loader", 0, "data"))
        .expect("workload");

    let lookup = |netns: &str, name: &str| stdout(&ns_exec(netns, &["getent", "hosts", name]));
    for name in [
        "reviews",
        "reviews.default",
        "reviews.default.svc",
        "reviews.default.svc.cluster.local",
    ] {
        assert!(
            lookup(&w.netns, name).starts_with(&vips[0].to_string()),
            "{name}"
        );
    }
    assert!(lookup(&w.netns, "db.data").starts_with(&vips[1].to_string()));
    // Short names are relative to the workload's own namespace.
    assert!(lookup(&w.netns, "db").is_empty());
    assert!(lookup(&other.netns, "db").starts_with(&vips[1].to_string()));
    assert!(lookup(&other.netns, "reviews").is_empty());
    // The replica's own name resolves to its address, as a pod's hostname does.
    assert!(lookup(&w.netns, &w.name).starts_with(&w.address.to_string()));

    // Started before `late` exists; it polls until the name resolves.
    let script = "until getent hosts late.default; do sleep 0.05; done; getent hosts late";
    let poller = run
        .spawn(&w.name, &ProcessSpec::new("poller", "sh", &["-c", script]))
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(300));
    assert!(poller.status().is_none(), "resolved before the update");
    let mut services = run.state().services.clone();
    services.push(svc("late", "default", vips[2]));
    run.set_services(&services).expect("update");
    let status = poller
        .wait_timeout(Duration::from_secs(10))
        .expect("exited");
    assert!(status.success());
    let log = std::fs::read_to_string(poller.stdout_log()).expect("log");
    assert!(log.contains(&vips[2].to_string()), "{log}");
}

#[test]
fn two_runs_coexist_and_tear_down_independently() {
    if !available() {
        return;
    }
    // Two halves of one test slot: distinct subnets, distinct run names.
    let net = subnet(3);
    let mut halves = net.subnets(25).expect("halves");
    let (n1, n2) = (halves.next().expect("1"), halves.next().expect("2"));
    let mut one = create('d', n1);
    let mut two = create('e', n2);
    assert_ne!(one.bridge(), two.bridge());
    let spec = WorkloadSpec::new("web", 0, "default");
    let (a1, a2) = (
        one.add_workload(&spec).expect("one"),
        two.add_workload(&spec).expect("two"),
    );
    let (b1, b2) = (
        one.add_workload(&WorkloadSpec::new("web", 1, "default"))
            .expect("one"),
        two.add_workload(&WorkloadSpec::new("web", 1, "default"))
            .expect("two"),
    );
    assert_ne!(a1.netns, a2.netns);
    // The same subnet again is refused rather than shadowing the first run's routes.
    let clash = Run::create(options('f', n1));
    assert!(
        matches!(clash, Err(verimesh_local::Error::SubnetInUse { .. })),
        "{:?}",
        clash.err()
    );

    one.teardown().expect("teardown one");
    assert!(leftovers(&format!("vm-{}", run_name('d'))).is_empty());
    let to = SocketAddr::from((b2.address, 9090));
    let server = echo_once(&b2.netns, to);
    assert_eq!(talk(&a2.netns, to).expect("run two still works"), "hello");
    server.join().expect("server");
    let _ = b1;
    two.teardown().expect("teardown two");
    assert!(leftovers(&format!("vm-{}", run_name('e'))).is_empty());
}

#[test]
fn refuses_clashes_and_bad_input_and_keeps_others_resources() {
    if !available() {
        return;
    }
    let mut run = create('j', subnet(4));
    // Someone else's namespace with the name a workload would get: refused, and left alone.
    let foreign = run.name().netns("clash-0");
    assert!(std::process::Command::new("ip")
        .args(["netns", "add", &foreign])
        .status()
        .expect("ip")
        .success());
    let clash = run.add_workload(&WorkloadSpec::new("clash", 0, "default"));
    assert!(
        matches!(clash, Err(verimesh_local::Error::RunInUse(_))),
        "{clash:?}"
    );
    assert!(std::path::Path::new("/run/netns").join(&foreign).exists());
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", &foreign])
        .status();

    let gw = run.addressing().gateway();
    let mut spec = WorkloadSpec::new("web", 0, "default");
    spec.address = Some(gw);
    assert!(run.add_workload(&spec).is_err());
    spec.address = Some(Ipv4Addr::new(10, 0, 0, 1));
    assert!(run.add_workload(&spec).is_err());
    spec.address = None;
    let w = run.add_workload(&spec).expect("web-0");
    assert!(run.add_workload(&spec).is_err(), "duplicate");
    let mut again = WorkloadSpec::new("web", 1, "default");
    again.address = Some(w.address);
    assert!(run.add_workload(&again).is_err(), "address taken");
    assert!(run
        .add_workload(&WorkloadSpec::new("Bad_Name", 0, "default"))
        .is_err());
    assert_eq!(run.state().workloads.len(), 1);
    assert!(run.set_ready("nope-0", true).is_err());
}
