//! One request of a scenario, sent the way Istio's task sends it (`curl` or a TCP line from
//! the client namespace's `curl` workload), and its outcome in the task's terms.

use super::live::Mesh;
use super::scenarios::{Check, To, Token};

/// The two demo tokens of Istio's samples.
pub struct Tokens {
    pub demo: String,
    pub groups: String,
}

/// What came back: the HTTP status as curl prints it (`000` when the connection failed),
/// or for TCP `echo` / `refused`; plus what the report shows beside it.
pub struct Outcome {
    pub got: String,
    pub detail: String,
    pub body_ok: bool,
}

/// Where the client connects. A client without a sidecar (legacy) has no proxy to route a
/// Service's virtual IP, and `verimesh up` has no kube-proxy, so it dials the pod's address
/// and target port, which is where kube-proxy would send it.
fn authority(mesh: &Mesh, check: &Check) -> anyhow::Result<String> {
    Ok(match &check.to {
        To::Service {
            app,
            ns,
            port,
            target,
        } => {
            if check.from == "legacy" {
                format!("{}:{target}", mesh.replica(ns, app)?.1)
            } else {
                format!("{app}.{ns}:{port}")
            }
        }
        To::Pod { app, ns, port } => format!("{}:{port}", mesh.replica(ns, app)?.1),
        // `$INGRESS_HOST:$INGRESS_PORT`: the gateway pod, where its Service's 80 goes.
        To::Ingress => format!(
            "{}:{}",
            mesh.replica("istio-system", "istio-ingressgateway")?.1,
            super::mesh::INGRESS_POD_PORT
        ),
        // Istio's deployment for a Gateway API Gateway listens on the listener's port.
        To::ApiIngress => format!("{}:80", mesh.replica("foo", "httpbin-gateway-istio")?.1),
    })
}

/// `curl.foo → httpbin.foo:8000 GET /ip [x-token: admin]`, for the report.
pub fn describe(check: &Check) -> String {
    let to = match &check.to {
        To::Service { app, ns, port, .. } => format!("{app}.{ns}:{port}"),
        To::Pod { app, ns, port } => format!("{app}.{ns} pod:{port}"),
        To::Ingress => "ingress gateway".to_string(),
        To::ApiIngress => "Gateway API gateway".to_string(),
    };
    match &check.http {
        None => format!("{}.{} → {to} TCP", check.client, check.from),
        Some(h) => {
            let mut s = format!(
                "{}.{} → {to} {} {}",
                check.client, check.from, h.method, h.path
            );
            for (k, v) in &h.headers {
                s.push_str(&format!(" [{k}: {v}]"));
            }
            match h.token {
                Token::None => {}
                Token::Invalid => s.push_str(" [invalid token]"),
                Token::Demo => s.push_str(" [demo.jwt]"),
                Token::Groups => s.push_str(" [groups-scope.jwt]"),
            }
            s
        }
    }
}

fn squeeze(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase()
}

pub fn send(mesh: &Mesh, tokens: &Tokens, check: &Check) -> anyhow::Result<Outcome> {
    let client = mesh.replica(check.from, check.client)?.0;
    let target = authority(mesh, check)?;
    let Some(h) = &check.http else {
        let (host, port) = target.rsplit_once(':').unwrap_or((&target, ""));
        // No nc in the base system: bash's /dev/tcp, as the task's `nc` would, sends a line
        // and reads the echo.
        let script = format!(
            "exec 3<>/dev/tcp/{host}/{port} || exit 7; echo 'port {port}' >&3; \
             read -t 3 line <&3; echo \"$line\""
        );
        let (code, out) = mesh.exec(client, &["bash".into(), "-c".into(), script])?;
        let got = if out.contains("hello") {
            "echo"
        } else {
            "refused"
        };
        return Ok(Outcome {
            got: got.into(),
            detail: format!("exit {code}, {:?}", out.trim()),
            body_ok: true,
        });
    };
    let mut cmd: Vec<String> = [
        "curl",
        "-s",
        "-m",
        "5",
        "-w",
        "\n%{http_code}",
        "-X",
        h.method,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (k, v) in &h.headers {
        cmd.push("-H".into());
        cmd.push(format!("{k}: {v}"));
    }
    let token = match h.token {
        Token::None => None,
        Token::Invalid => Some("invalidToken"),
        Token::Demo => Some(tokens.demo.as_str()),
        Token::Groups => Some(tokens.groups.as_str()),
    };
    if let Some(t) = token {
        cmd.push("-H".into());
        cmd.push(format!("Authorization: Bearer {t}"));
    }
    cmd.push(format!("http://{target}{}", h.path));
    let (code, out) = mesh.exec(client, &cmd)?;
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", out.as_str()));
    let body_ok = h
        .body_contains
        .is_none_or(|want| squeeze(body).contains(&squeeze(want)));
    let mut detail = format!("curl exit {code}");
    if !body.is_empty() {
        let short: String = body.chars().take(160).collect();
        detail.push_str(&format!(", body {:?}", short.trim()));
    }
    Ok(Outcome {
        got: status.trim().to_string(),
        detail,
        body_ok,
    })
}
