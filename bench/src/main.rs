//! verimesh benchmarks. Each prints what it measured; none fails on a number.

mod authz;
mod compile;
mod corpus;
mod http_load;
mod procfs;
mod proxy_chain;
mod push;
mod resample;

use clap::{Parser, Subcommand};
use std::time::Instant;

#[derive(Parser)]
#[command(name = "verimesh-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a corpus of mesh configuration, then time loading and analyzing it.
    AnalyzeCorpus {
        /// How many resources to generate (about a tenth each of the main kinds).
        #[arg(long, default_value_t = 10_000)]
        resources: usize,
        /// Timed repetitions; the best and the median are printed.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Generate a mesh (services with DestinationRules and VirtualServices, two endpoints each,
    /// one proxy per service), change one route, and time recompiling every proxy.
    Compile {
        #[arg(long, default_value_t = 1_000)]
        services: usize,
        #[arg(long, default_value_t = 10)]
        namespaces: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Generate AuthorizationPolicies, then time one decision per request.
    Authz {
        #[arg(long, default_value_t = 1_000)]
        policies: usize,
        /// Distinct requests, each decided once per round.
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
        #[arg(long, default_value_t = 20)]
        rounds: usize,
    },
    /// Compare client → verimesh → mTLS → verimesh → upstream with the same chain built from
    /// nginx, and with the direct path, in one run.
    ProxyChain {
        /// The verimesh binary (a release build).
        #[arg(long, default_value = "target/release/verimesh")]
        verimesh: std::path::PathBuf,
        /// A second verimesh binary, measured as chain "verimesh-b" in the same rounds.
        #[arg(long, value_name = "BINARY")]
        compare: Option<std::path::PathBuf>,
        /// Seconds of saturation per chain.
        #[arg(long, default_value_t = 5)]
        saturation_secs: u64,
        /// Concurrent connections at saturation.
        #[arg(long, default_value_t = 16)]
        connections: usize,
        /// Requests per second in the fixed-rate phase (over 4 connections, 1 KiB bodies).
        #[arg(long, default_value_t = 1000)]
        rate: u64,
        /// Seconds of each fixed-rate round per chain. Short rounds, many of them: a noisy
        /// stretch of this shared machine then falls on every chain instead of on one.
        #[arg(long, default_value_t = 1)]
        fixed_secs: u64,
        /// Fixed-rate rounds, each measuring every chain in turn.
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// How many times every chain's proxies are started over the rounds (split evenly
        /// between starts): several address-space layouts and CPU placements per run.
        #[arg(long, default_value_t = 1)]
        starts: usize,
        /// A directory to write each chain's per-round request timeline into
        /// (`CHAIN-ROUND.txt`: start and latency of each request, in microseconds).
        #[arg(long, value_name = "DIR")]
        timelines: Option<std::path::PathBuf>,
    },
    /// A config hub with proxies connected over mTLS; time a change pushed to all of them.
    ControlPush {
        #[command(flatten)]
        args: push::Args,
    },
    /// The simulated proxies of control-push (started by it in a child process).
    #[command(hide = true)]
    ControlPushProxies {
        #[arg(long)]
        addr: std::net::SocketAddr,
        #[arg(long)]
        ca_dir: std::path::PathBuf,
        #[command(flatten)]
        args: push::Args,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::AnalyzeCorpus { resources, runs } => analyze_corpus(resources, runs.max(1)),
        Command::Compile {
            services,
            namespaces,
            runs,
        } => compile::run(services, namespaces, runs.max(1)),
        Command::Authz {
            policies,
            requests,
            rounds,
        } => authz::run(policies, requests.max(1), rounds.max(1)),
        Command::ProxyChain {
            verimesh,
            compare,
            saturation_secs,
            connections,
            rate,
            fixed_secs,
            rounds,
            starts,
            timelines,
        } => proxy_chain::run_all(&proxy_chain::Options {
            verimesh,
            compare,
            saturation: std::time::Duration::from_secs(saturation_secs.max(1)),
            connections: connections.max(1),
            rate: rate.max(1),
            fixed: std::time::Duration::from_secs(fixed_secs.max(1)),
            rounds: rounds.max(1),
            starts: starts.max(1),
            timelines,
        }),
        Command::ControlPush { args } => push::run(&args),
        Command::ControlPushProxies { addr, ca_dir, args } => {
            push::proxies::run(&args, addr, &ca_dir)
        }
    }
}

fn analyze_corpus(resources: usize, runs: usize) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("verimesh-bench-{}", std::process::id()));
    let written = corpus::write(&dir, resources)?;
    let mut load_ms = Vec::new();
    let mut total_ms = Vec::new();
    let mut summary = (0, 0, 0);
    let mut codes: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for _ in 0..runs {
        let start = Instant::now();
        let loaded = verimesh_config::load_paths(&[&dir]);
        let loaded_at = start.elapsed();
        let snap = verimesh_analyze::Snapshot::new(&loaded.resources, Default::default());
        let messages = verimesh_analyze::analyze(&loaded, &snap);
        let done = start.elapsed();
        load_ms.push(loaded_at.as_secs_f64() * 1e3);
        total_ms.push(done.as_secs_f64() * 1e3);
        summary = (
            loaded.resources.len(),
            loaded.diagnostics.len(),
            messages.len(),
        );
        codes.clear();
        for m in &messages {
            *codes.entry(m.kind.code).or_insert(0) += 1;
        }
    }
    // Where the time goes: each analyzer alone, over the last load.
    let loaded = verimesh_config::load_paths(&[&dir]);
    let snap = verimesh_analyze::Snapshot::new(&loaded.resources, Default::default());
    let mut slowest: Vec<(f64, &str)> = verimesh_analyze::analyzers::all()
        .into_iter()
        .map(|a| {
            let start = Instant::now();
            let mut out = verimesh_analyze::Report::default();
            a.analyze(&snap, &mut out);
            (start.elapsed().as_secs_f64() * 1e3, a.name())
        })
        .collect();
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top: Vec<String> = slowest
        .iter()
        .take(3)
        .map(|(ms, name)| format!("{name} {ms:.0} ms"))
        .collect();
    println!("analyze-corpus: slowest analyzers: {}", top.join(", "));
    let _ = std::fs::remove_dir_all(&dir);
    load_ms.sort_by(f64::total_cmp);
    total_ms.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    println!(
        "analyze-corpus: {} resources in {} files ({} KiB); loaded {}, {} diagnostics, {} messages",
        resources,
        written.files,
        written.bytes / 1024,
        summary.0,
        summary.1,
        summary.2
    );
    println!("analyze-corpus: messages by code: {codes:?}");
    println!(
        "analyze-corpus: load best {:.0} ms, median {:.0} ms; load+analyze best {:.0} ms, median {:.0} ms ({} runs; target: well under 2000 ms)",
        load_ms[0],
        median(&load_ms),
        total_ms[0],
        median(&total_ms),
        runs
    );
    Ok(())
}
