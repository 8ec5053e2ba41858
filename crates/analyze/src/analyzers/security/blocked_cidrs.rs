//! IST0175: RequestAuthentication exists but istiod runs without BLOCKED_CIDRS_IN_JWKS_URIS,
//! so a jwksUri can make the control plane fetch from internal or metadata addresses.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::Kind;

pub struct BlockedCidrs;

const ENV: &str = "BLOCKED_CIDRS_IN_JWKS_URIS";

impl Analyzer for BlockedCidrs {
    fn name(&self) -> &'static str {
        "authn.BlockedCIDRsAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let policies: Vec<String> = snap
            .of_kind(Kind::RequestAuthentication)
            .iter()
            .map(|r| snap.full_name(r))
            .collect();
        if policies.is_empty() {
            return;
        }
        let shown = if policies.len() <= 5 {
            policies.join(", ")
        } else {
            format!(
                "{}, and {} more",
                policies[..5].join(", "),
                policies.len() - 5
            )
        };
        for r in snap.of_kind(Kind::Deployment) {
            let Some(d) = r.as_deployment() else { continue };
            if r.meta.labels.get("app").map(String::as_str) != Some("istiod") {
                continue;
            }
            let configured = d.spec.template.spec.containers.iter().any(|c| {
                c.env
                    .iter()
                    .any(|e| e.name == ENV && e.value.as_deref().is_some_and(|v| !v.is_empty()))
            });
            if !configured {
                out.add(
                    messages::JWKS_URI_FETCH_UNRESTRICTED,
                    r,
                    "",
                    format!(
                        "{} RequestAuthentication policies ({shown}) let the control plane fetch any jwksUri, but {ENV} is not set on it: internal and cloud-metadata addresses are reachable",
                        policies.len()
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analyzers::test_support::run;

    const ISTIOD: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}\nspec:\n  selector: {matchLabels: {app: istiod}}\n  template:\n    metadata: {labels: {app: istiod}}\n    spec:\n      containers:\n      - name: discovery\n        image: x\n";
    const RA: &str = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: a}\nspec:\n  jwtRules: [{issuer: https://issuer.example.com, jwksUri: https://issuer.example.com/jwks}]\n";

    #[test]
    fn reported_only_with_request_authentication_and_without_the_setting() {
        assert_eq!(
            run(&super::BlockedCidrs, &format!("{ISTIOD}---\n{RA}")),
            ["IST0175 Deployment istio-system/istiod"]
        );
        assert!(run(&super::BlockedCidrs, ISTIOD).is_empty());
        let configured = format!("{ISTIOD}        env: [{{name: BLOCKED_CIDRS_IN_JWKS_URIS, value: 169.254.0.0/16}}]\n---\n{RA}");
        assert!(run(&super::BlockedCidrs, &configured).is_empty());
    }
}
