//! IST0144: application containers that run as uid 1337, the proxy's uid. Interception
//! excludes that uid, so such an application's outbound traffic bypasses the mesh entirely.

use super::is_istio_control_plane;
use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::k8s::PodSpec;
use verimesh_config::{Kind, Resource};

pub struct ApplicationUid;

pub const PROXY_UID: i64 = 1337;

/// Reports a workload once, at the first place it runs as the proxy's uid.
fn check(r: &Resource, spec: &PodSpec, template: &str, out: &mut Report) {
    let text = || {
        format!(
            "runs as uid {PROXY_UID}, the uid reserved for the mesh proxy: its traffic would bypass interception; pick another runAsUser"
        )
    };
    if spec.security_context.as_ref().and_then(|s| s.run_as_user) == Some(PROXY_UID) {
        out.add(
            messages::INVALID_APPLICATION_UID,
            r,
            &format!("{template}spec.securityContext.runAsUser"),
            text(),
        );
        return;
    }
    for (i, c) in spec.containers.iter().enumerate() {
        if c.name == "istio-proxy" || c.name == "istio-operator" {
            continue;
        }
        if c.security_context.as_ref().and_then(|s| s.run_as_user) == Some(PROXY_UID) {
            out.add(
                messages::INVALID_APPLICATION_UID,
                r,
                &format!("{template}spec.containers[{i}].securityContext.runAsUser"),
                format!("container {:?} {}", c.name, text()),
            );
            return;
        }
    }
}

impl Analyzer for ApplicationUid {
    fn name(&self) -> &'static str {
        "deployment.ApplicationUIDAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::Pod) {
            if let Some(p) = r.as_pod() {
                if !is_istio_control_plane(&r.meta.labels) {
                    check(r, &p.spec, "", out);
                }
            }
        }
        for r in snap.of_kind(Kind::Deployment) {
            if let Some(d) = r.as_deployment() {
                if !is_istio_control_plane(&r.meta.labels) {
                    check(r, &d.spec.template.spec, "spec.template.", out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::test_support::run;

    #[test]
    fn proxy_uid_is_reported_for_pods_and_deployments() {
        let msgs = run(
            &super::ApplicationUid,
            r#"
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: a}
spec:
  securityContext: {runAsUser: 1337}
  containers: [{name: app, image: x}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: a}
spec:
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      containers:
      - {name: app, image: x, securityContext: {runAsUser: 1337}}
      - {name: istio-proxy, image: x, securityContext: {runAsUser: 1337}}
---
apiVersion: v1
kind: Pod
metadata: {name: fine, namespace: a}
spec:
  securityContext: {runAsUser: 1000}
  containers: [{name: app, image: x}]
"#,
        );
        assert_eq!(msgs, ["IST0144 Deployment a/d", "IST0144 Pod a/p"]);
    }
}
