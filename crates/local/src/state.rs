//! The state file of a run: everything the run creates, recorded *before* it is created, so
//! that `verimesh down` can remove whatever a crashed run left behind. Written atomically
//! (temporary file, then rename) so a crash mid-write leaves the previous version.

use crate::names::RunName;
use crate::Error;
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
/// Where runs keep their state by default: `/run/verimesh/<run>`.
pub const DEFAULT_STATE_ROOT: &str = "/run/verimesh";
const VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub version: u32,
    pub run: RunName,
    pub subnet: Ipv4Net,
    /// The pid of the process that created the run (for `down`'s report only).
    pub owner_pid: u32,
    /// The bridge, once its creation was attempted.
    pub bridge: Option<String>,
    pub workloads: Vec<WorkloadRecord>,
    pub services: Vec<ServiceEntry>,
    pub processes: Vec<ProcessRecord>,
    /// Rules added in the root namespace, as `iptables` arguments after `-t <table> -A`.
    pub rules: Vec<RuleRecord>,
    pub sysctls: Vec<SysctlRecord>,
    /// The index the next workload's veth gets.
    pub next_index: u32,
}

/// One workload replica: its network namespace and everything attached to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRecord {
    /// The replica's name, e.g. `reviews-v1-0`.
    pub name: String,
    /// The Deployment it is a replica of, and its index.
    pub deployment: String,
    pub replica: u32,
    /// Its Kubernetes namespace (short service names resolve relative to it).
    pub namespace: String,
    pub netns: String,
    pub host_veth: String,
    pub address: Ipv4Addr,
    /// `/etc/netns/<netns>`, holding its hosts and resolv.conf.
    pub etc_dir: PathBuf,
    pub ready: bool,
}

/// A Service's VIP, by name and Kubernetes namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceEntry {
    pub name: String,
    pub namespace: String,
    pub vip: Ipv4Addr,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessRecord {
    pub workload: String,
    pub name: String,
    /// Also its process group id: each process leads its own group.
    pub pid: i32,
    /// Start time in clock ticks since boot (`/proc/<pid>/stat` field 22), so a recycled pid
    /// is never mistaken for ours.
    pub start_time: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRecord {
    pub table: String,
    pub chain: String,
    pub spec: Vec<String>,
}

/// A sysctl changed in the root namespace, restored on teardown if it still holds our value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SysctlRecord {
    pub key: String,
    pub previous: String,
    pub value: String,
}

impl State {
    pub fn new(run: RunName, subnet: Ipv4Net) -> State {
        State {
            version: VERSION,
            run,
            subnet,
            owner_pid: std::process::id(),
            bridge: None,
            workloads: Vec::new(),
            services: Vec::new(),
            processes: Vec::new(),
            rules: Vec::new(),
            sysctls: Vec::new(),
            next_index: 0,
        }
    }

    pub fn workload(&self, name: &str) -> Option<&WorkloadRecord> {
        self.workloads.iter().find(|w| w.name == name)
    }

    /// Reads `<dir>/state.json`; `Ok(None)` when there is none.
    pub fn load(dir: &Path) -> Result<Option<State>, Error> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| Error::State { path, source })
    }

    /// Writes `<dir>/state.json` atomically, creating `dir` (0700) if needed.
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        create_private_dir(dir)?;
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
        let text = serde_json::to_vec(self).map_err(|source| Error::State {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&tmp, text).map_err(Error::io(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(Error::io(&path))
    }

    /// Removes the state file (the logs stay for post-mortems), and the directory if empty.
    pub fn remove(dir: &Path) -> Result<(), Error> {
        let path = dir.join(STATE_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(Error::Io { path, source }),
        }
        // Fails when logs remain, which is intended.
        let _ = std::fs::remove_dir(dir);
        Ok(())
    }
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::io(dir))
}

/// The run directories under `root`: `root` itself when it holds a state file, else each
/// subdirectory that does.
pub fn run_dirs(root: &Path) -> Result<Vec<PathBuf>, Error> {
    if root.join(STATE_FILE).exists() {
        return Ok(vec![root.to_path_buf()]);
    }
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                path: root.to_path_buf(),
                source,
            })
        }
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(STATE_FILE).exists())
        .collect();
    dirs.sort();
    Ok(dirs)
}
