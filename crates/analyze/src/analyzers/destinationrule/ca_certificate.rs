//! `destinationrule.CaCertificateAnalyzer`: TLS origination (SIMPLE or MUTUAL) without
//! `caCertificates` does not verify the server's certificate, so any server can impersonate
//! the destination. A credentialName on a DestinationRule with a workloadSelector brings its
//! own CA and is fine.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::networking::{ClientTlsMode, ClientTlsSettings, DestinationRule};
use verimesh_config::Kind;

pub struct CaCertificateAnalyzer;

fn set(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

/// The TLS mode when it originates TLS without a way to verify the server.
fn unverified_mode(tls: &ClientTlsSettings, dr: &DestinationRule) -> Option<&'static str> {
    let mode = match tls.mode {
        Some(ClientTlsMode::Simple) => "SIMPLE",
        Some(ClientTlsMode::Mutual) => "MUTUAL",
        _ => return None,
    };
    let own_credential = set(&tls.credential_name) && dr.workload_selector.is_some();
    (!set(&tls.ca_certificates) && !own_credential).then_some(mode)
}

impl Analyzer for CaCertificateAnalyzer {
    fn name(&self) -> &'static str {
        "destinationrule.CaCertificateAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for r in snap.of_kind(Kind::DestinationRule) {
            let Some(dr) = r.as_destination_rule() else {
                continue;
            };
            let Some(tp) = &dr.traffic_policy else {
                continue;
            };
            if let Some(mode) = tp.tls.as_ref().and_then(|t| unverified_mode(t, dr)) {
                out.add(
                    messages::NO_SERVER_CERTIFICATE_VERIFICATION_DESTINATION_LEVEL,
                    r,
                    "spec.trafficPolicy.tls",
                    format!(
                        "TLS mode {mode} to host {:?} has no caCertificates, so the server's certificate is not \
                         verified and anyone can impersonate it; set caCertificates (or a credentialName with a \
                         workloadSelector)",
                        dr.host
                    ),
                );
            }
            for (i, p) in tp.port_level_settings.iter().enumerate() {
                if let Some(mode) = p.tls.as_ref().and_then(|t| unverified_mode(t, dr)) {
                    let port = p.port.as_ref().and_then(|p| p.number).unwrap_or(0);
                    out.add(
                        messages::NO_SERVER_CERTIFICATE_VERIFICATION_PORT_LEVEL,
                        r,
                        &format!("spec.trafficPolicy.portLevelSettings[{i}].tls"),
                        format!(
                            "TLS mode {mode} to host {:?} port {port} has no caCertificates, so the server's \
                             certificate is not verified and anyone can impersonate it; set caCertificates",
                            dr.host
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::testutil::run;

    fn dr(tls: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: d, namespace: ns}}\n\
             spec:\n  host: db.example.com\n  trafficPolicy:\n    tls: {tls}\n    \
             portLevelSettings: [{{port: {{number: 5432}}, tls: {tls}}}]\n"
        )
    }

    #[test]
    fn reports_both_levels_without_ca() {
        assert_eq!(
            run(&CaCertificateAnalyzer, &dr("{mode: SIMPLE}")),
            [
                "IST0128 DestinationRule ns/d",
                "IST0129 DestinationRule ns/d"
            ]
        );
    }

    #[test]
    fn silent_with_ca_or_istio_mtls() {
        assert!(run(&CaCertificateAnalyzer, &dr("{mode: MUTUAL, caCertificates: /ca.pem, clientCertificate: /c.pem, privateKey: /k.pem}")).is_empty());
        assert!(run(&CaCertificateAnalyzer, &dr("{mode: ISTIO_MUTUAL}")).is_empty());
    }
}
