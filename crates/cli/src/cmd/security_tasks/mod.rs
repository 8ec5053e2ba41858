//! `verimesh conformance istio-security-tasks DIR`: Istio's authentication and
//! authorization tasks run end to end on a local mesh (`verimesh up`), each scenario's
//! requests compared with the outcomes istio.io documents, and a score.

mod bookinfo;
mod live;
mod mesh;
mod prepare;
mod probe;
mod scenarios;

use anyhow::Context;
use clap::Args as ClapArgs;
use live::{JwksServer, Mesh};
use prepare::Jwks;
use probe::Tokens;
use scenarios::{Entry, Scenario};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(ClapArgs)]
pub struct Args {
    /// The suite's directory (shared/peer/istio-security-tasks).
    pub dir: PathBuf,
    /// Istio's JWT samples (jwks.json, demo.jwt, groups-scope.jwt); default
    /// DIR/../istio-samples/security/tools/jwt/samples.
    #[arg(long)]
    pub jwt_samples: Option<PathBuf>,
    /// How the JWKS reaches the proxies: `served` (jwksUri to a local HTTP server on the
    /// mesh's bridge) or `inline` (the RequestAuthentication's `jwks` field).
    #[arg(long, value_enum, default_value_t = JwksMode::Served)]
    pub jwks: JwksMode,
    /// Only the scenarios whose name contains this.
    #[arg(long)]
    pub only: Option<String>,
    /// The mesh's run name (another one to run next to a mesh of this name).
    #[arg(long, default_value = "sectk")]
    pub name: String,
    /// The mesh's subnet (one no other local mesh uses).
    #[arg(long, default_value = "198.19.96.0/20")]
    pub subnet: ipnet::Ipv4Net,
    /// Also list each request of the scenarios that passed.
    #[arg(long)]
    pub verbose: bool,
    /// Keep the mesh's config and state (logs) in this directory instead of a temporary
    /// one that is removed at the end.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum JwksMode {
    Served,
    Inline,
}

/// How long a scenario's requests are retried until they give the documented outcome,
/// counted from when every proxy ACKed its config: a JWKS is fetched only then (Istio's
/// tasks say to retry after a few seconds, for the same reason).
const SETTLE: Duration = Duration::from_secs(6);

struct Verdict {
    name: String,
    requests: usize,
    /// Requests whose outcome differed, or why the scenario could not run.
    failures: Vec<String>,
    passes: Vec<String>,
}

pub fn run(args: &Args) -> anyhow::Result<std::process::ExitCode> {
    verimesh_local::require_root()?;
    let samples = match &args.jwt_samples {
        Some(d) => d.clone(),
        None => args.dir.join("../istio-samples/security/tools/jwt/samples"),
    };
    let read = |f: &str| {
        std::fs::read_to_string(samples.join(f))
            .with_context(|| format!("reading {}", samples.join(f).display()))
    };
    let jwks_doc = read("jwks.json")?;
    let tokens = Tokens {
        demo: read("demo.jwt")?.trim().to_string(),
        groups: read("groups-scope.jwt")?.trim().to_string(),
    };
    let entries: Vec<Entry> = scenarios::all()
        .into_iter()
        .filter(|e| {
            let Entry::Run(s) = e;
            let name = s.name;
            args.only.as_deref().is_none_or(|o| name.contains(o))
        })
        .collect();

    let work = match &args.work_dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("verimesh-sectasks-{}", std::process::id())),
    };
    let config = work.join("mesh");
    // A kept work directory may hold a previous run's scenario.
    let _ = std::fs::remove_dir_all(&config);
    std::fs::create_dir_all(&config)?;
    for (name, text) in mesh::files() {
        std::fs::write(config.join(name), text)?;
    }
    // The Gateway API sample's Gateway and HTTPRoute, in foo, so `up` deploys its gateway.
    let api_gateway = args
        .dir
        .join("../istio-samples/httpbin/gateway-api/httpbin-gateway.yaml");
    let text = std::fs::read_to_string(&api_gateway)
        .with_context(|| format!("reading {}", api_gateway.display()))?;
    let in_foo = scenarios::Apply {
        namespace: Some("foo"),
        ..scenarios::file("httpbin-gateway.yaml")
    };
    std::fs::write(
        config.join("httpbin-gateway-api.yaml"),
        prepare::prepare(&text, &in_foo, &Jwks::Inline(String::new())),
    )?;
    let started = Instant::now();
    let result = run_all(args, &entries, &config, &work, &jwks_doc, &tokens);
    if args.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&work);
    }
    let verdicts = result?;
    report(args, &verdicts, started.elapsed());
    Ok(std::process::ExitCode::SUCCESS)
}

fn run_all(
    args: &Args,
    entries: &[Entry],
    config: &Path,
    work: &Path,
    jwks_doc: &str,
    tokens: &Tokens,
) -> anyhow::Result<Vec<Verdict>> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let mut mesh = Mesh::start(
        config,
        &work.join("state"),
        &args.name,
        &args.subnet.to_string(),
    )?;
    // The bridge holds the subnet's first address: the host, as every workload sees it.
    let jwks = match args.jwks {
        JwksMode::Inline => Jwks::Inline(jwks_doc.to_string()),
        JwksMode::Served => {
            let gateway = args.subnet.hosts().next().context("subnet too small")?;
            let server = JwksServer::start(gateway.into(), jwks_doc.to_string())?;
            Jwks::Served(server.url)
        }
    };
    let mut verdicts = Vec::new();
    for e in entries {
        let Entry::Run(s) = e;
        verdicts.push(run_scenario(&mut mesh, &args.dir, s, &jwks, tokens));
    }
    Ok(verdicts)
}

fn run_scenario(
    mesh: &mut Mesh,
    dir: &Path,
    s: &Scenario,
    jwks: &Jwks,
    tokens: &Tokens,
) -> Verdict {
    let mut v = Verdict {
        name: s.name.to_string(),
        requests: s.checks.len(),
        failures: Vec::new(),
        passes: Vec::new(),
    };
    // The authz-ingress task's `$CLIENT_IP`: the caller outside the mesh, legacy's curl.
    let client_ip = mesh
        .replica("legacy", "curl")
        .map(|(_, ip)| ip.to_string())
        .unwrap_or_default();
    let mut files = Vec::new();
    for (i, a) in s.apply.iter().enumerate() {
        let name = a.file.rsplit('/').next().unwrap_or(a.file);
        match std::fs::read_to_string(dir.join(a.file)) {
            Ok(text) => files.push((
                format!("{i}-{name}"),
                prepare::prepare(&text, a, jwks).replace("$CLIENT_IP", &client_ip),
            )),
            Err(e) => v.failures.push(format!("cannot read {}: {e}", a.file)),
        }
    }
    if !v.failures.is_empty() {
        return v;
    }
    if let Err(e) = mesh.apply(&files) {
        v.failures.push(format!("{e:#}"));
        return v;
    }
    let settle_until = Instant::now() + SETTLE;
    for check in &s.checks {
        let what = probe::describe(check);
        loop {
            match probe::send(mesh, tokens, check) {
                Ok(o) => {
                    let ok = o.got == check.expect && o.body_ok;
                    if ok {
                        v.passes.push(format!("{what}: {}", o.got));
                        break;
                    }
                    if Instant::now() > settle_until {
                        let body = if o.body_ok {
                            ""
                        } else {
                            " (body lacks the expected text)"
                        };
                        v.failures.push(format!(
                            "{what}: expected {}, got {}{body} ({})",
                            check.expect, o.got, o.detail
                        ));
                        break;
                    }
                }
                Err(e) => {
                    v.failures.push(format!("{what}: {e:#}"));
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    if let Some((ns, deployment, words)) = s.log {
        let log = match mesh.replica(ns, deployment) {
            Ok((replica, _)) => mesh.proxy_log(replica),
            Err(e) => format!("{e:#}"),
        };
        if !log.lines().any(|l| words.iter().all(|w| l.contains(w))) {
            v.failures.push(format!(
                "the proxy log of {ns}/{deployment} has no line with all of {words:?}"
            ));
        }
    }
    v
}

fn report(args: &Args, verdicts: &[Verdict], took: Duration) {
    let mut passed = 0;
    for v in verdicts {
        if v.failures.is_empty() {
            passed += 1;
            println!("PASS {} ({} requests)", v.name, v.requests);
            if args.verbose {
                for p in &v.passes {
                    println!("    {p}");
                }
            }
        } else {
            println!("FAIL {}", v.name);
            for f in &v.failures {
                println!("    {f}");
            }
        }
    }
    let mut skipped = 0;
    // Suite files that no scenario covers: skipped by kind, or unknown to this runner.
    let covered: Vec<String> = scenarios::all()
        .iter()
        .flat_map(|e| {
            let Entry::Run(s) = e;
            s.apply
                .iter()
                .map(|a| a.file.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut files: Vec<String> = std::fs::read_dir(&args.dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml") && !covered.contains(f))
        .collect();
    files.sort();
    if args.only.is_none() {
        for f in files {
            skipped += 1;
            match scenarios::skipped_file(&f) {
                Some(reason) => println!("SKIPPED {}: {reason}", f.trim_end_matches(".yaml")),
                None => println!(
                    "SKIPPED {}: no expectations for this file yet",
                    f.trim_end_matches(".yaml")
                ),
            }
        }
    }
    println!(
        "istio-security-tasks: {passed} passed, {} failed, {skipped} skipped ({:.0?})",
        verdicts.len() - passed,
        took
    );
}
