//! AuthorizationPolicy: a full example decodes, and each validation rule reports its path.

mod common;

use common::{assert_error, assert_warning, istio, load_ok};
use verimesh_config::security::Action;

fn ap(spec: &str) -> String {
    istio("security.istio.io/v1", "AuthorizationPolicy", spec)
}

const AUTHZ_FULL: &str = r#"selector:
  matchLabels: {app: httpbin, version: v1}
action: ALLOW
rules:
- from:
  - source:
      principals: ["cluster.local/ns/default/sa/curl"]
      notPrincipals: ["*/sa/evil"]
      requestPrincipals: ["testing@secure.istio.io/*"]
      notRequestPrincipals: ["*bad"]
      namespaces: [dev]
      notNamespaces: ["kube-*"]
      ipBlocks: ["10.0.0.0/8", "192.168.1.1"]
      notIpBlocks: ["10.1.0.0/16"]
      remoteIpBlocks: ["203.0.113.0/24"]
      notRemoteIpBlocks: ["203.0.113.9"]
      trustDomains: ["*.example.com"]
      notTrustDomains: [evil.example.com]
  - source:
      serviceAccounts: [curl, "other/sleep"]
      notServiceAccounts: [default/bad]
  to:
  - operation:
      hosts: ["*.example.com", httpbin]
      notHosts: [admin.example.com]
      ports: ["8000"]
      notPorts: ["9000"]
      methods: [GET, HEAD]
      notMethods: [DELETE]
      paths: ["/info*", "/api/{*}/items/{**}"]
      notPaths: ["/admin/*"]
  when:
  - key: request.auth.claims[iss]
    values: ["https://accounts.google.com"]
  - key: request.headers[version]
    notValues: [v0]
  - {key: source.ip, values: ["10.0.0.1"]}
  - {key: remote.ip, values: ["10.0.0.0/8"]}
  - {key: source.namespace, values: [default]}
  - {key: source.principal, values: ["cluster.local/ns/default/sa/curl"]}
  - {key: request.auth.principal, values: ["a/b"]}
  - {key: request.auth.audiences, values: [aud]}
  - {key: request.auth.presenter, values: [p]}
  - {key: "request.auth.claims[nested][key]", values: [v]}
  - {key: destination.ip, values: ["10.0.0.2"]}
  - {key: destination.port, values: ["8080"]}
  - {key: connection.sni, values: [www.example.com]}
  - {key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"]}
- {}
"#;

#[test]
fn authorization_policy_full() {
    let l = load_ok(&ap(AUTHZ_FULL));
    let p = l.resources[0].as_authorization_policy().unwrap();
    assert_eq!(p.action(), Action::Allow);
    assert_eq!(p.rules.len(), 2);
    assert_eq!(p.rules[0].when.len(), 14);
    let custom = ap("action: CUSTOM\nprovider: {name: my-ext-authz}\nrules:\n- to:\n  - operation: {paths: [\"/admin/*\"]}\n");
    load_ok(&custom);
    load_ok(&ap(
        "action: AUDIT\nrules:\n- to:\n  - operation: {methods: [POST]}\n",
    ));
    load_ok(&ap("{}"));
}

fn rule(r: &str) -> String {
    ap(&format!("rules:\n- {r}\n"))
}

#[test]
fn authorization_policy_action_rules() {
    assert_error(
        &ap("action: CUSTOM\nrules:\n- {}\n"),
        "spec.provider",
        "needs a provider",
    );
    assert_error(
        &ap("action: CUSTOM\nprovider: {}\nrules:\n- {}\n"),
        "spec.provider.name",
        "must not be empty",
    );
    assert_error(
        &ap("action: DENY\nprovider: {name: x}\nrules:\n- {}\n"),
        "spec.provider",
        "only used with the CUSTOM action",
    );
    assert_error(&ap("action: DENY\n"), "spec.rules", "never applies");
    assert_error(
        &ap("action: CUSTOM\nprovider: {name: x}\n"),
        "spec.rules",
        "never applies",
    );
    assert_error(&ap("action: MAYBE\n"), "spec.action", "unknown variant");
    assert_error(
        &ap(
            "action: CUSTOM\nprovider: {name: x}\nrules:\n- from:\n  - source: {principals: [a]}\n",
        ),
        "spec.rules[0].from[0].source.principals",
        "not supported with the CUSTOM action",
    );
    assert_error(&ap("action: CUSTOM\nprovider: {name: x}\nrules:\n- when:\n  - {key: \"request.auth.claims[iss]\", values: [a]}\n"), "spec.rules[0].when[0].key", "not supported with the CUSTOM action");
    assert_warning(
        &ap("action: DENY\nrules:\n- to:\n  - operation: {methods: [GET]}\n"),
        "spec.rules[0]",
        "only HTTP attributes",
    );
    let dry = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: x\n  annotations: {\"istio.io/dry-run\": \"yes\"}\nspec: {}\n";
    assert_error(
        dry,
        "metadata.annotations.istio.io/dry-run",
        "not a boolean",
    );
    let dry_audit = dry
        .replace("\"yes\"", "\"true\"")
        .replace("spec: {}", "spec: {action: AUDIT, rules: [{}]}");
    assert_error(
        &dry_audit,
        "metadata.annotations.istio.io/dry-run",
        "only supported for ALLOW and DENY",
    );
    assert_error(
        &ap("selector: {matchLabels: {a: b}}\ntargetRefs: [{kind: Service, name: s}]\n"),
        "spec.targetRefs",
        "mutually exclusive",
    );
}

#[test]
fn authorization_policy_source_rules() {
    assert_error(
        &rule("from:\n  - {}"),
        "spec.rules[0].from[0].source",
        "needs a source",
    );
    assert_error(
        &rule("from:\n  - source: {}"),
        "spec.rules[0].from[0].source",
        "must not be empty",
    );
    assert_error(
        &rule("from:\n  - source: {principals: [a], serviceAccounts: [b]}"),
        "spec.rules[0].from[0].source.serviceAccounts",
        "cannot be combined",
    );
    assert_error(
        &rule("from:\n  - source: {namespaces: [a], notServiceAccounts: [b]}"),
        "spec.rules[0].from[0].source.notServiceAccounts",
        "cannot be combined",
    );
    assert_error(
        &rule("from:\n  - source: {ipBlocks: [\"10.0.0.0/33\"]}"),
        "spec.rules[0].from[0].source.ipBlocks[0]",
        "CIDR",
    );
    assert_error(
        &rule("from:\n  - source: {notIpBlocks: [nope]}"),
        "spec.rules[0].from[0].source.notIpBlocks[0]",
        "IP address",
    );
    assert_error(
        &rule("from:\n  - source: {remoteIpBlocks: [\"1.2.3\"]}"),
        "spec.rules[0].from[0].source.remoteIpBlocks[0]",
        "IP address",
    );
    assert_error(
        &rule("from:\n  - source: {notRemoteIpBlocks: [x]}"),
        "spec.rules[0].from[0].source.notRemoteIpBlocks[0]",
        "IP address",
    );
    assert_error(
        &rule("from:\n  - source: {principals: [\"\"]}"),
        "spec.rules[0].from[0].source.principals[0]",
        "empty",
    );
    assert_error(
        &rule("from:\n  - source: {principals: [\"cluster.local/ns/*/sa/x\"]}"),
        "spec.rules[0].from[0].source.principals[0]",
        "prefix or a suffix",
    );
    assert_error(
        &rule("from:\n  - source: {serviceAccounts: [\"a/b/c\"]}"),
        "spec.rules[0].from[0].source.serviceAccounts[0]",
        "namespace/serviceAccount",
    );
    assert_error(
        &rule("from:\n  - source: {serviceAccounts: [\"a*\"]}"),
        "spec.rules[0].from[0].source.serviceAccounts[0]",
        "wildcards",
    );
    let many: Vec<String> = (0..17).map(|i| format!("sa{i}")).collect();
    assert_error(
        &rule(&format!(
            "from:\n  - source: {{serviceAccounts: [{}]}}",
            many.join(", ")
        )),
        "spec.rules[0].from[0].source.serviceAccounts",
        "at most 16",
    );
    assert_error(
        &rule("from:\n  - source: {trustDomains: [\"a/b\"]}"),
        "spec.rules[0].from[0].source.trustDomains[0]",
        "must not contain '/'",
    );
}

#[test]
fn authorization_policy_operation_rules() {
    assert_error(
        &rule("to:\n  - {}"),
        "spec.rules[0].to[0].operation",
        "needs an operation",
    );
    assert_error(
        &rule("to:\n  - operation: {}"),
        "spec.rules[0].to[0].operation",
        "must not be empty",
    );
    assert_error(
        &rule("to:\n  - operation: {ports: [\"70000\"]}"),
        "spec.rules[0].to[0].operation.ports[0]",
        "1..65535",
    );
    assert_error(
        &rule("to:\n  - operation: {notPorts: [http]}"),
        "spec.rules[0].to[0].operation.notPorts[0]",
        "must be a number",
    );
    assert_error(
        &rule("to:\n  - operation: {hosts: [\"a.*.com\"]}"),
        "spec.rules[0].to[0].operation.hosts[0]",
        "prefix or a suffix",
    );
    assert_error(
        &rule("to:\n  - operation: {notHosts: [\"\"]}"),
        "spec.rules[0].to[0].operation.notHosts[0]",
        "empty",
    );
    assert_error(
        &rule("to:\n  - operation: {paths: [\"/a/*/b\"]}"),
        "spec.rules[0].to[0].operation.paths[0]",
        "prefix or a suffix",
    );
    assert_error(
        &rule("to:\n  - operation: {paths: [\"/a/{**}/{*}\"]}"),
        "spec.rules[0].to[0].operation.paths[0]",
        "{**} must be the last",
    );
    assert_error(
        &rule("to:\n  - operation: {notPaths: [\"/a/{id}\"]}"),
        "spec.rules[0].to[0].operation.notPaths[0]",
        "outside a {*} or {**} template",
    );
    assert_error(
        &rule("to:\n  - operation: {paths: [\"/a/{*}x\"]}"),
        "spec.rules[0].to[0].operation.paths[0]",
        "not a whole",
    );
    assert_error(
        &rule("to:\n  - operation: {paths: [\"/a/b c/{*}\"]}"),
        "spec.rules[0].to[0].operation.paths[0]",
        "RFC 3986",
    );
    assert_error(
        &rule("to:\n  - operation: {methods: [\"\"]}"),
        "spec.rules[0].to[0].operation.methods[0]",
        "must not be empty",
    );
    assert_warning(
        &rule("to:\n  - operation: {methods: [get]}"),
        "spec.rules[0].to[0].operation.methods[0]",
        "case-sensitive",
    );
}

#[test]
fn authorization_policy_condition_rules() {
    let when = |c: &str| rule(&format!("when:\n  - {c}"));
    assert_error(
        &when("{values: [a]}"),
        "spec.rules[0].when[0].key",
        "required",
    );
    assert_error(
        &when("{key: \"request.headers[x]\"}"),
        "spec.rules[0].when[0]",
        "needs values or notValues",
    );
    assert_error(
        &when("{key: request.color, values: [a]}"),
        "spec.rules[0].when[0].key",
        "unknown condition key",
    );
    assert_error(
        &when("{key: request.headers, values: [a]}"),
        "spec.rules[0].when[0].key",
        "request.headers[name]",
    );
    assert_error(
        &when("{key: \"request.auth.claims[]\", values: [a]}"),
        "spec.rules[0].when[0].key",
        "request.auth.claims[name]",
    );
    assert_error(
        &when("{key: experimental.envoy.filters.x, values: [a]}"),
        "spec.rules[0].when[0].key",
        "experimental.envoy.filters",
    );
    assert_error(
        &when("{key: \"destination.labels[app]\", values: [a]}"),
        "spec.rules[0].when[0].key",
        "selector",
    );
    assert_error(
        &when("{key: destination.namespace, values: [a]}"),
        "spec.rules[0].when[0].key",
        "namespace",
    );
    assert_error(
        &when("{key: destination.user, values: [a]}"),
        "spec.rules[0].when[0].key",
        "no longer supported",
    );
    assert_error(
        &when("{key: source.ip, values: [nope]}"),
        "spec.rules[0].when[0].values[0]",
        "IP address",
    );
    assert_error(
        &when("{key: destination.ip, notValues: [\"1.2.3.4/40\"]}"),
        "spec.rules[0].when[0].notValues[0]",
        "CIDR",
    );
    assert_error(
        &when("{key: destination.port, values: [\"99999\"]}"),
        "spec.rules[0].when[0].values[0]",
        "1..65535",
    );
    assert_error(
        &when("{key: source.serviceAccount, values: [\"a/b/c\"]}"),
        "spec.rules[0].when[0].values[0]",
        "namespace/serviceAccount",
    );
    assert_error(
        &when("{key: connection.sni, values: [\"\"]}"),
        "spec.rules[0].when[0].values[0]",
        "empty",
    );
}
