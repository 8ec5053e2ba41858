//! `verimesh control`: the control plane. For now it runs only the CA's certificate signing
//! service.

use super::duration;
use anyhow::Context;
use clap::Args as ClapArgs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use verimesh_control::{ControlOptions, DEFAULT_ADDR};
use verimesh_identity::TrustDomain;

#[derive(ClapArgs)]
pub struct Args {
    /// Directory for the control plane's state: its self-signed CA (DIR/ca, created on first
    /// start, keys mode 0600) and the workloads' bootstrap tokens (DIR/bootstrap-tokens.json).
    #[arg(long, value_name = "DIR")]
    state_dir: PathBuf,
    /// Use a plugged-in CA in Istio's cacerts layout instead of the state directory's own.
    #[arg(long, value_name = "DIR")]
    cacerts: Option<PathBuf>,
    /// The mesh's trust domain.
    #[arg(long, default_value = "cluster.local")]
    trust_domain: String,
    /// Address of the gRPC (mTLS) port.
    #[arg(long, default_value = DEFAULT_ADDR)]
    listen: SocketAddr,
    /// Default lifetime of workload certificates.
    #[arg(long, default_value = "24h", value_parser = duration::parse)]
    workload_ttl: Duration,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let trust_domain = TrustDomain::new(&args.trust_domain).context("--trust-domain")?;
    let opts = ControlOptions {
        state_dir: args.state_dir.clone(),
        cacerts: args.cacerts.clone(),
        trust_domain,
        listen: args.listen,
        workload_ttl: args.workload_ttl,
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let server = verimesh_control::start(opts).await?;
        eprintln!(
            "verimesh control: CA service listening on {} (identity {})",
            server.local_addr(),
            server.identity()
        );
        tokio::select! {
            r = server.wait() => r,
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}
