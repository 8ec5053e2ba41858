//! `schemaValidation.CollectionValidationAnalyzer(collections.VirtualService)`: the part of
//! VirtualService validation that Istio reports with its own codes: rules that can never be
//! used (IST0130) and matches that an earlier rule already takes (IST0131). Other validation
//! problems are reported when the configuration is loaded.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::networking::{unreachable_rules, Unreachable};
use verimesh_config::yaml::FieldPath;
use verimesh_config::Kind;

pub struct VirtualServiceValidationAnalyzer;

impl Analyzer for VirtualServiceValidationAnalyzer {
    fn name(&self) -> &'static str {
        "schemaValidation.CollectionValidationAnalyzer(collections.VirtualService)"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let spec = FieldPath::root().field("spec");
        for r in snap.of_kind(Kind::VirtualService) {
            let Some(vs) = r.as_virtual_service() else {
                continue;
            };
            for u in unreachable_rules(vs, &spec) {
                let kind = match u {
                    Unreachable::Rule { .. } => messages::VIRTUAL_SERVICE_UNREACHABLE_RULE,
                    Unreachable::Match { .. } => messages::VIRTUAL_SERVICE_INEFFECTIVE_MATCH,
                };
                out.add(kind, r, &u.path().to_string(), u.message());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    fn vs(http: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: v, namespace: ns}}\n\
             spec:\n  hosts: [a]\n  http:\n{http}"
        )
    }

    const ROUTE: &str = "    route: [{destination: {host: a}}]\n";

    #[test]
    fn reports_unreachable_rules_and_ineffective_matches() {
        let a = VirtualServiceValidationAnalyzer;
        let dup = vs(&format!(
            "  - match: [{{uri: {{prefix: /a}}}}]\n{ROUTE}  - match: [{{uri: {{prefix: /a}}}}]\n{ROUTE}"
        ));
        assert_eq!(
            run(&a, &dup),
            ["IST0130 VirtualService ns/v", "IST0131 VirtualService ns/v"]
        );
        let after_catch_all = vs(&format!(
            "  - route: [{{destination: {{host: a}}}}]\n  - match: [{{uri: {{prefix: /a}}}}, {{uri: {{prefix: /b}}}}]\n{ROUTE}"
        ));
        assert_eq!(
            run(&a, &after_catch_all),
            ["IST0130 VirtualService ns/v", "IST0130 VirtualService ns/v"]
        );
    }

    #[test]
    fn silent_for_distinct_ordered_rules() {
        let ok = vs(&format!(
            "  - match: [{{uri: {{prefix: /a/b}}}}]\n{ROUTE}  - match: [{{uri: {{prefix: /a}}}}]\n{ROUTE}  - route: [{{destination: {{host: a}}}}]\n"
        ));
        assert!(run(&VirtualServiceValidationAnalyzer, &ok).is_empty());
    }
}
