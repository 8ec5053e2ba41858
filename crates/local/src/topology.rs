//! The network of a run: a bridge in the root namespace holding the gateway address, and per
//! workload a network namespace joined to the bridge by a veth pair (`eth0` inside), with its
//! address, loopback up and a default route via the gateway. The default route is what makes
//! service VIPs work with no interface: the kernel finds a route for them, and the sidecar's
//! `REDIRECT` rewrites the connection before any packet leaves.
//!
//! Creation goes through `ip -batch` (two `ip` processes per workload instead of seven): at
//! a few hundred namespaces the process spawns are most of the cost.

use crate::state::RuleRecord;
use crate::sys::{self, ip, run_with_input};
use crate::Error;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::path::Path;

/// Refuses a subnet that overlaps an address already on a root-namespace interface: two
/// connected routes for one prefix would send traffic to whichever bridge came first.
pub(crate) fn check_subnet_free(subnet: Ipv4Net) -> Result<(), Error> {
    for (interface, net) in sys::root_ipv4_addresses()? {
        let net = net.trunc();
        if net.contains(&subnet.network()) || subnet.contains(&net.network()) {
            return Err(Error::SubnetInUse {
                subnet,
                existing: net.to_string(),
                interface,
            });
        }
    }
    Ok(())
}

pub(crate) fn create_bridge(name: &str, gateway: Ipv4Addr, net: Ipv4Net) -> Result<(), Error> {
    let batch = format!(
        "link add {name} type bridge\n\
         addr add {gateway}/{len} dev {name}\n\
         link set {name} up\n",
        len = net.prefix_len()
    );
    run_with_input("ip", &["-batch", "-"], Some(&batch)).map(drop)
}

/// Whether bridged frames traverse iptables' FORWARD chain (br_netfilter loaded and
/// `bridge-nf-call-iptables` on). Then a FORWARD policy of DROP, as Docker sets, would cut
/// workloads off from each other, so the run adds an ACCEPT rule for its own bridge.
pub(crate) fn bridge_netfilter_on() -> bool {
    sys::read_sysctl("net.bridge.bridge-nf-call-iptables").is_ok_and(|v| v == "1")
}

pub(crate) fn bridge_forward_rule(bridge: &str, comment: &str) -> RuleRecord {
    let spec = [
        "-i",
        bridge,
        "-o",
        bridge,
        "-m",
        "comment",
        "--comment",
        comment,
        "-j",
        "ACCEPT",
    ];
    RuleRecord {
        table: "filter".into(),
        chain: "FORWARD".into(),
        spec: spec.iter().map(|s| (*s).to_string()).collect(),
    }
}

fn rule_args<'a>(rule: &'a RuleRecord, op: &'a str) -> Vec<&'a str> {
    let mut args = vec!["-w", "-t", &rule.table, op, &rule.chain];
    args.extend(rule.spec.iter().map(String::as_str));
    args
}

/// Inserts `rule` at the top of its chain unless it is there already.
pub(crate) fn insert_rule(rule: &RuleRecord) -> Result<(), Error> {
    if sys::run("iptables", &rule_args(rule, "-C")).is_ok() {
        return Ok(());
    }
    sys::run("iptables", &rule_args(rule, "-I")).map(drop)
}

/// Deletes every copy of `rule`; none left is success. Returns whether there was one.
pub(crate) fn delete_rule(rule: &RuleRecord) -> Result<bool, Error> {
    let mut found = false;
    // Bounded: each pass deletes one copy.
    for _ in 0..16 {
        if sys::run("iptables", &rule_args(rule, "-C")).is_err() {
            break;
        }
        found = true;
        sys::remove(sys::run("iptables", &rule_args(rule, "-D")))?;
    }
    Ok(found)
}

/// What a workload's network consists of.
pub(crate) struct WorkloadLinks<'a> {
    pub netns: &'a str,
    pub host_veth: &'a str,
    pub bridge: &'a str,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
}

pub(crate) fn create_workload(w: &WorkloadLinks<'_>) -> Result<(), Error> {
    let WorkloadLinks {
        netns,
        host_veth,
        bridge,
        ..
    } = w;
    ip(&["netns", "add", netns])?;
    // The peer is created directly inside the namespace, so every workload's is `eth0`.
    let root = format!(
        "link add {host_veth} type veth peer name eth0 netns {netns}\n\
         link set {host_veth} master {bridge}\n\
         link set {host_veth} up\n"
    );
    run_with_input("ip", &["-batch", "-"], Some(&root))?;
    let inside = format!(
        "link set lo up\n\
         addr add {addr}/{len} dev eth0\n\
         link set eth0 up\n\
         route add default via {gw} dev eth0\n",
        addr = w.address,
        len = w.prefix_len,
        gw = w.gateway,
    );
    run_with_input("ip", &["-n", netns, "-batch", "-"], Some(&inside)).map(drop)
}

/// Pids of the processes in any of the network namespaces `netns`, found in one pass over
/// /proc (`ip netns pids` per namespace would cost a process each).
pub(crate) fn netns_pids<'a>(netns: impl IntoIterator<Item = &'a str>) -> Vec<i32> {
    use std::os::unix::fs::MetadataExt;
    let ids: Vec<(u64, u64)> = netns
        .into_iter()
        .filter_map(|n| std::fs::metadata(Path::new("/run/netns").join(n)).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    if ids.is_empty() {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|m| ids.contains(&(m.dev(), m.ino())))
        })
        .collect()
}

/// Runs `ip` commands for many objects in one process (`-force` goes on past errors), then
/// reports the ones `still_there` says survived.
fn batch_remove(
    lines: &[String],
    names: &[&str],
    still_there: fn(&str) -> bool,
) -> Result<usize, Error> {
    let present: Vec<&str> = names.iter().copied().filter(|n| still_there(n)).collect();
    if present.is_empty() {
        return Ok(0);
    }
    let batch: String = lines
        .iter()
        .zip(names)
        .filter(|(_, n)| present.contains(n))
        .map(|(l, _)| format!("{l}\n"))
        .collect();
    let result = run_with_input("ip", &["-force", "-batch", "-"], Some(&batch));
    let left: Vec<&str> = present.iter().copied().filter(|n| still_there(n)).collect();
    match (left.is_empty(), result) {
        (true, _) => Ok(present.len()),
        (false, Err(e)) => Err(e),
        (false, Ok(_)) => Err(Error::Command {
            command: "ip -batch".into(),
            stderr: format!("still present: {}", left.join(", ")),
        }),
    }
}

/// Deletes links (a veth's host end takes its peer with it); returns how many existed.
pub(crate) fn delete_links(names: &[&str]) -> Result<usize, Error> {
    let lines: Vec<String> = names.iter().map(|n| format!("link del {n}")).collect();
    batch_remove(&lines, names, sys::link_exists)
}

/// Deletes network namespaces; returns how many existed.
pub(crate) fn delete_netns(names: &[&str]) -> Result<usize, Error> {
    let lines: Vec<String> = names.iter().map(|n| format!("netns del {n}")).collect();
    batch_remove(&lines, names, sys::netns_exists)
}
