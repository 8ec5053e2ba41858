//! `deprecation.FieldAnalyzer`: fields that still load but are deprecated (and will be
//! removed) or are ignored: a fault delay's integer `percent`, and a Sidecar's
//! `outboundTrafficPolicy.egressProxy`.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::Kind;

pub struct FieldAnalyzer;

impl Analyzer for FieldAnalyzer {
    fn name(&self) -> &'static str {
        "deprecation.FieldAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::VirtualService) {
            let Some(vs) = r.as_virtual_service() else {
                continue;
            };
            for (i, route) in vs.http.iter().enumerate() {
                let percent = route
                    .fault
                    .as_ref()
                    .and_then(|f| f.delay.as_ref())
                    .and_then(|d| d.percent)
                    .unwrap_or(0);
                if percent > 0 {
                    out.add(
                        messages::DEPRECATED,
                        r,
                        &format!("spec.http[{i}].fault.delay.percent"),
                        "fault.delay.percent is deprecated and will be removed; write the share as \
                         fault.delay.percentage.value (a number from 0 to 100)",
                    );
                }
            }
        }
        for r in snap.of_kind(Kind::Sidecar) {
            let Some(sc) = r.as_sidecar() else { continue };
            if sc
                .outbound_traffic_policy
                .as_ref()
                .is_some_and(|p| p.egress_proxy.is_some())
            {
                out.add(
                    messages::DEPRECATED,
                    r,
                    "spec.outboundTrafficPolicy.egressProxy",
                    "outboundTrafficPolicy.egressProxy is ignored; remove it and route egress traffic with a \
                     VirtualService to an egress gateway instead",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    fn vs(delay: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: v, namespace: ns}}\n\
             spec:\n  hosts: [a]\n  http:\n  - fault: {{delay: {{fixedDelay: 1s, {delay}}}}}\n    route: [{{destination: {{host: a}}}}]\n"
        )
    }

    #[test]
    fn reports_deprecated_and_ignored_fields() {
        assert_eq!(
            run(&FieldAnalyzer, &vs("percent: 5")),
            ["IST0002 VirtualService ns/v"]
        );
        let sidecar = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: ns}\n\
            spec:\n  outboundTrafficPolicy: {mode: ALLOW_ANY, egressProxy: {host: egress, port: {number: 80}}}\n";
        assert_eq!(run(&FieldAnalyzer, sidecar), ["IST0002 Sidecar ns/s"]);
    }

    #[test]
    fn silent_for_current_fields() {
        assert!(run(&FieldAnalyzer, &vs("percentage: {value: 5}")).is_empty());
    }
}
