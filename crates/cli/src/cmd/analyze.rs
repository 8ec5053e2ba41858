//! `verimesh analyze`: load, validate and analyze configuration; exit 0 (no errors),
//! 1 (errors found) or 2 (unusable input).

use clap::{Args as ClapArgs, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use verimesh_analyze::Snapshot;
use verimesh_config::Level;

#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(ClapArgs)]
pub struct Args {
    /// Mesh configuration file (Istio MeshConfig YAML). Without it, the `istio` ConfigMap in
    /// `istio-system` among the inputs is used, or Istio's defaults.
    #[arg(long, value_name = "FILE")]
    mesh_config: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    output: Output,
    /// Namespace assumed for resources that do not name one.
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Files or directories (searched recursively for .yaml, .yml, .json); `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let loaded = verimesh_config::load_paths(&args.paths);
    let source = verimesh_analyze::mesh_source::resolve(&loaded, args.mesh_config.as_deref());
    let unusable = !loaded.unusable.is_empty() || source.unusable;
    let mut messages = source.messages;
    let snap =
        Snapshot::new(&loaded.resources, source.mesh).with_default_namespace(&args.namespace);
    messages.extend(verimesh_analyze::analyze(&loaded, &snap));

    match args.output {
        Output::Json => {
            let json: Vec<_> = messages
                .iter()
                .map(|m| m.to_json(&args.namespace))
                .collect();
            println!("{}", serde_json::to_string_pretty(&json)?);
        }
        Output::Text => {
            for m in &messages {
                println!("{}", m.to_text(&args.namespace));
            }
            if messages.is_empty() {
                println!("No issues found in {} resources.", loaded.resources.len());
            }
        }
    }
    let code = if unusable {
        2
    } else if messages.iter().any(|m| m.level() == Level::Error) {
        1
    } else {
        0
    };
    Ok(ExitCode::from(code))
}
