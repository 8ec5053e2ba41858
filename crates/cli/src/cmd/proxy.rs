//! `verimesh proxy`: the sidecar, booted from a local file of its compiled config and a
//! directory of credentials (as `verimesh ca issue` writes them). Runs until SIGTERM or
//! Ctrl-C.

use anyhow::Context;
use clap::Args as ClapArgs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use verimesh_identity::StaticCredentials;
use verimesh_model::ProxyConfig;
use verimesh_proxy::{LogTarget, OriginalDst, ProxyOptions};

#[derive(ClapArgs)]
pub struct Args {
    /// The proxy's compiled config (JSON of the proxy-facing model).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Directory with cert-chain.pem, key.pem and root-cert.pem.
    #[arg(long, value_name = "DIR")]
    certs: PathBuf,
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
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("reading {}", args.config.display()))?;
    let config =
        ProxyConfig::from_json(&text).with_context(|| args.config.display().to_string())?;
    let creds = StaticCredentials::load_dir(&args.certs)
        .with_context(|| format!("loading credentials from {}", args.certs.display()))?;
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let opts = ProxyOptions {
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
        ..ProxyOptions::default()
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let proxy = verimesh_proxy::start(config, Arc::new(creds), opts).await?;
        eprintln!(
            "verimesh proxy: outbound {}, inbound {}, admin {}",
            proxy.outbound_addr, proxy.inbound_addr, proxy.admin_addr
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        drop(proxy);
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
