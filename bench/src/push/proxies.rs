//! The simulated proxies of the push benchmark, run in a child process so that the control
//! plane's CPU time and memory are measured apart from theirs. Each is a real
//! [`ConfigClient`] with its own workload certificate: it connects over mTLS, parses and
//! validates every config, and ACKs. Commands arrive on stdin: `report` prints this process's
//! CPU time and peak RSS; end of input exits.

use super::{proxy, sys, Args};
use std::io::BufRead;
use std::sync::Arc;
use verimesh_api::{ConfigClient, ConfigClientOptions};
use verimesh_identity::{Ca, Credentials, SpiffeId, SpiffeMatcher, StaticCredentials, TrustDomain};

pub fn run(
    args: &Args,
    addr: std::net::SocketAddr,
    ca_dir: &std::path::Path,
) -> anyhow::Result<()> {
    sys::raise_nofile(args.proxies as u64 + 256)?;
    let td = TrustDomain::new("cluster.local")?;
    let (ca, _) = Ca::load_or_create(ca_dir, td.clone())?;
    let control = SpiffeMatcher::Exact(verimesh_control::control_identity(&td)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let clients = runtime.block_on(async {
        let mut clients = Vec::with_capacity(args.proxies);
        for i in 0..args.proxies {
            let p = proxy(args, i);
            let id = SpiffeId::workload(&td, &p.key.namespace, &p.service_account)?;
            let (issued, key) = ca.issue(&id, None)?;
            let creds = Credentials::from_pem(&issued.chain_pem(), &key)?;
            let source = Arc::new(StaticCredentials::new(creds, ca.trust_bundle().clone()));
            let opts = ConfigClientOptions::new(
                addr,
                control.clone(),
                p.key.namespace.clone(),
                p.key.name.clone(),
            );
            clients.push(ConfigClient::start(opts, source, None)?);
        }
        anyhow::Ok(clients)
    })?;
    for line in std::io::stdin().lock().lines() {
        if line?.trim() == "report" {
            let accepted: u64 = clients.iter().map(|c| c.status().borrow().accepted).sum();
            // What the last response to each proxy carried: whole configs, and resource bytes.
            let (mut full, mut bytes) = (0usize, 0usize);
            for c in &clients {
                if let Some(u) = &c.status().borrow().last_update {
                    full += usize::from(u.full);
                    bytes += u.bytes;
                }
            }
            println!(
                "report cpu_ms={} peak_rss_mib={:.0} accepted={accepted} last_full={full} last_bytes={bytes}",
                sys::cpu_time().as_millis(),
                sys::peak_rss_mib()
            );
        }
    }
    drop(clients);
    runtime.shutdown_background();
    Ok(())
}
