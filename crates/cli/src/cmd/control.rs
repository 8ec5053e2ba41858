//! `verimesh control`: the control plane — the CA's certificate signing service and, given a
//! config directory and a placement, the compiled config streamed to every proxy, reloaded
//! whenever the directory changes.

use super::duration;
use anyhow::Context;
use clap::Args as ClapArgs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use verimesh_control::config::ConfigHub;
use verimesh_control::mesh::{self, PlacementRecords, SourceState};
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
    /// Directory of Kubernetes and Istio YAML to compile and stream to the proxies (watched:
    /// edits apply within a second; a change that does not load keeps the last good config).
    #[arg(long, value_name = "DIR", requires = "placement")]
    config: Option<PathBuf>,
    /// Where each workload replica runs (JSON: trust domain, instances with addresses,
    /// service virtual IPs), as `verimesh up` writes it.
    #[arg(long, value_name = "FILE", requires = "config")]
    placement: Option<PathBuf>,
    /// Where to write the status `verimesh status` shows (every second).
    #[arg(long, value_name = "FILE")]
    status_file: Option<PathBuf>,
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
    let placement = match &args.placement {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            let p: verimesh_compiler::Placement = serde_json::from_str(&text)
                .with_context(|| format!("{}: not a placement", path.display()))?;
            Some(p)
        }
        None => None,
    };
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async {
        let ca = Arc::new(verimesh_control::load_ca(&opts)?);
        let records: Arc<dyn verimesh_control::config::PlacementLookup> = match &placement {
            Some(p) => Arc::new(PlacementRecords(p.clone())),
            None => Arc::new(verimesh_control::config::NoPlacements),
        };
        let hub = Arc::new(ConfigHub::new(records));
        let server = verimesh_control::start_with(ca, &opts, hub.clone()).await?;
        eprintln!(
            "verimesh control: listening on {} (identity {})",
            server.local_addr(),
            server.identity()
        );
        let source = Arc::new(Mutex::new(SourceState::default()));
        if let (Some(dir), Some(p)) = (&args.config, placement) {
            tokio::spawn(mesh::run(dir.clone(), p, hub.clone(), source.clone()));
        }
        if let Some(path) = args.status_file.clone() {
            tokio::spawn(write_status_loop(path, hub, source));
        }
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = server.wait() => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
            _ = term.recv() => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn write_status_loop(path: PathBuf, hub: Arc<ConfigHub>, source: Arc<Mutex<SourceState>>) {
    loop {
        let (error, generation, warnings) = match source.lock() {
            Ok(s) => (s.last_error.clone(), s.generation, s.warnings.clone()),
            Err(_) => (None, 0, Vec::new()),
        };
        let status = mesh::MeshStatus::of(&hub, error, generation, warnings);
        if let Err(e) = mesh::write_status(&path, &status) {
            eprintln!("verimesh control: cannot write {}: {e}", path.display());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
