//! A placement derived from the manifests alone, for tests, benchmarks and `analyze`-style
//! tools that have no runtime: every Deployment's replicas (and every Pod) become instances
//! named `<deployment>-<i>` with addresses allocated in order from 10.0.0.0/16, and every
//! Service gets a virtual IP from 10.96.0.0/16. Whether an instance runs a sidecar is Istio's
//! injection decision for its workload.

use crate::gateway_api::{GATEWAY_NAME_LABEL, ISTIO_CLASS};
use crate::placement::{Instance, Placement};
use std::net::{IpAddr, Ipv4Addr};
use verimesh_analyze::workloads::WorkloadSource;
use verimesh_analyze::Snapshot;
use verimesh_config::Kind;

fn address(base: [u8; 2], n: usize) -> IpAddr {
    // 65,534 addresses per range; beyond that they wrap, which a synthetic mesh never reaches.
    let n = (n % 65_534) + 1;
    let hi = u8::try_from(n / 256).unwrap_or(0);
    let lo = u8::try_from(n % 256).unwrap_or(0);
    IpAddr::V4(Ipv4Addr::new(base[0], base[1], hi, lo))
}

/// Istio's annotation naming the injection templates; `gateway` makes the pod a gateway.
pub const INJECT_TEMPLATES: &str = "inject.istio.io/templates";

/// Whether a pod template's annotations ask for Istio's gateway template.
pub fn is_gateway(annotations: &std::collections::BTreeMap<String, String>) -> bool {
    annotations
        .get(INJECT_TEMPLATES)
        .is_some_and(|t| t.split(',').any(|x| x.trim() == "gateway"))
}

impl Placement {
    pub fn synthesize(snap: &Snapshot<'_>, trust_domain: &str) -> Placement {
        let mut p = Placement {
            trust_domain: trust_domain.to_string(),
            ..Default::default()
        };
        for w in snap.workloads() {
            let gateway = is_gateway(w.annotations);
            // A gateway's proxy is the pod's only container, not a sidecar.
            let sidecar = !gateway && snap.in_mesh(w);
            let service_account = w
                .spec
                .service_account_name
                .clone()
                .or_else(|| w.spec.service_account.clone())
                .unwrap_or_else(|| "default".to_string());
            let (replicas, deployment) = match w.source {
                WorkloadSource::Deployment => {
                    let n = w
                        .resource
                        .as_deployment()
                        .and_then(|d| d.spec.replicas)
                        .unwrap_or(1);
                    (
                        usize::try_from(n).unwrap_or(0),
                        Some(w.resource.name().to_string()),
                    )
                }
                WorkloadSource::Pod => (1, None),
            };
            for i in 0..replicas {
                let name = match &deployment {
                    Some(d) => format!("{d}-{i}"),
                    None => w.resource.name().to_string(),
                };
                let address = address([10, 0], p.instances.len());
                p.instances.push(Instance {
                    name,
                    namespace: w.namespace.clone(),
                    deployment: deployment.clone(),
                    labels: w.labels.clone(),
                    service_account: service_account.clone(),
                    address,
                    sidecar,
                    gateway,
                });
            }
        }
        // Istio deploys a gateway for every Gateway API Gateway of its class (unless the
        // Gateway names the addresses of one deployed by hand): `NAME-istio`, labelled
        // with the Gateway's name, which is what HTTPRoutes and targetRef policies reach.
        for r in snap.of_kind(Kind::KubernetesGateway) {
            let Some(g) = r.as_kubernetes_gateway() else {
                continue;
            };
            if g.gateway_class_name != ISTIO_CLASS || !g.addresses.is_empty() {
                continue;
            }
            let deployment = format!("{}-istio", r.name());
            let labels = [
                (GATEWAY_NAME_LABEL, r.name()),
                ("istio.io/gateway-name", r.name()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let address = address([10, 0], p.instances.len());
            p.instances.push(Instance {
                name: format!("{deployment}-0"),
                namespace: snap.ns(r).to_string(),
                deployment: Some(deployment.clone()),
                labels,
                service_account: deployment,
                address,
                sidecar: false,
                gateway: true,
            });
        }
        for (i, r) in snap.of_kind(Kind::Service).iter().enumerate() {
            p.service_addresses.insert(
                format!("{}/{}", snap.ns(r), r.name()),
                vec![address([10, 96], i)],
            );
        }
        p
    }
}
