//! Finding a workload from outside the run (`verimesh exec`), by reading state files only:
//! the run that created it may be another process.

use crate::state::{run_dirs, State, WorkloadRecord};
use crate::{sys, Error};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A workload found in some run's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkloadRef {
    pub run: String,
    pub state_dir: PathBuf,
    pub workload: WorkloadRecord,
}

/// Finds `name` in the runs under `root` (a run's state dir, or a directory of them): a
/// replica's name (`reviews-v1-0`) or namespace name, else a Deployment's name, which means
/// its first ready replica by index.
pub fn find_workload(root: &Path, name: &str) -> Result<WorkloadRef, Error> {
    let mut runs = Vec::new();
    for dir in run_dirs(root)? {
        if let Some(state) = State::load(&dir)? {
            runs.push((dir, state));
        }
    }
    let found = |dir: &PathBuf, state: &State, w: &WorkloadRecord| WorkloadRef {
        run: state.run.to_string(),
        state_dir: dir.clone(),
        workload: w.clone(),
    };

    let exact: Vec<WorkloadRef> = runs
        .iter()
        .flat_map(|(dir, state)| {
            state
                .workloads
                .iter()
                .filter(|w| w.name == name || w.netns == name)
                .map(move |w| found(dir, state, w))
        })
        .collect();
    if let Some(one) = single(name, exact)? {
        return Ok(one);
    }

    let in_runs: Vec<&(PathBuf, State)> = runs
        .iter()
        .filter(|(_, s)| s.workloads.iter().any(|w| w.deployment == name))
        .collect();
    let Some((dir, state)) = in_runs.first().copied() else {
        return Err(Error::NotFound {
            name: name.to_string(),
            root: root.to_path_buf(),
        });
    };
    if in_runs.len() > 1 {
        return Err(ambiguous(
            name,
            in_runs.iter().map(|(_, s)| s.run.to_string()),
        ));
    }
    let mut replicas: Vec<&WorkloadRecord> = state
        .workloads
        .iter()
        .filter(|w| w.deployment == name)
        .collect();
    replicas.sort_by_key(|w| w.replica);
    match replicas.iter().find(|w| w.ready) {
        Some(w) => Ok(found(dir, state, w)),
        None => Err(Error::NotReady {
            name: name.to_string(),
            replicas: replicas
                .iter()
                .map(|w| format!("{} (not ready)", w.name))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn ambiguous(name: &str, runs: impl Iterator<Item = String>) -> Error {
    Error::Ambiguous {
        name: name.to_string(),
        runs: runs.collect::<Vec<_>>().join(", "),
    }
}

fn single(name: &str, mut found: Vec<WorkloadRef>) -> Result<Option<WorkloadRef>, Error> {
    if found.len() > 1 {
        return Err(ambiguous(name, found.into_iter().map(|f| f.run)));
    }
    Ok(found.pop())
}

/// The command running `argv` in the workload's namespace through `ip netns exec`, so its
/// hosts file (service names) applies. Stdio is inherited; the caller runs it.
pub fn exec_command(w: &WorkloadRef, argv: &[String]) -> Result<Command, Error> {
    if !sys::netns_exists(&w.workload.netns) {
        return Err(Error::NamespaceGone(w.workload.netns.clone()));
    }
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &w.workload.netns]).args(argv);
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::RunName;
    use std::net::Ipv4Addr;

    fn workload(deployment: &str, replica: u32, ready: bool) -> WorkloadRecord {
        let name = format!("{deployment}-{replica}");
        WorkloadRecord {
            netns: format!("vm-r-{name}"),
            etc_dir: PathBuf::from("/nonexistent"),
            host_veth: format!("vm-r-{replica}"),
            name,
            deployment: deployment.into(),
            replica,
            namespace: "default".into(),
            address: Ipv4Addr::new(198, 18, 0, 2),
            ready,
        }
    }

    fn write_run(root: &Path, run: &str, workloads: Vec<WorkloadRecord>) {
        let mut state = State::new(RunName::new(run).expect("name"), crate::DEFAULT_SUBNET);
        state.workloads = workloads;
        state.save(&root.join(run)).expect("save");
    }

    #[test]
    fn finds_replicas_and_first_ready_by_index() {
        let root = std::env::temp_dir().join(format!("vm-lookup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        write_run(
            &root,
            "one",
            vec![
                workload("web", 2, true),
                workload("web", 1, true),
                workload("web", 0, false),
                workload("db", 0, false),
            ],
        );
        write_run(
            &root,
            "two",
            vec![workload("api", 0, true), workload("web", 9, true)],
        );

        let by_name = |name| find_workload(&root.join("one"), name);
        assert_eq!(by_name("web").expect("web").workload.name, "web-1");
        assert_eq!(by_name("web-0").expect("replica").workload.name, "web-0");
        assert_eq!(by_name("vm-r-db-0").expect("netns").workload.name, "db-0");
        assert!(matches!(by_name("db"), Err(Error::NotReady { .. })));
        assert!(matches!(by_name("api"), Err(Error::NotFound { .. })));

        assert_eq!(find_workload(&root, "api").expect("api").run, "two");
        assert!(matches!(
            find_workload(&root, "web"),
            Err(Error::Ambiguous { .. })
        ));
        assert_eq!(find_workload(&root, "web-9").expect("web-9").run, "two");
        std::fs::remove_dir_all(&root).expect("cleanup");
    }
}
