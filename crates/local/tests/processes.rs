//! Supervised processes in workload namespaces: environment, uid, logs, exit reports, and
//! teardown stopping them (with SIGKILL for one that ignores SIGTERM, and children that
//! share its group). Needs root; skips otherwise.

mod common;

use common::*;
use std::time::Duration;
use verimesh_local::{ProcessSpec, WorkloadSpec};

#[test]
fn runs_with_env_uid_and_logs_and_reports_exits() {
    if !available() {
        return;
    }
    let mut run = create('g', subnet(4));
    let exits = run.take_exit_events().expect("exit channel");
    let w = run
        .add_workload(&WorkloadSpec::new("app", 0, "default"))
        .expect("workload");

    let mut spec = ProcessSpec::new(
        "probe",
        "sh",
        &[
            "-c",
            "echo \"$GREETING $(id -u):$(id -g)\"; ip -4 -o addr show eth0; exit 3",
        ],
    );
    spec.env.insert("GREETING".into(), "hello".into());
    spec.uid = Some(1337);
    let probe = run.spawn(&w.name, &spec).expect("spawn");

    let event = exits
        .recv_timeout(Duration::from_secs(10))
        .expect("exit reported");
    assert_eq!(
        (event.workload.as_str(), event.name.as_str()),
        (w.name.as_str(), "probe")
    );
    assert_eq!(event.pid, probe.pid());
    assert_eq!(event.status.code(), Some(3));
    assert_eq!(probe.status().and_then(|s| s.code()), Some(3));
    let out = std::fs::read_to_string(probe.stdout_log()).expect("stdout log");
    assert!(out.starts_with("hello 1337:1337\n"), "{out}");
    // It ran inside the workload's namespace.
    assert!(out.contains(&format!("inet {}/", w.address)), "{out}");

    let failing = run
        .spawn(
            &w.name,
            &ProcessSpec::new("bad", "sh", &["-c", "echo oops >&2; exit 1"]),
        )
        .expect("spawn");
    failing.wait_timeout(Duration::from_secs(10)).expect("exit");
    let err = std::fs::read_to_string(failing.stderr_log()).expect("stderr log");
    assert_eq!(err, "oops\n");
}

#[test]
fn teardown_stops_processes_and_their_children() {
    if !available() {
        return;
    }
    let mut run = create('h', subnet(5));
    let w = run
        .add_workload(&WorkloadSpec::new("app", 0, "default"))
        .expect("workload");
    let plain = run
        .spawn(&w.name, &ProcessSpec::new("sleeper", "sleep", &["1000"]))
        .expect("spawn");
    // Ignores SIGTERM, so only the SIGKILL after the grace period ends it; its child is in
    // the same process group.
    let stubborn = run
        .spawn(
            &w.name,
            &ProcessSpec::new(
                "stubborn",
                "sh",
                &["-c", "trap '' TERM; sleep 1000 & echo $!; wait"],
            ),
        )
        .expect("spawn");
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string(stubborn.stdout_log()).is_ok_and(|s| s.ends_with('\n'))
    }));
    let child: i32 = std::fs::read_to_string(stubborn.stdout_log())
        .expect("log")
        .trim()
        .parse()
        .expect("child pid");
    assert!(alive(plain.pid()) && alive(stubborn.pid()) && alive(child));

    let started = std::time::Instant::now();
    let report = run.teardown().expect("teardown");
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(!alive(plain.pid()) && !alive(stubborn.pid()) && !alive(child));
    assert!(plain.status().is_some() && stubborn.status().is_some());
    assert_eq!(report.namespaces, 1);
}

#[test]
fn stop_one_process() {
    if !available() {
        return;
    }
    let mut run = create('i', subnet(6));
    let w = run
        .add_workload(&WorkloadSpec::new("app", 0, "default"))
        .expect("workload");
    let p = run
        .spawn(&w.name, &ProcessSpec::new("sleeper", "sleep", &["1000"]))
        .expect("spawn");
    let status = p.stop(Duration::from_secs(2)).expect("stopped");
    assert!(!status.success());
    assert!(!alive(p.pid()));
    // Unknown workloads and bad names are refused.
    assert!(run
        .spawn("nope-0", &ProcessSpec::new("x", "true", &[]))
        .is_err());
    assert!(run
        .spawn(&w.name, &ProcessSpec::new("../x", "true", &[]))
        .is_err());
}
