//! `verimesh iptables`: the netfilter rules that capture a workload's TCP, run inside the
//! workload's network namespace (Istio's init step does the same job).
//!
//! Outbound TCP goes to the proxy's outbound port (15001) and inbound TCP to its inbound port
//! (15006), except the proxy's own traffic (by uid, and gid when given), loopback traffic, the
//! proxy's own ports, and the ports and CIDRs configured to bypass the mesh. Everything lives in
//! chains of our own plus one jump each from PREROUTING and OUTPUT, so cleanup removes exactly
//! what was added, and installing twice leaves one copy.

use ipnet::IpNet;
use std::process::Command;

pub const CHAIN_INBOUND: &str = "VERIMESH_INBOUND";
pub const CHAIN_IN_REDIRECT: &str = "VERIMESH_IN_REDIRECT";
pub const CHAIN_OUTPUT: &str = "VERIMESH_OUTPUT";
pub const CHAIN_REDIRECT: &str = "VERIMESH_REDIRECT";
const CHAINS: [&str; 4] = [
    CHAIN_INBOUND,
    CHAIN_IN_REDIRECT,
    CHAIN_OUTPUT,
    CHAIN_REDIRECT,
];

/// Ports of the proxy itself that are never captured inbound: admin, capture ports, health and
/// metrics.
pub const PROXY_PORTS: [u16; 5] = [15000, 15001, 15006, 15020, 15021];

#[derive(Clone, Debug)]
pub struct InterceptConfig {
    /// The uid the proxy runs as; its own connections are never captured.
    pub proxy_uid: u32,
    pub proxy_gid: Option<u32>,
    pub outbound_port: u16,
    pub inbound_port: u16,
    /// Inbound ports to capture; `None` captures every port.
    pub include_inbound_ports: Option<Vec<u16>>,
    pub exclude_inbound_ports: Vec<u16>,
    pub exclude_outbound_ports: Vec<u16>,
    pub exclude_outbound_cidrs: Vec<IpNet>,
}

impl Default for InterceptConfig {
    fn default() -> Self {
        InterceptConfig {
            proxy_uid: 1337,
            proxy_gid: None,
            outbound_port: 15001,
            inbound_port: 15006,
            include_inbound_ports: None,
            exclude_inbound_ports: Vec::new(),
            exclude_outbound_ports: Vec::new(),
            exclude_outbound_cidrs: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    V4,
    V6,
}

impl IpFamily {
    pub fn binary(self) -> &'static str {
        match self {
            IpFamily::V4 => "iptables",
            IpFamily::V6 => "ip6tables",
        }
    }

    fn loopback(self) -> &'static str {
        match self {
            IpFamily::V4 => "127.0.0.0/8",
            IpFamily::V6 => "::1/128",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InterceptError {
    #[error("cannot run {binary}: {source} (is iptables installed, and are you root in the workload's network namespace?)")]
    Spawn {
        binary: &'static str,
        source: std::io::Error,
    },
    #[error("`{command}` failed: {stderr}")]
    Failed { command: String, stderr: String },
}

/// The commands for one address family, as argument lists for [`IpFamily::binary`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub family: IpFamily,
    pub commands: Vec<Vec<String>>,
}

fn rule(parts: &[&str]) -> Vec<String> {
    let mut v = vec!["-w".to_string(), "-t".to_string(), "nat".to_string()];
    v.extend(parts.iter().map(|s| (*s).to_string()));
    v
}

impl Plan {
    /// The rules to add (after a cleanup, which [`apply`] runs first).
    pub fn install(cfg: &InterceptConfig, family: IpFamily) -> Plan {
        let mut c = Vec::new();
        for chain in CHAINS {
            c.push(rule(&["-N", chain]));
        }
        let inbound = cfg.inbound_port.to_string();
        let outbound = cfg.outbound_port.to_string();
        c.push(rule(&[
            "-A",
            CHAIN_IN_REDIRECT,
            "-p",
            "tcp",
            "-j",
            "REDIRECT",
            "--to-ports",
            &inbound,
        ]));
        c.push(rule(&[
            "-A",
            CHAIN_REDIRECT,
            "-p",
            "tcp",
            "-j",
            "REDIRECT",
            "--to-ports",
            &outbound,
        ]));

        // Inbound: everything arriving from outside the namespace, but the proxy's own ports.
        c.push(rule(&[
            "-A",
            "PREROUTING",
            "-p",
            "tcp",
            "-j",
            CHAIN_INBOUND,
        ]));
        let mut skip: Vec<u16> = PROXY_PORTS.to_vec();
        skip.extend([cfg.inbound_port, cfg.outbound_port]);
        skip.extend(&cfg.exclude_inbound_ports);
        skip.sort_unstable();
        skip.dedup();
        for p in skip {
            let p = p.to_string();
            c.push(rule(&[
                "-A",
                CHAIN_INBOUND,
                "-p",
                "tcp",
                "--dport",
                &p,
                "-j",
                "RETURN",
            ]));
        }
        match &cfg.include_inbound_ports {
            None => c.push(rule(&[
                "-A",
                CHAIN_INBOUND,
                "-p",
                "tcp",
                "-j",
                CHAIN_IN_REDIRECT,
            ])),
            Some(ports) => {
                for p in ports {
                    let p = p.to_string();
                    c.push(rule(&[
                        "-A",
                        CHAIN_INBOUND,
                        "-p",
                        "tcp",
                        "--dport",
                        &p,
                        "-j",
                        CHAIN_IN_REDIRECT,
                    ]));
                }
            }
        }

        // Outbound: the application's connections, not the proxy's and not loopback ones.
        c.push(rule(&["-A", "OUTPUT", "-p", "tcp", "-j", CHAIN_OUTPUT]));
        let uid = cfg.proxy_uid.to_string();
        // The proxy calling its own workload by its address (a service whose endpoint is this
        // very pod) leaves over `lo`: send it through the inbound side, as any caller's
        // traffic would be, instead of straight to the app (which would get mesh TLS).
        c.push(rule(&[
            "-A",
            CHAIN_OUTPUT,
            "!",
            "-d",
            family.loopback(),
            "-o",
            "lo",
            "-m",
            "owner",
            "--uid-owner",
            &uid,
            "-j",
            CHAIN_IN_REDIRECT,
        ]));
        c.push(rule(&[
            "-A",
            CHAIN_OUTPUT,
            "-m",
            "owner",
            "--uid-owner",
            &uid,
            "-j",
            "RETURN",
        ]));
        if let Some(gid) = cfg.proxy_gid {
            let gid = gid.to_string();
            c.push(rule(&[
                "-A",
                CHAIN_OUTPUT,
                "-m",
                "owner",
                "--gid-owner",
                &gid,
                "-j",
                "RETURN",
            ]));
        }
        c.push(rule(&["-A", CHAIN_OUTPUT, "-o", "lo", "-j", "RETURN"]));
        c.push(rule(&[
            "-A",
            CHAIN_OUTPUT,
            "-d",
            family.loopback(),
            "-j",
            "RETURN",
        ]));
        for net in &cfg.exclude_outbound_cidrs {
            let matches_family = matches!(
                (net, family),
                (IpNet::V4(_), IpFamily::V4) | (IpNet::V6(_), IpFamily::V6)
            );
            if matches_family {
                let n = net.to_string();
                c.push(rule(&["-A", CHAIN_OUTPUT, "-d", &n, "-j", "RETURN"]));
            }
        }
        for p in &cfg.exclude_outbound_ports {
            let p = p.to_string();
            c.push(rule(&[
                "-A",
                CHAIN_OUTPUT,
                "-p",
                "tcp",
                "--dport",
                &p,
                "-j",
                "RETURN",
            ]));
        }
        c.push(rule(&["-A", CHAIN_OUTPUT, "-j", CHAIN_REDIRECT]));
        Plan {
            family,
            commands: c,
        }
    }

    /// The commands that remove our jumps and chains. Each may fail when there is nothing to
    /// remove; [`apply`] and [`cleanup`] treat that as done.
    pub fn cleanup(family: IpFamily) -> Plan {
        let mut c = vec![
            rule(&["-D", "PREROUTING", "-p", "tcp", "-j", CHAIN_INBOUND]),
            rule(&["-D", "OUTPUT", "-p", "tcp", "-j", CHAIN_OUTPUT]),
        ];
        for chain in CHAINS {
            c.push(rule(&["-F", chain]));
        }
        for chain in CHAINS {
            c.push(rule(&["-X", chain]));
        }
        Plan {
            family,
            commands: c,
        }
    }

    /// The commands as a shell would show them.
    pub fn render(&self) -> Vec<String> {
        self.commands
            .iter()
            .map(|args| format!("{} {}", self.family.binary(), args.join(" ")))
            .collect()
    }
}

fn run(family: IpFamily, args: &[String]) -> Result<(), InterceptError> {
    let binary = family.binary();
    let out = Command::new(binary)
        .args(args)
        .output()
        .map_err(|source| InterceptError::Spawn { binary, source })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(InterceptError::Failed {
            command: format!("{binary} {}", args.join(" ")),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Removes our rules. A jump added more than once (by an older, non-idempotent run) is removed
/// as many times as it is there.
pub fn cleanup(family: IpFamily) -> Result<(), InterceptError> {
    let plan = Plan::cleanup(family);
    for args in &plan.commands {
        let is_jump = args.get(3).is_some_and(|a| a == "-D");
        if is_jump {
            // Bounded: no table holds this many copies of one rule.
            for _ in 0..64 {
                if run(family, args).is_err() {
                    break;
                }
            }
        } else {
            // The chain may not exist; that is the state we want.
            let _ = run(family, args);
        }
    }
    Ok(())
}

/// Installs the rules for one family, replacing any earlier installation.
pub fn apply(cfg: &InterceptConfig, family: IpFamily) -> Result<(), InterceptError> {
    cleanup(family)?;
    for args in &Plan::install(cfg, family).commands {
        if let Err(e) = run(family, args) {
            // Leave nothing half-installed.
            let _ = cleanup(family);
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_excludes_proxy_loopback_and_configured_traffic() {
        let cfg = InterceptConfig {
            exclude_outbound_ports: vec![5432],
            exclude_outbound_cidrs: vec![
                "10.0.0.0/8".parse().unwrap(),
                "fd00::/8".parse().unwrap(),
            ],
            exclude_inbound_ports: vec![22],
            ..InterceptConfig::default()
        };
        let v4 = Plan::install(&cfg, IpFamily::V4).render().join("\n");
        assert!(v4
            .contains("iptables -w -t nat -A VERIMESH_OUTPUT -m owner --uid-owner 1337 -j RETURN"));
        assert!(v4.contains(
            "-A VERIMESH_OUTPUT ! -d 127.0.0.0/8 -o lo -m owner --uid-owner 1337 -j VERIMESH_IN_REDIRECT"
        ));
        assert!(v4.contains("-A VERIMESH_OUTPUT -d 10.0.0.0/8 -j RETURN"));
        assert!(!v4.contains("fd00::/8"));
        assert!(v4.contains("-A VERIMESH_OUTPUT -p tcp --dport 5432 -j RETURN"));
        assert!(v4.contains("-A VERIMESH_INBOUND -p tcp --dport 22 -j RETURN"));
        assert!(v4.contains("-A VERIMESH_INBOUND -p tcp --dport 15006 -j RETURN"));
        assert!(v4.ends_with("-A VERIMESH_OUTPUT -j VERIMESH_REDIRECT"));
        let v6 = Plan::install(&cfg, IpFamily::V6).render().join("\n");
        assert!(v6.contains("ip6tables -w -t nat -A VERIMESH_OUTPUT -d fd00::/8 -j RETURN"));
        assert!(v6.contains("-d ::1/128 -j RETURN"));
    }

    #[test]
    fn explicit_inbound_ports_capture_only_those() {
        let cfg = InterceptConfig {
            include_inbound_ports: Some(vec![8080, 9090]),
            ..InterceptConfig::default()
        };
        let v4 = Plan::install(&cfg, IpFamily::V4).render().join("\n");
        assert!(v4.contains("-A VERIMESH_INBOUND -p tcp --dport 8080 -j VERIMESH_IN_REDIRECT"));
        assert!(!v4.contains("-A VERIMESH_INBOUND -p tcp -j VERIMESH_IN_REDIRECT"));
    }
}
