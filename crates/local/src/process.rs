//! Processes inside workload namespaces. Each is started through `ip netns exec` (so the
//! namespace's hosts file is mounted for it), optionally dropping to a uid/gid with `setpriv`
//! (the sidecar runs as 1337 so its own traffic escapes interception), in a process group of
//! its own so stopping it reaches its children too. Both tools exec their argument, so the pid
//! we get is the command's own.

use crate::Error;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What to run in a workload's namespace (a container's `command` + `args` and `env`).
#[derive(Clone, Debug, Default)]
pub struct ProcessSpec {
    /// Names the process in logs and exit reports, e.g. `app` or `proxy`.
    pub name: String,
    pub program: String,
    pub args: Vec<String>,
    /// Added to (or overriding) the environment inherited from the caller.
    pub env: BTreeMap<String, String>,
    /// Run as this uid; the gid defaults to the uid, supplementary groups are cleared.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub cwd: Option<PathBuf>,
}

impl ProcessSpec {
    pub fn new(name: &str, program: &str, args: &[&str]) -> ProcessSpec {
        ProcessSpec {
            name: name.to_string(),
            program: program.to_string(),
            args: args.iter().map(|a| (*a).to_string()).collect(),
            ..ProcessSpec::default()
        }
    }
}

/// Reported once for every process that exits, on the run's exit channel.
#[derive(Clone, Debug)]
pub struct ExitEvent {
    pub workload: String,
    pub name: String,
    pub pid: i32,
    pub status: ExitStatus,
}

#[derive(Debug)]
struct Inner {
    workload: String,
    name: String,
    pid: i32,
    stdout: PathBuf,
    stderr: PathBuf,
    exit: Mutex<Option<ExitStatus>>,
    exited: Condvar,
}

/// A supervised process. Cloning shares it; a thread owns the child and reaps it, so the
/// exit is recorded (and reported) however it happens.
#[derive(Clone, Debug)]
pub struct ProcessHandle(Arc<Inner>);

impl ProcessHandle {
    pub fn pid(&self) -> i32 {
        self.0.pid
    }
    pub fn workload(&self) -> &str {
        &self.0.workload
    }
    pub fn name(&self) -> &str {
        &self.0.name
    }
    pub fn stdout_log(&self) -> &Path {
        &self.0.stdout
    }
    pub fn stderr_log(&self) -> &Path {
        &self.0.stderr
    }

    /// The exit status, once it has exited.
    pub fn status(&self) -> Option<ExitStatus> {
        *self.0.exit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits up to `timeout` for the exit.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let guard = self.0.exit.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .0
            .exited
            .wait_timeout_while(guard, timeout, |s| s.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }

    /// Sends `signal` to the process group; a group already gone is not an error.
    pub fn signal(&self, signal: Signal) -> Result<(), Error> {
        match killpg(Pid::from_raw(self.0.pid), signal) {
            Ok(()) | Err(nix::Error::ESRCH) => Ok(()),
            Err(source) => Err(Error::Signal {
                pid: self.0.pid,
                source,
            }),
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace`; returns the exit status (None only if
    /// even SIGKILL did not end it within a few seconds, e.g. stuck in the kernel).
    pub fn stop(&self, grace: Duration) -> Option<ExitStatus> {
        stop_all(std::slice::from_ref(self), grace);
        self.status()
    }
}

/// Stops several processes at once, so the grace period is spent once, not per process.
pub(crate) fn stop_all(handles: &[ProcessHandle], grace: Duration) {
    for h in handles.iter().filter(|h| h.status().is_none()) {
        let _ = h.signal(Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    for h in handles {
        h.wait_timeout(deadline.saturating_duration_since(Instant::now()));
    }
    for h in handles {
        // Also after a clean exit of the leader: children left in its group are killed.
        let _ = h.signal(Signal::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for h in handles {
        h.wait_timeout(deadline.saturating_duration_since(Instant::now()));
    }
}

/// Starts `spec` in `netns`, logging to `<log_dir>/<workload>.<name>.{stdout,stderr}.log`.
pub(crate) fn spawn(
    netns: &str,
    workload: &str,
    spec: &ProcessSpec,
    log_dir: &Path,
    exits: Sender<ExitEvent>,
) -> Result<ProcessHandle, Error> {
    crate::state::create_private_dir(log_dir)?;
    let stdout = log_dir.join(format!("{workload}.{}.stdout.log", spec.name));
    let stderr = log_dir.join(format!("{workload}.{}.stderr.log", spec.name));
    let open = |path: &Path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(Error::io(path))
    };
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns]);
    if let Some(uid) = spec.uid {
        let gid = spec.gid.unwrap_or(uid).to_string();
        cmd.args(["setpriv", "--reuid", &uid.to_string(), "--regid", &gid]);
        cmd.args(["--clear-groups", "--"]);
    }
    cmd.arg(&spec.program)
        .args(&spec.args)
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(open(&stdout)?)
        .stderr(open(&stderr)?)
        .process_group(0);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn().map_err(|source| Error::Spawn {
        program: spec.program.clone(),
        source,
    })?;
    let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    let handle = ProcessHandle(Arc::new(Inner {
        workload: workload.to_string(),
        name: spec.name.clone(),
        pid,
        stdout,
        stderr,
        exit: Mutex::new(None),
        exited: Condvar::new(),
    }));
    let reaper = handle.clone();
    std::thread::Builder::new()
        .name(format!("reap-{pid}"))
        .spawn(move || {
            // `wait` only fails if the child was already reaped, which nothing else does.
            let Ok(status) = child.wait() else { return };
            *reaper.0.exit.lock().unwrap_or_else(PoisonError::into_inner) = Some(status);
            reaper.0.exited.notify_all();
            let _ = exits.send(ExitEvent {
                workload: reaper.0.workload.clone(),
                name: reaper.0.name.clone(),
                pid,
                status,
            });
        })
        .map_err(|source| Error::Spawn {
            program: "reaper thread".into(),
            source,
        })?;
    Ok(handle)
}

/// A process's start time (clock ticks since boot), None if it is gone or a zombie.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    // `rest` starts at field 3 (state); start time is field 22.
    fields.nth(18)?.parse().ok()
}

/// Whether `pid` is alive (not a zombie) and still the process that started at `start`.
pub fn is_same_process(pid: i32, start: u64) -> bool {
    start_time(pid) == Some(start)
}
