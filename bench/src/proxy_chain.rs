//! The data-plane benchmark: one upstream, reached three ways in the same run —
//! directly; through two verimesh proxies (client → A → mTLS, HTTP/2 → B → upstream); and
//! through two nginx (A originates TLS 1.3 with a client certificate, B verifies it), with
//! keep-alive everywhere and access logs off on both chains. Per chain: requests/s at
//! saturation, CPU-seconds per 1,000 requests per proxy, RSS per proxy, and latency
//! percentiles at a fixed rate with a 1 KiB body.

use crate::http_load::{self, Latencies};
use crate::procfs::{cpu_seconds, family, status_mb, steal_seconds};
use crate::resample;
use anyhow::Context;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Options {
    pub verimesh: PathBuf,
    /// A second verimesh binary measured as its own chain in the same rounds ("verimesh-b"):
    /// an A/B of a proxy change on equal footing, which separate runs on a shared machine
    /// are not.
    pub compare: Option<PathBuf>,
    pub saturation: Duration,
    pub connections: usize,
    pub rate: u64,
    pub fixed: Duration,
    /// Fixed-rate rounds; each round measures every chain in turn, so a slow moment of the
    /// machine falls on all of them rather than on one.
    pub rounds: usize,
    /// How many times the proxies of every chain are started over the fixed-rate rounds
    /// (the rounds split evenly between starts): each start is a new address-space layout and
    /// CPU placement for every proxy, so one run measures several, not one instance's luck.
    pub starts: usize,
    /// Where to write each chain's per-round timeline of requests (start and latency), if
    /// anywhere: the percentiles say how slow the tail is, the timeline when it happened.
    pub timelines: Option<PathBuf>,
}

fn write_timeline(path: &Path, lat: &Latencies) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut text = String::new();
    for (start, micros) in &lat.timeline {
        let _ = writeln!(text, "{start} {micros}");
    }
    std::fs::write(path, text).with_context(|| path.display().to_string())
}

/// Child processes, each the leader of its own process group, killed
/// with their group on drop: nginx's workers outlive a killed master otherwise, and would
/// keep using CPU in the next run.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            if let Ok(pid) = i32::try_from(c.id()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `N` distinct free ports: every listener is held until all are chosen, since a port
/// released at once can be the kernel's next answer (two proxy ports once came out equal).
fn free_ports<const N: usize>() -> anyhow::Result<[u16; N]> {
    let held = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ports = [0u16; N];
    for (port, l) in ports.iter_mut().zip(&held) {
        *port = l.local_addr()?.port();
    }
    Ok(ports)
}

fn run(cmd: &mut Command) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    anyhow::ensure!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn wait_listening(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    anyhow::bail!("nothing listens on {addr}")
}

/// What a chain is made of, to start (and start again) its processes.
enum Kind {
    Direct,
    Nginx,
    Verimesh(PathBuf),
}

struct Chain {
    name: &'static str,
    entry: u16,
    /// Per proxy, the processes whose CPU and memory count.
    proxies: Vec<Vec<u32>>,
    procs: Procs,
    /// Where its processes' files are (stderr in `*.err`).
    dir: PathBuf,
}

impl Kind {
    /// Starts the chain's processes in `dir` (new each time).
    fn launch(
        &self,
        name: &'static str,
        dir: &Path,
        upstream: SocketAddr,
    ) -> anyhow::Result<Chain> {
        match self {
            Kind::Direct => Ok(Chain {
                name,
                entry: upstream.port(),
                proxies: vec![],
                procs: Procs(Vec::new()),
                dir: dir.to_path_buf(),
            }),
            Kind::Nginx => nginx_chain(dir, upstream),
            Kind::Verimesh(binary) => verimesh_chain(binary, name, dir, upstream),
        }
    }
}

/// Draws of the rounds for the pooled p99's interval: enough for its 5th and 95th
/// percentiles to settle within a few µs, under a second of work for 60 rounds.
const RESAMPLES: usize = 2_000;

/// The host every request names (the verimesh chain routes on it).
const HOST: &str = "web.bench.svc.cluster.local";

struct Saturated {
    rps: f64,
    errors: u64,
    cpu_per_1k: Vec<f64>,
    rss: Vec<f64>,
    /// Per proxy, the anonymous and file-backed parts of `rss`.
    rss_parts: Vec<(f64, f64)>,
}

pub fn run_all(opts: &Options) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = std::env::temp_dir().join(format!("verimesh-bench-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    if let Some(timelines) = &opts.timelines {
        std::fs::create_dir_all(timelines)
            .with_context(|| format!("creating {}", timelines.display()))?;
    }
    let upstream = rt.block_on(http_load::upstream())?;
    let mut kinds = vec![
        ("direct", Kind::Direct),
        ("nginx", Kind::Nginx),
        ("verimesh", Kind::Verimesh(opts.verimesh.clone())),
    ];
    if let Some(binary) = &opts.compare {
        kinds.push(("verimesh-b", Kind::Verimesh(binary.clone())));
    }
    let launch_all = |start: usize| -> anyhow::Result<Vec<Chain>> {
        kinds
            .iter()
            .map(|(name, kind)| kind.launch(name, &dir.join(format!("{name}-{start}")), upstream))
            .collect()
    };
    let mut chains = launch_all(1)?;
    let starts = opts.starts.clamp(1, opts.rounds);
    println!(
        "proxy-chain: saturation {} s over {} connections; fixed {} req/s over 4 connections, 1 KiB body, {} rounds of {} s per chain, interleaved, each round starting with the next chain; proxies started {} time(s), the rounds split evenly between starts",
        opts.saturation.as_secs(),
        opts.connections,
        opts.rate,
        opts.rounds,
        opts.fixed.as_secs(),
        starts,
    );
    let mut saturated = Vec::new();
    for chain in &chains {
        saturated.push(saturate(&rt, chain, opts)?);
    }
    // Per round, each chain's p99 over the direct path's in the same round.
    let mut added_by_round: Vec<Vec<f64>> = Vec::new();
    // Per round, each chain's run: pooled, and resampled, at the end.
    let mut runs_by_round: Vec<Vec<Latencies>> = Vec::new();
    // Per round, the start of the proxies it ran on (1-based).
    let mut start_of_round: Vec<usize> = Vec::new();
    // Per chain and proxy, CPU seconds over the fixed-rate runs: the cost of a request that
    // arrives alone, where saturation's batching does not help.
    let mut fixed_cpu: Vec<Vec<f64>> = chains.iter().map(|c| vec![0.0; c.proxies.len()]).collect();
    let mut start = 1;
    for round in 1..=opts.rounds {
        let due = 1 + (round - 1) * starts / opts.rounds;
        if due != start {
            start = due;
            for chain in &mut chains {
                report_early_exits(chain);
            }
            // Every chain's processes go at once, so no chain runs beside another's old ones.
            chains.clear();
            chains = launch_all(start)?;
            // A started proxy meets its first requests with cold caches and no connections
            // upstream; the first start had the saturation phase for that.
            for chain in &chains {
                warm_up(&rt, chain, opts)?;
            }
        }
        start_of_round.push(start);
        let mut p99 = vec![0.0; chains.len()];
        let mut runs: Vec<Latencies> = chains.iter().map(|_| Latencies::default()).collect();
        let mut stolen = Vec::new();
        // Each round starts with a different chain: whatever a chain's place in the round
        // costs or gains (caches, the machine's moods) falls on every chain in turn.
        let n = chains.len();
        for i in (0..n).map(|k| (k + round - 1) % n) {
            let addr = SocketAddr::from(([127, 0, 0, 1], chains[i].entry));
            let steal_before = steal_seconds();
            let cpu_before: Vec<f64> = chains[i].proxies.iter().map(|p| cpu_seconds(p)).collect();
            let lat = rt.block_on(http_load::fixed_rate(
                addr, HOST, opts.rate, 4, 1024, opts.fixed,
            ))?;
            for (k, (p, before)) in chains[i].proxies.iter().zip(cpu_before).enumerate() {
                fixed_cpu[i][k] += cpu_seconds(p) - before;
            }
            if let (Some(before), Some(after)) = (steal_before, steal_seconds()) {
                if after > before {
                    stolen.push(format!(
                        "{} {:.0} ms",
                        chains[i].name,
                        (after - before) * 1e3
                    ));
                }
            }
            p99[i] = lat.percentile(0.99);
            if let Some(dir) = &opts.timelines {
                write_timeline(&dir.join(format!("{}-{round}.txt", chains[i].name)), &lat)?;
            }
            runs[i] = lat;
        }
        let direct_p99 = p99.first().copied().unwrap_or_default();
        added_by_round.push(p99.iter().map(|p| p - direct_p99).collect());
        let added: Vec<String> = chains
            .iter()
            .zip(&p99)
            .skip(1)
            .map(|(c, p)| format!("{} {:+.3} ms", c.name, p - direct_p99))
            .collect();
        let stolen = if stolen.is_empty() {
            String::new()
        } else {
            format!(
                "; CPU stolen by the hypervisor during {}",
                stolen.join(", ")
            )
        };
        println!(
            "round {round} (start {start}): p99 direct {direct_p99:.3} ms, added p99 {}{stolen}",
            added.join(", ")
        );
        runs_by_round.push(runs);
    }
    let pooled: Vec<Latencies> = (0..chains.len())
        .map(|i| Latencies::pooled(runs_by_round.iter().map(|runs| &runs[i])))
        .collect();
    for (i, ((chain, r), lat)) in chains.iter().zip(&saturated).zip(&pooled).enumerate() {
        println!(
            "{:<10} {:>8.0} req/s  errors {:>3}  CPU-s/1k req per proxy {:<16}  RSS MB {:<14}  p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  ({} requests at fixed rate, {} errors)",
            chain.name,
            r.rps,
            r.errors,
            fmt_list(&r.cpu_per_1k, 4),
            fmt_list(&r.rss, 1),
            lat.percentile(0.50),
            lat.percentile(0.90),
            lat.percentile(0.99),
            lat.micros.len(),
            lat.errors,
        );
        if !r.rss_parts.is_empty() {
            let parts: Vec<String> = r
                .rss_parts
                .iter()
                .map(|(anon, file)| format!("{anon:.1} anon + {file:.1} file"))
                .collect();
            println!("{:<10} RSS MB per proxy: {}", "", parts.join(", "));
        }
        if !fixed_cpu[i].is_empty() && lat.answered > 0 {
            let micros: Vec<f64> = fixed_cpu[i]
                .iter()
                .map(|s| s * 1e6 / lat.answered as f64)
                .collect();
            println!(
                "{:<10} CPU µs per request per proxy at the fixed rate: {}",
                "",
                fmt_list(&micros, 1)
            );
        }
    }
    if let ([_, n, vs @ ..], [dl, nl, vls @ ..]) = (saturated.as_slice(), pooled.as_slice()) {
        let direct_p99 = dl.percentile(0.99);
        let nginx_cpu = n.cpu_per_1k.iter().sum::<f64>().max(1e-9);
        for ((chain, v), vl) in chains.iter().skip(2).zip(vs).zip(vls) {
            println!(
                "added p99 over direct (all rounds): nginx {:+.3} ms, {} {:+.3} ms; CPU per request {}/nginx: {:.2}",
                nl.percentile(0.99) - direct_p99,
                chain.name,
                vl.percentile(0.99) - direct_p99,
                chain.name,
                v.cpu_per_1k.iter().sum::<f64>() / nginx_cpu,
            );
        }
        if starts > 1 {
            report_starts(&chains, &runs_by_round, &start_of_round);
        }
        // Pooled percentiles let one bad round (the machine's, not a proxy's) decide; rounds
        // compared pairwise show whether a chain is behind in most of them or only in one.
        for (k, chain) in chains.iter().enumerate().skip(2) {
            let diffs: Vec<f64> = added_by_round.iter().map(|r| r[k] - r[1]).collect();
            let (rounds, at_most) = (diffs.len(), diffs.iter().filter(|d| **d <= 0.0).count());
            println!(
                "added p99 by round: {} at or below nginx in {at_most} of {rounds} rounds; median difference {:+.3} ms; with equal tails, {at_most} or more of {rounds} by chance: {}",
                chain.name,
                median(diffs),
                percent(chance_of_at_least(at_most, rounds)),
            );
            let pairs: Vec<resample::Round> = runs_by_round
                .iter()
                .zip(&start_of_round)
                .map(|(r, &start)| resample::Round {
                    start,
                    first: r[1].micros.as_slice(),
                    second: r[k].micros.as_slice(),
                })
                .collect();
            if let Some(s) = resample::pooled_p99_difference(&pairs, RESAMPLES) {
                println!(
                    "added p99 pooled, {} minus nginx, over {RESAMPLES} resamplings of the starts and their rounds: 90 % between {:+.3} and {:+.3} ms; above nginx's in {}",
                    chain.name,
                    s.low,
                    s.high,
                    percent(s.above_zero),
                );
            }
        }
    }
    for chain in &mut chains {
        report_early_exits(chain);
    }
    drop(chains);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Each start's pooled added p99 per chain, and in how many starts each verimesh chain came
/// out at or below nginx: whether a run's result holds across starts of the proxies or
/// rests on one.
fn report_starts(chains: &[Chain], runs_by_round: &[Vec<Latencies>], start_of_round: &[usize]) {
    let last = start_of_round.last().copied().unwrap_or(0);
    let mut at_most = vec![0usize; chains.len()];
    for start in 1..=last {
        let rounds: Vec<usize> = (0..start_of_round.len())
            .filter(|&r| start_of_round[r] == start)
            .collect();
        let (Some(first), Some(end)) = (rounds.first(), rounds.last()) else {
            continue;
        };
        let p99: Vec<f64> = (0..chains.len())
            .map(|i| {
                Latencies::pooled(rounds.iter().map(|&r| &runs_by_round[r][i])).percentile(0.99)
            })
            .collect();
        let added: Vec<f64> = p99.iter().map(|p| p - p99[0]).collect();
        for (k, a) in added.iter().enumerate().skip(2) {
            at_most[k] += usize::from(*a <= added[1]);
        }
        let text: Vec<String> = chains
            .iter()
            .zip(&added)
            .skip(1)
            .map(|(c, a)| format!("{} {a:+.3} ms", c.name))
            .collect();
        println!(
            "start {start} (rounds {}–{}): added p99 pooled {}",
            first + 1,
            end + 1,
            text.join(", ")
        );
    }
    for (k, chain) in chains.iter().enumerate().skip(2) {
        println!(
            "added p99 by start: {} at or below nginx in {} of {last} starts",
            chain.name, at_most[k]
        );
    }
}

/// One second at saturation, unmeasured: what the first start's saturation phase gave its
/// proxies before the fixed-rate rounds.
fn warm_up(rt: &tokio::runtime::Runtime, chain: &Chain, opts: &Options) -> anyhow::Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], chain.entry));
    rt.block_on(http_load::saturate(
        addr,
        HOST,
        opts.connections,
        Duration::from_secs(1),
        1_000_000,
    ))?;
    Ok(())
}

/// A proxy or nginx that exited before the end explains a chain's errors; its stderr goes
/// with the run's directory, so it is printed here.
fn report_early_exits(chain: &mut Chain) {
    let mut any = false;
    for child in &mut chain.procs.0 {
        if let Ok(Some(status)) = child.try_wait() {
            println!(
                "{}: process {} exited during the run: {status}",
                chain.name,
                child.id()
            );
            any = true;
        }
    }
    if !any {
        return;
    }
    let Ok(entries) = std::fs::read_dir(&chain.dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "err") {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            println!("--- {}:\n{}", path.display(), text.trim_end());
        }
    }
}

/// The chance of `k` or more heads in `n` fair coin flips (a one-sided sign test): how
/// often one chain would come out at or below the other in `k` of `n` rounds if neither's
/// tail were lower and each round were a coin flip.
fn chance_of_at_least(k: usize, n: usize) -> f64 {
    let mut ways = 1.0; // n choose i, from i = 0 up
    let mut total = 0.0;
    for i in 0..=n {
        if i >= k {
            total += ways;
        }
        ways = ways * (n - i) as f64 / (i + 1) as f64;
    }
    total / 2f64.powi(i32::try_from(n).unwrap_or(i32::MAX))
}

fn percent(p: f64) -> String {
    if p < 0.001 {
        "< 0.1 %".into()
    } else {
        format!("{:.1} %", 100.0 * p)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn fmt_list(v: &[f64], digits: usize) -> String {
    if v.is_empty() {
        return "-".into();
    }
    v.iter()
        .map(|x| format!("{x:.digits$}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Warm-up, then the saturation phase: requests/s, CPU per request, and RSS after it.
fn saturate(
    rt: &tokio::runtime::Runtime,
    chain: &Chain,
    opts: &Options,
) -> anyhow::Result<Saturated> {
    let addr = SocketAddr::from(([127, 0, 0, 1], chain.entry));
    warm_up(rt, chain, opts)?;
    let before: Vec<f64> = chain.proxies.iter().map(|p| cpu_seconds(p)).collect();
    let sat = rt.block_on(http_load::saturate(
        addr,
        HOST,
        opts.connections,
        opts.saturation,
        50_000_000,
    ))?;
    let after: Vec<f64> = chain.proxies.iter().map(|p| cpu_seconds(p)).collect();
    let cpu_per_1k = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b) / sat.requests.max(1) as f64 * 1000.0)
        .collect();
    let rss = chain
        .proxies
        .iter()
        .map(|p| status_mb(p, "VmRSS:"))
        .collect();
    let rss_parts = chain
        .proxies
        .iter()
        .map(|p| (status_mb(p, "RssAnon:"), status_mb(p, "RssFile:")))
        .collect();
    Ok(Saturated {
        rps: sat.requests as f64 / sat.elapsed.as_secs_f64(),
        errors: sat.errors,
        cpu_per_1k,
        rss,
        rss_parts,
    })
}

fn verimesh_chain(
    binary: &Path,
    name: &'static str,
    dir: &Path,
    upstream: SocketAddr,
) -> anyhow::Result<Chain> {
    std::fs::create_dir_all(dir)?;
    let mut procs = Procs(Vec::new());
    let ids = [
        ("a", "spiffe://cluster.local/ns/bench/sa/client"),
        ("b", "spiffe://cluster.local/ns/bench/sa/web"),
    ];
    for (name, id) in ids {
        run(Command::new(binary)
            .args(["ca", "issue", "--state-dir"])
            .arg(dir.join("ca"))
            .args(["--spiffe-id", id, "--out"])
            .arg(dir.join(name)))?;
    }
    let [a_out, a_in, a_admin, b_out, b_in, b_admin] = free_ports()?;
    let workload = |ns: &str, sa: &str| {
        serde_json::json!({ "name": sa, "namespace": ns, "serviceAccount": sa,
            "identity": format!("spiffe://cluster.local/ns/{ns}/sa/{sa}") })
    };
    let a = serde_json::json!({
        "version": "1",
        "workload": workload("bench", "client"),
        "inbound": { "appAddress": "127.0.0.1", "mtls": "STRICT" },
        "services": [{
            "hostname": "web.bench.svc.cluster.local",
            "addresses": ["198.18.0.10"],
            "ports": [{ "port": 8080, "protocol": "http", "defaultCluster": "web" }],
        }],
        "clusters": [{
            "name": "web",
            "transport": { "type": "meshMtls" },
            "endpoints": [{ "address": format!("127.0.0.1:{b_in}"), "identity": ids[1].1 }],
        }],
    });
    let b = serde_json::json!({
        "version": "1",
        "workload": workload("bench", "web"),
        "inbound": { "appAddress": "127.0.0.1", "mtls": "STRICT",
                     "ports": [{ "port": upstream.port(), "protocol": "http" }] },
    });
    std::fs::write(dir.join("a.json"), serde_json::to_vec(&a)?)?;
    std::fs::write(dir.join("b.json"), serde_json::to_vec(&b)?)?;
    let mut pids = Vec::new();
    for (name, out, inb, admin, orig) in [
        ("b", b_out, b_in, b_admin, upstream.to_string()),
        ("a", a_out, a_in, a_admin, "198.18.0.10:8080".to_string()),
    ] {
        let child = Command::new(binary)
            .arg("proxy")
            .arg("--config")
            .arg(dir.join(format!("{name}.json")))
            .arg("--certs")
            .arg(dir.join(name))
            .args([
                "--outbound-port",
                &out.to_string(),
                "--inbound-port",
                &inb.to_string(),
            ])
            .args(["--admin-port", &admin.to_string(), "--original-dst", &orig])
            .args(["--access-log", "off"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(
                dir.join(format!("proxy-{name}.err")),
            )?)
            .process_group(0)
            .spawn()
            .context("starting verimesh proxy")?;
        pids.push(vec![child.id()]);
        procs.0.push(child);
        wait_listening(admin).with_context(|| {
            std::fs::read_to_string(dir.join(format!("proxy-{name}.err"))).unwrap_or_default()
        })?;
    }
    pids.reverse();
    Ok(Chain {
        name,
        entry: a_out,
        proxies: pids,
        procs,
        dir: dir.to_path_buf(),
    })
}

fn openssl(args: &[&str], dir: &Path) -> anyhow::Result<()> {
    run(Command::new("openssl").args(args).current_dir(dir))
}

fn nginx_chain(dir: &Path, upstream: SocketAddr) -> anyhow::Result<Chain> {
    std::fs::create_dir_all(dir)?;
    let mut procs = Procs(Vec::new());
    let pki = dir.join("nginx-pki");
    std::fs::create_dir_all(&pki)?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=bench-ca",
            ],
        ]
        .concat(),
        &pki,
    )?;
    for (name, san) in [
        ("server", "DNS:localhost"),
        ("client", "URI:spiffe://cluster.local/ns/bench/sa/client"),
    ] {
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN={name}"),
                ],
            ]
            .concat(),
            &pki,
        )?;
        std::fs::write(
            pki.join(format!("{name}.ext")),
            format!("subjectAltName={san}\nextendedKeyUsage=serverAuth,clientAuth\n"),
        )?;
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                &format!("{name}.ext"),
            ],
            &pki,
        )?;
    }
    let [a_port, b_port] = free_ports()?;
    let p = pki.display();
    let common = |name: &str| {
        format!(
            "worker_processes auto;\ndaemon off;\nerror_log {d}/nginx-{name}.err error;\npid {d}/nginx-{name}.pid;\n\
             events {{ worker_connections 4096; }}\nhttp {{\n access_log off;\n keepalive_requests 1000000;\n\
             client_body_temp_path {d}/tmp-{name}-body; proxy_temp_path {d}/tmp-{name}-proxy;\n\
             fastcgi_temp_path {d}/tmp-{name}-f; uwsgi_temp_path {d}/tmp-{name}-u; scgi_temp_path {d}/tmp-{name}-s;\n",
            d = dir.display()
        )
    };
    let a = format!(
        "{}upstream b {{ server 127.0.0.1:{b_port}; keepalive 64; keepalive_requests 1000000; }}\n\
         server {{ listen 127.0.0.1:{a_port}; location / {{ proxy_pass https://b; proxy_http_version 1.1;\n\
         proxy_set_header Connection \"\"; proxy_ssl_protocols TLSv1.3; proxy_ssl_certificate {p}/client.pem;\n\
         proxy_ssl_certificate_key {p}/client.key; proxy_ssl_trusted_certificate {p}/ca.pem; proxy_ssl_verify on;\n\
         proxy_ssl_name localhost; proxy_ssl_session_reuse on; }} }}\n}}\n",
        common("a")
    );
    let b = format!(
        "{}upstream app {{ server {upstream}; keepalive 64; keepalive_requests 1000000; }}\n\
         server {{ listen 127.0.0.1:{b_port} ssl; ssl_protocols TLSv1.3; ssl_certificate {p}/server.pem;\n\
         ssl_certificate_key {p}/server.key; ssl_client_certificate {p}/ca.pem; ssl_verify_client on;\n\
         location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}\n}}\n",
        common("b")
    );
    let mut pids = Vec::new();
    for (name, conf, port) in [("b", b, b_port), ("a", a, a_port)] {
        let path = dir.join(format!("nginx-{name}.conf"));
        std::fs::write(&path, conf)?;
        let child = Command::new("nginx")
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .context("starting nginx (scripts/setup.sh installs it)")?;
        let pid = child.id();
        procs.0.push(child);
        wait_listening(port).with_context(|| {
            std::fs::read_to_string(dir.join(format!("nginx-{name}.err"))).unwrap_or_default()
        })?;
        pids.push(pid);
    }
    Ok(Chain {
        name: "nginx",
        entry: a_port,
        proxies: vec![family(pids[1]), family(pids[0])],
        procs,
        dir: dir.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn sign_test_chances() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(super::chance_of_at_least(0, 7), 1.0));
        assert!(close(super::chance_of_at_least(5, 5), 1.0 / 32.0));
        assert!(close(super::chance_of_at_least(1, 2), 0.75));
        // 22 or more of 30: 0.806 %.
        assert!(close(
            (super::chance_of_at_least(22, 30) * 1e5).round(),
            806.0
        ));
        assert!(close(super::chance_of_at_least(31, 30), 0.0));
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(super::median(vec![3.0, -1.0, 2.0]), 2.0);
        assert_eq!(super::median(vec![4.0, -2.0, 1.0, 0.0]), 0.5);
        assert_eq!(super::median(Vec::new()), 0.0);
    }
}
