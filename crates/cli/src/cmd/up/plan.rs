//! What `up` will run, read from the manifests: every Deployment replica with its
//! container, service account and labels, and the placement the control plane compiles for.

use super::proxy_config::ProxySettings;
use std::collections::BTreeMap;
use std::path::Path;
use verimesh_analyze::Snapshot;
use verimesh_compiler::Placement;
use verimesh_config::Kind;

pub const TRUST_DOMAIN: &str = "cluster.local";

/// One replica to start.
pub struct Replica {
    pub deployment: String,
    /// The Deployment's name in the local run (network namespace, logs, `verimesh exec`):
    /// its own name, or `name.namespace` when Deployments of that name exist in several
    /// namespaces (a run's replica names must be unique; Kubernetes' are per namespace).
    pub local_name: String,
    pub index: u32,
    pub namespace: String,
    pub service_account: String,
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// False when the pod template opts out (`sidecar.istio.io/inject: "false"`): the app
    /// runs without iptables or proxy, like Istio's workloads outside the mesh.
    pub sidecar: bool,
    /// A gateway (`inject.istio.io/templates: gateway`): the proxy alone, serving the ports
    /// its Gateways name; no iptables, no application.
    pub gateway: bool,
    /// The proxy's worker threads when the manifests set them (0: one per core).
    pub concurrency: Option<u32>,
    /// Start the application only once its proxy runs with its config
    /// (`holdApplicationUntilProxyStarts`).
    pub hold_application: bool,
}

impl Replica {
    /// The name the control plane knows the proxy by (the placement's instance name).
    pub fn proxy_name(&self) -> String {
        format!("{}-{}", self.deployment, self.index)
    }
}

pub struct Plan {
    pub placement: Placement,
    pub replicas: Vec<Replica>,
    /// Services as `(namespace, name)`.
    pub services: Vec<(String, String)>,
}

impl Plan {
    /// Loads DIR; any error (with file, line and field) refuses the whole run.
    pub fn load(dir: &Path) -> Result<Plan, Vec<String>> {
        let (loaded, overridden) = verimesh_control::mesh::load_dir(dir)?;
        for w in overridden {
            eprintln!("warning: {w}");
        }
        let mut problems = Vec::new();
        let source = verimesh_analyze::mesh_source::resolve(&loaded, None);
        let mesh_settings = ProxySettings::mesh_default(source.mesh.default_config.as_ref());
        let snap = Snapshot::new(&loaded.resources, source.mesh);
        let mut placement = Placement::synthesize(&snap, TRUST_DOMAIN);
        // Deployments only: a bare Pod manifest has no replica to run here.
        placement.instances.retain(|i| i.deployment.is_some());
        // Deployment names with the namespaces they occur in.
        let placement_names: std::collections::BTreeSet<(String, String)> = placement
            .instances
            .iter()
            .filter_map(|i| Some((i.deployment.clone()?, i.namespace.clone())))
            .collect();
        let mut replicas = Vec::new();
        for inst in &mut placement.instances {
            let Some(deployment) = inst.deployment.clone() else {
                continue;
            };
            let index = inst
                .name
                .strip_prefix(&format!("{deployment}-"))
                .and_then(|i| i.parse().ok())
                .unwrap_or(0);
            // `up` injects a sidecar everywhere unless the pod opts out the way Istio
            // spells it; namespaces need no injection label to be in the local mesh.
            inst.sidecar = !inst.gateway
                && inst
                    .labels
                    .get("sidecar.istio.io/inject")
                    .is_none_or(|v| v != "false");
            let manifest = snap
                .of_kind(Kind::Deployment)
                .iter()
                .find(|r| r.name() == deployment && snap.ns(r) == inst.namespace);
            let container = manifest
                .and_then(|r| r.as_deployment())
                .and_then(|d| d.spec.template.spec.containers.first().cloned());
            let settings = match manifest {
                Some(r) => mesh_settings.for_replica(r),
                None => Ok(mesh_settings),
            };
            let settings = match settings {
                Ok(s) => s,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            // A gateway Istio deploys for a Gateway API Gateway has no manifest here.
            let c = match container {
                Some(c) => c,
                None if inst.gateway => Default::default(),
                None => {
                    problems.push(format!(
                        "{}/{deployment}: the pod template has no container to run",
                        inst.namespace
                    ));
                    continue;
                }
            };
            let command: Vec<String> = c.command.iter().chain(&c.args).cloned().collect();
            // A gateway's container is the proxy itself (`image: auto`); nothing else runs.
            if command.is_empty() && !inst.gateway {
                problems.push(format!(
                    "{}/{deployment}: container {:?} has no command: `up` runs the container's \
                     command and args as a local process (images are not pulled)",
                    inst.namespace, c.name
                ));
                continue;
            }
            let env = c
                .env
                .iter()
                .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
                .collect();
            let shared = placement_names
                .iter()
                .filter(|(n, _)| *n == deployment)
                .count()
                > 1;
            let local_name = if shared {
                format!("{deployment}.{}", inst.namespace)
            } else {
                deployment.clone()
            };
            replicas.push(Replica {
                local_name,
                deployment,
                index,
                namespace: inst.namespace.clone(),
                service_account: inst.service_account.clone(),
                command,
                env,
                sidecar: inst.sidecar,
                gateway: inst.gateway,
                concurrency: settings.concurrency,
                hold_application: settings.hold_application,
            });
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let services = snap
            .of_kind(Kind::Service)
            .iter()
            .map(|r| (snap.ns(r).to_string(), r.name().to_string()))
            .collect();
        Ok(Plan {
            placement,
            replicas,
            services,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: NAME\n  \
        namespace: legacy\nspec:\n  selector:\n    matchLabels:\n      app: NAME\n  template:\n    \
        metadata:\n      labels:\n        app: NAMELABEL\n    spec:\n      containers:\n      \
        - name: c\n        image: local\n        command: [sleep, '100']\n";

    fn replica<'a>(plan: &'a Plan, deployment: &str) -> Option<&'a Replica> {
        plan.replicas.iter().find(|r| r.deployment == deployment)
    }

    /// Regression: `up` started a sidecar for pods that opt out, which the control plane
    /// (rightly) refused as unknown, so `up` never became ready.
    #[test]
    fn a_pod_that_opts_out_gets_no_sidecar() {
        let dir = tempfile::tempdir().expect("tempdir");
        let meshed = TWO.replace("NAMELABEL", "meshed").replace("NAME", "meshed");
        let plain = TWO
            .replace(
                "NAMELABEL",
                "plain\n        sidecar.istio.io/inject: \"false\"",
            )
            .replace("NAME", "plain");
        std::fs::write(dir.path().join("d.yaml"), format!("{meshed}---\n{plain}")).expect("w");
        let plan = Plan::load(dir.path()).expect("plan");
        assert_eq!(replica(&plan, "meshed").map(|r| r.sidecar), Some(true));
        assert_eq!(replica(&plan, "plain").map(|r| r.sidecar), Some(false));
    }

    /// Regression: two Deployments of one name in different namespaces made `up` fail
    /// with `workload "httpbin-0" already exists in this run`.
    #[test]
    fn deployments_of_one_name_in_two_namespaces_get_distinct_local_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = TWO.replace("NAMELABEL", "web").replace("NAME", "web");
        let b = a.replace("namespace: legacy", "namespace: other");
        let c = TWO.replace("NAMELABEL", "solo").replace("NAME", "solo");
        std::fs::write(dir.path().join("d.yaml"), format!("{a}---\n{b}---\n{c}")).expect("w");
        let plan = Plan::load(dir.path()).expect("plan");
        let mut names: Vec<(String, String)> = plan
            .replicas
            .iter()
            .map(|r| (r.local_name.clone(), r.proxy_name()))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("solo".to_string(), "solo-0".to_string()),
                ("web.legacy".to_string(), "web-0".to_string()),
                ("web.other".to_string(), "web-0".to_string()),
            ]
        );
    }

    const MESH: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  \
        namespace: istio-system\ndata:\n  mesh: |\n    defaultConfig:\n      concurrency: 3\n";

    fn with_annotation(name: &str, annotation: &str) -> String {
        TWO.replace("NAMELABEL", name)
            .replace("NAME", name)
            .replace(
                "    metadata:\n",
                &format!(
                "    metadata:\n      annotations:\n        proxy.istio.io/config: {annotation}\n"
            ),
            )
    }

    /// The mesh's `defaultConfig.concurrency` reaches every proxy; a pod's
    /// `proxy.istio.io/config` annotation overrides it, as in Istio.
    #[test]
    fn proxy_concurrency_comes_from_the_pod_annotation_then_the_mesh_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = TWO.replace("NAMELABEL", "plain").replace("NAME", "plain");
        let own = with_annotation("own", "'concurrency: 1'");
        let other = with_annotation("other", "'holdApplicationUntilProxyStarts: true'");
        std::fs::write(
            dir.path().join("d.yaml"),
            format!("{MESH}---\n{plain}---\n{own}---\n{other}"),
        )
        .expect("w");
        let plan = Plan::load(dir.path()).expect("plan");
        let of = |d: &str| replica(&plan, d).map(|r| r.concurrency);
        assert_eq!(of("plain"), Some(Some(3)));
        assert_eq!(of("own"), Some(Some(1)));
        assert_eq!(of("other"), Some(Some(3)));
        let held = |d: &str| replica(&plan, d).map(|r| r.hold_application);
        assert_eq!(held("other"), Some(true));
        assert_eq!(held("own"), Some(false));
        assert_eq!(held("plain"), Some(false));

        // Without a mesh config, the proxy's own default is left alone.
        std::fs::write(dir.path().join("d.yaml"), &plain).expect("w");
        let plan = Plan::load(dir.path()).expect("plan");
        assert_eq!(plan.replicas[0].concurrency, None);
    }

    #[test]
    fn a_concurrency_that_is_not_a_number_is_refused_with_its_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = with_annotation("bad", "'concurrency: lots'");
        std::fs::write(dir.path().join("d.yaml"), &bad).expect("w");
        let problems = match Plan::load(dir.path()) {
            Ok(_) => panic!("a bad concurrency was accepted"),
            Err(p) => p,
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert!(p.contains("d.yaml:12"), "{p}");
        assert!(p.contains("legacy/bad"), "{p}");
        assert!(p.contains("proxy.istio.io/config"), "{p}");
        assert!(p.contains("\"lots\""), "{p}");
    }

    /// `holdApplicationUntilProxyStarts` from the mesh default, overridden per pod.
    #[test]
    fn holding_the_application_comes_from_the_mesh_default_then_the_pod_annotation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mesh = MESH.replace(
            "      concurrency: 3\n",
            "      holdApplicationUntilProxyStarts: true\n",
        );
        let plain = TWO.replace("NAMELABEL", "plain").replace("NAME", "plain");
        let own = with_annotation("own", "'holdApplicationUntilProxyStarts: false'");
        std::fs::write(
            dir.path().join("d.yaml"),
            format!("{mesh}---\n{plain}---\n{own}"),
        )
        .expect("w");
        let plan = Plan::load(dir.path()).expect("plan");
        let held = |d: &str| replica(&plan, d).map(|r| r.hold_application);
        assert_eq!(held("plain"), Some(true));
        assert_eq!(held("own"), Some(false));

        let bad = with_annotation("bad", "'holdApplicationUntilProxyStarts: soon'");
        std::fs::write(dir.path().join("d.yaml"), &bad).expect("w");
        let problems = match Plan::load(dir.path()) {
            Ok(_) => panic!("a hold that is not a boolean was accepted"),
            Err(p) => p,
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("d.yaml:12"), "{}", problems[0]);
        assert!(
            problems[0]
                .contains("holdApplicationUntilProxyStarts must be true or false, not \"soon\""),
            "{}",
            problems[0]
        );
    }
}
