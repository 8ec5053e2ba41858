//! Test topologies in network namespaces the test creates itself, removed on drop (even when
//! the test fails). Addresses come from 198.18.0.0/15, reserved for testing.

use std::fs::File;
use std::process::Command;

/// Whether this test can build namespaces (root, `ip` and `iptables` present).
pub fn available() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let works = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let tools = works("ip", "-V") && works("iptables", "--version");
    root && tools
}

pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces joined by a veth pair: `a` at 198.18.0.1, `b` at 198.18.0.2.
pub struct Pair {
    pub a: String,
    pub b: String,
    /// A's end of the veth pair (for packet captures).
    pub veth_a: String,
}

pub const A_ADDR: &str = "198.18.0.1";
pub const B_ADDR: &str = "198.18.0.2";

impl Pair {
    pub fn new(tag: &str) -> Pair {
        let id = std::process::id();
        let mut pair = Pair {
            a: format!("vm-{tag}-{id}-a"),
            b: format!("vm-{tag}-{id}-b"),
            veth_a: String::new(),
        };
        for ns in [&pair.a, &pair.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            sh(&["ip", "netns", "add", ns]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        // Several pairs may exist at once in one test process; names stay under 15 bytes.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (va, vb) = (format!("va{id}x{n}"), format!("vb{id}x{n}"));
        sh(&[
            "ip", "link", "add", &va, "netns", &pair.a, "type", "veth", "peer", "name", &vb,
            "netns", &pair.b,
        ]);
        sh(&[
            "ip",
            "-n",
            &pair.a,
            "addr",
            "add",
            &format!("{A_ADDR}/30"),
            "dev",
            &va,
        ]);
        sh(&[
            "ip",
            "-n",
            &pair.b,
            "addr",
            "add",
            &format!("{B_ADDR}/30"),
            "dev",
            &vb,
        ]);
        sh(&["ip", "-n", &pair.a, "link", "set", &va, "up"]);
        sh(&["ip", "-n", &pair.b, "link", "set", &vb, "up"]);
        pair.veth_a = va;
        pair
    }

    /// Runs `f` on a thread inside namespace `ns` (a thread's network namespace is its own).
    pub fn run_in<T: Send + 'static>(
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = format!("/var/run/netns/{ns}");
        std::thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns {path}: {e}"));
            f()
        })
    }

    pub fn nat_rules(ns: &str, binary: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, binary, "-t", "nat", "-S"])
            .output()
            .expect("iptables -S");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}
