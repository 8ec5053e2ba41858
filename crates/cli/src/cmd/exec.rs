//! `verimesh exec NAME -- CMD...`: run a command inside a workload's network namespace of a
//! local mesh, the way its own processes run (service names resolve), with the terminal's
//! stdio, exiting with the command's exit code.

use anyhow::Context;
use clap::Args as ClapArgs;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(ClapArgs)]
pub struct Args {
    /// A run's state directory, or a directory of them (all are searched).
    #[arg(long, default_value = verimesh_local::DEFAULT_STATE_ROOT)]
    state_dir: PathBuf,
    /// A Deployment (its first ready replica) or a replica's name (`reviews-v1-0`).
    name: String,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    verimesh_local::require_root()?;
    let target = verimesh_local::find_workload(&args.state_dir, &args.name)?;
    let status = verimesh_local::exec_command(&target, &args.command)?
        .status()
        .with_context(|| format!("running {:?}", args.command))?;
    // A command killed by a signal exits 128 + signal, as a shell reports it.
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
