//! DestinationRule: a full example decodes; each validation rule is reported at its field.

mod support;

use support::{assert_clean, assert_error, assert_warning, doc, line_of};
use verimesh_config::networking::{ClientTlsMode, SimpleLb};
use verimesh_config::Body;

const FULL: &str = r#"
host: reviews.prod.svc.cluster.local
exportTo: ["."]
workloadSelector:
  matchLabels:
    app: productpage
trafficPolicy:
  loadBalancer:
    simple: LEAST_REQUEST
    localityLbSetting:
      enabled: true
      distribute:
      - from: us-west/zone1/*
        to:
          "us-west/zone1/*": 80
          "us-west/zone2/*": 20
      failoverPriority: [topology.istio.io/network]
    warmup:
      duration: 60s
      minimumPercent: 10
      aggression: 1.5
  connectionPool:
    tcp:
      maxConnections: 100
      connectTimeout: 30ms
      tcpKeepalive:
        probes: 3
        time: 7200s
        interval: 75s
      maxConnectionDuration: 1h
      idleTimeout: 0s
    http:
      http1MaxPendingRequests: 1024
      http2MaxRequests: 1024
      maxRequestsPerConnection: 10
      maxRetries: 3
      idleTimeout: 90s
      h2UpgradePolicy: UPGRADE
      useClientProtocol: false
      maxConcurrentStreams: 100
      http2KeepAlive:
        interval: 30s
        timeout: 5s
  outlierDetection:
    consecutive5xxErrors: 7
    consecutiveGatewayErrors: 5
    splitExternalLocalOriginErrors: true
    consecutiveLocalOriginFailures: 3
    interval: 5m
    baseEjectionTime: 15m
    maxEjectionPercent: 50
    minHealthPercent: 30
    outlierDetectionHttpErrorCodes: [500, 503]
  tls:
    mode: SIMPLE
    credentialName: configmap://ns1/reviews-ca
    sni: reviews.example.com
    subjectAltNames: [reviews.example.com]
  portLevelSettings:
  - port:
      number: 80
    loadBalancer:
      consistentHash:
        httpCookie:
          name: user
          path: /
          ttl: 0s
          attributes:
          - name: SameSite
            value: Strict
        ringHash:
          minimumRingSize: 1024
  - port:
      number: 9080
    tls:
      mode: MUTUAL
      clientCertificate: /etc/certs/cert.pem
      privateKey: /etc/certs/key.pem
      caCertificates: /etc/certs/ca.pem
      caCrl: /etc/certs/crl.pem
  retryBudget:
    percent: 20
    minRetryConcurrency: 3
    budgetInterval: 0s
subsets:
- name: v1
  labels:
    version: v1
- name: v2
  labels:
    version: v2
  trafficPolicy:
    loadBalancer:
      consistentHash:
        useSourceIp: true
        maglev:
          tableSize: 65537
    tunnel:
      protocol: CONNECT
      targetHost: 10.0.0.1
      targetPort: 8443
- name: v3
  trafficPolicy:
    proxyProtocol:
      version: V2
    loadBalancer:
      zoneAwareLbSetting:
        enabled: true
        failover:
        - from: us-east
          to: us-west
        minClusterSize: 3
    outlierDetection:
      consecutive5xxErrors: 3
    tls:
      mode: ISTIO_MUTUAL
      insecureSkipVerify: false
"#;

#[test]
fn full_example_decodes() {
    let text = doc("DestinationRule", "reviews", FULL);
    let loaded = assert_clean(&text);
    let Body::DestinationRule(dr) = &loaded.resources[0].body else {
        panic!("not a DestinationRule");
    };
    let tp = dr.traffic_policy.as_ref().expect("traffic policy");
    assert_eq!(
        tp.load_balancer.as_ref().and_then(|l| l.simple),
        Some(SimpleLb::LeastRequest)
    );
    assert_eq!(
        tp.outlier_detection
            .as_ref()
            .and_then(|o| o.consecutive_5xx_errors),
        Some(7)
    );
    assert_eq!(
        tp.tls.as_ref().and_then(|t| t.mode),
        Some(ClientTlsMode::Simple)
    );
    assert_eq!(dr.subsets.len(), 3);
    let json = loaded.resources[0].body.to_json();
    let back: verimesh_config::networking::DestinationRule =
        serde_json::from_value(json).expect("round trip");
    assert_eq!(&back, dr);
}

fn dr(spec: &str) -> String {
    doc("DestinationRule", "r", &format!("host: reviews\n{spec}"))
}

/// (spec after `host: reviews`, path of the error, part of its message)
const ERRORS: &[(&str, &str, &str)] = &[
    // subsets
    ("subsets:\n- name: v1\n- name: v1\n", "spec.subsets[1].name", "duplicate subset"),
    ("subsets:\n- name: V_1\n", "spec.subsets[0].name", "DNS-1123"),
    ("subsets:\n- name: \"\"\n", "spec.subsets[0].name", "must not be empty"),
    ("subsets:\n- name: v1\n  labels:\n    \"bad key!\": v1\n", "spec.subsets[0].labels.bad key!", "label key"),
    ("subsets:\n- name: v1\n  labels:\n    version: \"-v1\"\n", "spec.subsets[0].labels.version", "label value"),
    ("subsets:\n- name: v1\n  trafficPolicy: {}\n", "spec.subsets[0].trafficPolicy", "at least one setting"),
    // traffic policy
    ("trafficPolicy: {}\n", "spec.trafficPolicy", "at least one setting"),
    ("trafficPolicy:\n  tunnel:\n    targetHost: a.com\n    targetPort: 80\n  proxyProtocol: {}\n", "spec.trafficPolicy", "tunnel and proxyProtocol"),
    ("trafficPolicy:\n  tunnel:\n    protocol: GET\n    targetHost: a.com\n    targetPort: 80\n", "spec.trafficPolicy.tunnel.protocol", "CONNECT or POST"),
    ("trafficPolicy:\n  tunnel:\n    targetHost: \"*.a.com\"\n    targetPort: 80\n", "spec.trafficPolicy.tunnel.targetHost", "fully qualified"),
    ("trafficPolicy:\n  tunnel:\n    targetHost: a.com\n", "spec.trafficPolicy.tunnel.targetPort", "1..65535"),
    ("trafficPolicy:\n  retryBudget:\n    percent: 150\n", "spec.trafficPolicy.retryBudget.percent", "between 0 and 100"),
    // port level settings
    ("trafficPolicy:\n  portLevelSettings:\n  - tls:\n      mode: SIMPLE\n", "spec.trafficPolicy.portLevelSettings[0].port", "needs a port"),
    ("trafficPolicy:\n  portLevelSettings:\n  - port:\n      number: 80\n", "spec.trafficPolicy.portLevelSettings[0]", "at least one setting"),
    ("trafficPolicy:\n  portLevelSettings:\n  - port:\n      number: 0\n    tls:\n      mode: SIMPLE\n", "spec.trafficPolicy.portLevelSettings[0].port.number", "1..65535"),
    ("trafficPolicy:\n  portLevelSettings:\n  - port:\n      number: 80\n    connectionPool: {}\n", "spec.trafficPolicy.portLevelSettings[0].connectionPool", "tcp or http"),
    // load balancer
    ("trafficPolicy:\n  loadBalancer:\n    simple: RANDOM\n    consistentHash:\n      useSourceIp: true\n", "spec.trafficPolicy.loadBalancer", "only one of simple or consistentHash"),
    ("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      useSourceIp: true\n      httpHeaderName: x-user\n", "spec.trafficPolicy.loadBalancer.consistentHash", "only one of httpHeaderName"),
    ("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      useSourceIp: true\n      ringHash: {}\n      maglev:\n        tableSize: 65537\n", "spec.trafficPolicy.loadBalancer.consistentHash", "ringHash or maglev"),
    ("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      httpCookie:\n        ttl: 10s\n", "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name", "needs a name"),
    ("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      httpCookie:\n        name: c\n        attributes:\n        - name: a\n        - name: a\n", "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[1].name", "duplicate"),
    ("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      httpCookie:\n        name: c\n        attributes:\n        - value: a\n", "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[0].name", "needs a name"),
    ("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      useSourceIp: true\n      minimumRingSize: 10\n      ringHash: {}\n", "spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize", "cannot be combined"),
    ("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      useSourceIp: true\n      maglev: {}\n", "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize", "needs a tableSize"),
    ("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      useSourceIp: true\n      maglev:\n        tableSize: 65536\n", "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize", "prime"),
    ("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      useSourceIp: true\n      maglev:\n        tableSize: 5000011\n", "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize", "less than 5000011"),
    ("trafficPolicy:\n  loadBalancer:\n    simple: RANDOM\n    warmupDurationSecs: 10s\n    warmup:\n      duration: 10s\n", "spec.trafficPolicy.loadBalancer", "warmupDurationSecs or warmup"),
    ("trafficPolicy:\n  loadBalancer:\n    warmup:\n      minimumPercent: 10\n", "spec.trafficPolicy.loadBalancer.warmup.duration", "required"),
    ("trafficPolicy:\n  loadBalancer:\n    warmup:\n      duration: 10s\n      minimumPercent: 110\n", "spec.trafficPolicy.loadBalancer.warmup.minimumPercent", "between 0 and 100"),
    ("trafficPolicy:\n  loadBalancer:\n    warmup:\n      duration: 10s\n      aggression: 0\n", "spec.trafficPolicy.loadBalancer.warmup.aggression", "greater than 0"),
    // locality and zone aware settings
    ("trafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      enabled: true\n    zoneAwareLbSetting:\n      enabled: true\n", "spec.trafficPolicy.loadBalancer", "localityLbSetting and zoneAwareLbSetting"),
    ("trafficPolicy:\n  outlierDetection: {}\n  loadBalancer:\n    localityLbSetting:\n      distribute:\n      - from: a/*\n        to:\n          b/*: 100\n      failover:\n      - from: a\n        to: b\n", "spec.trafficPolicy.loadBalancer.localityLbSetting", "distribute and failover"),
    ("trafficPolicy:\n  outlierDetection: {}\n  loadBalancer:\n    localityLbSetting:\n      failover:\n      - from: a\n        to: b\n      failoverPriority: [topology.kubernetes.io/zone]\n", "spec.trafficPolicy.loadBalancer.localityLbSetting.failoverPriority[0]", "cannot be combined with failover"),
    ("trafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute:\n      - from: a/*\n        to:\n          b/*: 60\n          c/*: 30\n", "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to", "add up to 90"),
    ("trafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute:\n      - from: a/*\n        to:\n          b/*: 0\n          c/*: 100\n", "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to.b/*", "between 1 and 100"),
    ("trafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute:\n      - from: a/*\n        to:\n          b/*: 100\n      - from: a/*\n        to:\n          b/*: 100\n", "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute", "overlaps"),
    ("trafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      distribute:\n      - from: a/*/c\n        to:\n          b: 100\n", "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute", "only at the end"),
    ("trafficPolicy:\n  outlierDetection: {}\n  loadBalancer:\n    localityLbSetting:\n      failover:\n      - from: a\n        to: a\n", "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]", "different region"),
    ("trafficPolicy:\n  outlierDetection: {}\n  loadBalancer:\n    localityLbSetting:\n      failover:\n      - from: a/z\n        to: b\n", "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]", "regions only"),
    ("trafficPolicy:\n  outlierDetection: {}\n  loadBalancer:\n    localityLbSetting:\n      failover:\n      - from: \"*\"\n        to: b\n", "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]", "'*'"),
    ("trafficPolicy:\n  outlierDetection: {}\n  loadBalancer:\n    zoneAwareLbSetting:\n      failoverPriority: [topology.kubernetes.io/region]\n", "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.failoverPriority[0]", "must not be in failoverPriority"),
    ("trafficPolicy:\n  outlierDetection: {}\n  loadBalancer:\n    zoneAwareLbSetting:\n      failover:\n      - from: a\n        to: a\n", "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.failover[0]", "different region"),
    ("trafficPolicy:\n  loadBalancer:\n    zoneAwareLbSetting:\n      minClusterSize: 0\n", "spec.trafficPolicy.loadBalancer.zoneAwareLbSetting.minClusterSize", "at least 1"),
    // connection pool
    ("trafficPolicy:\n  connectionPool: {}\n", "spec.trafficPolicy.connectionPool", "tcp or http"),
    ("trafficPolicy:\n  connectionPool:\n    tcp:\n      maxConnections: -1\n", "spec.trafficPolicy.connectionPool.tcp.maxConnections", "negative"),
    ("trafficPolicy:\n  connectionPool:\n    tcp:\n      connectTimeout: 0s\n", "spec.trafficPolicy.connectionPool.tcp.connectTimeout", "at least 1ms"),
    ("trafficPolicy:\n  connectionPool:\n    tcp:\n      idleTimeout: 1.0001s\n", "spec.trafficPolicy.connectionPool.tcp.idleTimeout", "whole milliseconds"),
    ("trafficPolicy:\n  connectionPool:\n    tcp:\n      tcpKeepalive:\n        time: 0s\n", "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.time", "at least 1ms"),
    ("trafficPolicy:\n  connectionPool:\n    tcp:\n      maxConnectionDuration: 0s\n", "spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration", "at least 1ms"),
    ("trafficPolicy:\n  connectionPool:\n    http:\n      http1MaxPendingRequests: -1\n", "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests", "negative"),
    ("trafficPolicy:\n  connectionPool:\n    http:\n      http2MaxRequests: -1\n", "spec.trafficPolicy.connectionPool.http.http2MaxRequests", "negative"),
    ("trafficPolicy:\n  connectionPool:\n    http:\n      maxRequestsPerConnection: -1\n", "spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection", "negative"),
    ("trafficPolicy:\n  connectionPool:\n    http:\n      maxRetries: -1\n", "spec.trafficPolicy.connectionPool.http.maxRetries", "negative"),
    ("trafficPolicy:\n  connectionPool:\n    http:\n      maxConcurrentStreams: -1\n", "spec.trafficPolicy.connectionPool.http.maxConcurrentStreams", "negative"),
    ("trafficPolicy:\n  connectionPool:\n    http:\n      idleTimeout: 0s\n", "spec.trafficPolicy.connectionPool.http.idleTimeout", "at least 1ms"),
    ("trafficPolicy:\n  connectionPool:\n    http:\n      h2UpgradePolicy: UPGRADE\n      useClientProtocol: true\n", "spec.trafficPolicy.connectionPool.http.useClientProtocol", "UPGRADE"),
    ("trafficPolicy:\n  connectionPool:\n    http:\n      http2KeepAlive:\n        interval: 10s\n", "spec.trafficPolicy.connectionPool.http.http2KeepAlive.timeout", "needs an timeout"),
    // outlier detection
    ("trafficPolicy:\n  outlierDetection:\n    consecutiveLocalOriginFailures: 5\n", "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures", "splitExternalLocalOriginErrors"),
    ("trafficPolicy:\n  outlierDetection:\n    maxEjectionPercent: 101\n", "spec.trafficPolicy.outlierDetection.maxEjectionPercent", "between 0 and 100"),
    ("trafficPolicy:\n  outlierDetection:\n    minHealthPercent: -1\n", "spec.trafficPolicy.outlierDetection.minHealthPercent", "between 0 and 100"),
    ("trafficPolicy:\n  outlierDetection:\n    interval: 0s\n", "spec.trafficPolicy.outlierDetection.interval", "at least 1ms"),
    ("trafficPolicy:\n  outlierDetection:\n    baseEjectionTime: 0.5ms\n", "spec.trafficPolicy.outlierDetection.baseEjectionTime", "at least 1ms"),
    ("trafficPolicy:\n  outlierDetection:\n    outlierDetectionHttpErrorCodes: [99]\n", "spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes[0]", "between 100 and 599"),
    // client TLS
    ("trafficPolicy:\n  tls:\n    mode: MUTUAL\n    privateKey: /k\n", "spec.trafficPolicy.tls", "clientCertificate"),
    ("trafficPolicy:\n  tls:\n    mode: MUTUAL\n    clientCertificate: /c\n", "spec.trafficPolicy.tls", "privateKey"),
    ("trafficPolicy:\n  tls:\n    mode: SIMPLE\n    credentialName: creds\n    caCertificates: /ca\n", "spec.trafficPolicy.tls.caCertificates", "credentialName"),
    ("trafficPolicy:\n  tls:\n    mode: MUTUAL\n    credentialName: creds\n    caCrl: /crl\n", "spec.trafficPolicy.tls.caCrl", "credentialName"),
    ("trafficPolicy:\n  tls:\n    mode: SIMPLE\n    insecureSkipVerify: true\n    subjectAltNames: [a]\n", "spec.trafficPolicy.tls.insecureSkipVerify", "subjectAltNames"),
    ("trafficPolicy:\n  tls:\n    mode: MUTUAL\n    insecureSkipVerify: true\n    caCertificates: /ca\n    clientCertificate: /c\n    privateKey: /k\n", "spec.trafficPolicy.tls.insecureSkipVerify", "caCertificates"),
    ("trafficPolicy:\n  tls:\n    mode: SIMPLE\n    credentialName: configmap://other/ca\n", "spec.trafficPolicy.tls.credentialName", "namespace"),
    ("trafficPolicy:\n  tls:\n    mode: SIMPLE\n    credentialName: configmap://ca\n", "spec.trafficPolicy.tls.credentialName", "configmap://<namespace>/<name>"),
    // exportTo and workload selector
    ("workloadSelector:\n  matchLabels:\n    app: a\nexportTo: [other]\n", "spec.exportTo", "beyond its own namespace"),
    ("workloadSelector:\n  matchLabels:\n    app: a\nexportTo: [\".\", other]\n", "spec.exportTo", "only to its own namespace"),
    ("workloadSelector:\n  matchLabels:\n    app: \"a*\"\n", "spec.workloadSelector.matchLabels.app", "wildcard"),
    ("workloadSelector:\n  matchLabels:\n    \"\": a\n", "spec.workloadSelector.matchLabels.", "must not be empty"),
];

#[test]
fn rules() {
    for (spec, path, needle) in ERRORS {
        assert_error(&dr(spec), path, needle);
    }
    // A subset without labels is fine.
    assert_clean(&dr("subsets:\n- name: v1\n"));
}

#[test]
fn host_rules() {
    let text = doc("DestinationRule", "r", "subsets:\n- name: v1\n");
    assert_error(&text, "spec.host", "required");
    let text = doc("DestinationRule", "r", "host: \"a.*.com\"\n");
    let d = assert_error(&text, "spec.host", "wildcard");
    assert_eq!(d.origin.pos.line, line_of(&text, "host:"));
    let text = doc("DestinationRule", "r", "host: foo.123\n");
    assert_error(&text, "spec.host", "all digits");
}

#[test]
fn warnings() {
    assert_warning(
        &dr("trafficPolicy:\n  outlierDetection:\n    consecutiveErrors: 5\n"),
        "spec.trafficPolicy.outlierDetection.consecutiveErrors",
        "deprecated",
    );
    assert_warning(
        &dr("trafficPolicy:\n  loadBalancer:\n    consistentHash:\n      useSourceIp: true\n      minimumRingSize: 10\n"),
        "spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
        "deprecated",
    );
    assert_warning(
        &dr("trafficPolicy:\n  loadBalancer:\n    localityLbSetting:\n      failover:\n      - from: a\n        to: b\n"),
        "spec.trafficPolicy.loadBalancer.localityLbSetting",
        "outlier detection",
    );
    assert_warning(
        &dr("workloadSelector: {}\n"),
        "spec.workloadSelector",
        "no labels",
    );
}
