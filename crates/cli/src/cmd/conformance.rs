//! `verimesh conformance`: third-party test suites run against verimesh, with a score.

use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum Suite {
    /// Istio's analyzer test cases (cases.json + testdata/, as in shared/peer/istio-analyzers).
    /// Prints each failure's difference and `N passed, M failed`; exits 0 unless the suite
    /// itself cannot be read.
    IstioAnalyzers {
        /// The suite's directory.
        dir: PathBuf,
        /// Also list the cases that passed.
        #[arg(long)]
        verbose: bool,
    },
    /// Istio's authentication and authorization tasks (shared/peer/istio-security-tasks),
    /// run end to end on a local mesh (`verimesh up`; needs root): per scenario PASS/FAIL
    /// with each request whose outcome differs from istio.io's, SKIPPED with the reason,
    /// and a score. Exits 0 unless the mesh cannot run at all.
    IstioSecurityTasks(super::security_tasks::Args),
}

pub fn run(suite: &Suite) -> anyhow::Result<ExitCode> {
    match suite {
        Suite::IstioSecurityTasks(args) => super::security_tasks::run(args),
        Suite::IstioAnalyzers { dir, verbose } => {
            let results = verimesh_analyze::conformance::run(dir)?;
            let mut passed = 0;
            for r in &results {
                if r.passed() {
                    passed += 1;
                    if *verbose {
                        println!("PASS {} ({})", r.id, r.analyzer);
                    }
                } else {
                    println!("FAIL {} ({})", r.id, r.analyzer);
                    for line in &r.failure {
                        println!("    {line}");
                    }
                }
            }
            println!("{} passed, {} failed", passed, results.len() - passed);
            Ok(ExitCode::SUCCESS)
        }
    }
}
