//! `verimesh ca`: issue a workload certificate from the mesh CA, and inspect certificates.

use super::duration;
use anyhow::Context;
use clap::{Args as ClapArgs, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use verimesh_identity::ca::Ca;
use verimesh_identity::{inspect, pem, SpiffeId};

#[derive(Subcommand)]
pub enum Command {
    /// Issue a certificate for a SPIFFE ID from the CA in a state directory (created there if
    /// missing) or from a plugged-in CA; writes cert-chain.pem, key.pem (mode 0600) and
    /// root-cert.pem to OUTDIR.
    Issue(IssueArgs),
    /// Print the subject, SPIFFE ID, validity, EKUs and chain of the certificates in a PEM file.
    Inspect(InspectArgs),
    /// Make a bootstrap token for a workload's namespace and service account; the control plane
    /// signs certificates for that identity only to the token's holder. Prints the token.
    Token(TokenArgs),
}

#[derive(ClapArgs)]
pub struct TokenArgs {
    /// The control plane's state directory (tokens are kept in DIR/bootstrap-tokens.json as
    /// SHA-256 digests, mode 0600).
    #[arg(long, value_name = "DIR")]
    state_dir: PathBuf,
    #[arg(long)]
    namespace: String,
    #[arg(long)]
    service_account: String,
    /// The mesh's trust domain.
    #[arg(long, default_value = "cluster.local")]
    trust_domain: String,
}

#[derive(ClapArgs)]
pub struct IssueArgs {
    /// The control plane's state directory; its CA lives in DIR/ca.
    #[arg(long, value_name = "DIR", required_unless_present = "cacerts")]
    state_dir: Option<PathBuf>,
    /// Use a plugged-in CA in Istio's cacerts layout (ca-cert.pem, ca-key.pem,
    /// cert-chain.pem, root-cert.pem) instead of the state directory's.
    #[arg(long, value_name = "DIR", conflicts_with = "state_dir")]
    cacerts: Option<PathBuf>,
    /// The identity, e.g. spiffe://cluster.local/ns/default/sa/web. Its trust domain is the
    /// CA's.
    #[arg(long, value_name = "ID")]
    spiffe_id: String,
    /// Lifetime of the certificate (e.g. 1h, 30m, 7d).
    #[arg(long, default_value = "24h", value_parser = duration::parse)]
    ttl: Duration,
    /// Directory to write the files to (created if missing).
    #[arg(long, value_name = "OUTDIR")]
    out: PathBuf,
}

#[derive(ClapArgs)]
pub struct InspectArgs {
    /// A PEM file with one or more certificates (a chain: leaf first).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub fn run(cmd: &Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Issue(args) => issue(args),
        Command::Inspect(args) => inspect_file(&args.file),
        Command::Token(args) => token(args),
    }
}

fn issue(args: &IssueArgs) -> anyhow::Result<ExitCode> {
    let id = SpiffeId::parse(&args.spiffe_id)
        .with_context(|| format!("--spiffe-id {:?}", args.spiffe_id))?;
    let td = id.trust_domain().clone();
    let ca = match (&args.cacerts, &args.state_dir) {
        (Some(dir), _) => Ca::load_cacerts(dir, td)
            .with_context(|| format!("loading the CA from {}", dir.display()))?,
        (None, Some(dir)) => {
            let (ca, created) = Ca::load_or_create(dir, td)
                .with_context(|| format!("loading the CA from {}", dir.display()))?;
            if created {
                eprintln!(
                    "verimesh: created a new self-signed root CA in {}",
                    dir.join(verimesh_identity::ca::STATE_SUBDIR).display()
                );
            }
            ca
        }
        (None, None) => anyhow::bail!("give --state-dir or --cacerts"),
    };
    // An operator issuing by hand may exceed the workloads' maximum lifetime.
    let ca = ca.with_ttls(
        verimesh_identity::ca::DEFAULT_WORKLOAD_TTL,
        args.ttl
            .max(verimesh_identity::ca::DEFAULT_MAX_WORKLOAD_TTL),
    );
    let (issued, key) = ca.issue(&id, Some(args.ttl))?;
    write_out(&args.out, &issued.chain_pem(), &key, &issued.roots_pem())?;
    println!(
        "Issued {id}, valid for {}s; wrote {}",
        args.ttl.as_secs(),
        ["cert-chain.pem", "key.pem", "root-cert.pem"]
            .map(|f| args.out.join(f).display().to_string())
            .join(", ")
    );
    Ok(ExitCode::SUCCESS)
}

fn token(args: &TokenArgs) -> anyhow::Result<ExitCode> {
    let td = verimesh_identity::TrustDomain::new(&args.trust_domain).context("--trust-domain")?;
    let store = verimesh_control::tokens::TokenStore::new(&args.state_dir, td);
    println!("{}", store.add(&args.namespace, &args.service_account)?);
    Ok(ExitCode::SUCCESS)
}

fn write_out(dir: &Path, chain: &str, key: &str, roots: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    pem::write_file(&dir.join("cert-chain.pem"), chain, 0o644)?;
    pem::write_file(&dir.join("key.pem"), key, 0o600)?;
    pem::write_file(&dir.join("root-cert.pem"), roots, 0o644)?;
    Ok(())
}

fn inspect_file(file: &Path) -> anyhow::Result<ExitCode> {
    let text = pem::read(file)?;
    let summaries = inspect::summarize_pem(&text).with_context(|| file.display().to_string())?;
    print!("{}", inspect::render(&summaries));
    Ok(ExitCode::SUCCESS)
}
