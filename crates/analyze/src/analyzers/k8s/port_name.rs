//! IST0118 / IST0150: Service ports whose protocol cannot be told from their name or
//! appProtocol. The proxy then has to guess by sniffing, and HTTP features (routing, retries,
//! L7 policy and metrics) silently do not apply if the guess is TCP.

use super::is_istio_control_plane;
use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::k8s::{IntOrString, Protocol as L4, ServiceType};
use verimesh_config::protocol::Protocol;
use verimesh_config::Kind;

pub struct PortName;

const GATEWAY_MANAGED: &str = "gateway.istio.io/managed";
const MANAGED_CONTROLLERS: [&str; 3] = [
    "istio.io-gateway-controller",
    "istio.io-mesh-controller",
    "istio.io-eastwest-controller",
];

impl Analyzer for PortName {
    fn name(&self) -> &'static str {
        "service.PortNameAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::Service) {
            let Some(svc) = r.as_service() else { continue };
            if is_istio_control_plane(&r.meta.labels) {
                continue;
            }
            if r.meta
                .labels
                .get(GATEWAY_MANAGED)
                .is_some_and(|v| MANAGED_CONTROLLERS.contains(&v.as_str()))
            {
                continue;
            }
            let external_name = svc.spec.service_type() == ServiceType::ExternalName;
            for (i, port) in svc.spec.ports.iter().enumerate() {
                let name = port.name.as_deref().unwrap_or("");
                let udp = port.protocol == Some(L4::Udp);
                let proto =
                    Protocol::of_service_port(port.port, name, udp, port.app_protocol.as_deref());
                if !(proto.is_unsupported() || name == "tcp" && external_name) {
                    continue;
                }
                let field = format!("spec.ports[{i}]");
                if external_name {
                    out.add(
                        messages::EXTERNAL_NAME_SERVICE_TYPE_INVALID_PORT_NAME,
                        r,
                        &field,
                        format!(
                            "port {} ({name:?}) of an ExternalName service needs an explicit protocol: name it e.g. \"https\" or \"tls-…\", or set appProtocol; a bare or \"tcp\" name makes its traffic opaque TCP that cannot be routed by host",
                            port.port
                        ),
                    );
                } else {
                    let target = match &port.target_port {
                        Some(IntOrString::Int(n)) => n.to_string(),
                        Some(IntOrString::String(s)) => s.clone(),
                        None => port.port.to_string(),
                    };
                    out.add(
                        messages::PORT_NAME_IS_NOT_UNDER_NAMING_CONVENTION,
                        r,
                        &field,
                        format!(
                            "port {} ({name:?}, targetPort {target}) does not say its protocol: name it <protocol>[-<suffix>] (http, http2, grpc, tcp, tls, https, …) or set appProtocol, or the proxy has to sniff it",
                            port.port
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::test_support::run;

    #[test]
    fn unnamed_and_unknown_names_are_reported() {
        let msgs = run(
            &super::PortName,
            r#"
apiVersion: v1
kind: Service
metadata: {name: s, namespace: a}
spec:
  selector: {app: s}
  ports:
  - {name: http-web, port: 80}
  - {name: web, port: 81}
  - {port: 82, appProtocol: grpc}
  - {name: foo, port: 3306}
  - {port: 83}
"#,
        );
        assert_eq!(msgs, ["IST0118 Service a/s", "IST0118 Service a/s"]);
    }

    #[test]
    fn external_name_ports_get_their_own_code() {
        let msgs = run(
            &super::PortName,
            "apiVersion: v1\nkind: Service\nmetadata: {name: e, namespace: a}\nspec:\n  type: ExternalName\n  externalName: example.com\n  ports:\n  - {name: tcp, port: 443}\n  - {name: https, port: 8443}\n",
        );
        assert_eq!(msgs, ["IST0150 Service a/e"]);
    }
}
