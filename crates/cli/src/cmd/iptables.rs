//! `verimesh iptables`: transparent interception for one workload's network namespace.

use clap::Args as ClapArgs;
use ipnet::IpNet;
use std::process::ExitCode;
use verimesh_proxy::intercept::{self, InterceptConfig, IpFamily, Plan};

#[derive(ClapArgs)]
pub struct Args {
    /// The uid the proxy runs as: its own traffic is never captured.
    #[arg(long, default_value_t = 1337)]
    proxy_uid: u32,
    /// Also exempt traffic of this group.
    #[arg(long)]
    proxy_gid: Option<u32>,
    /// Where outbound TCP is redirected.
    #[arg(long, default_value_t = 15001)]
    outbound_port: u16,
    /// Where inbound TCP is redirected.
    #[arg(long, default_value_t = 15006)]
    inbound_port: u16,
    /// Inbound ports to capture, comma-separated, or `*` for all.
    #[arg(long, default_value = "*")]
    include_inbound_ports: String,
    /// Inbound ports never captured (the proxy's own 15000, 15001, 15006, 15020, 15021 never
    /// are).
    #[arg(long, value_delimiter = ',')]
    exclude_inbound_ports: Vec<u16>,
    /// Outbound destination ports that bypass the proxy.
    #[arg(long, value_delimiter = ',')]
    exclude_outbound_ports: Vec<u16>,
    /// Outbound destination CIDRs that bypass the proxy (IPv4 and IPv6).
    #[arg(long, value_delimiter = ',')]
    exclude_outbound_cidrs: Vec<IpNet>,
    /// Leave IPv6 alone.
    #[arg(long)]
    no_ipv6: bool,
    /// Remove exactly the rules this command adds, and nothing else.
    #[arg(long)]
    cleanup: bool,
    /// Print the commands instead of running them.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let include = match args.include_inbound_ports.trim() {
        "*" => None,
        list => Some(
            list.split(',')
                .map(|p| {
                    p.trim().parse::<u16>().map_err(|_| {
                        anyhow::anyhow!("--include-inbound-ports: {p:?} is not a port number")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let cfg = InterceptConfig {
        proxy_uid: args.proxy_uid,
        proxy_gid: args.proxy_gid,
        outbound_port: args.outbound_port,
        inbound_port: args.inbound_port,
        include_inbound_ports: include,
        exclude_inbound_ports: args.exclude_inbound_ports.clone(),
        exclude_outbound_ports: args.exclude_outbound_ports.clone(),
        exclude_outbound_cidrs: args.exclude_outbound_cidrs.clone(),
    };
    let families: &[IpFamily] = if args.no_ipv6 {
        &[IpFamily::V4]
    } else {
        &[IpFamily::V4, IpFamily::V6]
    };
    for &family in families {
        if args.dry_run {
            let plan = if args.cleanup {
                Plan::cleanup(family)
            } else {
                Plan::install(&cfg, family)
            };
            for line in plan.render() {
                println!("{line}");
            }
        } else if args.cleanup {
            intercept::cleanup(family)?;
        } else {
            intercept::apply(&cfg, family)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
