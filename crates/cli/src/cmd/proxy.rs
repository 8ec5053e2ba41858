//! `verimesh proxy`: the sidecar. Either standalone — a local file of its compiled config and
//! a directory of credentials (as `verimesh ca issue` writes them) — or driven by the control
//! plane: a certificate from its CA (first with a bootstrap token, then renewed at half its
//! lifetime) and its config streamed, applied as it changes. Runs until SIGTERM or Ctrl-C.

use anyhow::Context;
use clap::Args as ClapArgs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use verimesh_api::{CaClient, ConfigCheck, ConfigClient, ConfigClientOptions};
use verimesh_identity::{
    CredentialSource, RotationOptions, SpiffeId, SpiffeMatcher, StaticCredentials, TrustBundle,
    TrustDomain,
};
use verimesh_model::ProxyConfig;
use verimesh_proxy::{LogTarget, OriginalDst, ProxyOptions, Shared};

#[derive(ClapArgs)]
pub struct Args {
    /// The proxy's compiled config (JSON of the proxy-facing model).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "control",
        conflicts_with = "control"
    )]
    config: Option<PathBuf>,
    /// Directory with cert-chain.pem, key.pem and root-cert.pem.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "control",
        conflicts_with = "control"
    )]
    certs: Option<PathBuf>,
    /// The control plane's address: certificates from its CA, config from its stream.
    #[arg(long, value_name = "ADDR", requires_all = ["ca_root", "token_file", "namespace", "name", "service_account"])]
    control: Option<SocketAddr>,
    /// The mesh's root certificate(s), to verify the control plane.
    #[arg(long, value_name = "FILE")]
    ca_root: Option<PathBuf>,
    /// The bootstrap token that proves the workload's identity for its first certificate.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The workload's Kubernetes namespace.
    #[arg(long)]
    namespace: Option<String>,
    /// The workload replica this proxy serves (its config is looked up by this name).
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    service_account: Option<String>,
    #[arg(long, default_value = "cluster.local")]
    trust_domain: String,
    /// Port capturing the workload's outbound TCP.
    #[arg(long, default_value_t = 15001)]
    outbound_port: u16,
    /// Port capturing inbound TCP to the workload.
    #[arg(long, default_value_t = 15006)]
    inbound_port: u16,
    /// Admin port (localhost only): /ready, /healthz, /config_dump, /stats.
    #[arg(long, default_value_t = 15000)]
    admin_port: u16,
    /// Take every connection as addressed to ADDR instead of reading SO_ORIGINAL_DST: for
    /// benchmarks and debugging on loopback without iptables.
    #[arg(long, value_name = "ADDR")]
    original_dst: Option<SocketAddr>,
    /// Where the JSON access log goes: `-` (stdout), a file path, or `off`.
    #[arg(long, default_value = "-", value_name = "PATH|-|off")]
    access_log: String,
    /// Worker threads serving connections (Istio's proxy concurrency; 0 means one per
    /// core): each accepted connection goes to the worker with the fewest open ones and stays
    /// there. One suits most sidecars.
    #[arg(long, default_value_t = verimesh_proxy::DEFAULT_WORKERS, value_name = "N")]
    concurrency: usize,
}

fn options(args: &Args) -> ProxyOptions {
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    ProxyOptions {
        outbound: SocketAddr::new(any, args.outbound_port),
        inbound: SocketAddr::new(any, args.inbound_port),
        admin: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), args.admin_port),
        original_dst: args
            .original_dst
            .map_or(OriginalDst::Kernel, OriginalDst::Fixed),
        access_log: match args.access_log.as_str() {
            "-" => LogTarget::Stdout,
            "off" => LogTarget::Off,
            path => LogTarget::File(PathBuf::from(path)),
        },
        workers: match args.concurrency {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        },
        ..ProxyOptions::default()
    }
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let rt = verimesh_proxy::runtime().context("starting the async runtime")?;
    rt.block_on(async {
        match (&args.config, &args.certs, args.control) {
            (Some(config), Some(certs), None) => standalone(args, config, certs).await,
            (_, _, Some(control)) => controlled(args, control).await,
            _ => anyhow::bail!("give --config and --certs, or --control"),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn standalone(args: &Args, config: &Path, certs: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let config = ProxyConfig::from_json(&text).with_context(|| config.display().to_string())?;
    let creds = StaticCredentials::load_dir(certs)
        .with_context(|| format!("loading credentials from {}", certs.display()))?;
    let proxy = verimesh_proxy::start(config, Arc::new(creds), options(args)).await?;
    announce(&proxy);
    until_signal().await?;
    drop(proxy);
    Ok(())
}

async fn controlled(args: &Args, control: SocketAddr) -> anyhow::Result<()> {
    let missing = |what: &str| anyhow::anyhow!("--control needs --{what}");
    let ca_root = args.ca_root.as_ref().ok_or_else(|| missing("ca-root"))?;
    let token_file = args
        .token_file
        .as_ref()
        .ok_or_else(|| missing("token-file"))?;
    let namespace = args.namespace.clone().ok_or_else(|| missing("namespace"))?;
    let name = args.name.clone().ok_or_else(|| missing("name"))?;
    let sa = args
        .service_account
        .clone()
        .ok_or_else(|| missing("service-account"))?;
    let td = TrustDomain::new(&args.trust_domain).context("--trust-domain")?;
    let roots = std::fs::read_to_string(ca_root)
        .with_context(|| format!("reading {}", ca_root.display()))?;
    let bundle = TrustBundle::from_pem(&roots).with_context(|| ca_root.display().to_string())?;
    let token = std::fs::read_to_string(token_file)
        .with_context(|| format!("reading {}", token_file.display()))?;
    let identity = SpiffeId::workload(&td, &namespace, &sa).context("workload identity")?;
    let control_id = verimesh_control::control_identity(&td)?;
    let matcher = SpiffeMatcher::Exact(control_id);
    // The workload certificate: first with the bootstrap token, then renewed over mTLS.
    let watcher = CaClient::new(control, matcher.clone(), bundle)
        .with_bootstrap_token(token.trim())
        .watch(identity.clone(), RotationOptions::default())
        .await
        .with_context(|| format!("getting a certificate for {identity} from {control}"))?;
    let source: Arc<dyn CredentialSource> = watcher.source();
    // Each config is applied (or, before the listeners open, compiled) before it is ACKed, so
    // one the proxy cannot run is NACKed with its reason instead of reported in sync.
    let running: Arc<OnceLock<Arc<Shared>>> = Arc::default();
    let mut client_opts = ConfigClientOptions::new(control, matcher, &namespace, &name);
    client_opts.check = Some(ConfigCheck::new({
        let running = running.clone();
        move |config| apply_or_check(running.get(), config)
    }));
    let client = ConfigClient::start(client_opts, source.clone(), None)?;
    let mut configs = client.config();
    // Listeners open once the first config has arrived, as Istio's sidecar does.
    let first = loop {
        if let Some(c) = configs.borrow_and_update().clone() {
            break c;
        }
        configs
            .changed()
            .await
            .context("config stream ended before the first config")?;
    };
    let proxy = verimesh_proxy::start((*first).clone(), source, options(args)).await?;
    announce(&proxy);
    eprintln!("verimesh proxy: {identity}, config {}", first.version);
    let _ = running.set(proxy.shared.clone());
    // A config accepted while the listeners were opening was only compiled: apply it now.
    let latest = configs.borrow_and_update().clone();
    if let Some(latest) = latest.filter(|c| c.version != first.version) {
        let _ = apply_or_check(Some(&proxy.shared), &latest);
    }
    until_signal().await?;
    drop(client);
    drop(watcher);
    Ok(())
}

/// Applies `config` to the running proxy, or compiles it when none runs yet.
fn apply_or_check(running: Option<&Arc<Shared>>, config: &ProxyConfig) -> Result<(), String> {
    let result = match running {
        Some(shared) => shared.update(config.clone()),
        None => verimesh_proxy::check_config(config),
    };
    match (&result, running.is_some()) {
        (Ok(()), true) => eprintln!("verimesh proxy: config {} applied", config.version),
        (Ok(()), false) => {}
        (Err(e), _) => eprintln!("verimesh proxy: config {} refused: {e}", config.version),
    }
    result.map_err(|e| e.to_string())
}

fn announce(proxy: &verimesh_proxy::Proxy) {
    eprintln!(
        "verimesh proxy: outbound {}, inbound {}, admin {}",
        proxy.outbound_addr, proxy.inbound_addr, proxy.admin_addr
    );
}

async fn until_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
