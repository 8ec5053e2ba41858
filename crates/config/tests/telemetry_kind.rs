//! Telemetry: a full example decodes at both API versions, and each rule reports its path.

mod common;

use common::{assert_error, istio, load_ok};
use verimesh_config::telemetry::{IstioMetric, TagOperation, WorkloadMode};

#[test]
fn full_example_decodes() {
    for api in ["telemetry.istio.io/v1", "telemetry.istio.io/v1alpha1"] {
        let l = load_ok(&istio(
            api,
            "Telemetry",
            "selector: {matchLabels: {app: a}}\ntracing:\n- match: {mode: CLIENT}\n  providers: [{name: zipkin}]\n  randomSamplingPercentage: 10.5\n  customTags:\n    lit: {literal: {value: x}}\n    env: {environment: {name: POD, defaultValue: d}}\n    hdr: {header: {name: x-id}}\nmetrics:\n- providers: [{name: prometheus}]\n  reportingInterval: 15s\n  overrides:\n  - match: {metric: REQUEST_COUNT, mode: SERVER}\n    disabled: false\n    tagOverrides:\n      request_host: {operation: REMOVE}\n      dest: {value: upstream_peer.name}\naccessLogging:\n- providers: [{name: envoy}]\n  filter: {expression: 'response.code >= 400'}\n- disabled: true\n",
        ));
        let t = l.resources[0].as_telemetry().unwrap();
        assert_eq!(
            t.tracing[0].match_.as_ref().unwrap().mode,
            WorkloadMode::Client
        );
        let o = &t.metrics[0].overrides[0];
        assert_eq!(
            o.match_.as_ref().unwrap().metric,
            Some(IstioMetric::RequestCount)
        );
        assert_eq!(
            o.tag_overrides["request_host"].operation,
            TagOperation::Remove
        );
        assert_eq!(t.access_logging[1].disabled, Some(true));
    }
}

#[test]
fn rules() {
    let t = |s: &str| istio("telemetry.istio.io/v1", "Telemetry", s);
    assert_error(
        &t("tracing: [{randomSamplingPercentage: 101}]"),
        "spec.tracing[0].randomSamplingPercentage",
        "percentage",
    );
    assert_error(
        &t("tracing: [{providers: [{name: a}, {name: b}]}]"),
        "spec.tracing[0].providers",
        "at most one",
    );
    assert_error(
        &t("tracing: [{customTags: {x: {}}}]"),
        "spec.tracing[0].customTags.x",
        "exactly one",
    );
    assert_error(
        &t("accessLogging: [{providers: [{}]}]"),
        "spec.accessLogging[0].providers[0].name",
        "needs a name",
    );
    assert_error(
        &t("metrics: [{overrides: [{tagOverrides: {a: {operation: REMOVE, value: x}}}]}]"),
        "spec.metrics[0].overrides[0].tagOverrides.a.value",
        "REMOVE",
    );
    assert_error(
        &t("metrics: [{overrides: [{tagOverrides: {a: {}}}]}]"),
        "spec.metrics[0].overrides[0].tagOverrides.a.value",
        "UPSERT",
    );
    assert_error(
        &t("metrics: [{overrides: [{match: {metric: ALL_METRICS, customMetric: x}}]}]"),
        "spec.metrics[0].overrides[0].match",
        "not both",
    );
    assert_error(
        &t("selector: {matchLabels: {a: b}}\ntargetRefs: [{kind: Service, name: s}]"),
        "spec.selector",
        "not both",
    );
    assert_error(
        &t("targetRef: {kind: Service, name: s}\ntargetRefs: [{kind: Service, name: s}]"),
        "spec.targetRefs",
        "not both",
    );
    assert_error(
        &t("tracing: [{bogus: 1}]"),
        "spec.tracing[0].bogus",
        "unknown field",
    );
}
