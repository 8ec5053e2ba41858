//! The small mesh the focused tests compile: `reviews` (two versions, a named target port) in
//! namespace `a`, `ratings` in `b`, and a `client` in `a` labelled `role: tester`.

use super::*;
use verimesh_compiler::{Compiler, Placement};
use verimesh_model::ProxyConfig;

pub const APPS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: a}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080}
  - {name: tcp-admin, port: 9090, targetPort: admin}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v1, namespace: a}
spec:
  selector: {matchLabels: {app: reviews, version: v1}}
  template:
    metadata: {labels: {app: reviews, version: v1}}
    spec:
      serviceAccountName: reviews
      containers:
      - name: r
        image: app
        ports: [{containerPort: 9080}, {name: admin, containerPort: 9991}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v2, namespace: a}
spec:
  selector: {matchLabels: {app: reviews, version: v2}}
  template:
    metadata: {labels: {app: reviews, version: v2}}
    spec:
      serviceAccountName: reviews
      containers:
      - name: r
        image: app
        ports: [{containerPort: 9080}, {name: admin, containerPort: 9991}]
---
apiVersion: v1
kind: Service
metadata: {name: ratings, namespace: b}
spec:
  selector: {app: ratings}
  ports: [{name: http, port: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ratings, namespace: b}
spec:
  selector: {matchLabels: {app: ratings}}
  template:
    metadata: {labels: {app: ratings}}
    spec:
      containers: [{name: r, image: app, ports: [{containerPort: 8080}]}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client, namespace: a}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client, role: tester}}
    spec:
      containers: [{name: c, image: app}]
"#;

pub fn compile_with(
    extra: &str,
    ns: &str,
    name: &str,
    tweak: impl Fn(&mut Placement),
) -> ProxyConfig {
    let loaded = load_yaml(&format!("{APPS}\n---\n{extra}"));
    let snap = snapshot(&loaded.resources, &loaded);
    let mut placement = placement(&snap);
    tweak(&mut placement);
    Compiler::new(&snap, &placement)
        .expect("compiler")
        .compile(ns, name)
        .expect("compile")
}

pub fn compile(extra: &str, ns: &str, name: &str) -> ProxyConfig {
    compile_with(extra, ns, name, |_| {})
}

pub fn hosts(cfg: &ProxyConfig) -> Vec<&str> {
    cfg.services.iter().map(|s| s.hostname.as_str()).collect()
}

pub const REVIEWS: &str = "reviews.a.svc.cluster.local";
pub const RATINGS: &str = "ratings.b.svc.cluster.local";

pub const DR: &str = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: a}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 3s}
      http: {http2MaxRequests: 20, http1MaxPendingRequests: 5}
    portLevelSettings:
    - port: {number: 9090}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      connectionPool:
        tcp: {maxConnections: 99}
      portLevelSettings:
      - port: {number: 9080}
        tls: {mode: DISABLE}
"#;

pub const VS_SOURCE: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: a}
spec:
  hosts: [reviews]
  http:
  - match:
    - sourceLabels: {role: tester}
    route:
    - destination: {host: reviews, subset: v2}
  - match:
    - sourceNamespace: b
      uri: {prefix: /b}
    route:
    - destination: {host: reviews, subset: v1}
  - route:
    - destination: {host: reviews, subset: v1}
    retries: {attempts: 5, retryOn: "5xx,429", perTryTimeout: 1s}
    timeout: 3s
"#;
