//! `control-push`: one config hub on the control plane's real port, a thousand proxies
//! connected to it over mTLS (each a real config client with its own certificate, in a child
//! process), every proxy holding a config that lists the whole mesh. Then one route changes in
//! every config; the benchmark times the publish until every proxy has ACKed the new version,
//! and reports both processes' CPU time and peak RSS.

mod mesh;
pub mod proxies;
mod sys;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use verimesh_control::config::{
    ConfigHub, HubEvent, HubOptions, Placement, ProxyKey, ProxyParts, SharedOutbound,
};
use verimesh_identity::{Ca, TrustDomain};
use verimesh_model::ProxyConfig;

/// The mesh and the proxies.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Simulated proxies (config streams).
    #[arg(long, default_value_t = 1_000)]
    pub proxies: usize,
    /// Services in the mesh; every proxy's config lists all of them.
    #[arg(long, default_value_t = 1_000)]
    pub services: usize,
    /// Endpoints over all services.
    #[arg(long, default_value_t = 2_000)]
    pub endpoints: usize,
    #[arg(long, default_value_t = 20)]
    pub namespaces: usize,
    /// Proxies per workload: replicas of one workload share one config (one `Arc`, encoded
    /// once); 1 makes every proxy's config distinct.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// The hub's bound on response bytes in flight, in MiB (`HubOptions::max_bytes_in_flight`);
    /// default: the hub's default.
    #[arg(long)]
    pub max_inflight_mib: Option<usize>,
}

impl Args {
    fn shape(&self) -> mesh::Shape {
        mesh::Shape {
            services: self.services.max(1),
            endpoints: self.endpoints,
            namespaces: self.namespaces.max(1),
        }
    }
    fn workloads(&self) -> usize {
        self.proxies
            .div_ceil(self.replicas.max(1))
            .min(self.services.max(1))
    }
}

/// Proxy `i`: replica `i / workloads` of the workload of service `i % workloads` (more
/// replicas than asked for when the mesh has fewer services than that needs).
pub struct Proxy {
    pub key: ProxyKey,
    pub service_account: String,
    pub workload: usize,
}

pub fn proxy(args: &Args, i: usize) -> Proxy {
    let shape = args.shape();
    let workloads = args.workloads().max(1);
    let workload = i % workloads;
    let name = shape.service_name(workload);
    Proxy {
        key: ProxyKey::new(
            shape.namespace(workload),
            format!("{name}-{}", i / workloads),
        ),
        service_account: name,
        workload,
    }
}

/// Every proxy's config at `version`, the first service's route timeout set to `timeout_ms`,
/// as the compiler shares it: one outbound view (every service and cluster a fresh `Arc`, as
/// a recompilation makes them) shared by all proxies, a core per workload.
fn configs(args: &Args, version: &str, timeout_ms: u64) -> Vec<(ProxyKey, ProxyParts)> {
    let shape = args.shape();
    let (services, clusters) = mesh::outbound(&shape, timeout_ms);
    let outbound = Arc::new(SharedOutbound {
        services: services.into_iter().map(Arc::new).collect(),
        clusters: clusters.into_iter().map(Arc::new).collect(),
    });
    let per_workload: Vec<ProxyParts> = (0..args.workloads())
        .map(|w| ProxyParts {
            core: mesh::proxy_core(&shape, w, version),
            outbound: outbound.clone(),
        })
        .collect();
    (0..args.proxies)
        .map(|i| {
            let p = proxy(args, i);
            (p.key, per_workload[p.workload].clone())
        })
        .collect()
}

/// Waits until every proxy has ACKed `version`.
async fn all_acked(
    hub: &ConfigHub,
    events: &mut tokio::sync::broadcast::Receiver<HubEvent>,
    proxies: usize,
    version: &str,
) -> anyhow::Result<()> {
    let mut seen: HashSet<ProxyKey> = HashSet::new();
    while seen.len() < proxies {
        match events.recv().await {
            Ok(HubEvent::Acked { proxy, version: v }) if v == version => {
                seen.insert(proxy);
            }
            Ok(HubEvent::Nacked { proxy, error, .. }) => anyhow::bail!("{proxy} NACKed: {error}"),
            Ok(_) => {}
            // Fell behind the events: count from the status instead.
            Err(RecvError::Lagged(_)) => {
                seen = hub
                    .status()
                    .into_iter()
                    .filter(|s| s.last_acked_version.as_deref() == Some(version))
                    .map(|s| s.proxy)
                    .collect();
            }
            Err(RecvError::Closed) => anyhow::bail!("hub events closed"),
        }
    }
    Ok(())
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    sys::raise_nofile(args.proxies as u64 + 256)?;
    let dir = std::env::temp_dir().join(format!("verimesh-bench-push-{}", std::process::id()));
    let td = TrustDomain::new("cluster.local")?;
    let (ca, _) = Ca::load_or_create(&dir, td.clone())?;
    let placements: HashMap<ProxyKey, Placement> = (0..args.proxies)
        .map(|i| {
            let p = proxy(args, i);
            let placement = Placement {
                namespace: p.key.namespace.clone(),
                service_account: p.service_account,
            };
            (p.key, placement)
        })
        .collect();
    let placements = Arc::new(placements);
    let new_hub = || {
        let placements = placements.clone();
        let mut options = HubOptions::default();
        if let Some(mib) = args.max_inflight_mib {
            options.max_bytes_in_flight = mib << 20;
        }
        Arc::new(ConfigHub::with_options(
            Arc::new(move |k: &ProxyKey| placements.get(k).cloned()),
            options,
        ))
    };
    let hub = new_hub();
    let v1 = configs(args, "v1", 15_000);
    let json_kib = v1
        .first()
        .map(|(_, parts)| serde_json_len(&parts.to_config()) / 1024)
        .unwrap_or(0);
    hub.publish_all_parts(v1);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let opts = verimesh_control::ControlOptions {
        state_dir: dir.clone(),
        cacerts: None,
        trust_domain: td,
        listen: "127.0.0.1:0".parse()?,
        workload_ttl: Duration::from_secs(3600),
    };
    let ca = Arc::new(ca);
    let server = runtime.block_on(verimesh_control::start_with(ca.clone(), &opts, hub.clone()))?;
    let mut events = hub.events();
    let mut child = Command::new(std::env::current_exe()?)
        .arg("control-push-proxies")
        .args(["--addr", &server.local_addr().to_string()])
        .arg("--ca-dir")
        .arg(&dir)
        .args(["--proxies", &args.proxies.to_string()])
        .args(["--services", &args.services.to_string()])
        .args(["--endpoints", &args.endpoints.to_string()])
        .args(["--namespaces", &args.namespaces.to_string()])
        .args(["--replicas", &args.replicas.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut to_child = child
        .stdin
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdin"))?;
    let mut from_child = BufReader::new(
        child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?,
    );
    let mut report = || -> anyhow::Result<String> {
        writeln!(to_child, "report")?;
        let mut line = String::new();
        from_child.read_line(&mut line)?;
        Ok(line.trim().to_string())
    };

    let start = Instant::now();
    runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(600),
            all_acked(&hub, &mut events, args.proxies, "v1"),
        )
        .await
    })??;
    let connected = start.elapsed();
    let proxies_before = report()?;

    // The compiler's work, not timed: every config again, with one route changed.
    let v2 = configs(args, "v2", 16_000);
    let cpu_before = sys::cpu_time();
    let start = Instant::now();
    let changed = hub.publish_all_parts(v2);
    runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(600),
            all_acked(&hub, &mut events, args.proxies, "v2"),
        )
        .await
    })??;
    let push = start.elapsed();
    let hub_cpu = sys::cpu_time().saturating_sub(cpu_before);
    let peak_rss = sys::peak_rss_mib();
    let proxies_after = report()?;

    // A control plane restart: the old one's connections close, a new one (a new hub, the
    // same configs recompiled) takes the port, and every proxy reconnects with a hello naming
    // the resources it holds; it gets what differs (nothing) and ACKs. Peak RSS is measured
    // from here on (the kernel's high-water mark is reset).
    let addr = server.local_addr();
    drop(server);
    drop(events);
    drop(hub);
    let peak_reset = sys::reset_peak_rss();
    let rss_at_restart = sys::rss_mib();
    let hub = new_hub();
    hub.publish_all_parts(configs(args, "v2", 16_000));
    let mut events = hub.events();
    let cpu_before = sys::cpu_time();
    let start = Instant::now();
    let opts = verimesh_control::ControlOptions {
        listen: addr,
        ..opts
    };
    let server = runtime.block_on(verimesh_control::start_with(ca.clone(), &opts, hub.clone()))?;
    runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(600),
            all_acked(&hub, &mut events, args.proxies, "v2"),
        )
        .await
    })??;
    let resync = start.elapsed();
    let resync_cpu = sys::cpu_time().saturating_sub(cpu_before);
    let resync_peak = if peak_reset {
        format!(
            "{:.0} MiB (resident at the restart: {rss_at_restart:.0} MiB)",
            sys::peak_rss_mib()
        )
    } else {
        "not measurable (cannot reset the peak)".to_string()
    };
    let proxies_resynced = report()?;

    println!(
        "control-push: {} proxies ({} distinct configs), mesh of {} services / {} endpoints; config {} KiB of JSON",
        args.proxies,
        args.workloads(),
        args.services,
        args.endpoints,
        json_kib
    );
    println!(
        "control-push: all connected and synced at v1 in {:.2} s",
        connected.as_secs_f64()
    );
    println!(
        "control-push: one route changed in all configs: {changed} proxies pushed, all ACKed in {:.0} ms",
        push.as_secs_f64() * 1e3
    );
    println!(
        "control-push: control plane process: {:.0} ms CPU during the push, peak RSS {peak_rss:.0} MiB",
        hub_cpu.as_secs_f64() * 1e3,
    );
    println!("control-push: proxies process before the push: {proxies_before}");
    println!("control-push: proxies process after the push:  {proxies_after}");
    println!(
        "control-push: control plane restarted: all reconnected and ACKed in {:.0} ms, {:.0} ms CPU, peak RSS since the restart {resync_peak}",
        resync.as_secs_f64() * 1e3,
        resync_cpu.as_secs_f64() * 1e3,
    );
    println!("control-push: proxies process after the resync: {proxies_resynced}");
    drop(to_child);
    let _ = child.wait();
    drop(server);
    runtime.shutdown_background();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn serde_json_len(config: &ProxyConfig) -> usize {
    serde_json::to_vec(config).map(|v| v.len()).unwrap_or(0)
}
