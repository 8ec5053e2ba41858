//! `k8sgateway.CRDVersionAnalyzer`: Gateway API CRDs from a release older than Istio needs are
//! ignored by istiod, so resources of that kind silently do nothing.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::k8s::GATEWAY_API_BUNDLE_VERSION;
use verimesh_config::Kind;

pub struct CrdVersionAnalyzer;

/// The oldest Gateway API bundle version whose CRD istiod watches, by CRD name.
const MINIMUM: &[(&str, (u64, u64, u64))] = &[
    ("grpcroutes.gateway.networking.k8s.io", (1, 1, 0)),
    ("backendtlspolicies.gateway.networking.k8s.io", (1, 4, 0)),
    ("tlsroutes.gateway.networking.k8s.io", (1, 5, 0)),
    ("tcproutes.gateway.networking.k8s.io", (1, 6, 0)),
];

/// Major, minor and patch of a loosely written semantic version (`v1.4`, `1.4.1-rc.1+b`); any
/// pre-release or build suffix is dropped.
pub(crate) fn parse_version(s: &str) -> Option<(u64, u64, u64)> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let core_end = s.find(['-', '+']).unwrap_or(s.len());
    let (core, suffix) = s.split_at(core_end);
    let valid_suffix = suffix
        .split(['-', '+', '.'])
        .skip(1)
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !valid_suffix {
        return None;
    }
    let mut parts = core.split('.');
    let mut next = |required: bool| -> Option<u64> {
        match parts.next() {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok(),
            None if !required => Some(0),
            _ => None,
        }
    };
    let v = (next(true)?, next(false)?, next(false)?);
    parts.next().is_none().then_some(v)
}

impl Analyzer for CrdVersionAnalyzer {
    fn name(&self) -> &'static str {
        "k8sgateway.CRDVersionAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for res in snap.of_kind(Kind::CustomResourceDefinition) {
            let Some((_, min)) = MINIMUM.iter().find(|(n, _)| *n == res.name()) else {
                continue;
            };
            let Some(written) = res.meta.annotations.get(GATEWAY_API_BUNDLE_VERSION) else {
                continue;
            };
            let Some(installed) = parse_version(written) else {
                continue;
            };
            if installed < *min {
                out.add(
                    messages::GATEWAY_API_CRD_VERSION_BELOW_MINIMUM,
                    res,
                    &format!("metadata.annotations.{GATEWAY_API_BUNDLE_VERSION}"),
                    format!(
                        "CRD {} comes from Gateway API {written}, older than {}.{}.{} which Istio needs: istiod ignores it, so resources of this kind have no effect; upgrade the Gateway API CRDs",
                        res.name(),
                        min.0,
                        min.1,
                        min.2
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_version;
    use crate::analyzers::testutil::run;

    fn crd(plural: &str, version: &str) -> String {
        format!("apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: {plural}.gateway.networking.k8s.io\n  annotations: {{gateway.networking.k8s.io/bundle-version: {version}}}\nspec:\n  group: gateway.networking.k8s.io\n  names: {{kind: K, plural: {plural}}}\n  scope: Namespaced\n  versions: [{{name: v1, served: true, storage: true}}]\n---\n")
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("v1.4.1"), Some((1, 4, 1)));
        assert_eq!(parse_version("1.5"), Some((1, 5, 0)));
        assert_eq!(parse_version("v1.5.0-rc.1"), Some((1, 5, 0)));
        assert_eq!(parse_version("x1"), None);
        assert_eq!(parse_version("1.2.3.4"), None);
    }

    #[test]
    fn reports_old_bundles_only() {
        let yaml = format!(
            "{}{}{}{}",
            crd("tlsroutes", "v1.4.1"),
            crd("grpcroutes", "v1.4.1"),
            crd("tcproutes", "v1.6.0-rc1"),
            crd("httproutes", "v0.1.0")
        );
        assert_eq!(
            run(&super::CrdVersionAnalyzer, &yaml),
            ["IST0176 CustomResourceDefinition tlsroutes.gateway.networking.k8s.io"]
        );
    }
}
