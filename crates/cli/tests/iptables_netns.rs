//! `verimesh iptables` in real network namespaces: what it installs, that it is idempotent and
//! cleans up exactly, and that captured connections reach the proxy ports with their original
//! destination recoverable.

mod netns;

use netns::{Pair, A_ADDR, B_ADDR};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

fn verimesh_in(ns: &str, args: &[&str]) {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            env!("CARGO_BIN_EXE_verimesh"),
            "iptables",
        ])
        .args(args)
        .output()
        .expect("run verimesh iptables");
    assert!(
        out.status.success(),
        "verimesh iptables {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Accepts one connection and answers with where it was headed (or "direct" for listeners
/// that are the real destination).
fn answer_once(listener: TcpListener, redirected: bool) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        listener.set_nonblocking(false).expect("blocking");
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let text = if redirected {
            match verimesh_proxy::intercept::original_destination(&s) {
                Ok(a) => a.to_string(),
                Err(e) => format!("error: {e}"),
            }
        } else {
            "direct".to_string()
        };
        let _ = s.write_all(text.as_bytes());
    })
}

fn ask(addr: &str) -> String {
    let addr: SocketAddr = addr.parse().expect("addr");
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

#[test]
fn install_is_idempotent_and_cleanup_is_exact() {
    if !netns::available() {
        eprintln!("notice: needs root, ip and iptables; skipped");
        return;
    }
    let pair = Pair::new("ipt");
    let before4 = Pair::nat_rules(&pair.a, "iptables");
    let before6 = Pair::nat_rules(&pair.a, "ip6tables");
    verimesh_in(&pair.a, &["--exclude-outbound-ports", "5432"]);
    verimesh_in(&pair.a, &["--exclude-outbound-ports", "5432"]);
    let rules = Pair::nat_rules(&pair.a, "iptables");
    assert_eq!(
        rules.matches("-A OUTPUT -p tcp -j VERIMESH_OUTPUT").count(),
        1,
        "{rules}"
    );
    assert_eq!(
        rules
            .matches("-A PREROUTING -p tcp -j VERIMESH_INBOUND")
            .count(),
        1,
        "{rules}"
    );
    assert!(rules.contains("--dport 5432 -j RETURN"), "{rules}");
    assert!(Pair::nat_rules(&pair.a, "ip6tables").contains("VERIMESH_OUTPUT"));
    verimesh_in(&pair.a, &["--cleanup"]);
    assert_eq!(Pair::nat_rules(&pair.a, "iptables"), before4);
    assert_eq!(Pair::nat_rules(&pair.a, "ip6tables"), before6);
    // Cleaning up what is not there is fine too.
    verimesh_in(&pair.a, &["--cleanup"]);
}

#[test]
fn captured_connections_reach_the_proxy_ports_with_their_destination() {
    if !netns::available() {
        eprintln!("notice: needs root, ip and iptables; skipped");
        return;
    }
    let pair = Pair::new("cap");
    verimesh_in(&pair.a, &["--exclude-outbound-ports", "9999"]);

    // The stand-ins for the proxy, in A, and the real services, in B.
    let outbound = Pair::run_in(&pair.a, || {
        TcpListener::bind("0.0.0.0:15001").expect("15001")
    })
    .join()
    .expect("bind");
    let inbound = Pair::run_in(&pair.a, || {
        TcpListener::bind("0.0.0.0:15006").expect("15006")
    })
    .join()
    .expect("bind");
    let direct = Pair::run_in(&pair.b, || TcpListener::bind("0.0.0.0:9999").expect("9999"))
        .join()
        .expect("bind");
    let t1 = answer_once(outbound, true);
    let t2 = answer_once(inbound, true);
    let t3 = answer_once(direct, false);

    // An application in A calling B is captured outbound, with B's address recoverable.
    let got = Pair::run_in(&pair.a, || ask(&format!("{B_ADDR}:8080")))
        .join()
        .expect("ask");
    assert_eq!(got, format!("{B_ADDR}:8080"));
    // An excluded port goes straight out.
    let got = Pair::run_in(&pair.a, || ask(&format!("{B_ADDR}:9999")))
        .join()
        .expect("ask");
    assert_eq!(got, "direct");
    // A caller in B reaching A's application port is captured inbound.
    let got = Pair::run_in(&pair.b, || ask(&format!("{A_ADDR}:8080")))
        .join()
        .expect("ask");
    assert_eq!(got, format!("{A_ADDR}:8080"));
    for t in [t1, t2, t3] {
        t.join().expect("answered");
    }
}

#[test]
fn the_proxy_uid_is_never_captured() {
    if !netns::available() {
        eprintln!("notice: needs root, ip and iptables; skipped");
        return;
    }
    let pair = Pair::new("uid");
    // This test runs as root: declare root the proxy, so its traffic must pass untouched.
    verimesh_in(&pair.a, &["--proxy-uid", "0"]);
    let _decoy = Pair::run_in(&pair.a, || {
        TcpListener::bind("0.0.0.0:15001").expect("15001")
    })
    .join()
    .expect("bind");
    let real = Pair::run_in(&pair.b, || TcpListener::bind("0.0.0.0:8080").expect("8080"))
        .join()
        .expect("bind");
    let t = answer_once(real, false);
    let got = Pair::run_in(&pair.a, || ask(&format!("{B_ADDR}:8080")))
        .join()
        .expect("ask");
    assert_eq!(got, "direct");
    t.join().expect("answered");
}
