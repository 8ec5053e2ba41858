//! The workloads Istio's security tasks run against, as manifests for `verimesh up`:
//! namespaces foo and bar (sidecars) and legacy (no sidecar), each with Istio's `httpbin`
//! sample (Service port 8000 named http, container port 8080) and a `curl` client that only
//! sleeps (the task `kubectl exec`s curl in it); in foo also the `tcp-echo` sample (9000,
//! 9001 in the Service, 9002 only on the pod) and an authorizer with the contract of the
//! `ext-authz` sample, plus the mesh config naming it as extension providers; bookinfo
//! in `default` for the authz-http task; and Istio's ingress gateway in `istio-system`.
//! Deployments keep the samples' names (`httpbin` in three namespaces: `up` names their
//! replicas `httpbin.foo-0`, …).

use std::fmt::Write as _;

pub const NAMESPACES: [&str; 3] = ["foo", "bar", "legacy"];

/// Istio's sample mesh config for the ext-authz task: the same two providers.
const MESH_CONFIG: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |-
    extensionProviders:
    - name: sample-ext-authz-grpc
      envoyExtAuthzGrpc:
        service: ext-authz.foo.svc.cluster.local
        port: 9000
    - name: sample-ext-authz-http
      envoyExtAuthzHttp:
        service: ext-authz.foo.svc.cluster.local
        port: 8000
        includeRequestHeadersInCheck: ["x-ext-authz"]
"#;

/// Istio's ingress gateway as the default installation profile names and labels it,
/// deployed the way Istio documents for gateways (injection template `gateway`, the proxy
/// as the only container); its Service maps 80 to the pod's 8080 as Istio's does.
const INGRESS_GATEWAY: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: istio-ingressgateway-service-account
  namespace: istio-system
---
apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-system
  labels:
    app: istio-ingressgateway
    istio: ingressgateway
spec:
  type: LoadBalancer
  selector:
    istio: ingressgateway
  ports:
  - name: http2
    port: 80
    targetPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-ingressgateway
  namespace: istio-system
spec:
  replicas: 1
  selector:
    matchLabels:
      istio: ingressgateway
  template:
    metadata:
      annotations:
        inject.istio.io/templates: gateway
      labels:
        app: istio-ingressgateway
        istio: ingressgateway
        sidecar.istio.io/inject: "true"
    spec:
      serviceAccountName: istio-ingressgateway-service-account
      containers:
      - name: istio-proxy
        image: auto
"#;

/// Where the ingress gateway's pod serves the Service's port 80.
pub const INGRESS_POD_PORT: u16 = 8080;

struct App<'a> {
    name: &'a str,
    ns: &'a str,
    service_account: Option<&'a str>,
    /// Service ports: (name, port, targetPort).
    ports: &'a [(&'a str, u16, u16)],
    /// Runs without a sidecar (`sidecar.istio.io/inject: "false"`), as in `legacy` and as
    /// Istio's ext-authz sample deploys its authorizer.
    no_sidecar: bool,
    command: &'a [&'a str],
}

fn app(out: &mut String, a: &App) {
    let sa = a.service_account.unwrap_or("default");
    if let Some(sa) = a.service_account {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {sa}\n  namespace: {}\n",
            a.ns
        );
    }
    if !a.ports.is_empty() {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {n}\n  namespace: {ns}\n  \
             labels:\n    app: {n}\n    service: {n}\nspec:\n  selector:\n    app: {n}\n  ports:\n",
            n = a.name,
            ns = a.ns
        );
        for (name, port, target) in a.ports {
            let _ = writeln!(
                out,
                "  - name: {name}\n    port: {port}\n    targetPort: {target}"
            );
        }
    }
    // Workloads in `legacy` run without a sidecar, as the tasks deploy them there.
    let inject = if a.ns == "legacy" || a.no_sidecar {
        "\n        sidecar.istio.io/inject: \"false\""
    } else {
        ""
    };
    let command: Vec<String> = a.command.iter().map(|c| format!("{c:?}")).collect();
    let _ = write!(
        out,
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {n}\n  namespace: {ns}\n\
         spec:\n  replicas: 1\n  selector:\n    matchLabels:\n      app: {n}\n  template:\n    \
         metadata:\n      labels:\n        app: {n}\n        version: v1{inject}\n    spec:\n      \
         serviceAccountName: {sa}\n      containers:\n      - name: {n}\n        image: local\n        \
         command: [{cmd}]\n",
        n = a.name,
        ns = a.ns,
        cmd = command.join(", ")
    );
}

/// Istio's bookinfo in `default`, as the authz-http task deploys it, played by the demo app;
/// reviews only as v2 (black stars), so every page calls ratings.
fn bookinfo() -> String {
    let mut y = String::new();
    for (name, version) in [
        ("productpage", "v1"),
        ("details", "v1"),
        ("reviews", "v2"),
        ("ratings", "v1"),
    ] {
        let sa = format!("bookinfo-{name}");
        app(
            &mut y,
            &App {
                name,
                ns: "default",
                service_account: Some(&sa),
                ports: &[("http", 9080, 9080)],
                no_sidecar: false,
                command: &[
                    "verimesh",
                    "demo-app",
                    "--role",
                    name,
                    "--version",
                    version,
                    "--port",
                    "9080",
                ],
            },
        );
    }
    y
}

/// The base manifests, as (file name, YAML).
pub fn files() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for ns in NAMESPACES {
        let mut y = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n");
        app(
            &mut y,
            &App {
                name: "httpbin",
                ns,
                service_account: Some("httpbin"),
                ports: &[("http", 8000, 8080)],
                no_sidecar: false,
                command: &["verimesh", "demo-app", "--port", "8080"],
            },
        );
        app(
            &mut y,
            &App {
                name: "curl",
                ns,
                service_account: Some("curl"),
                ports: &[("http", 80, 80)],
                no_sidecar: false,
                command: &["sleep", "1000000"],
            },
        );
        if ns == "foo" {
            app(
                &mut y,
                &App {
                    name: "tcp-echo",
                    ns,
                    service_account: None,
                    ports: &[("tcp", 9000, 9000), ("tcp-other", 9001, 9001)],
                    no_sidecar: false,
                    command: &[
                        "verimesh",
                        "demo-app",
                        "--port",
                        "8080",
                        "--tcp-echo-port",
                        "9000",
                        "--tcp-echo-port",
                        "9001",
                        "--tcp-echo-port",
                        "9002",
                    ],
                },
            );
            app(
                &mut y,
                &App {
                    name: "ext-authz",
                    ns,
                    service_account: None,
                    // As samples/extauthz/ext-authz.yaml: HTTP on 8000, gRPC on 9000, and
                    // no sidecar.
                    ports: &[("http", 8000, 8000), ("grpc", 9000, 9000)],
                    no_sidecar: true,
                    command: &[
                        "verimesh",
                        "demo-app",
                        "--role",
                        "ext-authz",
                        "--port",
                        "8000",
                        "--grpc-port",
                        "9000",
                    ],
                },
            );
        }
        out.push((format!("{ns}.yaml"), y));
    }
    out.push(("bookinfo.yaml".into(), bookinfo()));
    out.push(("istio-ingressgateway.yaml".into(), INGRESS_GATEWAY.into()));
    out.push(("mesh-config.yaml".into(), MESH_CONFIG.into()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifests_load_without_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files() {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let loaded = verimesh_config::load_paths(&[dir.path()]);
        let errors: Vec<String> = loaded
            .diagnostics
            .iter()
            .filter(|d| d.level == verimesh_config::Level::Error)
            .map(ToString::to_string)
            .collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert!(loaded.unusable.is_empty(), "{:?}", loaded.unusable);
    }
}
