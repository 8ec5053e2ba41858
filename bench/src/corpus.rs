//! A generated mesh: namespaces of services with deployments, routing and policy, written as
//! multi-document YAML files the way users keep them (one file per service).

use std::fmt::Write as _;
use std::path::Path;

pub struct Written {
    pub files: usize,
    pub bytes: usize,
}

/// Resources written per service; `write` makes `resources / PER_SERVICE` services.
const PER_SERVICE: usize = 9;

fn service_yaml(ns: &str, i: usize) -> String {
    let name = format!("svc-{i}");
    let mut s = String::new();
    let _ = write!(
        s,
        r#"apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app: {name}
spec:
  selector:
    app: {name}
  ports:
  - name: http
    port: 8080
    targetPort: 8080
  - name: grpc-api
    port: 9090
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}-v1
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels:
      app: {name}
      version: v1
  template:
    metadata:
      labels:
        app: {name}
        version: v1
    spec:
      serviceAccountName: {name}
      containers:
      - name: app
        image: example/{name}:1.0
        command: ["verimesh", "demo-app"]
        ports:
        - containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}-v2
  namespace: {ns}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
      version: v2
  template:
    metadata:
      labels:
        app: {name}
        version: v2
    spec:
      serviceAccountName: {name}
      containers:
      - name: app
        image: example/{name}:2.0
        command: ["verimesh", "demo-app"]
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {name}
  namespace: {ns}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {name}
  namespace: {ns}
spec:
  hosts:
  - {name}
  http:
  - match:
    - uri:
        prefix: /api/v2
      headers:
        x-canary:
          exact: "true"
    route:
    - destination:
        host: {name}
        subset: v2
        port:
          number: 8080
  - route:
    - destination:
        host: {name}
        subset: v1
        port:
          number: 8080
      weight: 90
    - destination:
        host: {name}
        subset: v2
        port:
          number: 8080
      weight: 10
    timeout: 5s
    retries:
      attempts: 3
      perTryTimeout: 2s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {name}
  namespace: {ns}
spec:
  host: {name}
  trafficPolicy:
    loadBalancer:
      simple: LEAST_REQUEST
    connectionPool:
      tcp:
        maxConnections: 100
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector:
    matchLabels:
      app: {name}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/{ns}/sa/svc-{prev}"]
    to:
    - operation:
        methods: ["GET", "POST"]
        paths: ["/api/*"]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: {name}
  namespace: {ns}
spec:
  selector:
    matchLabels:
      app: {name}
  mtls:
    mode: STRICT
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: {name}-external
  namespace: {ns}
spec:
  hosts:
  - api-{i}.example.com
  ports:
  - number: 443
    name: https
    protocol: TLS
  resolution: DNS
  location: MESH_EXTERNAL
"#,
        prev = i.saturating_sub(1),
    );
    s
}

pub fn write(dir: &Path, resources: usize) -> std::io::Result<Written> {
    std::fs::create_dir_all(dir)?;
    let services = resources.div_ceil(PER_SERVICE);
    let mut bytes = 0;
    for i in 0..services {
        let ns = format!("team-{}", i / 50);
        let mut text = service_yaml(&ns, i);
        if i % 50 == 0 {
            // Namespaces with sidecar injection, as a mesh's application namespaces are.
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n    istio-injection: enabled\n"
            ));
        }
        bytes += text.len();
        std::fs::write(dir.join(format!("{ns}-svc-{i}.yaml")), text)?;
    }
    Ok(Written {
        files: services,
        bytes,
    })
}
