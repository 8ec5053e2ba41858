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
    /// Install (or remove) the rules that send a workload's TCP through its proxy; run inside
    /// the workload's network namespace, as root.
    Iptables(cmd::iptables::Args),
    /// A small app for demos and tests: httpbin-like endpoints, TCP echo, bookinfo services.
    // `--version` here is the app version it reports, as in bookinfo's manifests.
    #[command(disable_version_flag = true)]
    DemoApp(cmd::demo_app::Args),
    /// Explain authorization decisions with the proxy's own decision engine.
    #[command(subcommand)]
    Authz(cmd::authz::Command),
    /// The mesh CA: issue workload certificates, inspect certificates, make bootstrap tokens.
    #[command(subcommand)]
    Ca(cmd::ca::Command),
    /// Run the control plane: the CA's signing service and, with a config directory and a
    /// placement, every proxy's compiled config streamed and kept in sync with the files.
    Control(cmd::control::Args),
    /// Run the sidecar proxy (HTTP, gRPC, WebSocket and TCP over mesh mTLS), from a local
    /// config file and certificates or driven by the control plane.
    Proxy(cmd::proxy::Args),
    /// Run the manifests of a directory as a mesh on this machine (network namespaces,
    /// sidecars, control plane) until Ctrl-C. Needs root.
    Up(cmd::up::Args),
    /// The proxies of a local mesh: config version, ACK state, certificate expiry.
    Status(cmd::status::Args),
    /// Tear down a local mesh (namespaces, links, rules, processes, files) from its state,
    /// also after a crashed or killed `verimesh up`. Needs root.
    Down(cmd::down::Args),
    /// Run a command inside a local mesh workload's network namespace, where service names
    /// resolve: `verimesh exec reviews -- curl http://ratings:9080/`. Needs root.
    Exec(cmd::exec::Args),
    /// Wait until the proxy beside this process is running with its config (its admin
    /// port answers `/ready`), as Istio's `pilot-agent wait`; exits 1 after the timeout.
    Wait(cmd::wait::Args),
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
        Command::DemoApp(args) => cmd::demo_app::run(args),
        Command::Iptables(args) => cmd::iptables::run(&args),
        Command::Authz(c) => cmd::authz::run(&c),
        Command::Ca(cmd) => cmd::ca::run(&cmd),
        Command::Control(args) => {
            init_logging();
            cmd::control::run(&args)
        }
        Command::Proxy(args) => {
            init_logging();
            cmd::proxy::run(&args)
        }
        Command::Down(args) => cmd::down::run(&args),
        Command::Up(args) => cmd::up::run(&args),
        Command::Status(args) => cmd::status::run(&args),
        Command::Exec(args) => cmd::exec::run(&args),
        Command::Wait(args) => cmd::wait::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("verimesh: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
