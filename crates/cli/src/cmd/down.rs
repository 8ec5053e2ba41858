//! `verimesh down`: tear down a local mesh from its state file, whether `verimesh up` exited
//! normally, failed, or was killed.

use super::duration;
use clap::Args as ClapArgs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(ClapArgs)]
pub struct Args {
    /// A run's state directory, or a directory of them (every run in it is torn down).
    #[arg(long, default_value = verimesh_local::DEFAULT_STATE_ROOT)]
    state_dir: PathBuf,
    /// How long processes get between SIGTERM and SIGKILL.
    #[arg(long, default_value = "5s", value_parser = duration::parse)]
    grace: Duration,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    verimesh_local::require_root()?;
    let reports = verimesh_local::down(&args.state_dir, args.grace)?;
    if reports.is_empty() {
        println!("nothing to tear down in {}", args.state_dir.display());
    }
    for r in reports {
        println!(
            "run {}: stopped {} processes; removed {} namespaces, {} links, {} rules",
            r.run,
            r.stopped.len(),
            r.namespaces,
            r.links,
            r.rules
        );
    }
    Ok(ExitCode::SUCCESS)
}
