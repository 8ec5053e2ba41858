//! The one error type of the local runtime. Every variant names the resource or command
//! involved, so a failed `up` or `down` says what to look at.

use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("needs root to manage network namespaces")]
    NotRoot,
    #[error(
        "invalid run name {0:?}: 1 to 6 characters of a-z and 0-9, starting with a letter \
         (it prefixes interface names, which Linux limits to 15 characters)"
    )]
    InvalidRunName(String),
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("subnet {subnet}: {reason}")]
    InvalidSubnet {
        subnet: ipnet::Ipv4Net,
        reason: &'static str,
    },
    #[error("subnet {subnet} overlaps {existing} on interface {interface}; choose another subnet")]
    SubnetInUse {
        subnet: ipnet::Ipv4Net,
        existing: String,
        interface: String,
    },
    #[error("{0} already exists: is a run of the same name still up? (`verimesh down`)")]
    RunInUse(String),
    #[error("no free {0} address left in the subnet")]
    Exhausted(&'static str),
    #[error("{addr} is not a usable workload address in {net}")]
    AddressOutOfRange { addr: Ipv4Addr, net: ipnet::Ipv4Net },
    #[error("address {0} is already in use by another workload")]
    AddressTaken(Ipv4Addr),
    #[error("workload {0:?} already exists in this run")]
    DuplicateWorkload(String),
    #[error("no workload {0:?} in this run")]
    UnknownWorkload(String),
    #[error(
        "run state already exists in {0}: a previous run was not torn down \
         (run `verimesh down --state-dir {0}`)"
    )]
    StateExists(PathBuf),
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path}: {source}")]
    State {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("no workload or deployment named {name:?} in any run under {root}")]
    NotFound { name: String, root: PathBuf },
    #[error("{name:?} is ambiguous: it names workloads in several runs ({runs}); use --state-dir")]
    Ambiguous { name: String, runs: String },
    #[error("deployment {name:?} has no ready replica (replicas: {replicas})")]
    NotReady { name: String, replicas: String },
    #[error("network namespace {0} is gone: the run is down")]
    NamespaceGone(String),
    #[error("signal to pid {pid}: {source}")]
    Signal { pid: i32, source: nix::Error },
    #[error("teardown incomplete: {}", .0.join("; "))]
    Teardown(Vec<String>),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

/// Fails with [`Error::NotRoot`] unless the effective uid is 0: namespaces, links and
/// netfilter rules all need it, and failing first beats failing half-way through.
pub fn require_root() -> Result<(), Error> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::NotRoot)
    }
}
