//! The `verimesh` command: argument parsing and wiring only.

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "verimesh",
    version,
    about = "verimesh: a zero-trust service mesh that speaks Istio's configuration",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate configuration and find misconfigurations across resources.
    Analyze(cmd::analyze::Args),
    /// Run third-party conformance suites against verimesh.
    #[command(subcommand)]
    Conformance(cmd::conformance::Suite),
    /// Explain authorization decisions with the proxy's own decision engine.
    #[command(subcommand)]
    Authz(cmd::authz::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => cmd::analyze::run(&args),
        Command::Conformance(suite) => cmd::conformance::run(&suite),
        Command::Authz(c) => cmd::authz::run(&c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("verimesh: {e:#}");
            ExitCode::from(2)
        }
    }
}
