//! MeshConfig: decoding, Istio's defaults, unmodeled fields, errors with positions, and the
//! `istio` ConfigMap.

use verimesh_config::mesh::{MeshConfig, NormalizationType, OutboundMode, ProviderKind};
use verimesh_config::{load_str, Loaded};

const FULL: &str = r#"
trustDomain: example.org
trustDomainAliases: [old.example.org]
rootNamespace: mesh-root
enableAutoMtls: false
enableTracing: false
accessLogFile: /dev/stdout
accessLogEncoding: JSON
accessLogFormat: "[%START_TIME%] %REQ(:METHOD)%"
outboundTrafficPolicy:
  mode: REGISTRY_ONLY
inboundTrafficPolicy:
  mode: LOCALHOST
pathNormalization:
  normalization: MERGE_SLASHES
defaultDestinationRuleExportTo: ["."]
defaultVirtualServiceExportTo: ["."]
defaultServiceExportTo: ["*"]
ingressClass: istio
ingressService: istio-ingressgateway
ingressControllerMode: STRICT
ingressSelector: ingressgateway
connectTimeout: 5s
protocolDetectionTimeout: 100ms
dnsRefreshRate: 30s
h2UpgradePolicy: UPGRADE
enablePrometheusMerge: true
localityLbSetting:
  enabled: true
meshMTLS:
  minProtocolVersion: TLSV1_3
tlsDefaults:
  ecdhCurves: [P-256]
caCertificates:
- pem: "-----BEGIN CERTIFICATE-----"
  certSigners: [clusterissuers.cert-manager.io/foo]
- spiffeBundleUrl: https://bundle.example.org/
  trustDomains: [example.org]
discoverySelectors:
- matchLabels: {istio-discovery: enabled}
- matchExpressions:
  - {key: env, operator: In, values: [prod]}
serviceSettings:
- settings: {clusterLocal: true}
  hosts: ["*.kube-system.svc.cluster.local"]
defaultProviders:
  metrics: [prometheus]
  accessLogging: [envoy]
extensionProviders:
- name: ext-authz-http
  envoyExtAuthzHttp:
    service: ext-authz.foo.svc.cluster.local
    port: 8000
    timeout: 2s
    pathPrefix: /check
    failOpen: false
    statusOnError: "503"
    includeRequestHeadersInCheck: [x-ext-authz]
    headersToUpstreamOnAllow: [x-user]
    headersToDownstreamOnDeny: [x-reason]
    includeRequestBodyInCheck: {maxRequestBytes: 4096, allowPartialMessage: true}
- name: ext-authz-grpc
  envoyExtAuthzGrpc:
    service: ext-authz.foo.svc.cluster.local
    port: 9000
    timeout: 500ms
- name: prometheus
  prometheus: {}
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411, maxTagLength: 56}
- name: otel
  opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}
- name: envoy
  envoyFileAccessLog: {path: /dev/stdout, logFormat: {labels: {method: "%REQ(:METHOD)%"}}}
defaultConfig:
  discoveryAddress: istiod.mesh-root.svc:15012
  holdApplicationUntilProxyStarts: true
  concurrency: 4
  proxyMetadata:
    ISTIO_META_DNS_CAPTURE: "true"
  tracing:
    sampling: 10.5
    zipkin: {address: zipkin.istio-system:9411}
  terminationDrainDuration: 10s
"#;

#[test]
fn full_mesh_config_decodes() {
    let m = MeshConfig::from_yaml_str("mesh.yaml", FULL).unwrap();
    assert_eq!(m.trust_domain(), "example.org");
    assert_eq!(m.root_namespace(), "mesh-root");
    assert!(!m.enable_auto_mtls());
    assert!(!m.enable_tracing());
    assert_eq!(m.outbound_mode(), OutboundMode::RegistryOnly);
    assert_eq!(m.path_normalization(), NormalizationType::MergeSlashes);
    assert_eq!(m.extension_providers.len(), 6);
    let authz = m.extension_provider("ext-authz-http").unwrap();
    assert_eq!(authz.kind(), ProviderKind::ExtAuthzHttp);
    assert!(authz.is_ext_authz());
    let http = authz.envoy_ext_authz_http.as_ref().unwrap();
    assert_eq!(http.port, 8000);
    assert_eq!(http.timeout.unwrap().as_std().as_secs(), 2);
    let pc = m.proxy_config();
    assert_eq!(pc.concurrency(), 4);
    assert!(pc.hold_application_until_proxy_starts());
    assert_eq!(pc.tracing.as_ref().unwrap().sampling, Some(10.5));
    assert!(
        m.unmodeled_fields().is_empty(),
        "{:?}",
        m.unmodeled_fields()
    );
    assert!(m.validate().items.is_empty());
}

#[test]
fn defaults_follow_istio() {
    let m = MeshConfig::from_yaml_str("mesh.yaml", "").unwrap();
    assert_eq!(m.trust_domain(), "cluster.local");
    assert_eq!(m.outbound_mode(), OutboundMode::AllowAny);
    assert_eq!(m.root_namespace(), "istio-system");
    assert!(m.enable_auto_mtls());
    assert_eq!(m.path_normalization(), NormalizationType::Base);
    let m = MeshConfig::from_yaml_str("m", "pathNormalization: {normalization: DEFAULT}").unwrap();
    assert_eq!(m.path_normalization(), NormalizationType::Base);
    assert_eq!(
        m.proxy_config().discovery_address(),
        "istiod.istio-system.svc:15012"
    );
}

#[test]
fn unmodeled_fields_are_kept_and_listed() {
    let text = "trustDomain: a.b\nthriftConfig: {}\ndefaultConfig:\n  proxyStatsMatcher: {inclusionPrefixes: [x]}\n  newKnob: 3\nextensionProviders:\n- name: ls\n  stackdriver: {maxTagLength: 3}\n";
    let m = MeshConfig::from_yaml_str("m", text).unwrap();
    let mut f = m.unmodeled_fields();
    f.sort();
    assert_eq!(
        f,
        [
            "defaultConfig.newKnob",
            "extensionProviders[0].stackdriver",
            "thriftConfig"
        ]
    );
    assert_eq!(m.extension_providers[0].kind(), ProviderKind::Other);
    let json = serde_json::to_value(&m).unwrap();
    assert_eq!(json["defaultConfig"]["newKnob"], 3);
}

#[test]
fn decode_errors_carry_positions() {
    let text = "trustDomain: a.b\noutboundTrafficPolicy:\n  mode: SOMETIMES\n";
    let errs = MeshConfig::from_yaml_str("m.yaml", text).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].path.to_string(), "outboundTrafficPolicy.mode");
    assert_eq!(errs[0].origin.pos.line, 3);
    assert!(errs[0].message.contains("SOMETIMES"), "{}", errs[0].message);
    assert!(MeshConfig::from_yaml_str("m", "[1]").is_err());
    assert!(MeshConfig::from_yaml_str("m", "a: [").is_err());
    assert!(MeshConfig::from_yaml_str("m", "a: 1\n---\nb: 2\n").is_err());
}

#[test]
fn validation_rules() {
    let cases: &[(&str, &str, &str)] = &[
        ("trustDomain: bad_domain!", "trustDomain", "is invalid"),
        ("rootNamespace: Istio", "rootNamespace", "DNS-1123"),
        ("extensionProviders:\n- prometheus: {}", "extensionProviders[0].name", "needs a name"),
        (
            "extensionProviders:\n- {name: a, prometheus: {}}\n- {name: a, prometheus: {}}",
            "extensionProviders[1].name",
            "duplicate",
        ),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzGrpc: {port: 9000}",
            "extensionProviders[0].envoyExtAuthzGrpc.service",
            "required",
        ),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: x, port: 0}",
            "extensionProviders[0].envoyExtAuthzHttp.port",
            "1..65535",
        ),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzHttp: {service: x, port: 1, statusOnError: nope}",
            "extensionProviders[0].envoyExtAuthzHttp.statusOnError",
            "status code",
        ),
        (
            "extensionProviders:\n- name: a\n  envoyExtAuthzGrpc: {service: x, port: 1, statusOnError: '42'}",
            "extensionProviders[0].envoyExtAuthzGrpc.statusOnError",
            "status code",
        ),
        (
            "discoverySelectors:\n- matchExpressions: [{key: a, operator: In}]",
            "discoverySelectors[0].matchExpressions[0].values",
            "at least one value",
        ),
    ];
    for (text, path, msg) in cases {
        let errs = MeshConfig::from_yaml_str("m", text).unwrap_err();
        assert!(
            errs.iter()
                .any(|d| d.path.to_string() == *path && d.message.contains(msg)),
            "{text}: {errs:?}"
        );
    }
}

#[test]
fn from_config_map_reports_lines_inside_it() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: istio\n  namespace: istio-system\ndata:\n  mesh: |-\n    trustDomain: corp.example\n    outboundTrafficPolicy:\n      mode: NEVER\n  meshNetworks: 'networks: {}'\n";
    let mut l = Loaded::default();
    load_str(&mut l, "cm.yaml", text);
    assert!(!l.has_errors(), "{:?}", l.diagnostics);
    let errs = MeshConfig::from_config_map(&l.resources[0])
        .unwrap()
        .unwrap_err();
    assert_eq!(
        errs[0].path.to_string(),
        "data.mesh.outboundTrafficPolicy.mode"
    );
    assert_eq!(errs[0].origin.pos.line, 10);
    assert_eq!(&*errs[0].origin.file, "cm.yaml");

    let ok = text.replace("NEVER", "REGISTRY_ONLY");
    let mut l = Loaded::default();
    load_str(&mut l, "cm.yaml", &ok);
    let m = MeshConfig::from_config_map(&l.resources[0])
        .unwrap()
        .unwrap();
    assert_eq!(m.trust_domain(), "corp.example");
    assert_eq!(m.outbound_mode(), OutboundMode::RegistryOnly);

    let other = ok.replace("name: istio\n", "name: other\n");
    let mut l = Loaded::default();
    load_str(&mut l, "cm.yaml", &other);
    assert!(MeshConfig::from_config_map(&l.resources[0]).is_none());
}

#[test]
fn from_config_map_single_line_value() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: 'rootNamespace: Bad'\n";
    let mut l = Loaded::default();
    load_str(&mut l, "cm.yaml", text);
    let errs = MeshConfig::from_config_map(&l.resources[0])
        .unwrap()
        .unwrap_err();
    assert_eq!(errs[0].origin.pos.line, 5);
    assert_eq!(errs[0].path.to_string(), "data.mesh.rootNamespace");
}
