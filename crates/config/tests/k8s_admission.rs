//! Webhook configurations, CustomResourceDefinitions and Nodes: full examples decode (unknown
//! fields accepted), and each rule reports its path.

mod common;

use common::{assert_error, assert_warning, load_ok};

const MUTATING: &str = r#"apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: istio-sidecar-injector}
webhooks:
- name: namespace.sidecar-injector.istio.io
  admissionReviewVersions: [v1beta1, v1]
  sideEffects: None
  failurePolicy: Fail
  reinvocationPolicy: Never
  timeoutSeconds: 10
  clientConfig:
    service: {name: istiod, namespace: istio-system, path: /inject, port: 443}
    caBundle: Zm9v
  rules:
  - {operations: [CREATE], apiGroups: [""], apiVersions: [v1], resources: [pods], scope: '*'}
  namespaceSelector:
    matchExpressions:
    - {key: istio-injection, operator: In, values: [enabled]}
  objectSelector: {matchLabels: {sidecar.istio.io/inject: "true"}}
  futureField: 1
"#;

#[test]
fn webhooks_decode() {
    let l = load_ok(MUTATING);
    let c = l.resources[0].as_mutating_webhook_configuration().unwrap();
    let h = &c.webhooks[0];
    assert_eq!(h.client_config.service.as_ref().unwrap().port, Some(443));
    assert!(h.namespace_selector.is_some());
    let v = load_ok("apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: istiod-default-validator}\nwebhooks:\n- name: validation.istio.io\n  sideEffects: None\n  admissionReviewVersions: [v1]\n  clientConfig: {url: 'https://istiod.example.com:15017/validate'}\n");
    let c = v.resources[0]
        .as_validating_webhook_configuration()
        .unwrap();
    assert_eq!(
        c.webhooks[0].client_config.url.as_deref(),
        Some("https://istiod.example.com:15017/validate")
    );
}

fn hook(fields: &str) -> String {
    format!("apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {{name: v}}\nwebhooks:\n- {{name: a.b.io, sideEffects: None, admissionReviewVersions: [v1], {fields}}}\n")
}

#[test]
fn webhook_rules() {
    assert_error(
        &hook("clientConfig: {url: null}"),
        "webhooks[0].clientConfig",
        "exactly one of url or service",
    );
    assert_error(
        &hook("clientConfig: {url: 'http://x/'}"),
        "webhooks[0].clientConfig.url",
        "https",
    );
    assert_error(
        &hook("clientConfig: {url: 'https://x/', service: {name: a, namespace: b}}"),
        "webhooks[0].clientConfig",
        "not both",
    );
    assert_error(
        &hook("clientConfig: {service: {name: a, namespace: b, port: 0}}"),
        "webhooks[0].clientConfig.service.port",
        "1..65535",
    );
    assert_error(
        &hook("clientConfig: {service: {name: a, namespace: b}}, timeoutSeconds: 31"),
        "webhooks[0].timeoutSeconds",
        "1 to 30",
    );
    assert_error(
        &hook("clientConfig: {service: {name: a, namespace: b}}, failurePolicy: Sometimes"),
        "webhooks[0].failurePolicy",
        "not one of",
    );
    assert_error(
        &hook("clientConfig: {service: {name: a, namespace: b}}, reinvocationPolicy: Never"),
        "webhooks[0].reinvocationPolicy",
        "only mutating",
    );
    assert_error("apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {name: m}\nwebhooks:\n- {name: short, clientConfig: {service: {name: a, namespace: b}}}\n", "webhooks[0].name", "fully qualified");
    assert_error("apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {name: m}\nwebhooks:\n- {name: a.b.io, admissionReviewVersions: [v1], clientConfig: {service: {name: a, namespace: b}}}\n", "webhooks[0].sideEffects", "required");
    assert_warning(
        &hook("clientConfig: {service: {name: a, namespace: b}}")
            .replace("{name: v}", "{name: v, namespace: x}"),
        "metadata.namespace",
        "not namespaced",
    );
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: tlsroutes.gateway.networking.k8s.io\n  annotations: {gateway.networking.k8s.io/bundle-version: v1.4.1}\nspec:\n  group: gateway.networking.k8s.io\n  names: {kind: TLSRoute, plural: tlsroutes, singular: tlsroute, listKind: TLSRouteList}\n  scope: Namespaced\n  versions:\n  - name: v1alpha2\n    served: true\n    storage: true\n    schema: {openAPIV3Schema: {type: object}}\n    subresources: {status: {}}\n";

#[test]
fn crds() {
    let l = load_ok(CRD);
    let c = l.resources[0].as_custom_resource_definition().unwrap();
    assert_eq!(c.spec.names.kind, "TLSRoute");
    assert_eq!(c.spec.versions[0].name, "v1alpha2");
    assert_error(
        &CRD.replace("name: tlsroutes.gateway", "name: other.gateway"),
        "metadata.name",
        "plural name",
    );
    assert_error(
        &CRD.replace("scope: Namespaced", "scope: Global"),
        "spec.scope",
        "Namespaced, Cluster",
    );
    assert_error(
        &CRD.replace("storage: true", "storage: false"),
        "spec.versions",
        "storage version",
    );
}

#[test]
fn nodes() {
    let l = load_ok("apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {topology.kubernetes.io/zone: z}}\nspec: {podCIDR: 10.0.0.0/24}\nstatus: {capacity: {cpu: '4'}}\n");
    assert!(l.resources[0].as_node().is_some());
    assert_warning(
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1, namespace: x}\n",
        "metadata.namespace",
        "not namespaced",
    );
}
