//! Teardown from a state file: the one code path for a run ending normally and for
//! `verimesh down` cleaning up after a crash. Every step tolerates its resource being gone
//! already, so it is safe to run twice; the state file is removed only when every step
//! succeeded, so a failed teardown can be retried.

use crate::hosts;
use crate::process::{is_same_process, start_time};
use crate::state::{run_dirs, State};
use crate::{sys, topology, Error};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::path::Path;
use std::time::{Duration, Instant};

/// What a teardown removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub run: String,
    /// Pids signalled (recorded processes, and anything else found in the namespaces).
    pub stopped: Vec<i32>,
    pub namespaces: usize,
    pub links: usize,
    pub rules: usize,
}

/// A process to stop: pid, its start time, and whether it leads a group of ours.
type Target = (i32, u64, bool);

fn targets(state: &State) -> Vec<Target> {
    let mut t: Vec<Target> = state
        .processes
        .iter()
        .filter(|p| is_same_process(p.pid, p.start_time))
        .map(|p| (p.pid, p.start_time, true))
        .collect();
    // Whatever else lives in the namespaces: children that left their group, `verimesh exec`
    // sessions, processes of a run that crashed before recording them.
    for pid in topology::netns_pids(state.workloads.iter().map(|w| w.netns.as_str())) {
        if let Some(start) = start_time(pid) {
            if !t.iter().any(|(p, ..)| *p == pid) {
                t.push((pid, start, false));
            }
        }
    }
    t
}

fn signal_all(targets: &[Target], signal: Signal) {
    for &(pid, start, group) in targets {
        if !is_same_process(pid, start) {
            continue;
        }
        let pid = Pid::from_raw(pid);
        if group {
            let _ = killpg(pid, signal);
        }
        let _ = kill(pid, signal);
    }
}

fn wait_gone(targets: &[Target], timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if targets.iter().all(|&(p, s, _)| !is_same_process(p, s)) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM, then SIGKILL after `grace`; rescans, as a dying process may have forked.
fn stop_processes(state: &State, grace: Duration, report: &mut Report) -> Result<(), Error> {
    for _round in 0..3 {
        let t = targets(state);
        if t.is_empty() {
            return Ok(());
        }
        report.stopped.extend(t.iter().map(|(p, ..)| *p));
        signal_all(&t, Signal::SIGTERM);
        if !wait_gone(&t, grace) {
            signal_all(&t, Signal::SIGKILL);
            wait_gone(&t, Duration::from_secs(5));
        }
    }
    report.stopped.sort_unstable();
    report.stopped.dedup();
    let left = targets(state);
    if left.is_empty() {
        Ok(())
    } else {
        let pids: Vec<String> = left.iter().map(|(p, ..)| p.to_string()).collect();
        Err(Error::Teardown(vec![format!(
            "processes still running: {}",
            pids.join(", ")
        )]))
    }
}

/// Removes everything `state` records, then the state file in `dir`.
pub(crate) fn teardown_state(state: &State, dir: &Path, grace: Duration) -> Result<Report, Error> {
    let mut report = Report {
        run: state.run.to_string(),
        ..Report::default()
    };
    let mut errors = Vec::new();
    let mut note = |r: Result<(), Error>| {
        if let Err(e) = r {
            errors.push(e.to_string());
        }
    };
    note(stop_processes(state, grace, &mut report));
    for rule in &state.rules {
        match topology::delete_rule(rule) {
            Ok(found) => report.rules += usize::from(found),
            Err(e) => note(Err(e)),
        }
    }
    // Namespaces first: with their processes gone the kernel destroys them, and their veth
    // pairs, in one batch (10x faster than deleting each veth, which waits for RCU per
    // device). Host ends still there after a moment (a namespace held open by something) are
    // deleted explicitly.
    let veths: Vec<&str> = state
        .workloads
        .iter()
        .map(|w| w.host_veth.as_str())
        .collect();
    report.links += veths.iter().filter(|v| sys::link_exists(v)).count();
    let netns: Vec<&str> = state.workloads.iter().map(|w| w.netns.as_str()).collect();
    match topology::delete_netns(&netns) {
        Ok(n) => report.namespaces += n,
        Err(e) => note(Err(e)),
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while veths.iter().any(|v| sys::link_exists(v)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    note(topology::delete_links(&veths).map(drop));
    for w in &state.workloads {
        note(hosts::remove_etc_dir(&w.etc_dir));
    }
    if let Some(bridge) = &state.bridge {
        report.links += usize::from(sys::link_exists(bridge));
        note(topology::delete_links(&[bridge.as_str()]).map(drop));
    }
    for s in state.sysctls.iter().rev() {
        // Restored only if nobody changed it since: their change wins over our memory.
        if sys::read_sysctl(&s.key).is_ok_and(|v| v == s.value) {
            note(sys::write_sysctl(&s.key, &s.previous));
        }
    }
    if errors.is_empty() {
        State::remove(dir)?;
        Ok(report)
    } else {
        Err(Error::Teardown(errors))
    }
}

/// `verimesh down`: tears down the run whose state is in `dir`, or every run under `dir`
/// (e.g. `/run/verimesh`). Nothing to do is success; an unreadable state file is an error.
pub fn down(dir: &Path, grace: Duration) -> Result<Vec<Report>, Error> {
    crate::require_root()?;
    let mut reports = Vec::new();
    let mut errors = Vec::new();
    for run_dir in run_dirs(dir)? {
        let Some(state) = State::load(&run_dir)? else {
            continue;
        };
        match teardown_state(&state, &run_dir, grace) {
            Ok(r) => reports.push(r),
            Err(e) => errors.push(format!("run {}: {e}", state.run)),
        }
    }
    if errors.is_empty() {
        Ok(reports)
    } else {
        Err(Error::Teardown(errors))
    }
}
