//! The local mesh runtime under `verimesh up`, `down` and `exec`: one network namespace per
//! workload replica on a bridge, service VIPs, service names in per-namespace hosts files,
//! supervised processes, and a state file from which any run can be torn down, even after a
//! crash. Mesh logic (which processes, which proxy config) lives with the caller.
//!
//! ```no_run
//! use verimesh_local::{Run, RunOptions, WorkloadSpec, ProcessSpec, ServiceEntry};
//! # fn main() -> Result<(), verimesh_local::Error> {
//! let mut run = Run::create(RunOptions::new("demo")?)?;
//! let net = run.add_workload(&WorkloadSpec::new("reviews", 0, "default"))?;
//! let vip = run.addressing().service_addresses().next().expect("a VIP");
//! run.set_services(&[ServiceEntry { name: "reviews".into(), namespace: "default".into(), vip }])?;
//! let app = run.spawn(&net.name, &ProcessSpec::new("app", "sleep", &["1000"]))?;
//! run.teardown()?; // or `verimesh_local::down("/run/verimesh/demo".as_ref(), grace)` later
//! # let _ = app; Ok(()) }
//! ```
//!
//! Needs root (namespaces, links and netfilter rules), `ip` (iproute2), `iptables` and
//! `setpriv`.

mod addressing;
mod error;
mod hosts;
mod lookup;
mod names;
mod process;
mod run;
mod state;
mod sys;
mod teardown;
mod topology;

pub use addressing::{Addressing, DEFAULT_SUBNET};
pub use error::{require_root, Error};
pub use hosts::{render_hosts, service_names, DEFAULT_CLUSTER_DOMAIN};
pub use lookup::{exec_command, find_workload, WorkloadRef};
pub use names::{check_name, replica_name, RunName};
pub use process::{ExitEvent, ProcessHandle, ProcessSpec};
pub use run::{Run, RunOptions, WorkloadNet, WorkloadSpec};
pub use state::{
    run_dirs, ProcessRecord, RuleRecord, ServiceEntry, State, SysctlRecord, WorkloadRecord,
    DEFAULT_STATE_ROOT, STATE_FILE,
};
pub use teardown::{down, Report};
