//! `verimesh up DIR`: the manifests of DIR run as a mesh on this machine. Every Deployment
//! replica gets a network namespace on a bridge, an address, `verimesh iptables` and a sidecar
//! (uid 1337) next to its container's command; every Service a virtual IP and its names in
//! the namespaces' hosts files. The control plane runs in a namespace of its own (so
//! `verimesh down` finds everything a crashed run left), serving the CA and streaming each
//! proxy's config, recompiled whenever DIR changes. `up` prints the workloads and `ready`,
//! restarts the control plane if it dies, and tears everything down on Ctrl-C or SIGTERM.

mod plan;
mod proxy_config;
mod start;

use anyhow::Context;
use clap::Args as ClapArgs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(ClapArgs)]
pub struct Args {
    /// Directory of Kubernetes manifests (Namespace, ServiceAccount, Service, Deployment) and
    /// Istio or verimesh configuration.
    dir: PathBuf,
    /// Names this run (at most 6 characters): namespaces, links and the state directory
    /// derive from it, so runs never collide.
    #[arg(long, default_value = "mesh")]
    name: String,
    /// Subnet for workload addresses (first half) and service virtual IPs (second half).
    #[arg(long, default_value = "198.18.0.0/15")]
    subnet: ipnet::Ipv4Net,
    /// State directory (default /run/verimesh/<name>).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// How long to wait for every proxy to be running its config.
    #[arg(long, default_value = "90s", value_parser = super::duration::parse)]
    ready_timeout: Duration,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    verimesh_local::require_root().context("verimesh up")?;
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("{}: no such directory", args.dir.display()))?;
    let plan = match plan::Plan::load(&dir) {
        Ok(p) => p,
        Err(problems) => {
            for p in &problems {
                eprintln!("{p}");
            }
            eprintln!(
                "verimesh up: {} problem(s) in {}; nothing was started",
                problems.len(),
                dir.display()
            );
            return Ok(ExitCode::from(2));
        }
    };
    start::run(args, &dir, plan)
}
