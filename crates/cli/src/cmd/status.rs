//! `verimesh status`: the proxies of a local mesh as its control plane last reported them —
//! connected or not, the config version published and ACKed, the last NACK, and when each
//! proxy's certificate expires — plus a configuration error, if the last edit was refused.

use anyhow::Context;
use clap::Args as ClapArgs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};
use verimesh_control::mesh::MeshStatus;

#[derive(ClapArgs)]
pub struct Args {
    /// The run's state directory (`verimesh up --state-dir`, default /run/verimesh/mesh).
    #[arg(long, value_name = "DIR", default_value = "/run/verimesh/mesh")]
    state_dir: PathBuf,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let path = args.state_dir.join("status.json");
    let status = MeshStatus::read(&path).with_context(|| {
        format!(
            "no status at {} (is `verimesh up` running with this state directory?)",
            path.display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let age = now.saturating_sub(status.updated);
    if age > 5 {
        println!("(reported {age} s ago: the control plane may be down)");
    }
    for w in &status.warnings {
        println!("warning: {w}");
    }
    if let Some(e) = &status.config_error {
        println!("configuration refused (the previous one stays in force):\n{e}\n");
    }
    let w = status
        .proxies
        .iter()
        .map(|p| p.namespace.len() + p.name.len() + 1)
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:<w$}  {:<9}  {:<16}  {:<16}  {:<8}  CERT EXPIRES IN",
        "PROXY", "CONNECTED", "PUBLISHED", "ACKED", "IN SYNC"
    );
    for p in &status.proxies {
        let short = |v: &Option<String>| {
            v.as_deref()
                .map(|s| s.chars().take(16).collect::<String>())
                .unwrap_or_else(|| "-".into())
        };
        let expiry = p.cert_expiry.map_or("-".to_string(), |t| {
            let left = t.saturating_sub(now);
            format!("{}h{:02}m", left / 3600, (left % 3600) / 60)
        });
        println!(
            "{:<w$}  {:<9}  {:<16}  {:<16}  {:<8}  {expiry}",
            format!("{}/{}", p.namespace, p.name),
            if p.connected { "yes" } else { "no" },
            short(&p.published_version),
            short(&p.acked_version),
            if p.in_sync { "yes" } else { "no" },
        );
        if let Some(n) = &p.last_nack {
            println!("    last NACK: {n}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
