//! Kubernetes kinds: full examples decode (unknown fields accepted, modeled ones kept), and each
//! validation rule reports its path.

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

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: httpbin, namespace: foo}
spec:
  replicas: 2
  revisionHistoryLimit: 3
  selector:
    matchLabels: {app: httpbin}
    matchExpressions:
    - {key: version, operator: In, values: [v1, v2]}
    - {key: canary, operator: DoesNotExist}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: httpbin, version: v1}
      annotations: {sidecar.istio.io/inject: "true"}
    spec:
      serviceAccountName: httpbin
      hostNetwork: false
      securityContext: {runAsNonRoot: true, fsGroup: 1337}
      volumes:
      - name: certs
        secret: {secretName: httpbin-certs, defaultMode: 0400}
      - name: cfg
        configMap: {name: httpbin-cfg}
      - name: tmp
        emptyDir: {}
      - name: data
        nfs: {server: nfs.example.com, path: /data}
      initContainers:
      - name: init
        image: busybox
        command: [sh, -c, "true"]
      containers:
      - name: httpbin
        image: docker.io/kong/httpbin
        imagePullPolicy: IfNotPresent
        command: [gunicorn]
        args: ["-b", "0.0.0.0:8080", httpbin:app]
        env:
        - {name: MODE, value: test}
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: 1, memory: 0.5Gi}
        volumeMounts:
        - {name: certs, mountPath: /etc/certs, readOnly: true}
        securityContext:
          runAsUser: 1000
          runAsGroup: 1000
          runAsNonRoot: true
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
        readinessProbe:
          httpGet: {path: /status/200, port: http}
          initialDelaySeconds: 1
        livenessProbe:
          tcpSocket: {port: 8080}
"#;

#[test]
fn deployment_full() {
    let l = load_ok(DEPLOYMENT);
    let d = l.resources[0].as_deployment().unwrap();
    assert_eq!(d.spec.replicas(), 2);
    let pod = &d.spec.template.spec;
    assert_eq!(pod.service_account(), "httpbin");
    assert_eq!(pod.containers[0].port_named("http"), Some(8080));
    assert_eq!(
        pod.volumes[3].other.len(),
        1,
        "unmodeled volume sources are kept"
    );
    let sc = pod.containers[0].security_context.as_ref().unwrap();
    assert_eq!(sc.capabilities.as_ref().unwrap().drop, ["ALL"]);
    assert!(d.spec.selector.matches(&d.spec.template.metadata.labels));
}

const POD: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  serviceAccount: curl
  containers:
  - name: curl
    image: curlimages/curl
    ports:
    - {containerPort: 80}
"#;

#[test]
fn pod_full_and_rules() {
    let l = load_ok(POD);
    assert_eq!(
        l.resources[0].as_pod().unwrap().spec.service_account(),
        "curl"
    );
    let pod =
        |spec: &str| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {spec}\n");
    assert_error(&pod("{}"), "spec.containers", "at least one container");
    assert_error(
        &pod("{containers: [{image: x}]}"),
        "spec.containers[0].name",
        "required",
    );
    assert_error(
        &pod("{containers: [{name: a}]}"),
        "spec.containers[0].image",
        "required",
    );
    assert_error(
        &pod("{containers: [{name: a, image: x}, {name: a, image: y}]}"),
        "spec.containers[1].name",
        "duplicate container name",
    );
    assert_error(
        &pod("{initContainers: [{name: a, image: x}], containers: [{name: a, image: y}]}"),
        "spec.containers[0].name",
        "duplicate container name",
    );
    assert_error(
        &pod("{containers: [{name: a, image: x, ports: [{containerPort: 0}]}]}"),
        "spec.containers[0].ports[0].containerPort",
        "1..65535",
    );
    assert_error(
        &pod("{containers: [{name: a, image: x, ports: [{containerPort: 80, hostPort: 99999}]}]}"),
        "spec.containers[0].ports[0].hostPort",
        "1..65535",
    );
    assert_error(&pod("{containers: [{name: a, image: x, ports: [{name: http, containerPort: 80}, {name: http, containerPort: 81}]}]}"), "spec.containers[0].ports[1].name", "duplicate port name");
    assert_error(
        &pod("{containers: [{name: a, image: x, ports: [{name: a_b, containerPort: 80}]}]}"),
        "spec.containers[0].ports[0].name",
        "port name",
    );
    assert_error(
        &pod("{containers: [{name: a, image: x, readinessProbe: {httpGet: {port: web}}}]}"),
        "spec.containers[0].readinessProbe.httpGet.port",
        "no port named",
    );
    assert_error(
        &pod("{containers: [{name: a, image: x, livenessProbe: {tcpSocket: {port: 0}}}]}"),
        "spec.containers[0].livenessProbe.tcpSocket.port",
        "1..65535",
    );
    assert_error(
        &pod("{containers: [{name: a, image: x, startupProbe: {periodSeconds: 1}}]}"),
        "spec.containers[0].startupProbe",
        "exactly one of",
    );
    assert_error(
        &pod("{containers: [{name: a, image: x, volumeMounts: [{name: v, mountPath: /v}]}]}"),
        "spec.containers[0].volumeMounts[0].name",
        "no volume named",
    );
    assert_error(
        &pod("{volumes: [{name: v}, {name: v}], containers: [{name: a, image: x}]}"),
        "spec.volumes[1].name",
        "duplicate volume",
    );
    assert_error(
        &pod("{containers: [{name: a, image: x, env: [{value: v}]}]}"),
        "spec.containers[0].env[0].name",
        "required",
    );
    assert_error(
        &pod("{serviceAccountName: Bad_SA, containers: [{name: a, image: x}]}"),
        "spec.serviceAccountName",
        "DNS-1123",
    );
    assert_error(
        &pod("{serviceAccountName: a, serviceAccount: b, containers: [{name: a, image: x}]}"),
        "spec.serviceAccount",
        "differs",
    );
}

fn dep(spec: &str) -> String {
    format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\nspec:\n{spec}\n  template:\n    metadata: {{labels: {{app: a}}}}\n    spec: {{containers: [{{name: c, image: i}}]}}\n")
}

#[test]
fn deployment_rules() {
    assert_error(&dep("  selector: {}"), "spec.selector", "needs a selector");
    assert_error(
        &dep("  selector: {matchLabels: {app: b}}"),
        "spec.template.metadata.labels",
        "do not match spec.selector",
    );
    assert_error(
        &dep("  selector: {matchExpressions: [{key: app, operator: NotIn, values: [a]}]}"),
        "spec.template.metadata.labels",
        "do not match",
    );
    assert_error(
        &dep("  selector: {matchExpressions: [{key: app, operator: In}]}"),
        "spec.selector.matchExpressions[0].values",
        "at least one value",
    );
    assert_error(
        &dep("  selector: {matchExpressions: [{key: app, operator: Exists, values: [a]}]}"),
        "spec.selector.matchExpressions[0].values",
        "takes no values",
    );
    assert_error(
        &dep("  replicas: -1\n  selector: {matchLabels: {app: a}}"),
        "spec.replicas",
        "negative",
    );
    assert_error(&dep("  selector: {matchLabels: {app: a}}\n  strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0%}}"), "spec.strategy.rollingUpdate", "cannot both be 0");
    assert_error(
        &dep("  selector: {matchLabels: {app: a}}\n  strategy: {rollingUpdate: {maxSurge: 120%}}"),
        "spec.strategy.rollingUpdate.maxSurge",
        "percentage",
    );
    assert_error(&dep("  selector: {matchLabels: {app: a}}\n  strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}"), "spec.strategy.rollingUpdate", "only allowed with the RollingUpdate");
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
