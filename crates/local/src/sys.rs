//! Thin wrappers over the tools that change the system (`ip`, `iptables`) and over sysctl
//! files. Removal helpers treat "already gone" as success, which is what makes teardown
//! idempotent and safe after a crash.

use crate::Error;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn describe(program: &str, args: &[&str]) -> String {
    let mut s = program.to_string();
    for a in args {
        s.push(' ');
        s.push_str(a);
    }
    s
}

/// Runs `program args`, feeding `stdin` if given; fails with its stderr.
pub(crate) fn run_with_input(
    program: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, Error> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let spawn_err = |source| Error::Spawn {
        program: program.to_string(),
        source,
    };
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A write error shows up as the command's own failure below.
        let _ = pipe.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let mut command = describe(program, args);
        if let Some(input) = stdin {
            command.push_str(" <<< ");
            command.push_str(&input.replace('\n', "; "));
        }
        Err(Error::Command {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

pub(crate) fn run(program: &str, args: &[&str]) -> Result<String, Error> {
    run_with_input(program, args, None)
}

/// `ip args`.
pub(crate) fn ip(args: &[&str]) -> Result<String, Error> {
    run("ip", args)
}

/// Whether an error from `ip` or `iptables` only says the object does not exist.
pub(crate) fn is_absent(e: &Error) -> bool {
    match e {
        Error::Command { stderr, .. } => {
            let s = stderr.to_ascii_lowercase();
            s.contains("cannot find device")
                || s.contains("no such file")
                || s.contains("does not exist")
                || s.contains("no such process")
                || s.contains("bad rule")
                || s.contains("no chain/target/match")
        }
        _ => false,
    }
}

/// Runs a removal, treating "not there" as done.
pub(crate) fn remove(result: Result<String, Error>) -> Result<(), Error> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_absent(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

pub(crate) fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

pub(crate) fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// The file of a sysctl key such as `net.ipv4.ip_forward`.
pub(crate) fn sysctl_path(key: &str) -> std::path::PathBuf {
    Path::new("/proc/sys").join(key.replace('.', "/"))
}

pub(crate) fn read_sysctl(key: &str) -> Result<String, Error> {
    let path = sysctl_path(key);
    std::fs::read_to_string(&path)
        .map(|s| s.trim().to_string())
        .map_err(Error::io(path))
}

pub(crate) fn write_sysctl(key: &str, value: &str) -> Result<(), Error> {
    let path = sysctl_path(key);
    std::fs::write(&path, value).map_err(Error::io(path))
}

/// IPv4 addresses on root-namespace interfaces, as (interface, address/prefix).
pub(crate) fn root_ipv4_addresses() -> Result<Vec<(String, ipnet::Ipv4Net)>, Error> {
    let out = ip(&["-4", "-o", "addr", "show"])?;
    // Lines look like: `4: eth0    inet 192.0.2.2/24 brd ... scope global eth0`.
    Ok(out
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let _index = words.next()?;
            let dev = words.next()?.trim_end_matches(':').to_string();
            let _family = words.next()?;
            let net = words.next()?.parse().ok()?;
            Some((dev, net))
        })
        .collect())
}
