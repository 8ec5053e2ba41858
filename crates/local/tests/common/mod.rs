//! Helpers for the namespace tests: every test builds its own run with a unique run name and
//! a subnet of its own (a /24 of 198.18.0.0/15 chosen by test slot and pid), so tests running
//! in parallel never share a resource, and the run is torn down on drop even when the test
//! fails.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use verimesh_local::{Run, RunOptions};

/// Root plus `ip`, `iptables` and `setpriv`; else the test prints why and passes.
pub fn available() -> bool {
    let works = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let root = nix::unistd::geteuid().is_root();
    let ok = root && works("ip", "-V") && works("iptables", "--version") && works("setpriv", "-V");
    if !ok {
        eprintln!("skipped: needs root, ip, iptables and setpriv to build network namespaces");
    }
    ok
}

fn base36(mut n: u32) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut s = Vec::new();
    loop {
        s.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).expect("ascii")
}

/// A run name unique to this test (`tag`, one letter) and process.
pub fn run_name(tag: char) -> String {
    format!("{tag}{}", base36(std::process::id()))
}

/// A /24 for test `slot` (0..8), distinct from every other slot and, very likely, from other
/// test processes (the pid picks one of 30 groups of 8).
pub fn subnet(slot: u8) -> ipnet::Ipv4Net {
    let group = (std::process::id() % 30) as u8;
    let third = 8 + group * 8 + slot;
    format!("198.18.{third}.0/24").parse().expect("subnet")
}

pub fn state_dir(run: &str) -> PathBuf {
    std::env::temp_dir().join(format!("verimesh-local-test-{run}"))
}

/// Options for a test run: its own state dir, a short grace period.
pub fn options(tag: char, subnet: ipnet::Ipv4Net) -> RunOptions {
    let name = run_name(tag);
    let mut opts = RunOptions::new(&name).expect("run name");
    opts.subnet = subnet;
    opts.state_dir = state_dir(&name);
    opts.grace = Duration::from_millis(500);
    opts
}

/// A run whose state dir (with its logs) is removed after the run is torn down.
pub struct TestRun {
    run: Option<Run>,
    dir: PathBuf,
}

impl TestRun {
    pub fn teardown(mut self) -> Result<verimesh_local::Report, verimesh_local::Error> {
        self.run.take().expect("run").teardown()
    }
}

impl std::ops::Deref for TestRun {
    type Target = Run;
    fn deref(&self) -> &Run {
        self.run.as_ref().expect("run")
    }
}

impl std::ops::DerefMut for TestRun {
    fn deref_mut(&mut self) -> &mut Run {
        self.run.as_mut().expect("run")
    }
}

impl Drop for TestRun {
    fn drop(&mut self) {
        drop(self.run.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn create(tag: char, subnet: ipnet::Ipv4Net) -> TestRun {
    let opts = options(tag, subnet);
    let dir = opts.state_dir.clone();
    // A previous crashed attempt of this very test (same pid is unlikely, but cheap to handle).
    let _ = verimesh_local::down(&dir, Duration::from_millis(100));
    TestRun {
        run: Some(Run::create(opts).expect("create run")),
        dir,
    }
}

/// Runs `argv` in `netns` through `ip netns exec` (so its hosts file applies), with a
/// timeout.
pub fn ns_exec(netns: &str, argv: &[&str]) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.args(["10", "ip", "netns", "exec", netns]).args(argv);
    cmd.output().expect("ip netns exec")
}

/// Runs `f` on a thread inside `netns` (a thread's network namespace is its own).
pub fn in_netns<T: Send + 'static>(
    netns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{netns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
            .unwrap_or_else(|e| panic!("setns {path}: {e}"));
        f()
    })
}

/// An echo server for one connection, bound in `netns` at `bind`; returns once listening.
pub fn echo_once(netns: &str, bind: SocketAddr) -> std::thread::JoinHandle<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = in_netns(netns, move || {
        let listener = TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
        tx.send(()).expect("ready");
        listener.set_nonblocking(false).expect("blocking");
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).expect("read");
        conn.write_all(&buf[..n]).expect("write");
    });
    rx.recv_timeout(Duration::from_secs(5)).expect("listening");
    handle
}

/// Connects from `netns` to `to`, sends a line, returns what came back.
pub fn talk(netns: &str, to: SocketAddr) -> std::io::Result<String> {
    in_netns(netns, move || {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(3))?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(b"hello")?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    })
    .join()
    .expect("client thread")
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether `pid` is a live process (zombies count as gone: only reaping is left, which is
/// up to their parent).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Names in `ip netns list`, `ip -o link` lines, FORWARD rules: whatever mentions `needle`.
pub fn leftovers(needle: &str) -> Vec<String> {
    let mut left = Vec::new();
    let sh = |args: &[&str]| {
        Command::new(args[0])
            .args(&args[1..])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    for (what, out) in [
        ("netns", sh(&["ip", "netns", "list"])),
        ("link", sh(&["ip", "-o", "link", "show"])),
        ("rule", sh(&["iptables", "-w", "-S"])),
        ("etc", sh(&["ls", "/etc/netns"])),
    ] {
        for line in out.lines().filter(|l| mentions(l, needle)) {
            left.push(format!("{what}: {line}"));
        }
    }
    left
}

/// Whether `line` contains `needle` as a whole name (not as the start of a longer one).
fn mentions(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(i, _)| {
        !line[i + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
    })
}
