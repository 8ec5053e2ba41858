//! Service, Secret, ConfigMap, Namespace, ServiceAccount: full examples decode (unknown fields
//! accepted, modeled ones kept), and each validation rule reports its path.

mod common;

use common::{assert_error, assert_warning, load_ok};
use verimesh_config::k8s::{IntOrString, Protocol, ServiceType};

const SERVICE: &str = r#"apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo, labels: {app: reviews}}
spec:
  type: LoadBalancer
  selector: {app: reviews}
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10]
  ipFamilies: [IPv4]
  ipFamilyPolicy: SingleStack
  externalTrafficPolicy: Local
  internalTrafficPolicy: Cluster
  sessionAffinity: None
  loadBalancerSourceRanges: [203.0.113.0/24]
  someFutureField: {x: 1}
  ports:
  - {name: http, port: 9080, targetPort: 9080, protocol: TCP, appProtocol: http, nodePort: 30080}
  - {name: grpc-api, port: 9090, targetPort: grpc}
status:
  loadBalancer: {ingress: [{ip: 192.0.2.1}]}
"#;

#[test]
fn service_full() {
    let l = load_ok(SERVICE);
    let s = l.resources[0].as_service().unwrap();
    assert_eq!(s.spec.service_type(), ServiceType::LoadBalancer);
    assert_eq!(s.spec.ports[0].protocol, Some(Protocol::Tcp));
    assert_eq!(s.spec.ports[1].target(), IntOrString::String("grpc".into()));
    assert_eq!(s.spec.ports[0].app_protocol.as_deref(), Some("http"));
    assert!(s.status.is_some());
    load_ok("apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec: {type: ExternalName, externalName: api.example.com}\n");
    load_ok("apiVersion: v1\nkind: Service\nmetadata: {name: headless}\nspec: {clusterIP: None, selector: {app: x}}\n");
}

fn svc(spec: &str) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata: {{name: s}}\nspec: {spec}\n")
}

#[test]
fn service_rules() {
    assert_error(
        &svc("{selector: {app: a}}"),
        "spec.ports",
        "at least one port",
    );
    assert_error(
        &svc("{ports: [{port: 0}]}"),
        "spec.ports[0].port",
        "1..65535",
    );
    assert_error(
        &svc("{ports: [{port: 70000}]}"),
        "spec.ports[0].port",
        "1..65535",
    );
    assert_error(
        &svc("{ports: [{name: a, port: 80}, {port: 81}]}"),
        "spec.ports[1].name",
        "needs a name",
    );
    assert_error(
        &svc("{ports: [{name: a, port: 80}, {name: a, port: 81}]}"),
        "spec.ports[1].name",
        "duplicate port name",
    );
    assert_error(
        &svc("{ports: [{name: Http, port: 80}]}"),
        "spec.ports[0].name",
        "DNS-1123",
    );
    assert_error(
        &svc("{ports: [{name: a, port: 80}, {name: b, port: 80}]}"),
        "spec.ports[1].port",
        "listed twice",
    );
    assert_error(
        &svc("{ports: [{port: 80, targetPort: 0}]}"),
        "spec.ports[0].targetPort",
        "1..65535",
    );
    assert_error(
        &svc("{ports: [{port: 80, targetPort: 70000}]}"),
        "spec.ports[0].targetPort",
        "1..65535",
    );
    assert_error(
        &svc("{ports: [{port: 80, targetPort: \"8080\"}]}"),
        "spec.ports[0].targetPort",
        "at least one letter",
    );
    assert_error(
        &svc("{ports: [{port: 80, nodePort: 30000}]}"),
        "spec.ports[0].nodePort",
        "only allowed on NodePort",
    );
    assert_error(
        &svc("{selector: {\"-bad\": x}, ports: [{port: 80}]}"),
        "spec.selector.-bad",
        "label key",
    );
    assert_error(
        &svc("{selector: {app: \"bad value!\"}, ports: [{port: 80}]}"),
        "spec.selector.app",
        "label value",
    );
    assert_error(
        &svc("{type: ExternalName}"),
        "spec.externalName",
        "needs externalName",
    );
    assert_error(
        &svc("{type: ExternalName, externalName: \"bad_name\"}"),
        "spec.externalName",
        "invalid",
    );
    assert_error(
        &svc("{clusterIP: 300.1.1.1, ports: [{port: 80}]}"),
        "spec.clusterIP",
        "IP address",
    );
    assert_error(
        &svc("{type: Magic, ports: [{port: 80}]}"),
        "spec.type",
        "unknown variant",
    );
}

#[test]
fn secret_config_map_namespace_service_account() {
    let l = load_ok("apiVersion: v1\nkind: Secret\nmetadata: {name: tls}\ntype: kubernetes.io/tls\ndata:\n  tls.crt: aGVsbG8=\nstringData:\n  tls.key: secret\n");
    let s = l.resources[0].as_secret().unwrap();
    assert_eq!(s.value("tls.crt").unwrap(), b"hello");
    assert_eq!(s.value("tls.key").unwrap(), b"secret");
    let secret =
        |body: &str| format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\n{body}\n");
    assert_error(
        &secret("data: {key: \"not base64!\"}"),
        "data.key",
        "not valid base64",
    );
    assert_error(&secret("data: {key: aGVsbG8}"), "data.key", "multiple of 4");
    assert_error(
        &secret("data: {\"bad/key\": aGVsbG8=}"),
        "data.bad/key",
        "is invalid",
    );
    assert_error(
        &secret("stringData: {\"a b\": x}"),
        "stringData.a b",
        "is invalid",
    );
    assert_error(
        &secret("type: kubernetes.io/tls\ndata: {tls.crt: aGVsbG8=}"),
        "data",
        "\"tls.key\"",
    );

    let l = load_ok("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a.conf: x}\nbinaryData: {b.bin: AAEC}\nimmutable: true\n");
    assert_eq!(l.resources[0].as_config_map().unwrap().binary_data.len(), 1);
    let cm =
        |body: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\n{body}\n");
    assert_error(&cm("binaryData: {b: \"***\"}"), "binaryData.b", "base64");
    assert_error(
        &cm("data: {b: x}\nbinaryData: {b: AAEC}"),
        "binaryData.b",
        "both data and binaryData",
    );
    assert_error(&cm("data: {\"/x\": x}"), "data./x", "is invalid");
    assert_error(&cm("data: {n: [1]}"), "data.n", "invalid type");

    load_ok("apiVersion: v1\nkind: Namespace\nmetadata: {name: foo, labels: {istio-injection: enabled}}\nspec: {finalizers: [kubernetes]}\n");
    assert_warning("apiVersion: v1\nkind: Namespace\nmetadata: {name: foo, labels: {istio-injection: \"true\"}}\n", "metadata.labels.istio-injection", "no effect");

    let l = load_ok("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\nautomountServiceAccountToken: false\nimagePullSecrets: [{name: reg}]\nsecrets: [{name: tok}]\n");
    assert_eq!(
        l.resources[0]
            .as_service_account()
            .unwrap()
            .automount_service_account_token,
        Some(false)
    );
    assert_error(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\nimagePullSecrets: [{}]\n",
        "imagePullSecrets[0].name",
        "required",
    );
}
