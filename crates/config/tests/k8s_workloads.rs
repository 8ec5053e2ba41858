//! Pod and Deployment: full examples decode, and each validation rule reports its path.

mod common;

use common::{assert_error, load_ok};

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
