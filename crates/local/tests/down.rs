//! `down` after a run that was SIGKILLed: a child process (this test binary, re-run with an
//! environment variable) creates a run with workloads and processes and is killed; `down`
//! must then remove every namespace, link, rule, process and file it left, and be safe to run
//! again. Needs root; skips otherwise.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use verimesh_local::{down, ProcessSpec, Run, ServiceEntry, State, WorkloadSpec};

const CHILD_ENV: &str = "VERIMESH_LOCAL_TEST_CHILD";

/// The child's side: builds a run, says READY, then waits to be killed.
#[test]
#[ignore = "run by killed_run_is_cleaned_up_by_down in a child process"]
fn child_builds_a_run() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (name, subnet, dir) = {
        let mut parts = spec.split(',');
        (
            parts.next().expect("name").to_string(),
            parts.next().expect("subnet").parse().expect("subnet"),
            parts.next().expect("dir").to_string(),
        )
    };
    let mut opts = verimesh_local::RunOptions::new(&name).expect("run name");
    opts.subnet = subnet;
    opts.state_dir = dir.into();
    let mut run = Run::create(opts).expect("create");
    let vip = run.addressing().service_addresses().next().expect("vip");
    run.set_services(&[ServiceEntry {
        name: "web".into(),
        namespace: "default".into(),
        vip,
    }])
    .expect("services");
    for replica in 0..2 {
        let w = run
            .add_workload(&WorkloadSpec::new("web", replica, "default"))
            .expect("workload");
        run.spawn(&w.name, &ProcessSpec::new("app", "sleep", &["1000"]))
            .expect("spawn");
        // A grandchild in the namespace, outside any recorded process group.
        let script = "setsid sleep 1000 & sleep 1000";
        run.spawn(&w.name, &ProcessSpec::new("forker", "sh", &["-c", script]))
            .expect("spawn");
    }
    println!("READY");
    std::thread::sleep(Duration::from_secs(60));
    std::mem::forget(run);
}

/// Removes the run if the test fails half-way.
struct Cleanup(std::path::PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = down(&self.0, Duration::from_millis(100));
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn killed_run_is_cleaned_up_by_down() {
    if !available() {
        return;
    }
    let name = run_name('k');
    let dir = state_dir(&name);
    let _cleanup = Cleanup(dir.clone());
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_builds_a_run", "--ignored", "--nocapture"])
        .env(CHILD_ENV, format!("{name},{},{}", subnet(7), dir.display()))
        .stdout(Stdio::piped())
        .spawn()
        .expect("child");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("READY") {
                let _ = tx.send(());
            }
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(60));
    child.kill().expect("SIGKILL the run");
    child.wait().expect("reap");
    ready.expect("child built its run");

    let state = State::load(&dir)
        .expect("state")
        .expect("state file left behind");
    assert_eq!(state.workloads.len(), 2);
    assert_eq!(state.processes.len(), 4);
    let needle = format!("vm-{name}");
    assert!(!leftovers(&needle).is_empty(), "the run's resources exist");
    let netns_pids = || -> Vec<i32> {
        state
            .workloads
            .iter()
            .flat_map(|w| {
                let out = Command::new("ip")
                    .args(["netns", "pids", &w.netns])
                    .output()
                    .expect("ip netns pids");
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    };
    // The shells fork their children on their own time: wait for all of them.
    let mut in_netns = netns_pids();
    wait_until(Duration::from_secs(5), || {
        in_netns = netns_pids();
        in_netns.len() >= 8
    });
    // Two recorded processes, the forker's child and the setsid grandchild, per workload.
    assert_eq!(in_netns.len(), 8, "{in_netns:?}");

    let started = Instant::now();
    let reports = down(&dir, Duration::from_secs(2)).expect("down");
    let took = started.elapsed();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].namespaces, 2);
    assert_eq!(reports[0].rules, usize::from(bridge_netfilter()));
    assert!(took < Duration::from_secs(5), "down took {took:?}");

    assert_eq!(leftovers(&needle), Vec::<String>::new());
    assert_eq!(
        leftovers(&format!("verimesh run {name}")),
        Vec::<String>::new()
    );
    for pid in state.processes.iter().map(|p| p.pid).chain(in_netns) {
        assert!(!alive(pid), "pid {pid} survived");
    }
    for w in &state.workloads {
        assert!(!w.etc_dir.exists());
    }
    assert!(State::load(&dir).expect("read").is_none());
    // Twice is fine: nothing left to do.
    assert_eq!(
        down(&dir, Duration::from_secs(1)).expect("again"),
        Vec::new()
    );
}

fn bridge_netfilter() -> bool {
    std::fs::read_to_string("/proc/sys/net/bridge/bridge-nf-call-iptables")
        .is_ok_and(|v| v.trim() == "1")
}
