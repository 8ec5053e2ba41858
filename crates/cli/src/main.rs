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
    /// The mesh CA: issue workload certificates, inspect certificates, make bootstrap tokens.
    #[command(subcommand)]
    Ca(cmd::ca::Command),
    /// Run the control plane. For now it serves only the CA's certificate signing service
    /// (gRPC over TLS); configuration distribution to proxies comes later.
    Control(cmd::control::Args),
}

/// Logs to stderr; `RUST_LOG` filters (default `info`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => cmd::analyze::run(&args),
        Command::Conformance(suite) => cmd::conformance::run(&suite),
        Command::Ca(cmd) => cmd::ca::run(&cmd),
        Command::Control(args) => {
            init_logging();
            cmd::control::run(&args)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("verimesh: {e:#}");
            ExitCode::from(2)
        }
    }
}
