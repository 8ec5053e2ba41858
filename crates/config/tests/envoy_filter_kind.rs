//! EnvoyFilter: a full example decodes, and each validation rule reports its path.

mod common;

use common::{assert_error, assert_warning, istio, load, load_ok};
use verimesh_config::envoy_filter::{ApplyTo, Operation, PatchContext};

const API: &str = "networking.istio.io/v1alpha3";

#[test]
fn full_example_decodes() {
    let l = load_ok(&istio(
        API,
        "EnvoyFilter",
        "workloadSelector: {labels: {app: reviews}}\npriority: -5\nconfigPatches:\n- applyTo: HTTP_FILTER\n  match:\n    context: SIDECAR_INBOUND\n    proxy: {proxyVersion: '^1\\.2.*', metadata: {A: b}}\n    listener:\n      portNumber: 8080\n      filterChain:\n        filter:\n          name: envoy.filters.network.http_connection_manager\n          subFilter: {name: envoy.filters.http.router}\n  patch:\n    operation: INSERT_BEFORE\n    filterClass: AUTHZ\n    value: {name: envoy.lua, typed_config: {'@type': type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua}}\n- applyTo: VIRTUAL_HOST\n  match: {routeConfiguration: {vhost: {name: 'inbound|http|9080', route: {action: ROUTE}}}}\n  patch: {operation: MERGE, value: {domains: ['*']}}\n- applyTo: CLUSTER\n  match: {cluster: {service: a.b, portNumber: 80}}\n  patch: {operation: REMOVE}\n",
    ));
    let ef = l.resources[0].as_envoy_filter().unwrap();
    assert_eq!(ef.priority, -5);
    assert_eq!(ef.config_patches[0].apply_to, ApplyTo::HttpFilter);
    let m = ef.config_patches[0].match_.as_ref().unwrap();
    assert_eq!(m.context, PatchContext::SidecarInbound);
    assert_eq!(
        ef.config_patches[2].patch.as_ref().unwrap().operation,
        Operation::Remove
    );
}

#[test]
fn rules() {
    let ef = |s: &str| istio(API, "EnvoyFilter", s);
    assert_error(
        &ef("configPatches:\n- patch: {operation: ADD, value: {}}\n"),
        "spec.configPatches[0].applyTo",
        "required",
    );
    assert_error(
        &ef("configPatches:\n- applyTo: CLUSTER\n"),
        "spec.configPatches[0].patch",
        "required",
    );
    assert_error(
        &ef("configPatches:\n- applyTo: CLUSTER\n  patch: {value: {}}\n"),
        "spec.configPatches[0].patch.operation",
        "required",
    );
    assert_error(
        &ef("configPatches:\n- applyTo: CLUSTER\n  patch: {operation: MERGE}\n"),
        "spec.configPatches[0].patch.value",
        "required",
    );
    assert_error(&ef("configPatches:\n- applyTo: CLUSTER\n  match: {proxy: {proxyVersion: '('}}\n  patch: {operation: REMOVE}\n"), "spec.configPatches[0].match.proxy.proxyVersion", "regular expression");
    assert_error(&ef("configPatches:\n- applyTo: CLUSTER\n  match: {listener: {}}\n  patch: {operation: REMOVE}\n"), "spec.configPatches[0].match", "cluster match");
    assert_error(&ef("configPatches:\n- applyTo: HTTP_ROUTE\n  match: {cluster: {}}\n  patch: {operation: REMOVE}\n"), "spec.configPatches[0].match", "routeConfiguration");
    assert_error(&ef("configPatches:\n- applyTo: NETWORK_FILTER\n  match: {listener: {filterChain: {filter: {name: x, subFilter: {name: y}}}}}\n  patch: {operation: REMOVE}\n"), "spec.configPatches[0].match.listener.filterChain.filter.subFilter", "HTTP_FILTER");
    assert_error(&ef("configPatches:\n- applyTo: HTTP_FILTER\n  match: {listener: {filterChain: {filter: {name: x, subFilter: {name: y}}}}}\n  patch: {operation: REMOVE}\n"), "spec.configPatches[0].match.listener.filterChain.filter.name", "http_connection_manager");
    assert_warning(&ef("configPatches:\n- applyTo: LISTENER\n  match: {listener: {filterChain: {filter: {name: x}}}}\n  patch: {operation: REMOVE}\n"), "spec.configPatches[0].match.listener.filterChain.filter", "no effect");
    assert_error(
        &ef("workloadSelector: {labels: {a: b}}\ntargetRefs: [{kind: Service, name: s}]\n"),
        "spec.targetRefs",
        "not both",
    );
    assert_error(&ef("configPatches:\n- applyTo: CLUSTER\n  patch: {operation: ADD, value: {}}\n  extra: 1\n"), "spec.configPatches[0].extra", "unknown field");
    assert_error(
        &ef("configPatches:\n- applyTo: SOMETHING\n"),
        "spec.configPatches[0].applyTo",
        "unknown variant",
    );
    // A waypoint patch is not checked further.
    let l = load(&ef(
        "configPatches:\n- applyTo: CLUSTER\n  match: {context: WAYPOINT}\n",
    ));
    assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
}
