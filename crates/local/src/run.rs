//! [`Run`]: one local mesh's namespaces, bridge, names and processes. Every resource is
//! recorded in the state file before it is created, and [`Run::teardown`] (also on drop)
//! removes them with the same code `verimesh down` uses after a crash.

use crate::addressing::{Addressing, DEFAULT_SUBNET};
use crate::hosts::{self, DEFAULT_CLUSTER_DOMAIN};
use crate::names::{check_name, replica_name, RunName, MAX_INDEX};
use crate::process::{self, ExitEvent, ProcessHandle, ProcessSpec};
use crate::state::{
    ProcessRecord, ServiceEntry, State, SysctlRecord, WorkloadRecord, DEFAULT_STATE_ROOT,
};
use crate::teardown::{self, Report};
use crate::{sys, topology, Error};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

/// How to create a run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub run: RunName,
    /// Split in two: workloads in the first half, service VIPs in the second.
    pub subnet: Ipv4Net,
    /// Default `/run/verimesh/<run>`.
    pub state_dir: PathBuf,
    pub cluster_domain: String,
    /// How long processes get between SIGTERM and SIGKILL at teardown.
    pub grace: Duration,
}

impl RunOptions {
    /// Defaults for run `run`: 198.18.0.0/15, `/run/verimesh/<run>`, `cluster.local`, 5 s.
    pub fn new(run: &str) -> Result<RunOptions, Error> {
        let run = RunName::new(run)?;
        Ok(RunOptions {
            state_dir: Path::new(DEFAULT_STATE_ROOT).join(run.as_str()),
            run,
            subnet: DEFAULT_SUBNET,
            cluster_domain: DEFAULT_CLUSTER_DOMAIN.to_string(),
            grace: Duration::from_secs(5),
        })
    }
}

/// A workload replica to add.
#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    pub deployment: String,
    pub replica: u32,
    /// Its Kubernetes namespace.
    pub namespace: String,
    /// None: the lowest free address (add workloads in sorted order, or take addresses from
    /// [`Addressing::assign_workloads`], for the same address on every run).
    pub address: Option<Ipv4Addr>,
}

impl WorkloadSpec {
    pub fn new(deployment: &str, replica: u32, namespace: &str) -> WorkloadSpec {
        WorkloadSpec {
            deployment: deployment.to_string(),
            replica,
            namespace: namespace.to_string(),
            address: None,
        }
    }
}

/// A workload's network, as created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadNet {
    /// The replica name, `<deployment>-<replica>`.
    pub name: String,
    pub netns: String,
    pub address: Ipv4Addr,
    pub gateway: Ipv4Addr,
}

pub struct Run {
    opts: RunOptions,
    addressing: Addressing,
    state: State,
    processes: Vec<ProcessHandle>,
    exits_tx: Sender<ExitEvent>,
    exits_rx: Option<Receiver<ExitEvent>>,
    torn_down: bool,
}

impl Run {
    /// Creates the bridge (and, where bridged traffic meets iptables, its FORWARD rule).
    /// Fails if the run's state dir holds a previous run's state, or the subnet or bridge
    /// name is taken; anything half-created is removed again.
    pub fn create(opts: RunOptions) -> Result<Run, Error> {
        crate::require_root()?;
        let addressing = Addressing::new(opts.subnet)?;
        if State::load(&opts.state_dir)?.is_some() {
            return Err(Error::StateExists(opts.state_dir.clone()));
        }
        let bridge = opts.run.bridge();
        if sys::link_exists(&bridge) {
            return Err(Error::RunInUse(bridge));
        }
        topology::check_subnet_free(addressing.subnet())?;
        let (exits_tx, exits_rx) = channel();
        let mut run = Run {
            state: State::new(opts.run.clone(), addressing.subnet()),
            opts,
            addressing,
            processes: Vec::new(),
            exits_tx,
            exits_rx: Some(exits_rx),
            torn_down: false,
        };
        // From here on, an error drops `run`, which tears down what was recorded.
        run.state.bridge = Some(bridge.clone());
        run.save()?;
        topology::create_bridge(
            &bridge,
            run.addressing.gateway(),
            run.addressing.workload_net(),
        )?;
        if topology::bridge_netfilter_on() {
            let rule = topology::bridge_forward_rule(&bridge, &run.opts.run.rule_comment());
            run.state.rules.push(rule.clone());
            run.save()?;
            topology::insert_rule(&rule)?;
        }
        Ok(run)
    }

    pub fn name(&self) -> &RunName {
        &self.opts.run
    }
    pub fn state_dir(&self) -> &Path {
        &self.opts.state_dir
    }
    pub fn addressing(&self) -> &Addressing {
        &self.addressing
    }
    pub fn bridge(&self) -> String {
        self.opts.run.bridge()
    }
    /// The recorded state, as `down` would find it.
    pub fn state(&self) -> &State {
        &self.state
    }

    fn save(&self) -> Result<(), Error> {
        self.state.save(&self.opts.state_dir)
    }

    fn record(&self, name: &str) -> Result<&WorkloadRecord, Error> {
        self.state
            .workload(name)
            .ok_or_else(|| Error::UnknownWorkload(name.to_string()))
    }

    fn free_address(&self) -> Result<Ipv4Addr, Error> {
        self.addressing
            .workload_addresses()
            .find(|a| self.state.workloads.iter().all(|w| w.address != *a))
            .ok_or(Error::Exhausted("workload"))
    }

    /// Creates the replica's namespace, veth pair, address, routes, hosts and resolv.conf.
    pub fn add_workload(&mut self, spec: &WorkloadSpec) -> Result<WorkloadNet, Error> {
        check_name("deployment", &spec.deployment)?;
        check_name("namespace", &spec.namespace)?;
        let name = replica_name(&spec.deployment, spec.replica);
        if self.state.workload(&name).is_some() {
            return Err(Error::DuplicateWorkload(name));
        }
        let address = match spec.address {
            Some(a) if !self.addressing.is_workload_address(a) => {
                return Err(Error::AddressOutOfRange {
                    addr: a,
                    net: self.addressing.workload_net(),
                })
            }
            Some(a) if self.state.workloads.iter().any(|w| w.address == a) => {
                return Err(Error::AddressTaken(a))
            }
            Some(a) => a,
            None => self.free_address()?,
        };
        let index = self.state.next_index;
        if index > MAX_INDEX {
            return Err(Error::Exhausted("interface name"));
        }
        let netns = self.opts.run.netns(&name);
        let host_veth = self.opts.run.host_veth(index);
        // Never adopt (and later delete) something that is not ours.
        for (taken, what) in [
            (sys::netns_exists(&netns), &netns),
            (sys::link_exists(&host_veth), &host_veth),
        ] {
            if taken {
                return Err(Error::RunInUse(what.clone()));
            }
        }
        let record = WorkloadRecord {
            name: name.clone(),
            deployment: spec.deployment.clone(),
            replica: spec.replica,
            namespace: spec.namespace.clone(),
            host_veth,
            etc_dir: Path::new("/etc/netns").join(&netns),
            netns,
            address,
            ready: false,
        };
        self.state.next_index = index + 1;
        self.state.workloads.push(record.clone());
        self.save()?;

        if let Err(e) = self.build_workload(&record) {
            // Undo the half-made workload so the run stays consistent and the name reusable.
            let _ = topology::delete_netns(&[record.netns.as_str()]);
            let _ = topology::delete_links(&[record.host_veth.as_str()]);
            let _ = hosts::remove_etc_dir(&record.etc_dir);
            self.state.workloads.retain(|w| w.name != record.name);
            self.save()?;
            return Err(e);
        }
        Ok(WorkloadNet {
            name,
            netns: record.netns,
            address,
            gateway: self.addressing.gateway(),
        })
    }

    fn build_workload(&self, record: &WorkloadRecord) -> Result<(), Error> {
        topology::create_workload(&topology::WorkloadLinks {
            netns: &record.netns,
            host_veth: &record.host_veth,
            bridge: &self.bridge(),
            address: record.address,
            prefix_len: self.addressing.workload_net().prefix_len(),
            gateway: self.addressing.gateway(),
        })?;
        std::fs::create_dir_all(&record.etc_dir).map_err(Error::io(&record.etc_dir))?;
        let resolv = hosts::render_resolv(&record.namespace, &self.opts.cluster_domain);
        hosts::write_in_place(&record.etc_dir.join("resolv.conf"), &resolv)?;
        self.write_hosts(record)
    }

    fn write_hosts(&self, w: &WorkloadRecord) -> Result<(), Error> {
        let text = hosts::render_hosts(
            &w.name,
            w.address,
            &w.namespace,
            &self.state.services,
            &self.opts.cluster_domain,
        );
        hosts::write_in_place(&w.etc_dir.join("hosts"), &text)
    }

    /// Replaces the set of services and rewrites every workload's hosts file in place, so
    /// processes already running resolve the new names on their next lookup.
    pub fn set_services(&mut self, services: &[ServiceEntry]) -> Result<(), Error> {
        for s in services {
            check_name("service", &s.name)?;
            check_name("namespace", &s.namespace)?;
        }
        self.state.services = services.to_vec();
        self.save()?;
        for w in &self.state.workloads {
            self.write_hosts(w)?;
        }
        Ok(())
    }

    /// Sets a root-namespace sysctl for the run's lifetime, recording the previous value to
    /// restore at teardown (only if the value is still ours then). Host-wide: use sparingly.
    pub fn set_sysctl(&mut self, key: &str, value: &str) -> Result<(), Error> {
        let previous = sys::read_sysctl(key)?;
        if previous == value {
            return Ok(());
        }
        self.state.sysctls.push(SysctlRecord {
            key: key.to_string(),
            previous,
            value: value.to_string(),
        });
        self.save()?;
        sys::write_sysctl(key, value)
    }

    /// Marks a replica ready (or not); `verimesh exec <deployment>` picks the first ready one.
    pub fn set_ready(&mut self, workload: &str, ready: bool) -> Result<(), Error> {
        let w = self
            .state
            .workloads
            .iter_mut()
            .find(|w| w.name == workload)
            .ok_or_else(|| Error::UnknownWorkload(workload.to_string()))?;
        w.ready = ready;
        self.save()
    }

    /// Starts `spec` in `workload`'s namespace, supervised: its exit is reported on
    /// [`Run::take_exit_events`]'s channel, and teardown stops it. A program that cannot be
    /// executed shows up as an exit (`ip netns exec` exits 255) with the reason in its stderr
    /// log, not as an error here.
    pub fn spawn(&mut self, workload: &str, spec: &ProcessSpec) -> Result<ProcessHandle, Error> {
        check_name("process name", &spec.name)?;
        let netns = self.record(workload)?.netns.clone();
        if !sys::netns_exists(&netns) {
            return Err(Error::NamespaceGone(netns));
        }
        let logs = self.opts.state_dir.join("logs");
        let handle = process::spawn(&netns, workload, spec, &logs, self.exits_tx.clone())?;
        self.processes.push(handle.clone());
        // A process that exited at once has no start time left; it needs no record.
        if let Some(start_time) = process::start_time(handle.pid()) {
            self.state.processes.push(ProcessRecord {
                workload: workload.to_string(),
                name: spec.name.clone(),
                pid: handle.pid(),
                start_time,
            });
            self.save()?;
        }
        Ok(handle)
    }

    /// The channel on which every spawned process's exit is reported (once; later calls get
    /// None).
    pub fn take_exit_events(&mut self) -> Option<Receiver<ExitEvent>> {
        self.exits_rx.take()
    }

    /// Stops every process (SIGTERM, SIGKILL after the grace period), then removes the
    /// namespaces, links, rules, files and the state file. Idempotent.
    pub fn teardown(mut self) -> Result<Report, Error> {
        self.teardown_inner()
    }

    fn teardown_inner(&mut self) -> Result<Report, Error> {
        self.torn_down = true;
        process::stop_all(&self.processes, self.opts.grace);
        teardown::teardown_state(&self.state, &self.opts.state_dir, self.opts.grace)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if !self.torn_down {
            if let Err(e) = self.teardown_inner() {
                eprintln!("verimesh: tearing down run {}: {e}", self.opts.run);
            }
        }
    }
}
