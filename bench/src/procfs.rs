//! What the benchmark reads of processes and of the machine from `/proc`.

/// Clock ticks per second of `/proc`'s CPU times (`USER_HZ`, 100 on Linux).
const TICKS: f64 = 100.0;

/// CPU time (user + system) of a process and its direct children, in seconds.
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    let ticks: f64 = pids
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| {
            // Fields after the parenthesised command name; utime and stime are 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
        .sum();
    ticks / TICKS
}

/// Resident memory of a set of processes in MB, from one `/proc/PID/status` field
/// (`VmRSS`, or its parts `RssAnon` — heap, stacks, relocated data — and `RssFile` — the
/// binary's and libraries' pages).
pub fn status_mb(pids: &[u32], field: &str) -> f64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with(field))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .sum::<f64>()
        / 1024.0
}

/// A process and its children (nginx's workers).
pub fn family(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let ppid = std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')?
                        .1
                        .split_whitespace()
                        .nth(1)?
                        .parse::<u32>()
                        .ok()
                });
            if ppid == Some(pid) {
                all.push(p);
            }
        }
    }
    all
}

/// Seconds the hypervisor ran something else while this machine's CPUs had work (the
/// `steal` column of `/proc/stat`, summed over CPUs): a virtual CPU taken away freezes
/// whatever ran on it, a stall no process here caused. `None` where it is not reported.
pub fn steal_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().find(|l| l.starts_with("cpu "))?;
    // user nice system idle iowait irq softirq steal ...
    let steal = cpu.split_whitespace().nth(8)?.parse::<f64>().ok()?;
    Some(steal / TICKS)
}
