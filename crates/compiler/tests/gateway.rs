//! Gateways: which Gateway resources select a gateway workload, how servers become
//! listeners, which VirtualServices bind, how hosts intersect, and where certificates come
//! from.

mod common;

use common::{load_yaml, snapshot};
use verimesh_compiler::{Compiler, Placement};
use verimesh_model::{HttpAction, ListenerProtocol, ProxyConfig, ServerTlsMode};

const MESH: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {app: httpbin}
  ports: [{name: http, port: 8000, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  template:
    metadata: {labels: {app: httpbin}}
    spec:
      containers: [{name: httpbin, image: app, ports: [{containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  template:
    metadata:
      labels: {istio: ingressgateway, app: istio-ingressgateway}
      annotations: {inject.istio.io/templates: gateway}
    spec:
      serviceAccountName: istio-ingressgateway-service-account
      containers: [{name: istio-proxy, image: auto}]
---
apiVersion: v1
kind: Secret
metadata: {name: httpbin-credential, namespace: istio-system}
type: kubernetes.io/tls
stringData:
  tls.crt: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
  tls.key: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
"#;

fn compile_gateway(extra: &str) -> (ProxyConfig, Vec<String>) {
    let loaded = load_yaml(&format!("{MESH}\n---\n{extra}"));
    let snap = snapshot(&loaded.resources, &loaded);
    let mut placement = Placement::synthesize(&snap, "cluster.local");
    for i in &mut placement.instances {
        i.sidecar = !i.gateway;
    }
    let gw = placement
        .instances
        .iter()
        .find(|i| i.gateway)
        .expect("the annotated Deployment is a gateway")
        .clone();
    assert!(!gw.sidecar);
    let compiler = Compiler::new(&snap, &placement).expect("compiler");
    let cfg = compiler.compile(&gw.namespace, &gw.name).expect("compile");
    (cfg, compiler.notes())
}

const SAMPLE: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: httpbin-gateway, namespace: foo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin, namespace: foo}
spec:
  hosts: ["*"]
  gateways: [httpbin-gateway]
  http:
  - route:
    - destination: {host: httpbin, port: {number: 8000}}
"#;

#[test]
fn istio_httpbin_gateway_sample_routes_to_httpbin() {
    let (cfg, _) = compile_gateway(SAMPLE);
    let g = cfg.gateway.as_ref().expect("a gateway section");
    assert!(
        cfg.inbound.ports.is_empty(),
        "a gateway has no inbound side"
    );
    assert_eq!(g.listeners.len(), 1);
    let l = &g.listeners[0];
    assert_eq!((l.port, l.protocol), (80, ListenerProtocol::Http));
    assert_eq!(l.virtual_hosts.len(), 1);
    let vh = &l.virtual_hosts[0];
    assert_eq!(vh.domains, ["*"]);
    assert_eq!(vh.name, "foo/httpbin");
    match &vh.routes[0].action {
        HttpAction::Route { clusters } => {
            assert_eq!(
                clusters[0].cluster,
                "outbound|8000||httpbin.foo.svc.cluster.local"
            )
        }
        other => panic!("{other:?}"),
    }
    // The cluster exists and reaches httpbin's sidecar over mesh mTLS.
    let c = cfg
        .cluster("outbound|8000||httpbin.foo.svc.cluster.local")
        .expect("cluster");
    assert_eq!(c.endpoints.len(), 1);
    cfg.validate().expect("valid");
}

#[test]
fn mesh_virtual_services_stay_off_gateways_and_gateway_ones_off_sidecars() {
    let extra = format!(
        "{SAMPLE}\n---\n{}",
        r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: httpbin-mesh, namespace: foo}
spec:
  hosts: [httpbin]
  http:
  - route:
    - destination: {host: httpbin}
"#
    );
    let (cfg, _) = compile_gateway(&extra);
    let vhosts = &cfg.gateway.as_ref().unwrap().listeners[0].virtual_hosts;
    assert!(vhosts.iter().all(|v| v.name == "foo/httpbin"), "{vhosts:?}");
}

#[test]
fn hosts_intersect_and_unbound_or_foreign_virtual_services_do_not_attach() {
    let (cfg, _) = compile_gateway(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["foo/*.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: in-foo, namespace: foo}
spec:
  hosts: ["httpbin.example.com", "other.test"]
  gateways: [istio-system/gw]
  http:
  - route:
    - destination: {host: httpbin, port: {number: 8000}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: in-bar, namespace: bar}
spec:
  hosts: ["bar.example.com"]
  gateways: [istio-system/gw]
  http:
  - route:
    - destination: {host: httpbin.foo.svc.cluster.local, port: {number: 8000}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: short-name, namespace: foo}
spec:
  hosts: ["short.example.com"]
  gateways: [gw]
  http:
  - route:
    - destination: {host: httpbin, port: {number: 8000}}
"#,
    );
    let l = &cfg.gateway.as_ref().unwrap().listeners[0];
    let domains: Vec<&str> = l
        .virtual_hosts
        .iter()
        .flat_map(|v| v.domains.iter().map(String::as_str))
        .collect();
    // Only foo's VirtualService may bind (`foo/` hosts), only its host under the server's
    // wildcard attaches, and `gw` written in foo names foo/gw, which does not exist.
    assert_eq!(domains, ["httpbin.example.com"]);
}

#[test]
fn https_servers_take_their_certificate_from_the_credential_secret() {
    let (cfg, notes) = compile_gateway(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: secure, namespace: foo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["httpbin.example.com"]
    tls: {mode: SIMPLE, credentialName: httpbin-credential}
  - port: {number: 8443, name: https-missing, protocol: HTTPS}
    hosts: ["nobody.example.com"]
    tls: {mode: SIMPLE, credentialName: no-such-secret}
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["httpbin.example.com"]
    tls: {httpsRedirect: true}
"#,
    );
    let g = cfg.gateway.as_ref().unwrap();
    let ports: Vec<u16> = g.listeners.iter().map(|l| l.port).collect();
    assert_eq!(
        ports,
        [80, 443],
        "a server without its secret is not served"
    );
    let https = g.listener(443).unwrap();
    assert_eq!(https.protocol, ListenerProtocol::Https);
    assert_eq!(https.tls[0].mode, ServerTlsMode::Simple);
    assert_eq!(https.tls[0].hosts, ["httpbin.example.com"]);
    assert_eq!(https.tls[0].source, "istio-system/httpbin-credential");
    assert!(https.tls[0].private_key.contains("PRIVATE KEY"));
    assert!(g.listener(80).unwrap().virtual_hosts[0].https_redirect);
    assert!(
        notes.iter().any(|n| n.contains("no-such-secret")),
        "the missing secret is reported: {notes:?}"
    );
}

#[test]
fn routes_to_unknown_services_become_missing_clusters() {
    let (cfg, _) = compile_gateway(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: httpbin-gateway, namespace: foo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: typo, namespace: foo}
spec:
  hosts: ["*"]
  gateways: [httpbin-gateway]
  http:
  - route:
    - destination: {host: htpbin, port: {number: 8000}}
"#,
    );
    let c = cfg
        .cluster("outbound|8000||htpbin.foo.svc.cluster.local")
        .expect("a missing cluster stands for the typo");
    assert!(c.missing.is_some() && c.endpoints.is_empty());
    cfg.validate().expect("valid");
}

#[test]
fn a_gateway_service_maps_server_ports_to_the_pods_target_ports() {
    let (cfg, _) = compile_gateway(&format!(
        "{SAMPLE}\n---\n{}",
        r#"
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: 8080}]
"#
    ));
    let ports: Vec<u16> = cfg
        .gateway
        .as_ref()
        .unwrap()
        .listeners
        .iter()
        .map(|l| l.port)
        .collect();
    assert_eq!(
        ports,
        [8080],
        "Istio's default gateway Service: 80 is served on 8080"
    );
}

#[test]
fn gateway_api_gateways_get_a_deployed_gateway_with_their_routes_and_policies() {
    let yaml = format!(
        "{MESH}\n---\n{}",
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: httpbin-gateway, namespace: foo}
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: All}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: httpbin, namespace: foo}
spec:
  parentRefs: [{name: httpbin-gateway}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /status}}]
    backendRefs: [{name: httpbin, port: 8000}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ingress-policy, namespace: foo}
spec:
  targetRef: {kind: Gateway, group: gateway.networking.k8s.io, name: httpbin-gateway}
  action: DENY
  rules:
  - from:
    - source: {ipBlocks: ["1.2.3.4"]}
"#
    );
    let loaded = load_yaml(&yaml);
    let snap = snapshot(&loaded.resources, &loaded);
    let placement = Placement::synthesize(&snap, "cluster.local");
    let gw = placement
        .instances
        .iter()
        .find(|i| i.name == "httpbin-gateway-istio-0")
        .expect("Istio deploys a gateway for the Gateway");
    assert!(gw.gateway && !gw.sidecar && gw.namespace == "foo");
    let cfg = Compiler::new(&snap, &placement)
        .expect("compiler")
        .compile("foo", &gw.name)
        .expect("compile");
    let l = cfg
        .gateway
        .as_ref()
        .unwrap()
        .listener(80)
        .expect("listener 80");
    let vh = &l.virtual_hosts[0];
    assert_eq!(
        (vh.name.as_str(), vh.domains.as_slice()),
        ("foo/httpbin", &["*".to_string()][..])
    );
    let uris: Vec<_> = vh.routes[0]
        .matches
        .iter()
        .filter_map(|m| m.uri.clone())
        .collect();
    assert_eq!(
        uris.len(),
        2,
        "PathPrefix /status is the path and what is under /status/"
    );
    match &vh.routes[0].action {
        HttpAction::Route { clusters } => {
            assert_eq!(
                clusters[0].cluster,
                "outbound|8000||httpbin.foo.svc.cluster.local"
            )
        }
        other => panic!("{other:?}"),
    }
    let names: Vec<_> = cfg
        .security
        .authorization_policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["ingress-policy"],
        "the targetRef policy attaches to the gateway"
    );
    // The Istio-API gateway does not take it.
    let istio_gw = placement
        .instances
        .iter()
        .find(|i| i.namespace == "istio-system")
        .unwrap();
    let mut p2 = placement.clone();
    for i in &mut p2.instances {
        i.sidecar = !i.gateway;
    }
    let other = Compiler::new(&snap, &p2)
        .unwrap()
        .compile(&istio_gw.namespace, &istio_gw.name)
        .unwrap();
    assert!(other.security.authorization_policies.is_empty());
}

#[test]
fn a_gateway_api_gateway_without_a_deployment_is_reported() {
    let loaded = load_yaml(&format!(
        "{MESH}\n---\n{}",
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: late, namespace: foo}
spec:
  gatewayClassName: istio
  listeners: [{name: http, port: 80, protocol: HTTP}]
"#
    ));
    let snap = snapshot(&loaded.resources, &loaded);
    let mut placement = Placement::synthesize(&snap, "cluster.local");
    // The runtime started before the Gateway existed.
    placement.instances.retain(|i| i.name != "late-istio-0");
    let compiler = Compiler::new(&snap, &placement).expect("compiler");
    compiler.compile_all();
    assert!(
        compiler
            .notes()
            .iter()
            .any(|n| n.contains("Gateway foo/late")),
        "{:?}",
        compiler.notes()
    );
}
