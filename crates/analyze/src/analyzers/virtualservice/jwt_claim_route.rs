//! `virtualservice.JWTClaimRouteAnalyzer`: routing on a JWT claim
//! (`@request.auth.claims.<name>` headers) only works where a RequestAuthentication has
//! validated the token; for every gateway pod the VirtualService is bound to, one must select
//! it (from the pod's namespace or the root namespace).

use crate::analyzers::Analyzer;
use crate::hosts::{selector_matches, MESH_GATEWAY};
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;
use verimesh_config::networking::{is_jwt_claim_header, VirtualService};
use verimesh_config::Kind;

pub struct JwtClaimRouteAnalyzer;

/// Where mesh-wide RequestAuthentications live, as Istio's analyzer assumes.
const ROOT_NAMESPACE: &str = "istio-system";

/// The first header (or withoutHeaders) key of an HTTP match that routes on a JWT claim.
fn jwt_claim_key(vs: &VirtualService) -> Option<&str> {
    vs.http.iter().flat_map(|h| &h.r#match).find_map(|m| {
        m.headers
            .keys()
            .chain(m.without_headers.keys())
            .find(|k| is_jwt_claim_header(k))
            .map(String::as_str)
    })
}

impl Analyzer for JwtClaimRouteAnalyzer {
    fn name(&self) -> &'static str {
        "virtualservice.JWTClaimRouteAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        // RequestAuthentication selectors by namespace (an empty selector selects every pod).
        let mut authn: BTreeMap<&str, Vec<&BTreeMap<String, String>>> = BTreeMap::new();
        let none = BTreeMap::new();
        for r in snap.of_kind(Kind::RequestAuthentication) {
            if let Some(ra) = r.as_request_authentication() {
                let sel = ra.selector.as_ref().map_or(&none, |s| &s.match_labels);
                authn.entry(snap.ns(r)).or_default().push(sel);
            }
        }
        for r in snap.of_kind(Kind::VirtualService) {
            let Some(vs) = r.as_virtual_service() else {
                continue;
            };
            let Some(key) = jwt_claim_key(vs) else {
                continue;
            };
            for gw_name in vs.gateways.iter().filter(|g| *g != MESH_GATEWAY) {
                let Some(gw_res) = snap.find_short_or_full(Kind::Gateway, snap.ns(r), gw_name)
                else {
                    // A missing gateway is the GatewayAnalyzer's to report.
                    continue;
                };
                let Some(gw) = gw_res.as_gateway() else {
                    continue;
                };
                for pod in snap.workloads() {
                    if !selector_matches(&gw.selector, pod.labels) {
                        continue;
                    }
                    let validated = [ROOT_NAMESPACE, pod.namespace.as_str()]
                        .iter()
                        .flat_map(|ns| authn.get(ns).into_iter().flatten())
                        .any(|sel| selector_matches(sel, pod.labels));
                    if !validated {
                        out.add(
                            messages::JWT_CLAIM_BASED_ROUTING_WITHOUT_REQUEST_AUTHN,
                            r,
                            "",
                            format!(
                                "routes on JWT claim {key:?} through gateway {}, but no RequestAuthentication selects its pod {}, \
                                 so the token is never validated and the claim is never available: add a RequestAuthentication \
                                 for the gateway pods",
                                snap.full_name(gw_res),
                                pod.resource.name()
                            ),
                        );
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    const INPUT: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v, namespace: istio-system}\n\
        spec:\n  hosts: [a.com]\n  gateways: [gw]\n  http:\n  - match: [{headers: {\"@request.auth.claims.group\": {exact: x}}}]\n    \
        route: [{destination: {host: x}}]\n---\n\
        apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\n\
        spec:\n  selector: {istio: ingressgateway}\n---\n\
        apiVersion: v1\nkind: Pod\nmetadata: {name: gw-pod, namespace: istio-system, labels: {istio: ingressgateway}}\n\
        spec:\n  containers: [{name: istio-proxy, image: proxyv2}]\n";

    #[test]
    fn reports_gateway_pods_without_request_authentication() {
        assert_eq!(
            run(&JwtClaimRouteAnalyzer, INPUT),
            ["IST0149 VirtualService istio-system/v"]
        );
    }

    #[test]
    fn silent_when_a_request_authentication_selects_the_pod() {
        let yaml = format!(
            "{INPUT}---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\n\
             metadata: {{name: ra, namespace: istio-system}}\nspec:\n  selector: {{matchLabels: {{istio: ingressgateway}}}}\n  \
             jwtRules: [{{issuer: i, jwksUri: \"https://i.example.com/jwks\"}}]\n"
        );
        assert!(run(&JwtClaimRouteAnalyzer, &yaml).is_empty());
    }
}
