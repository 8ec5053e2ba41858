//! VM0003: a DestinationRule's TLS mode that the destination's PeerAuthentication cannot
//! accept. Plain text (or non-mesh TLS) to a STRICT workload, or mesh mTLS to a workload that
//! DISABLEs it, fails every connection — seen by callers only as a 503.

use super::peer_mode::peer_mode;
use super::scope::{services_of, target_port};
use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::networking::{ClientTlsMode, ClientTlsSettings, DestinationRule};
use verimesh_config::security::MtlsMode;
use verimesh_config::Kind;

pub struct MtlsConflict;

/// The client TLS settings a DestinationRule sets for a service port, and the field path.
fn client_tls(dr: &DestinationRule, port: u32) -> Option<(&ClientTlsSettings, String)> {
    let tp = dr.traffic_policy.as_ref()?;
    for (i, p) in tp.port_level_settings.iter().enumerate() {
        if p.port.as_ref().and_then(|s| s.number) == Some(port) {
            // Port-level settings replace the top-level ones.
            return p.tls.as_ref().map(|t| {
                (
                    t,
                    format!("spec.trafficPolicy.portLevelSettings[{i}].tls.mode"),
                )
            });
        }
    }
    tp.tls
        .as_ref()
        .map(|t| (t, "spec.trafficPolicy.tls.mode".to_string()))
}

fn conflict(client: ClientTlsMode, server: MtlsMode) -> Option<&'static str> {
    match (client, server) {
        (ClientTlsMode::Disable, MtlsMode::Strict) => Some(
            "sends plain text, but the destination accepts only mutual TLS (STRICT)",
        ),
        (ClientTlsMode::Simple | ClientTlsMode::Mutual, MtlsMode::Strict) => Some(
            "originates TLS with its own certificates, but the destination accepts only mesh mutual TLS (STRICT); use ISTIO_MUTUAL",
        ),
        (ClientTlsMode::IstioMutual, MtlsMode::Disable) => Some(
            "sends mesh mutual TLS, but the destination has mutual TLS disabled and expects plain text",
        ),
        _ => None,
    }
}

impl Analyzer for MtlsConflict {
    fn name(&self) -> &'static str {
        "verimesh.MtlsConflictAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::DestinationRule) {
            let Some(dr) = r.as_destination_rule() else {
                continue;
            };
            let Some(entry) = snap.registry().lookup(snap.ns(r), &dr.export_to, &dr.host) else {
                continue;
            };
            let Some(svc) = entry.resource.as_service() else {
                continue;
            };
            let svc_res = entry.resource;
            let workloads: Vec<_> = snap
                .workloads()
                .iter()
                .filter(|w| {
                    services_of(snap, w)
                        .iter()
                        .any(|s| std::ptr::eq(*s, svc_res))
                })
                .collect();
            for port in &svc.spec.ports {
                let Ok(number) = u32::try_from(port.port) else {
                    continue;
                };
                let Some((tls, field)) = client_tls(dr, number) else {
                    continue;
                };
                let client = tls.mode.unwrap_or_default();
                let found = workloads.iter().find_map(|w| {
                    let tp = target_port(w, port.port, port.target_port.as_ref())?;
                    let server = peer_mode(snap, w, tp);
                    conflict(client, server.mode).map(|why| (w, server, why))
                });
                if let Some((w, server, why)) = found {
                    let decided_by = server
                        .policy
                        .map(|p| format!("PeerAuthentication {}", snap.full_name(p)))
                        .unwrap_or_else(|| "the default".to_string());
                    out.add(
                        messages::MTLS_MODE_CONFLICT,
                        r,
                        &field,
                        format!(
                            "traffic to {} port {number} {why} ({} for workload {}, set by {decided_by}); every request will fail with 503",
                            dr.host,
                            server_mode_name(server.mode),
                            w.resource.name(),
                        ),
                    );
                }
            }
        }
    }
}

fn server_mode_name(m: MtlsMode) -> &'static str {
    match m {
        MtlsMode::Unset | MtlsMode::Permissive => "PERMISSIVE",
        MtlsMode::Strict => "STRICT",
        MtlsMode::Disable => "DISABLE",
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::test_support::run;

    const APP: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: a}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: db, image: x, ports: [{name: web, containerPort: 8080}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: a}
spec:
  selector: {app: db}
  ports: [{name: http, port: 80, targetPort: web}, {name: tcp-admin, port: 90}]
"#;

    fn with(extra: &str) -> Vec<String> {
        run(&super::MtlsConflict, &format!("{APP}---\n{extra}"))
    }

    #[test]
    fn plain_text_to_strict_is_an_error() {
        let msgs = with(
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: db, namespace: a}\nspec:\n  host: db\n  trafficPolicy: {tls: {mode: DISABLE}}\n",
        );
        assert_eq!(
            msgs,
            ["VM0003 DestinationRule a/db", "VM0003 DestinationRule a/db"]
        );
    }

    #[test]
    fn port_level_modes_are_honoured() {
        // STRICT only on the workload's port 8080 (service port 80); DISABLE only on port 80.
        let msgs = with(
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: db, namespace: a}\nspec:\n  selector: {matchLabels: {app: db}}\n  mtls: {mode: PERMISSIVE}\n  portLevelMtls: {'8080': {mode: STRICT}}\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: db, namespace: a}\nspec:\n  host: db.a.svc.cluster.local\n  trafficPolicy:\n    portLevelSettings:\n    - port: {number: 80}\n      tls: {mode: DISABLE}\n",
        );
        assert_eq!(msgs, ["VM0003 DestinationRule a/db"]);
    }

    #[test]
    fn mesh_mtls_to_disabled_workload_and_compatible_modes() {
        let disable = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: off, namespace: a}\nspec: {mtls: {mode: DISABLE}}\n---\n";
        let dr = |mode: &str| {
            format!("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: db, namespace: a}}\nspec:\n  host: db\n  trafficPolicy: {{tls: {{mode: {mode}}}}}\n")
        };
        assert_eq!(with(&format!("{disable}{}", dr("ISTIO_MUTUAL"))).len(), 2);
        assert!(with(&format!("{disable}{}", dr("DISABLE"))).is_empty());
        assert!(with(&dr("ISTIO_MUTUAL")).is_empty());
        assert!(
            with(&dr("DISABLE")).is_empty(),
            "PERMISSIVE accepts plain text"
        );
    }
}
