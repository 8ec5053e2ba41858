//! Process measurements for the push benchmark: CPU time (getrusage), peak RSS (VmHWM, which
//! can be reset between phases), and a
//! file descriptor limit high enough for a thousand connections.

use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, UsageWho};
use std::time::Duration;

/// User + system CPU time of this process so far.
pub fn cpu_time() -> Duration {
    let Ok(u) = getrusage(UsageWho::RUSAGE_SELF) else {
        return Duration::ZERO;
    };
    let tv = |t: nix::sys::time::TimeVal| {
        Duration::from_secs(t.tv_sec().max(0).unsigned_abs())
            + Duration::from_micros(t.tv_usec().max(0).unsigned_abs())
    };
    tv(u.user_time()) + tv(u.system_time())
}

/// Peak resident set size of this process, in MiB (`VmHWM`).
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Resident set size of this process now, in MiB (`VmRSS`).
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Resets this process's peak RSS to its current RSS (`/proc/self/clear_refs`), so that
/// `VmHWM` measures a phase alone; false if the kernel refuses.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Raises the soft limit on open files to the hard limit; each proxy is one connection.
pub fn raise_nofile(needed: u64) -> anyhow::Result<()> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < needed {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
        anyhow::ensure!(
            hard >= needed,
            "need {needed} open files, the hard limit is {hard}"
        );
    }
    Ok(())
}
