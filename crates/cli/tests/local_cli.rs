//! `verimesh exec` and `verimesh down` against real local-mesh runs: exec finds a Deployment's
//! first ready replica and runs a command where service names resolve, returning its exit
//! code; down removes everything a SIGKILLed run left behind and is safe to repeat; both
//! refuse clearly without root. Needs root; skips otherwise.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;
use verimesh_local::{ProcessSpec, Run, RunOptions, ServiceEntry, State, WorkloadSpec};

const BIN: &str = env!("CARGO_BIN_EXE_verimesh");
const CHILD_ENV: &str = "VERIMESH_CLI_TEST_CHILD";

fn available() -> bool {
    let ok = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let yes = root && ok("ip", "-V") && ok("iptables", "--version") && ok("setpriv", "-V");
    if !yes {
        eprintln!("skipped: needs root, ip, iptables and setpriv");
    }
    yes
}

/// Run name and state dir unique to this test and process; a /24 of 198.19.0.0/16 per slot.
fn run_setup(tag: char, slot: u8) -> (String, PathBuf, ipnet::Ipv4Net) {
    let pid = std::process::id();
    let name = format!("{tag}{}", pid % 100_000);
    let dir = std::env::temp_dir().join(format!("verimesh-cli-test-{name}"));
    let third = 8 + (pid % 30) as u8 * 8 + slot;
    let net = format!("198.19.{third}.0/24").parse().expect("subnet");
    (name, dir, net)
}

/// Tears down whatever is left in `dir` and removes it, even when the test fails.
struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = verimesh_local::down(&self.0, Duration::from_millis(100));
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn verimesh(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("30")
        .arg(BIN)
        .args(args)
        .output()
        .expect("run verimesh")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn options(name: &str, dir: &Path, net: ipnet::Ipv4Net) -> RunOptions {
    let mut opts = RunOptions::new(name).expect("run name");
    opts.state_dir = dir.to_path_buf();
    opts.subnet = net;
    opts.grace = Duration::from_millis(500);
    opts
}

#[test]
fn exec_runs_in_the_first_ready_replica_with_names() {
    if !available() {
        return;
    }
    let (name, dir, net) = run_setup('x', 0);
    let _cleanup = Cleanup(dir.clone());
    let mut run = Run::create(options(&name, &dir, net)).expect("run");
    let vip = run.addressing().service_addresses().next().expect("vip");
    let svc = ServiceEntry {
        name: "reviews".into(),
        namespace: "default".into(),
        vip,
    };
    run.set_services(&[svc]).expect("services");
    let w0 = run
        .add_workload(&WorkloadSpec::new("web", 0, "default"))
        .expect("web-0");
    let w1 = run
        .add_workload(&WorkloadSpec::new("web", 1, "default"))
        .expect("web-1");
    let state = dir.to_str().expect("utf-8 path");

    let out = verimesh(&["exec", "--state-dir", state, "web", "--", "true"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no ready replica"),
        "{}",
        text(&out.stderr)
    );

    run.set_ready(&w1.name, true).expect("ready");
    let script = "ip -4 -o addr show eth0; getent hosts reviews";
    let out = verimesh(&[
        "exec",
        "--state-dir",
        state,
        "web",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("inet {}/", w1.address)),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("{vip} ")), "{stdout}");

    // A replica by name (ready or not), and the command's exit code comes back.
    let out = verimesh(&[
        "exec",
        "--state-dir",
        state,
        &w0.name,
        "--",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));

    let out = verimesh(&["exec", "--state-dir", state, "nope", "--", "true"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no workload or deployment named \"nope\""));
    run.teardown().expect("teardown");
}

#[test]
#[ignore = "run by down_cleans_up_after_a_killed_run in a child process"]
fn child_builds_a_run() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split(',').collect();
    let opts = options(
        parts[0],
        Path::new(parts[2]),
        parts[1].parse().expect("net"),
    );
    let mut run = Run::create(opts).expect("create");
    for replica in 0..3 {
        let w = run
            .add_workload(&WorkloadSpec::new("api", replica, "default"))
            .expect("workload");
        let script = "sleep 1000 & exec sleep 1000";
        run.spawn(&w.name, &ProcessSpec::new("app", "sh", &["-c", script]))
            .expect("spawn");
    }
    println!("READY");
    std::thread::sleep(Duration::from_secs(60));
    std::mem::forget(run);
}

#[test]
fn down_cleans_up_after_a_killed_run() {
    if !available() {
        return;
    }
    let (name, dir, net) = run_setup('y', 1);
    let _cleanup = Cleanup(dir.clone());
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child_builds_a_run", "--ignored", "--nocapture"])
        .env(CHILD_ENV, format!("{name},{net},{}", dir.display()))
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
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    ready.expect("child built its run");
    let state = State::load(&dir).expect("state").expect("left behind");
    let netns_pids = || -> Vec<i32> {
        state
            .workloads
            .iter()
            .flat_map(|w| {
                let out = Command::new("ip")
                    .args(["netns", "pids", &w.netns])
                    .output()
                    .expect("pids");
                text(&out.stdout)
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    };
    // The shells fork their background `sleep` on their own time: wait for all six.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut pids = netns_pids();
    while pids.len() < 6 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        pids = netns_pids();
    }
    assert_eq!(pids.len(), 6, "{pids:?}");

    let state_arg = dir.to_str().expect("utf-8 path");
    let out = verimesh(&["down", "--state-dir", state_arg, "--grace", "2s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!(
            "run {name}: stopped 6 processes; removed 3 namespaces"
        )),
        "{}",
        text(&out.stdout)
    );
    let netns = text(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .expect("ip")
            .stdout,
    );
    let links = text(
        &Command::new("ip")
            .args(["-o", "link"])
            .output()
            .expect("ip")
            .stdout,
    );
    let rules = text(
        &Command::new("iptables")
            .args(["-w", "-S"])
            .output()
            .expect("iptables")
            .stdout,
    );
    for w in &state.workloads {
        assert!(!netns.contains(&w.netns), "{netns}");
        assert!(!links.contains(&format!("{}@", w.host_veth)), "{links}");
    }
    let bridge = format!("vm-{name}:");
    assert!(!links.contains(&bridge), "{links}");
    assert!(
        !rules.contains(&format!("verimesh run {name}\"")),
        "{rules}"
    );
    for pid in pids {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let alive = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next());
        assert!(
            matches!(alive, None | Some("Z")),
            "pid {pid} survived: {stat}"
        );
    }

    let again = verimesh(&["down", "--state-dir", state_arg]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("nothing to tear down"));
}

#[test]
fn down_and_exec_need_root() {
    if !available() {
        return;
    }
    for args in [&["down"][..], &["exec", "web", "--", "true"][..]] {
        let out = Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                BIN,
            ])
            .args(args)
            .output()
            .expect("setpriv");
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains("needs root to manage network namespaces"),
            "{}",
            text(&out.stderr)
        );
    }
}
