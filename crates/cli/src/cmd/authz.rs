//! `verimesh authz check`: decide one request (or TCP connection) against a directory of
//! configuration with the same engine the proxy uses, and explain the decision. Exit 0 when
//! allowed, 1 when denied, 2 when the input cannot be used.

use anyhow::{bail, Context};
use clap::{Args as ClapArgs, Subcommand, ValueEnum};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};
use verimesh_config::Resource;
use verimesh_policy::{Connection, Engine, Outcome, Peer, RawRequest, Verdict, Workload};

#[derive(Subcommand)]
pub enum Command {
    /// Decide one request to a workload and explain why.
    Check(CheckArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Protocol {
    Http,
    Tcp,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(ClapArgs)]
pub struct CheckArgs {
    /// Directory (or file) of configuration: policies, workloads, mesh config ConfigMap.
    #[arg(long, value_name = "DIR")]
    config: PathBuf,
    /// Mesh configuration file; else the `istio` ConfigMap among the inputs, else defaults.
    #[arg(long, value_name = "FILE")]
    mesh_config: Option<PathBuf>,
    /// The destination: a Deployment, Pod or WorkloadEntry.
    #[arg(long, value_name = "NAMESPACE/NAME")]
    to: String,
    /// Destination port.
    #[arg(long, default_value_t = 80)]
    port: u16,
    #[arg(long, value_enum, default_value = "http")]
    protocol: Protocol,
    #[arg(long, default_value = "GET")]
    method: String,
    /// The raw request-target, as sent: may hold `?query`, `#fragment` and `%XX` escapes.
    #[arg(long, default_value = "/")]
    path: String,
    /// The Host / :authority header.
    #[arg(long)]
    host: Option<String>,
    /// A request header, `Name: value`; repeat for more (and for repeated headers).
    #[arg(long = "header", value_name = "K: V")]
    headers: Vec<String>,
    /// A JWT sent as `Authorization: Bearer <TOKEN>`.
    #[arg(long, value_name = "TOKEN")]
    jwt: Option<String>,
    /// The caller's mTLS identity (`spiffe://td/ns/NS/sa/SA`); none means plaintext.
    #[arg(long, value_name = "ID")]
    source_principal: Option<String>,
    #[arg(long, value_name = "IP")]
    source_ip: Option<IpAddr>,
    /// TLS server name the caller sent.
    #[arg(long)]
    sni: Option<String>,
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    output: Output,
}

pub fn run(cmd: &Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Check(args) => check(args),
    }
}

/// The workload named by `--to`, with its labels and address.
fn find_workload(resources: &[Resource], to: &str) -> anyhow::Result<(Workload, Option<IpAddr>)> {
    let Some((ns, name)) = to.split_once('/') else {
        bail!("--to must be NAMESPACE/NAME, got {to:?}");
    };
    let named = |r: &&Resource| r.namespace() == ns && r.name() == name;
    let found = resources.iter().filter(named);
    let mut best: Option<(u8, Workload, Option<IpAddr>)> = None;
    for r in found {
        let (rank, labels, ip) = if let Some(d) = r.as_deployment() {
            (0, d.spec.template.metadata.labels.clone(), None)
        } else if r.as_pod().is_some() {
            (1, r.meta.labels.clone(), None)
        } else if let Some(we) = r.as_workload_entry() {
            let ip = we.address.as_deref().and_then(|a| a.parse().ok());
            (2, we.labels.clone(), ip)
        } else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _, _)| rank < *b) {
            let w = Workload {
                namespace: ns.to_string(),
                labels,
                ..Workload::default()
            };
            best = Some((rank, w, ip));
        }
    }
    match best {
        Some((_, w, ip)) => Ok((w, ip)),
        None => bail!("no Deployment, Pod or WorkloadEntry {to} in the configuration"),
    }
}

fn raw_request(args: &CheckArgs) -> anyhow::Result<RawRequest> {
    let mut headers = Vec::new();
    if let Some(h) = &args.host {
        headers.push(("host".to_string(), h.clone()));
    }
    for h in &args.headers {
        let (k, v) = h
            .split_once(':')
            .with_context(|| format!("--header must be 'Name: value', got {h:?}"))?;
        headers.push((
            k.trim().to_string(),
            v.strip_prefix(' ').unwrap_or(v).to_string(),
        ));
    }
    if let Some(t) = &args.jwt {
        headers.push(("authorization".to_string(), format!("Bearer {t}")));
    }
    Ok(RawRequest {
        method: args.method.clone(),
        target: args.path.clone(),
        authority: None,
        headers,
    })
}

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let loaded = verimesh_config::load_paths(std::slice::from_ref(&args.config));
    if !loaded.unusable.is_empty() {
        bail!("cannot use {}", loaded.unusable.join(", "));
    }
    let source = verimesh_analyze::mesh_source::resolve(&loaded, args.mesh_config.as_deref());
    if source.unusable {
        bail!("cannot read the mesh config");
    }
    let (workload, dest_ip) = find_workload(&loaded.resources, &args.to)?;
    let peer = match &args.source_principal {
        Some(p) => {
            Some(Peer::parse(p).with_context(|| format!("invalid --source-principal {p:?}"))?)
        }
        None => None,
    };
    let conn = Connection {
        peer,
        source_ip: args.source_ip,
        remote_ip: None,
        destination_ip: dest_ip,
        destination_port: args.port,
        sni: args.sni.clone(),
    };
    let engine = Engine::build(&loaded.resources, &source.mesh, HashMap::new());
    let wp = engine.for_workload(&workload);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let raw = match args.protocol {
        Protocol::Http => Some(raw_request(args)?),
        Protocol::Tcp => None,
    };
    let outcome = engine.decide(&wp, &conn, raw.as_ref(), now);
    let report = Report::new(&engine, &outcome);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&report.json())?),
        Output::Text => print!("{}", report.text()),
    }
    Ok(ExitCode::from(if outcome.verdict == Verdict::Allow {
        0
    } else {
        1
    }))
}

/// What is printed, in either format.
struct Report {
    allowed: bool,
    status: Option<u16>,
    policy: Option<String>,
    rule: Option<u32>,
    deciding: Option<String>,
    reasons: Vec<String>,
}

impl Report {
    fn new(engine: &Engine, o: &Outcome) -> Report {
        let mut reasons = Vec::new();
        if let Some(e) = &o.bad_request {
            reasons.push(format!("bad request: {e}"));
        }
        if let Some(e) = &o.bad_token {
            reasons.push(format!("token refused: {e}"));
        }
        let mut r = Report {
            allowed: o.verdict == Verdict::Allow,
            status: o.status,
            policy: None,
            rule: None,
            deciding: None,
            reasons,
        };
        if let Some(d) = &o.decision {
            if let Some(rr) = &d.deciding {
                r.policy = Some(engine.policies.policy_id(rr.policy));
                r.rule = rr.rule;
                r.deciding = Some(engine.policies.describe(rr));
            } else if !d.allowed {
                r.deciding = Some(
                    "no ALLOW policy matched (ALLOW policies apply, so the default is deny)".into(),
                );
            } else {
                r.deciding = Some("no ALLOW policy applies, so the default is allow".into());
            }
            r.reasons.extend(engine.policies.reasons(d));
        }
        r
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "decision": if self.allowed { "ALLOW" } else { "DENY" },
            "status": self.status,
            "policy": self.policy,
            "rule": self.rule,
            "reasons": self.reasons,
        })
    }

    fn text(&self) -> String {
        let status = match self.status {
            Some(200) => "200 OK".to_string(),
            Some(400) => "400 Bad Request".to_string(),
            Some(401) => "401 Unauthorized".to_string(),
            Some(403) => "403 Forbidden".to_string(),
            Some(s) => s.to_string(),
            None => "TCP: connection kept".to_string(),
        };
        let status = if self.status.is_none() && !self.allowed {
            "TCP: connection closed".to_string()
        } else {
            status
        };
        let mut s = format!(
            "{} ({status})\n",
            if self.allowed { "ALLOW" } else { "DENY" }
        );
        if let Some(d) = &self.deciding {
            s.push_str(&format!("decided by: {d}\n"));
        }
        if !self.reasons.is_empty() {
            s.push_str("details:\n");
            for r in &self.reasons {
                s.push_str(&format!("  - {r}\n"));
            }
        }
        s
    }
}
