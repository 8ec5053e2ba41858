//! `verimesh proxy` end to end in two network namespaces: each has `verimesh iptables` and a
//! proxy running as uid 1337 from a config file and certificates from `verimesh ca issue`.
//! Plain `curl` in A reaches a plain HTTP server in B, and a line client reaches a TCP echo
//! server in B, through both proxies over mTLS — a packet capture between the namespaces
//! shows TLS and no plaintext; B's app gets A's SPIFFE ID in XFCC; under STRICT, plaintext
//! into B from outside the mesh is refused.

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
const MARKER: &str = "x-plaintext-marker";
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

/// Runs curl in `ns`; (exit status, stdout).
fn curl(ns: &str, url: &str, headers: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "curl", "-sS", "-m", "10"]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    let out = cmd.arg(url).output().expect("curl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// tcpdump on A's end of the veth pair, writing every packet in full as it arrives.
struct Capture {
    child: Child,
    file: std::path::PathBuf,
}

impl Capture {
    fn start(ns: &str, dev: &str, file: std::path::PathBuf) -> Capture {
        let child = Command::new("ip")
            .args([
                "netns", "exec", ns, "tcpdump", "-i", dev, "-s", "0", "-U", "-n", "-w",
            ])
            .arg(&file)
            .arg("tcp")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump (installed by scripts/setup.sh)");
        // Writing starts with the pcap header once the capture is live.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&file).map_or(true, |m| m.len() == 0) {
            assert!(Instant::now() < deadline, "tcpdump never started");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        Capture { child, file }
    }

    fn bytes(mut self) -> Vec<u8> {
        // tcpdump may lag behind the kernel: wait until the file has packets and has stopped
        // growing (bounded), then stop it.
        let size = |f: &Path| std::fs::metadata(f).map_or(0, |m| m.len());
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = size(&self.file);
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = size(&self.file);
            if (now > 24 && now == last) || Instant::now() > deadline {
                break;
            }
            last = now;
        }
        // SIGINT lets tcpdump write out what it holds (SIGKILL may lose the last packets).
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        std::fs::read(&self.file).expect("capture file")
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn http_and_tcp_between_namespaces_go_through_both_proxies_over_mtls() {
    if !netns::available() {
        eprintln!("notice: needs root, ip and iptables; skipped");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    issue(&root.join("state"), CLIENT_ID, &root.join("a"));
    issue(&root.join("state"), ECHO_ID, &root.join("b"));
    let endpoint = |port: u16| serde_json::json!({ "address": format!("{B_ADDR}:{port}"), "identity": ECHO_ID });
    write_config(
        &root.join("a.json"),
        serde_json::json!({
            "version": "1",
            "workload": workload("a", "client"),
            "inbound": { "appAddress": "127.0.0.1", "mtls": "STRICT" },
            "services": [{
                "hostname": "echo.b.svc.cluster.local",
                "addresses": [B_ADDR],
                "ports": [
                    { "port": 9000, "protocol": "tcp", "defaultCluster": "echo-tcp" },
                    { "port": 8080, "name": "http", "protocol": "http", "defaultCluster": "echo-http" },
                ],
            }],
            "clusters": [
                { "name": "echo-tcp", "transport": { "type": "meshMtls" }, "endpoints": [endpoint(9000)] },
                { "name": "echo-http", "transport": { "type": "meshMtls" }, "endpoints": [endpoint(8080)] },
            ],
        }),
    );
    write_config(
        &root.join("b.json"),
        serde_json::json!({
            "version": "1",
            "workload": workload("b", "echo"),
            "inbound": {
                "appAddress": "127.0.0.1",
                "mtls": "STRICT",
                "ports": [{ "port": 8080, "protocol": "http" }, { "port": 9000, "protocol": "tcp" }],
            },
        }),
    );

    let pair = Pair::new("pxy");
    let mut procs = Procs::default();
    for (ns, name) in [(&pair.a, "a"), (&pair.b, "b")] {
        verimesh(ns, &["iptables"]);
        let config = root.join(format!("{name}.json")).display().to_string();
        let certs = root.join(name).display().to_string();
        procs.spawn(
            ns,
            true,
            &[
                "proxy",
                "--config",
                &config,
                "--certs",
                &certs,
                "--access-log",
                "off",
            ],
        );
    }
    procs.spawn(
        &pair.b,
        false,
        &[
            "demo-app",
            "--port",
            "8080",
            "--tcp-echo-port",
            "9000",
            "--tcp-prefix",
            "b-echo",
        ],
    );
    wait_listening(&pair.a, "127.0.0.1:15000");
    wait_listening(&pair.b, "127.0.0.1:15000");
    wait_listening(&pair.b, "127.0.0.1:8080");
    wait_listening(&pair.b, "127.0.0.1:9000");

    let capture = Capture::start(&pair.a, &pair.veth_a, root.join("between.pcap"));
    let url = format!("http://{B_ADDR}:8080/headers");
    let marker = format!("{MARKER}: visible-only-inside-the-workloads");
    let (ok, body) = curl(
        &pair.a,
        &url,
        &[
            &marker,
            "x-forwarded-client-cert: By=forged;URI=spiffe://cluster.local/ns/x/sa/admin",
        ],
    );
    assert!(ok, "curl through the mesh failed: {body}");
    assert!(
        body.contains(&format!("URI={CLIENT_ID}")),
        "B's app must see A's identity: {body}"
    );
    assert!(body.contains(&format!("By={ECHO_ID}")), "{body}");
    assert!(
        !body.contains("forged"),
        "a caller's XFCC must never reach the app: {body}"
    );
    assert!(body.contains("visible-only-inside-the-workloads"), "{body}");
    // Accepted by B's proxy only as mTLS (STRICT), so both proxies were on the path.
    assert_eq!(echo_from(&pair.a), "b-echo hello through the mesh\n");

    let packets = capture.bytes();
    for plain in [
        &b"GET /headers"[..],
        b"visible-only-inside-the-workloads",
        b"hello through the mesh",
        b"b-echo",
        b"spiffe://",
    ] {
        assert!(
            !contains(&packets, plain),
            "{:?} crossed between the namespaces in plaintext",
            String::from_utf8_lossy(plain)
        );
    }
    // TLS 1.3 records (handshake, then application data) carried the traffic.
    let client_hello = packets
        .windows(6)
        .any(|w| w[0] == 0x16 && w[1] == 0x03 && w[2] <= 0x03 && w[5] == 0x01);
    assert!(
        client_hello,
        "no TLS ClientHello in {} captured bytes",
        packets.len()
    );
    assert!(
        count(&packets, &[0x17, 0x03, 0x03]) >= 4,
        "too few TLS application-data records"
    );

    // Without A's capture, A is outside the mesh: plaintext into B is refused under STRICT.
    verimesh(&pair.a, &["iptables", "--cleanup"]);
    assert!(!Pair::nat_rules(&pair.a, "iptables").contains("VERIMESH"));
    assert_eq!(echo_from(&pair.a), "");
    let (ok, body) = curl(&pair.a, &url, &[]);
    assert!(!ok, "STRICT must refuse plaintext HTTP: {body}");
    drop(procs);
}
