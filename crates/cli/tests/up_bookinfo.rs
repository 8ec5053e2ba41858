//! `verimesh up` end to end with examples/bookinfo: every service answers through the mesh
//! from inside productpage; the traffic between namespaces is mTLS (STRICT refuses a caller
//! outside the mesh, and the server side counts mutual_tls requests); a VirtualService edit
//! on disk re-routes within seconds while an invalid edit is reported and changes nothing;
//! killing the control plane under traffic fails no request and its restart resyncs every
//! proxy; `verimesh down` after a killed `up` leaves nothing behind. Needs root; skips
//! otherwise.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_verimesh");
/// One subnet per test (they may run in parallel).
const SUBNET: &str = "198.19.240.0/20";
const ISTIO_SUBNET: &str = "198.19.224.0/20";

fn available() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let ok = |cmd: &str, arg: &str| {
        Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    root && ok("ip", "-V") && ok("iptables", "--version") && ok("curl", "--version")
}

/// A running `verimesh up`; on drop it is interrupted (its own teardown), then `down` makes
/// sure nothing is left even if the test killed it.
struct Up {
    child: Option<Child>,
    state: PathBuf,
    lines: mpsc::Receiver<String>,
}

impl Up {
    fn start(config: &Path, state: &Path, run: &str, subnet: &str) -> Up {
        let mut child = Command::new(BIN)
            .arg("up")
            .arg(config)
            .args(["--name", run, "--subnet", subnet, "--state-dir"])
            .arg(state)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start verimesh up");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Up {
            child: Some(child),
            state: state.to_path_buf(),
            lines,
        }
    }

    fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(l) if l == "ready" => return,
                Ok(l) => seen.push(l),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("verimesh up never printed `ready`:\n{}", seen.join("\n"));
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new(BIN)
            .arg("down")
            .arg("--state-dir")
            .arg(&self.state)
            .output();
    }
}

/// `curl` from inside a workload; (HTTP status, body).
fn curl(state: &Path, from: &str, url: &str) -> (String, String) {
    let out = Command::new(BIN)
        .arg("exec")
        .arg("--state-dir")
        .arg(state)
        .args([
            from,
            "--",
            "curl",
            "-s",
            "-m",
            "5",
            "-w",
            "\n%{http_code}",
            url,
        ])
        .output()
        .expect("verimesh exec");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    match text.rsplit_once('\n') {
        Some((body, code)) => (code.to_string(), body.to_string()),
        None => (text, String::new()),
    }
}

/// The `version` the reviews service answered with.
fn reviews_version(state: &Path) -> String {
    version_of(state, "http://reviews:9080/reviews/0")
}

fn version_of(state: &Path, url: &str) -> String {
    let (code, body) = curl(state, "productpage-v1", url);
    if code != "200" {
        return format!("HTTP {code}");
    }
    serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["version"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("unparsable: {body}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read examples").flatten() {
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

fn status(state: &Path) -> serde_json::Value {
    std::fs::read_to_string(state.join("status.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn all_in_sync(s: &serde_json::Value) -> bool {
    s["proxies"]
        .as_array()
        .is_some_and(|p| !p.is_empty() && p.iter().all(|x| x["inSync"] == true))
}

const ALL_V3: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: bookinfo
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v3
";

#[test]
fn bookinfo_runs_on_the_local_mesh() {
    if !available() {
        eprintln!("notice: needs root, ip, iptables and curl; skipped");
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("bookinfo");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bookinfo"),
        &config,
    );
    // Start from one route (all to v1) so routing changes are unambiguous.
    std::fs::write(
        config.join("traffic-route.yaml"),
        ALL_V3.replace("v3", "v1"),
    )
    .expect("w");
    let mut traffic = std::fs::read_to_string(config.join("traffic.yaml")).expect("traffic");
    if let Some(i) = traffic.find("---\napiVersion: networking.istio.io/v1\nkind: VirtualService") {
        traffic.truncate(i);
    }
    std::fs::write(config.join("traffic.yaml"), traffic).expect("w");
    // reviews-v1's proxy gets two worker threads through Istio's pod annotation.
    let reviews = std::fs::read_to_string(config.join("reviews.yaml")).expect("reviews");
    let v1_template =
        "  template:\n    metadata:\n      labels:\n        app: reviews\n        version: v1\n";
    assert!(reviews.contains(v1_template), "{reviews}");
    let reviews = reviews.replacen(
        v1_template,
        &v1_template.replace(
            "    metadata:\n",
            "    metadata:\n      annotations:\n        proxy.istio.io/config: 'concurrency: 2'\n",
        ),
        1,
    );
    std::fs::write(config.join("reviews.yaml"), reviews).expect("w");
    // ratings-v1 holds its application until its proxy runs (Istio's
    // holdApplicationUntilProxyStarts); the application's first act records what the
    // proxy's /ready said at that moment.
    let ratings_saw = tmp.path().join("ratings-saw-ready");
    let ratings = std::fs::read_to_string(config.join("ratings.yaml")).expect("ratings");
    let ratings_template = "    metadata:\n      labels:\n        app: ratings\n";
    let ratings_command = "        command: [\"verimesh\", \"demo-app\", \"--role\", \"ratings\", \
                           \"--version\", \"v1\", \"--port\", \"9080\"]\n";
    assert!(ratings.contains(ratings_template), "{ratings}");
    assert!(ratings.contains(ratings_command), "{ratings}");
    let ratings = ratings
        .replacen(
            ratings_template,
            &ratings_template.replace(
                "    metadata:\n",
                "    metadata:\n      annotations:\n        \
                 proxy.istio.io/config: 'holdApplicationUntilProxyStarts: true'\n",
            ),
            1,
        )
        .replacen(
            ratings_command,
            &format!(
                "        command: [\"sh\", \"-c\", \"curl -s -o /dev/null -w %{{http_code}} \
                 http://127.0.0.1:15000/ready > {}; exec {BIN} demo-app --role ratings \
                 --version v1 --port 9080\"]\n",
                ratings_saw.display()
            ),
            1,
        );
    std::fs::write(config.join("ratings.yaml"), ratings).expect("w");
    let state = tmp.path().join("state");
    let run = format!("u{}", std::process::id() % 10_000);
    let mut up = Up::start(&config, &state, &run, SUBNET);
    up.wait_ready(Duration::from_secs(120));

    // Every service answers through the mesh.
    let (code, body) = curl(
        &state,
        "productpage-v1",
        "http://productpage:9080/productpage",
    );
    assert_eq!(code, "200", "{body}");
    assert!(
        body.contains("William Shakespeare"),
        "details reached: {body}"
    );
    assert_eq!(reviews_version(&state), "v1");
    // The held application started, and only once its proxy answered /ready.
    assert_eq!(
        std::fs::read_to_string(&ratings_saw).expect("ratings' application ran"),
        "200"
    );
    // Least privilege (examples/bookinfo/policy.yaml): reviews admits only productpage.
    let (code, body) = curl(&state, "details-v1", "http://reviews:9080/reviews/0");
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("403", "RBAC: access denied")
    );

    // mTLS between namespaces: the reviews proxy counted mutual_tls requests from
    // productpage's identity, and STRICT refuses a caller outside the mesh (the control
    // plane's namespace has no sidecar).
    let (_, stats) = curl(&state, "reviews-v1", "http://127.0.0.1:15000/stats");
    assert!(
        stats.lines().any(|l| l.starts_with("istio_requests_total{")
            && l.contains("reporter=\"destination\"")
            && l.contains("connection_security_policy=\"mutual_tls\"")
            && l.contains(
                "source_principal=\"spiffe://cluster.local/ns/bookinfo/sa/bookinfo-productpage\""
            )),
        "{stats}"
    );
    // The annotation's two workers, and the default of one elsewhere.
    let workers = |stats: &str| {
        stats
            .lines()
            .filter(|l| l.starts_with("verimesh_worker_connections{"))
            .count()
    };
    assert_eq!(workers(&stats), 2, "{stats}");
    let (_, stats) = curl(&state, "details-v1", "http://127.0.0.1:15000/stats");
    assert_eq!(workers(&stats), 1, "{stats}");
    let placement: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("placement.json")).expect("p"))
            .expect("placement json");
    let reviews_ip = placement["instances"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == "reviews-v1-0"))
        .and_then(|i| i["address"].as_str())
        .expect("reviews address")
        .to_string();
    let (code, _) = curl(
        &state,
        "verimesh-control",
        &format!("http://{reviews_ip}:9080/reviews/0"),
    );
    assert_ne!(
        code, "200",
        "plaintext from outside the mesh must be refused"
    );
    // From outside the mesh through the ingress gateway (examples/bookinfo/ingress.yaml):
    // the product page is routed; other paths are not (404); and productpage's proxy saw
    // the gateway's identity over mTLS.
    let gateway_ip = placement["instances"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["gateway"] == true))
        .and_then(|i| i["address"].as_str())
        .expect("the ingress gateway in the placement")
        .to_string();
    let (code, body) = curl(
        &state,
        "verimesh-control",
        &format!("http://{gateway_ip}:8080/productpage"),
    );
    assert_eq!(code, "200", "{body}");
    assert!(body.contains("William Shakespeare"), "{body}");
    let (code, _) = curl(
        &state,
        "verimesh-control",
        &format!("http://{gateway_ip}:8080/reviews/0"),
    );
    assert_eq!(code, "404", "only the VirtualService's paths are exposed");
    let (_, stats) = curl(&state, "productpage-v1", "http://127.0.0.1:15000/stats");
    assert!(
        stats.lines().any(|l| l.starts_with("istio_requests_total{")
            && l.contains("connection_security_policy=\"mutual_tls\"")
            && l.contains(
                "source_principal=\"spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account\""
            )),
        "{stats}"
    );

    // A VirtualService edit on disk re-routes without restarting anything.
    let edited = Instant::now();
    std::fs::write(config.join("traffic-route.yaml"), ALL_V3).expect("edit");
    let mut switched = None;
    while edited.elapsed() < Duration::from_secs(15) {
        if (0..3).all(|_| reviews_version(&state) == "v3") {
            switched = Some(edited.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = switched.expect("routing never switched to v3");
    eprintln!("routing switched {took:?} after the edit");
    assert!(took < Duration::from_secs(4), "took {took:?}");

    // An invalid edit is reported and changes nothing.
    let before = status(&state)["generation"].as_u64().unwrap_or(0);
    std::fs::write(
        config.join("traffic-route.yaml"),
        ALL_V3.replace("subset: v3", "subset: v3\n      weight: lots"),
    )
    .expect("edit");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reported = None;
    while Instant::now() < deadline && reported.is_none() {
        let s = status(&state);
        if s["generation"].as_u64().unwrap_or(0) > before {
            reported = s["configError"].as_str().map(str::to_string);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let error = reported.expect("the invalid edit was not reported");
    assert!(
        error.contains("traffic-route.yaml") && error.contains("weight"),
        "{error}"
    );
    for _ in 0..5 {
        assert_eq!(reviews_version(&state), "v3");
    }
    std::fs::write(config.join("traffic-route.yaml"), ALL_V3).expect("restore");

    // Killing the control plane under steady traffic fails no request; the restarted one
    // resyncs every proxy.
    let state_for_traffic = state.clone();
    let traffic = std::thread::spawn(move || {
        (0..40)
            .map(|_| {
                let (code, _) = curl(
                    &state_for_traffic,
                    "productpage-v1",
                    "http://reviews:9080/reviews/0",
                );
                std::thread::sleep(Duration::from_millis(50));
                code
            })
            .collect::<Vec<_>>()
    });
    std::thread::sleep(Duration::from_millis(500));
    let pattern = format!("control --state-dir {}", state.join("control").display());
    let killed = Command::new("pkill")
        .args(["-KILL", "-f", &pattern])
        .status()
        .expect("pkill");
    assert!(killed.success(), "no control plane process to kill");
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let codes = traffic.join().expect("traffic thread");
    assert!(
        codes.iter().all(|c| c == "200"),
        "requests failed: {codes:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = status(&state);
        if s["updated"].as_u64().unwrap_or(0) > killed_at && all_in_sync(&s) {
            break;
        }
        assert!(Instant::now() < deadline, "proxies never resynced: {s}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // `down` after a killed `up` leaves no namespace, link, rule or process behind.
    up.kill();
    let out = Command::new(BIN)
        .arg("down")
        .arg("--state-dir")
        .arg(&state)
        .output()
        .expect("verimesh down");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prefix = format!("vm-{run}");
    let netns = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip");
    assert!(!String::from_utf8_lossy(&netns.stdout).contains(&prefix));
    let links = Command::new("ip")
        .args(["-o", "link"])
        .output()
        .expect("ip");
    assert!(!String::from_utf8_lossy(&links.stdout).contains(&prefix));
    let rules = Command::new("iptables")
        .args(["-S", "FORWARD"])
        .output()
        .expect("iptables");
    assert!(!String::from_utf8_lossy(&rules.stdout).contains(&format!("verimesh run {run}")));
    let procs = Command::new("pgrep")
        .args(["-f", &state.display().to_string()])
        .output()
        .expect("pgrep");
    assert!(
        procs.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&procs.stdout)
    );
}

/// Istio's own bookinfo networking YAML, unchanged, on the local mesh: the tutorial's steps
/// (destination-rule-all, virtual-service-all-v1, then the 50/50 reviews route) have the
/// effects the tutorial describes. Istio's files name no namespace, so the example's
/// workloads are put in `default`, as the tutorial's are.
#[test]
fn istios_bookinfo_networking_yaml_works_unchanged() {
    if !available() {
        eprintln!("notice: needs root, ip, iptables and curl; skipped");
        return;
    }
    let samples = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/peer/istio-samples/bookinfo/networking");
    if !samples.is_dir() {
        eprintln!("notice: {} not found; skipped", samples.display());
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("bookinfo");
    std::fs::create_dir_all(&config).expect("mkdir");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bookinfo");
    for e in std::fs::read_dir(&example).expect("examples").flatten() {
        if e.file_name() == "traffic.yaml" {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).expect("read");
        std::fs::write(
            config.join(e.file_name()),
            text.replace("bookinfo", "default"),
        )
        .expect("write");
    }
    for f in ["destination-rule-all.yaml", "virtual-service-all-v1.yaml"] {
        std::fs::copy(samples.join(f), config.join(f)).expect("copy sample");
    }
    let state = tmp.path().join("state");
    let run = format!("i{}", std::process::id() % 10_000);
    let up = Up::start(&config, &state, &run, ISTIO_SUBNET);
    up.wait_ready(Duration::from_secs(120));

    let (code, body) = curl(
        &state,
        "productpage-v1",
        "http://productpage:9080/productpage",
    );
    assert_eq!(code, "200", "{body}");
    // virtual-service-all-v1: every request to reviews goes to v1.
    for _ in 0..10 {
        assert_eq!(reviews_version(&state), "v1");
    }
    // virtual-service-reviews-50-v3: half to v1, half to v3 (applied as a newer file, it
    // replaces the reviews route of virtual-service-all-v1, as `kubectl apply` would).
    std::fs::copy(
        samples.join("virtual-service-reviews-50-v3.yaml"),
        config.join("virtual-service-reviews-50-v3.yaml"),
    )
    .expect("copy sample");
    let deadline = Instant::now() + Duration::from_secs(15);
    while reviews_version(&state) != "v3" {
        assert!(
            Instant::now() < deadline,
            "the 50/50 route never took effect"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..60 {
        *counts.entry(reviews_version(&state)).or_insert(0) += 1;
    }
    let v1 = counts.get("v1").copied().unwrap_or(0);
    let v3 = counts.get("v3").copied().unwrap_or(0);
    assert_eq!(v1 + v3, 60, "only v1 and v3 answer: {counts:?}");
    // 30 each expected; the bounds are about four standard deviations.
    assert!((15..=45).contains(&v1), "{counts:?}");
    let warnings = status(&state)["warnings"].to_string();
    assert!(
        warnings.contains("virtual-service-reviews-50-v3.yaml"),
        "{warnings}"
    );
}
