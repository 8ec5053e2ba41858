//! The running mesh the scenarios share: one `verimesh up` (seconds to start), whose config
//! directory is edited between scenarios; requests are sent with `verimesh exec`.

use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The sub-directory of the config directory that holds the current scenario's files.
const SCENARIO_DIR: &str = "scenario";

pub struct Mesh {
    exe: PathBuf,
    config: PathBuf,
    state: PathBuf,
    child: Option<Child>,
    /// Each app's first replica by (namespace, Deployment): its name in the run (what
    /// `verimesh exec` and the log files use) and address, from the run's state.
    replicas: BTreeMap<(String, String), (String, IpAddr)>,
    /// The scenario files in place: applying the same set again changes nothing on disk,
    /// so the control plane would not reload (and `generation` would not advance).
    current: Vec<(String, String)>,
}

fn status(state: &Path) -> serde_json::Value {
    std::fs::read_to_string(state.join("status.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

impl Mesh {
    /// Runs `verimesh up CONFIG` and waits for `ready`.
    pub fn start(config: &Path, state: &Path, run: &str, subnet: &str) -> anyhow::Result<Mesh> {
        let exe = std::env::current_exe().context("locating the verimesh binary")?;
        // Its stderr is kept for the error below (a leftover run of the same name, …).
        let stderr_path = config.with_extension("up.stderr.log");
        let stderr = std::fs::File::create(&stderr_path)?;
        let mut child = Command::new(&exe)
            .arg("up")
            .arg(config)
            .args(["--name", run, "--subnet", subnet, "--state-dir"])
            .arg(state)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting verimesh up")?;
        let out = child.stdout.take().context("verimesh up has no stdout")?;
        let mut mesh = Mesh {
            exe,
            config: config.to_path_buf(),
            state: state.to_path_buf(),
            child: Some(child),
            replicas: BTreeMap::new(),
            current: Vec::new(),
        };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        loop {
            match lines.recv_timeout(Duration::from_millis(200)) {
                Ok(l) if l == "ready" => break,
                Ok(l) => seen.push(l),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(_) => {
                    let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    let tail: Vec<&str> = err.lines().rev().take(10).collect();
                    bail!(
                        "verimesh up did not become ready (logs in {}/logs):\n{}\n{}",
                        state.display(),
                        seen.join("\n"),
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                    )
                }
            }
        }
        let run = verimesh_local::State::load(state)?.context("the run's state.json")?;
        for w in run.workloads.iter().filter(|w| w.replica == 0) {
            // `up` names a Deployment `name.namespace` in the run when the name recurs.
            let suffix = format!(".{}", w.namespace);
            let deployment = w.deployment.strip_suffix(&suffix).unwrap_or(&w.deployment);
            mesh.replicas.insert(
                (w.namespace.clone(), deployment.to_string()),
                (w.name.clone(), IpAddr::V4(w.address)),
            );
        }
        Ok(mesh)
    }

    /// The first replica of a Deployment: (name in the run, address).
    pub fn replica(&self, ns: &str, deployment: &str) -> anyhow::Result<(&str, IpAddr)> {
        self.replicas
            .get(&(ns.to_string(), deployment.to_string()))
            .map(|(n, a)| (n.as_str(), *a))
            .with_context(|| format!("no replica of {ns}/{deployment} in the run"))
    }

    /// Replaces the scenario's files with `files` and waits until the control plane has
    /// loaded them (its `generation` advanced) without error and every proxy ACKed.
    pub fn apply(&mut self, files: &[(String, String)]) -> anyhow::Result<()> {
        if files == self.current.as_slice() {
            return Ok(());
        }
        self.current = files.to_vec();
        let before = status(&self.state)["generation"].as_u64().unwrap_or(0);
        // Staged next to the config directory and renamed in, so the watcher sees the
        // whole set at once.
        let staged = self.config.with_extension("staged");
        let _ = std::fs::remove_dir_all(&staged);
        std::fs::create_dir_all(&staged)?;
        for (name, text) in files {
            std::fs::write(staged.join(name), text)?;
        }
        let live = self.config.join(SCENARIO_DIR);
        let _ = std::fs::remove_dir_all(&live);
        std::fs::rename(&staged, &live)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = status(&self.state);
            if s["generation"].as_u64().unwrap_or(0) > before {
                if let Some(e) = s["configError"].as_str() {
                    bail!("the control plane refused the scenario's files: {e}");
                }
                let synced = s["proxies"]
                    .as_array()
                    .is_some_and(|p| p.iter().all(|x| x["inSync"] == true));
                if synced {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("the proxies did not sync within 20 s: {s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The proxy's log (stdout and stderr) of a replica.
    pub fn proxy_log(&self, replica: &str) -> String {
        ["stdout", "stderr"]
            .iter()
            .filter_map(|s| {
                let f = format!("{replica}.proxy.{s}.log");
                std::fs::read_to_string(self.state.join("logs").join(f)).ok()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Runs `cmd` in a replica; (exit code, stdout).
    pub fn exec(&self, replica: &str, cmd: &[String]) -> anyhow::Result<(i32, String)> {
        let out = Command::new(&self.exe)
            .arg("exec")
            .arg("--state-dir")
            .arg(&self.state)
            .arg(replica)
            .arg("--")
            .args(cmd)
            .stderr(Stdio::null())
            .output()
            .context("running verimesh exec")?;
        Ok((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ))
    }
}

impl Drop for Mesh {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGINT: `up` tears down what it created.
            let _ = Command::new("kill")
                .args(["-INT", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever is left (an `up` that had to be killed).
        let _ = Command::new(&self.exe)
            .arg("down")
            .arg("--state-dir")
            .arg(&self.state)
            .output();
    }
}

/// Serves one document over plain HTTP on the host side of the mesh's bridge, where every
/// workload's proxy can reach it: the tasks' JWKS, which they fetch from GitHub over https.
pub struct JwksServer {
    pub url: String,
}

impl JwksServer {
    pub fn start(addr: IpAddr, body: String) -> anyhow::Result<JwksServer> {
        let listener = std::net::TcpListener::bind((addr, 0))
            .with_context(|| format!("serving the JWKS on {addr}"))?;
        let url = format!("http://{}/jwks.json", listener.local_addr()?);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve_one(stream, &body);
            }
        });
        Ok(JwksServer { url })
    }
}

fn serve_one(mut stream: std::net::TcpStream, body: &str) {
    use std::io::{Read, Write};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    // The request itself does not matter: every path is the JWKS.
    let mut buf = [0u8; 4096];
    let _ = stream.read(&mut buf);
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
}
