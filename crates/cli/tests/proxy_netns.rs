//! `verimesh proxy` end to end in two network namespaces: each has `verimesh iptables` and a
//! proxy running as uid 1337 from a config file and certificates from `verimesh ca issue`. A
//! plain client in A reaches a TCP echo server in B through both proxies over mTLS; under
//! STRICT, plaintext into B's app port from outside the mesh is refused.

mod netns;

use netns::{Pair, B_ADDR};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_verimesh");
const ECHO_ID: &str = "spiffe://cluster.local/ns/b/sa/echo";
const CLIENT_ID: &str = "spiffe://cluster.local/ns/a/sa/client";

/// Child processes, killed and reaped on drop (before the namespaces go).
#[derive(Default)]
struct Procs(Vec<Child>);

impl Procs {
    fn spawn(&mut self, ns: &str, as_proxy: bool, args: &[&str]) {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]);
        if as_proxy {
            cmd.args([
                "setpriv",
                "--reuid",
                "1337",
                "--regid",
                "1337",
                "--clear-groups",
            ]);
        }
        let child = cmd
            .arg(BIN)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        self.0.push(child);
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn verimesh(ns: &str, args: &[&str]) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, BIN])
        .args(args)
        .output()
        .expect("run verimesh");
    assert!(
        out.status.success(),
        "verimesh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Certificates for `id` in `dir`, owned by the proxy's uid.
fn issue(state: &Path, id: &str, dir: &Path) {
    let out = Command::new(BIN)
        .args(["ca", "issue", "--state-dir"])
        .arg(state)
        .args(["--spiffe-id", id, "--out"])
        .arg(dir)
        .output()
        .expect("ca issue");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for entry in std::fs::read_dir(dir).expect("certs").flatten() {
        std::os::unix::fs::chown(entry.path(), Some(1337), Some(1337)).expect("chown");
    }
    std::os::unix::fs::chown(dir, Some(1337), Some(1337)).expect("chown");
}

fn write_config(path: &Path, value: serde_json::Value) {
    std::fs::write(path, serde_json::to_vec_pretty(&value).expect("json")).expect("config");
}

fn workload(ns: &str, sa: &str) -> serde_json::Value {
    serde_json::json!({
        "name": sa, "namespace": ns, "serviceAccount": sa,
        "identity": format!("spiffe://cluster.local/ns/{ns}/sa/{sa}"),
    })
}

/// Polls until `addr` accepts a connection inside namespace `ns`.
fn wait_listening(ns: &str, addr: &'static str) {
    let ok = Pair::run_in(ns, move || {
        let addr: SocketAddr = addr.parse().expect("addr");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    })
    .join()
    .expect("poll");
    assert!(ok, "{addr} in {ns} never listened");
}

/// From namespace `ns`: connect to B's echo port, send a line, read until EOF or the line.
fn echo_from(ns: &str) -> String {
    Pair::run_in(ns, || {
        let addr: SocketAddr = format!("{B_ADDR}:9000").parse().expect("addr");
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
            return "connect failed".to_string();
        };
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let _ = s.write_all(b"hello through the mesh\n");
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while !got.ends_with(b"\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    })
    .join()
    .expect("client")
}

#[test]
fn tcp_between_namespaces_goes_through_both_proxies_over_mtls() {
    if !netns::available() {
        eprintln!("notice: needs root, ip and iptables; skipped");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    issue(&root.join("state"), CLIENT_ID, &root.join("a"));
    issue(&root.join("state"), ECHO_ID, &root.join("b"));
    write_config(
        &root.join("a.json"),
        serde_json::json!({
            "version": "1",
            "workload": workload("a", "client"),
            "inbound": { "appAddress": "127.0.0.1", "mtls": "STRICT" },
            "services": [{
                "hostname": "echo.b.svc.cluster.local",
                "addresses": [B_ADDR],
                "ports": [{ "port": 9000, "protocol": "tcp", "defaultCluster": "echo" }],
            }],
            "clusters": [{
                "name": "echo",
                "transport": { "type": "meshMtls" },
                "endpoints": [{ "address": format!("{B_ADDR}:9000"), "identity": ECHO_ID }],
            }],
        }),
    );
    write_config(
        &root.join("b.json"),
        serde_json::json!({
            "version": "1",
            "workload": workload("b", "echo"),
            "inbound": { "appAddress": "127.0.0.1", "mtls": "STRICT" },
        }),
    );

    let pair = Pair::new("pxy");
    let mut procs = Procs::default();
    for (ns, name) in [(&pair.a, "a"), (&pair.b, "b")] {
        verimesh(ns, &["iptables"]);
        let config = root.join(format!("{name}.json")).display().to_string();
        let certs = root.join(name).display().to_string();
        procs.spawn(ns, true, &["proxy", "--config", &config, "--certs", &certs]);
    }
    procs.spawn(
        &pair.b,
        false,
        &[
            "demo-app",
            "--tcp-echo-port",
            "9000",
            "--tcp-prefix",
            "b-echo",
        ],
    );
    wait_listening(&pair.a, "127.0.0.1:15000");
    wait_listening(&pair.b, "127.0.0.1:15000");
    wait_listening(&pair.b, "127.0.0.1:9000");

    // Accepted by B's proxy only as mTLS (STRICT), so both proxies were on the path.
    assert_eq!(echo_from(&pair.a), "b-echo hello through the mesh\n");

    // Without A's capture, A is outside the mesh: plaintext into B is refused under STRICT.
    verimesh(&pair.a, &["iptables", "--cleanup"]);
    assert!(!Pair::nat_rules(&pair.a, "iptables").contains("VERIMESH"));
    assert_eq!(echo_from(&pair.a), "");
    drop(procs);
}
