//! `verimesh conformance istio-security-tasks` over Istio's security task files
//! (shared/peer/istio-security-tasks, next to the repository or at `VERIMESH_SHARED`): the
//! runner completes, reports its score, and every scenario that passed when this list was
//! written still passes. Needs root and the shared suite; skips otherwise.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_verimesh");
/// Its own subnet, so it can run next to the other `up` tests.
const SUBNET: &str = "198.19.208.0/20";

/// Scenarios that pass today. One that stops passing fails this test; one that starts
/// passing belongs here.
const EXPECTED_PASS: &[&str] = &[
    "baseline: authn-policy set-up",
    "baseline: authz-tcp set-up",
    "authn-mtls-mesh-strict",
    "authn-mtls-namespace-strict",
    "authn-mtls-workload-strict",
    "authn-mtls-workload-port-disable",
    "authn-mtls-precedence",
    "authn-mtls-migration-namespace-strict",
    "authn-mtls-migration-mesh-strict",
    "authn-jwt-claim-to-header",
    "authz-deny-method-get",
    "authz-deny-get-unless-admin",
    "authz-deny-and-allow-path",
    "authz-tcp-allow-ports",
    "authz-tcp-allow-http-field",
    "authz-tcp-deny-http-field",
    "authz-tcp-deny-http-field-and-port",
    "authz-jwt-requestauthentication-only",
    "authz-jwt-require-principal",
    "authz-jwt-require-claim",
    "authz-dry-run",
    "authz-custom-ext-authz",
    "authz-custom-ext-authz (sample-ext-authz-http)",
    "authz-http-bookinfo 1 (allow-nothing)",
    "authz-http-bookinfo 2 (+productpage-viewer)",
    "authz-http-bookinfo 3 (+details-viewer)",
    "authz-http-bookinfo 4 (+reviews-viewer)",
    "authz-http-bookinfo 5 (+ratings-viewer)",
    "authn-jwt-claim-routing",
    "baseline: ingress gateway set-up",
    "authn-jwt-ingress-requestauthn",
    "authn-jwt-ingress-require-token",
    "authn-jwt-ingress-require-token-per-path",
    "authz-ingress-ipblocks-allow",
    "authz-ingress-ipblocks-allow-client",
    "authz-ingress-ipblocks-deny-client",
    "authz-ingress-remoteipblocks-allow",
    "authz-ingress-remoteipblocks-allow-client",
    "authz-ingress-remoteipblocks-deny-client",
    "baseline: Gateway API gateway set-up",
    "authn-jwt-ingress.gateway-api 1 (RequestAuthentication)",
    "authn-jwt-ingress.gateway-api 2 (+require a token per path)",
    "authz-ingress.gateway-api 1 (ipBlocks allow)",
    "authz-ingress.gateway-api 2 (remoteIpBlocks allow)",
    "authz-ingress.gateway-api 3 (ipBlocks allow client)",
    "authz-ingress.gateway-api 4 (remoteIpBlocks allow client)",
    "authz-ingress.gateway-api 5 (ipBlocks deny client)",
    "authz-ingress.gateway-api 6 (remoteIpBlocks deny client)",
];

fn suite() -> Option<PathBuf> {
    let shared = std::env::var_os("VERIMESH_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let dir = shared.join("peer/istio-security-tasks");
    dir.is_dir().then_some(dir)
}

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
    root && ok("ip", "-V") && ok("iptables", "--version") && ok("curl", "--version")
}

#[test]
fn istio_security_tasks_keep_passing() {
    let Some(dir) = suite() else {
        eprintln!("notice: shared/peer/istio-security-tasks not found; skipped");
        return;
    };
    if !available() {
        eprintln!("notice: needs root, ip, iptables and curl; skipped");
        return;
    }
    let started = Instant::now();
    let run = format!("st{}", std::process::id() % 10_000);
    let out = Command::new(BIN)
        .args(["conformance", "istio-security-tasks"])
        .arg(&dir)
        .args(["--name", &run, "--subnet", SUBNET])
        .output()
        .expect("run the conformance runner");
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}\n(took {:?})", started.elapsed());
    assert!(
        out.status.success(),
        "the runner failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let score = text
        .lines()
        .find(|l| l.starts_with("istio-security-tasks: "))
        .expect("a score line");
    let passed: usize = score
        .trim_start_matches("istio-security-tasks: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no pass count in {score:?}"));
    // At least the listed ones; the score and the list stay in step.
    assert!(passed >= EXPECTED_PASS.len(), "{score}");
    let lost: Vec<&&str> = EXPECTED_PASS
        .iter()
        .filter(|name| {
            !text
                .lines()
                .any(|l| l.starts_with(&format!("PASS {name} (")))
        })
        .collect();
    assert!(lost.is_empty(), "no longer passing: {lost:?}\n{text}");
    // Out-of-scope files are listed with their reason, not silently dropped.
    assert!(
        text.contains("SKIPPED authz-ingress-topology.istiooperator: "),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(120), "too slow");
}
