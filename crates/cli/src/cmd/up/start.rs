//! Bringing the plan up: namespaces and addresses, virtual IPs and names, the control plane
//! (in a namespace of its own), then per replica `verimesh iptables`, the sidecar and the
//! app; waiting until every proxy runs its config; supervising until a signal.

use super::plan::{Plan, Replica, TRUST_DOMAIN};
use super::Args;
use anyhow::Context;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::signal::unix::{signal, SignalKind};
use verimesh_control::mesh::MeshStatus;
use verimesh_identity::TrustDomain;
use verimesh_local::{ProcessHandle, ProcessSpec, Run, RunOptions, ServiceEntry, WorkloadSpec};

const PROXY_UID: u32 = 1337;
const CONTROL_PORT: u16 = 15012;
const CONTROL_DEPLOYMENT: &str = "verimesh-control";
const CONTROL_NAMESPACE: &str = "verimesh-system";

pub fn run(args: &Args, dir: &Path, mut plan: Plan) -> anyhow::Result<ExitCode> {
    // Signals are caught from the start, so that an interrupt during set-up also tears down
    // (the `Run` removes what it created when dropped).
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let _enter = rt.enter();
        let mut term = signal(SignalKind::terminate()).context("installing signal handlers")?;
        let mut int = signal(SignalKind::interrupt()).context("installing signal handlers")?;
        let stop = stop.clone();
        rt.spawn(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            stop.store(true, Ordering::SeqCst);
        });
    }
    let exe = std::env::current_exe().context("locating the verimesh binary")?;
    let exe = exe.display().to_string();
    let mut opts = RunOptions::new(&args.name)?;
    opts.subnet = args.subnet;
    if let Some(d) = &args.state_dir {
        opts.state_dir = d.clone();
    }
    let mut run = Run::create(opts)?;
    let state = run.state_dir().to_path_buf();
    // The proxies (uid 1337) read the root certificate and their token under it.
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o711))?;

    // The control plane's namespace first, so it gets the first address.
    let control = run.add_workload(&WorkloadSpec::new(CONTROL_DEPLOYMENT, 0, CONTROL_NAMESPACE))?;
    let control_addr = std::net::SocketAddr::new(IpAddr::V4(control.address), CONTROL_PORT);
    let mut nets = BTreeMap::new();
    for r in &plan.replicas {
        let net = run.add_workload(&WorkloadSpec::new(&r.local_name, r.index, &r.namespace))?;
        nets.insert((r.namespace.clone(), r.deployment.clone(), r.index), net);
    }
    for inst in &mut plan.placement.instances {
        let key = (
            inst.namespace.clone(),
            inst.deployment.clone().unwrap_or_default(),
            index_of(&inst.name),
        );
        if let Some(net) = nets.get(&key) {
            inst.address = IpAddr::V4(net.address);
        }
    }
    let keys: Vec<String> = plan
        .services
        .iter()
        .map(|(ns, n)| format!("{ns}/{n}"))
        .collect();
    let vips = run.addressing().assign_services(&keys)?;
    let mut entries = Vec::new();
    for (ns, name) in &plan.services {
        if let Some(vip) = vips.get(&format!("{ns}/{name}")) {
            plan.placement
                .service_addresses
                .insert(format!("{ns}/{name}"), vec![IpAddr::V4(*vip)]);
            entries.push(ServiceEntry {
                name: name.clone(),
                namespace: ns.clone(),
                vip: *vip,
            });
        }
    }
    run.set_services(&entries)?;

    // The control plane's state: its CA (created now, so the root can be handed out),
    // bootstrap tokens, the placement it compiles for.
    let control_state = state.join("control");
    std::fs::create_dir_all(&control_state)?;
    let td = TrustDomain::new(TRUST_DOMAIN)?;
    let ca_opts = verimesh_control::ControlOptions {
        state_dir: control_state.clone(),
        cacerts: None,
        trust_domain: td.clone(),
        listen: control_addr,
        workload_ttl: Duration::from_secs(24 * 3600),
    };
    let ca = verimesh_control::load_ca(&ca_opts)?;
    let root = state.join("root-cert.pem");
    std::fs::write(&root, ca.trust_bundle().to_pem())?;
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o644))?;
    let placement_file = state.join("placement.json");
    std::fs::write(&placement_file, serde_json::to_vec_pretty(&plan.placement)?)?;
    let status_file = state.join("status.json");
    let _ = std::fs::remove_file(&status_file);
    let control_spec = ProcessSpec {
        name: "control".into(),
        program: exe.clone(),
        args: vec![
            "control".into(),
            "--state-dir".into(),
            control_state.display().to_string(),
            "--listen".into(),
            control_addr.to_string(),
            "--config".into(),
            dir.display().to_string(),
            "--placement".into(),
            placement_file.display().to_string(),
            "--status-file".into(),
            status_file.display().to_string(),
        ],
        ..ProcessSpec::default()
    };
    let mut control_proc = run.spawn(&control.name, &control_spec)?;
    run.set_ready(&control.name, true)?;

    let tokens = verimesh_control::tokens::TokenStore::new(&control_state, td);
    let token_dir = state.join("tokens");
    std::fs::create_dir_all(&token_dir)?;
    std::fs::set_permissions(&token_dir, std::fs::Permissions::from_mode(0o711))?;
    let sidecar = SidecarEnv {
        exe: exe.clone(),
        control: control_addr.to_string(),
        root: root.clone(),
        token_dir: token_dir.clone(),
        tokens,
    };
    let mut table = Vec::new();
    let mut proxied = Vec::new();
    let mut held = Vec::new();
    for r in &plan.replicas {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Some(net) = nets.get(&(r.namespace.clone(), r.deployment.clone(), r.index)) else {
            continue;
        };
        if r.gateway {
            start_gateway(&mut run, &net.name, r, &sidecar)?;
            proxied.push((net.name.clone(), (r.namespace.clone(), r.proxy_name())));
            table.push((
                net.name.clone(),
                r.namespace.clone(),
                net.address,
                format!(
                    "spiffe://{TRUST_DOMAIN}/ns/{}/sa/{} (gateway)",
                    r.namespace, r.service_account
                ),
            ));
            continue;
        }
        if r.sidecar {
            start_sidecar(&mut run, &net.name, r, &sidecar)?;
        }
        let (program, rest) = match r.command.split_first() {
            Some((p, rest)) if p == "verimesh" => (exe.clone(), rest.to_vec()),
            Some((p, rest)) => (p.clone(), rest.to_vec()),
            None => continue,
        };
        let app = ProcessSpec {
            name: "app".into(),
            program,
            args: rest,
            env: r.env.clone(),
            ..ProcessSpec::default()
        };
        if r.sidecar && r.hold_application {
            let wait = hold_until_proxy_ready(&mut run, &net.name, &sidecar, args.ready_timeout)?;
            held.push(Held {
                net: net.name.clone(),
                app,
                wait,
            });
        } else {
            run.spawn(&net.name, &app)?;
        }
        // A workload without a sidecar has no mesh identity and nothing to wait for.
        let identity = if r.sidecar {
            proxied.push((net.name.clone(), (r.namespace.clone(), r.proxy_name())));
            format!(
                "spiffe://{TRUST_DOMAIN}/ns/{}/sa/{}",
                r.namespace, r.service_account
            )
        } else {
            "(no sidecar)".to_string()
        };
        table.push((net.name.clone(), r.namespace.clone(), net.address, identity));
    }

    start_held(&mut run, held, args.ready_timeout, &stop)?;

    let keys: Vec<(String, String)> = proxied.iter().map(|p| p.1.clone()).collect();
    let synced = wait_ready(&status_file, &keys, args.ready_timeout, &stop);
    let ready: Vec<String> = table
        .iter()
        .map(|t| &t.0)
        .filter(|name| match proxied.iter().find(|p| &p.0 == *name) {
            Some((_, key)) => synced.contains(key),
            None => true,
        })
        .cloned()
        .collect();
    for (name, ..) in &table {
        if ready.contains(name) {
            run.set_ready(name, true)?;
        }
    }
    print_table(&table, &ready, &control_addr.to_string());
    let out = std::io::stdout();
    if ready.len() == table.len() {
        let _ = writeln!(out.lock(), "ready");
    } else {
        let _ = writeln!(
            out.lock(),
            "not ready after {:?}: see {}/logs",
            args.ready_timeout,
            state.display()
        );
    }
    let _ = out.lock().flush();

    let exits = run.take_exit_events();
    rt.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            if stop.load(Ordering::SeqCst) {
                return anyhow::Ok(());
            }
            if let Some(rx) = &exits {
                while let Ok(e) = rx.try_recv() {
                    eprintln!(
                        "verimesh up: {} {} exited: {}",
                        e.workload, e.name, e.status
                    );
                }
            }
            // The control plane is restarted when it dies; proxies keep serving their last
            // config meanwhile and resync when it is back.
            if control_proc.status().is_some() {
                eprintln!("verimesh up: restarting the control plane");
                control_proc = run.spawn(&control.name, &control_spec)?;
            }
        }
    })?;
    eprintln!("verimesh up: stopping: tearing down");
    let report = run.teardown()?;
    eprintln!("verimesh up: down ({report:?})");
    Ok(ExitCode::SUCCESS)
}

fn index_of(replica: &str) -> u32 {
    replica
        .rsplit_once('-')
        .and_then(|(_, i)| i.parse().ok())
        .unwrap_or(0)
}

/// Token files are secrets readable only by the proxy's uid.
fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    std::os::unix::fs::chown(path, Some(PROXY_UID), Some(PROXY_UID))?;
    Ok(())
}

/// An application waiting for its proxy (`holdApplicationUntilProxyStarts`).
struct Held {
    net: String,
    app: ProcessSpec,
    /// `verimesh wait`, running in the workload's namespace.
    wait: ProcessHandle,
}

/// Istio's hold: `verimesh wait` (its `pilot-agent wait`) polls the proxy's `/ready` from
/// inside the workload's namespace; the application starts when it succeeds.
fn hold_until_proxy_ready(
    run: &mut Run,
    net: &str,
    env: &SidecarEnv,
    timeout: Duration,
) -> anyhow::Result<ProcessHandle> {
    let timeout = format!("{}s", timeout.as_secs().max(1));
    let spec = ProcessSpec::new("wait", &env.exe, &["wait", "--timeout", &timeout]);
    Ok(run.spawn(net, &spec)?)
}

/// Starts each held application once its proxy is ready; one whose proxy never gets there
/// stays unstarted, as a pod's application container would, and is reported.
fn start_held(
    run: &mut Run,
    held: Vec<Held>,
    timeout: Duration,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout + Duration::from_secs(5);
    for h in held {
        let outcome = exit_or_stop(&h.wait, deadline, stop);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match outcome {
            Some(status) if status.success() => {
                run.spawn(&h.net, &h.app)?;
            }
            outcome => {
                let why = match outcome {
                    Some(status) => format!("`verimesh wait` {status}"),
                    None => format!("no answer within {timeout:?}"),
                };
                eprintln!(
                    "verimesh up: {}: its proxy did not start ({why}); the application is held \
                     (holdApplicationUntilProxyStarts): see the workload's logs",
                    h.net
                );
            }
        }
    }
    Ok(())
}

/// The exit status of `process`, or None at `deadline` or when `stop` is set first.
fn exit_or_stop(
    process: &ProcessHandle,
    deadline: Instant,
    stop: &AtomicBool,
) -> Option<std::process::ExitStatus> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let status = process.wait_timeout(left.min(Duration::from_millis(200)));
        if status.is_some() || left.is_zero() || stop.load(Ordering::SeqCst) {
            return status;
        }
    }
}

/// The proxies, as (namespace, name), that are connected and have ACKed their config,
/// waiting up to `timeout` for all of `keys`.
fn wait_ready(
    status: &Path,
    keys: &[(String, String)],
    timeout: Duration,
    stop: &AtomicBool,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + timeout;
    loop {
        let ready: Vec<(String, String)> = MeshStatus::read(status)
            .map(|s| {
                s.proxies
                    .iter()
                    .filter(|p| p.in_sync)
                    .map(|p| (p.namespace.clone(), p.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let all = keys.iter().all(|k| ready.contains(k));
        if all || Instant::now() > deadline || stop.load(Ordering::SeqCst) {
            return ready;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn print_table(table: &[(String, String, Ipv4Addr, String)], ready: &[String], control: &str) {
    let w = table.iter().map(|t| t.0.len()).max().unwrap_or(4).max(4);
    println!("control plane at {control}");
    println!(
        "{:<w$}  {:<15}  {:<5}  SPIFFE ID",
        "NAME", "ADDRESS", "READY"
    );
    for (name, _, addr, id) in table {
        let r = if ready.contains(name) { "yes" } else { "no" };
        println!("{name:<w$}  {:<15}  {r:<5}  {id}", addr.to_string());
    }
}

/// What every sidecar needs from the run: the binary, the control plane, the CA root and
/// where bootstrap tokens go.
struct SidecarEnv {
    exe: String,
    control: String,
    root: std::path::PathBuf,
    token_dir: std::path::PathBuf,
    tokens: verimesh_control::tokens::TokenStore,
}

/// A gateway replica: its proxy, as the proxy uid, allowed to bind the low ports Gateways
/// name (80, 443) the way Istio's gateway pods are, by the namespace's
/// `ip_unprivileged_port_start` rather than by running as root.
fn start_gateway(run: &mut Run, net: &str, r: &Replica, env: &SidecarEnv) -> anyhow::Result<()> {
    let sysctl = ProcessSpec::new(
        "sysctl",
        "/bin/sh",
        &[
            "-c",
            "echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start",
        ],
    );
    match run
        .spawn(net, &sysctl)?
        .wait_timeout(Duration::from_secs(10))
    {
        Some(s) if s.success() => {}
        other => anyhow::bail!("{net}: allowing the gateway its ports failed: {other:?}"),
    }
    let token = env.tokens.add(&r.namespace, &r.service_account)?;
    let token_file = env.token_dir.join(format!("{net}.token"));
    write_secret(&token_file, &token)?;
    run.spawn(net, &proxy_spec(env, r, &token_file))?;
    Ok(())
}

/// `verimesh proxy` connected to the control plane, as the proxy uid.
fn proxy_spec(env: &SidecarEnv, r: &Replica, token_file: &Path) -> ProcessSpec {
    ProcessSpec {
        name: "proxy".into(),
        program: env.exe.clone(),
        args: [
            "proxy",
            "--control",
            &env.control,
            "--ca-root",
            &env.root.display().to_string(),
            "--token-file",
            &token_file.display().to_string(),
            "--namespace",
            &r.namespace,
            "--name",
            &r.proxy_name(),
            "--service-account",
            &r.service_account,
        ]
        .iter()
        .map(|s| s.to_string())
        .chain(
            r.concurrency
                .into_iter()
                .flat_map(|n| ["--concurrency".to_string(), n.to_string()]),
        )
        .collect(),
        uid: Some(PROXY_UID),
        gid: Some(PROXY_UID),
        ..ProcessSpec::default()
    }
}

/// A replica's mesh half, Istio's init container and sidecar: a bootstrap token,
/// `verimesh iptables` (waited for) and `verimesh proxy` as the proxy uid.
fn start_sidecar(run: &mut Run, net: &str, r: &Replica, env: &SidecarEnv) -> anyhow::Result<()> {
    let token = env.tokens.add(&r.namespace, &r.service_account)?;
    let token_file = env.token_dir.join(format!("{net}.token"));
    write_secret(&token_file, &token)?;
    let iptables = run.spawn(net, &ProcessSpec::new("iptables", &env.exe, &["iptables"]))?;
    match iptables.wait_timeout(Duration::from_secs(20)) {
        Some(s) if s.success() => {}
        other => anyhow::bail!("{net}: verimesh iptables failed: {other:?}"),
    }
    run.spawn(net, &proxy_spec(env, r, &token_file))?;
    Ok(())
}
