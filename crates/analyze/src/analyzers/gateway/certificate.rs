//! `gateway.CertificateAnalyzer`: two Gateways for the same workloads whose TLS servers use
//! the same certificate. Clients that reuse an HTTP/2 connection for the other host (allowed
//! because the certificate covers both) then get 404s from the wrong server.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use std::collections::BTreeMap;
use verimesh_config::networking::ServerTlsSettings;
use verimesh_config::Kind;

pub struct CertificateAnalyzer;

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Same credential name, or (with no credential names) the same certificate and key files.
fn same_certificate(a: &ServerTlsSettings, b: &ServerTlsSettings) -> bool {
    match (non_empty(&a.credential_name), non_empty(&b.credential_name)) {
        (Some(x), Some(y)) => x == y,
        (None, None) => {
            match (
                non_empty(&a.server_certificate),
                non_empty(&b.server_certificate),
                non_empty(&a.private_key),
                non_empty(&b.private_key),
            ) {
                (Some(c1), Some(c2), Some(k1), Some(k2)) => c1 == c2 && k1 == k2,
                _ => false,
            }
        }
        _ => false,
    }
}

/// Every label of `sub` is in `sup` with the same value.
fn selector_subset(sub: &BTreeMap<String, String>, sup: &BTreeMap<String, String>) -> bool {
    sub.iter().all(|(k, v)| sup.get(k) == Some(v))
}

impl Analyzer for CertificateAnalyzer {
    fn name(&self) -> &'static str {
        "gateway.CertificateAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let gateways = snap.of_kind(Kind::Gateway);
        for (i, r) in gateways.iter().enumerate() {
            let Some(gw) = r.as_gateway() else { continue };
            for (j, other_res) in gateways.iter().enumerate() {
                let Some(other) = other_res.as_gateway() else {
                    continue;
                };
                if i == j || !selector_subset(&gw.selector, &other.selector) {
                    continue;
                }
                for s in &gw.servers {
                    for o in &other.servers {
                        let (Some(t1), Some(t2)) = (&s.tls, &o.tls) else {
                            continue;
                        };
                        if same_certificate(t1, t2) {
                            out.add(
                                messages::GATEWAY_DUPLICATE_CERTIFICATE,
                                r,
                                "metadata.name",
                                format!(
                                    "gateways {} and {} use the same certificate on the same workloads; clients reusing an \
                                     HTTP/2 connection across their hosts get 404s. Give each Gateway its own certificate \
                                     or merge them",
                                    snap.full_name(r),
                                    snap.full_name(other_res)
                                ),
                            );
                        }
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

    fn gw(name: &str, selector: &str, cred: &str) -> String {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: ns}}\n\
             spec:\n  selector: {selector}\n  servers:\n  - port: {{number: 443, name: https, protocol: HTTPS}}\n    \
             hosts: [{name}.example.com]\n    tls: {{mode: SIMPLE, credentialName: {cred}}}\n---\n"
        )
    }

    #[test]
    fn reports_gateways_sharing_a_credential() {
        let yaml = gw("a", "{istio: ingress}", "cert") + &gw("b", "{istio: ingress, x: y}", "cert");
        // a's selector is within b's, not the other way round.
        assert_eq!(run(&CertificateAnalyzer, &yaml), ["IST0138 Gateway ns/a"]);
    }

    #[test]
    fn silent_for_distinct_credentials() {
        let yaml = gw("a", "{istio: ingress}", "cert-a") + &gw("b", "{istio: ingress}", "cert-b");
        assert!(run(&CertificateAnalyzer, &yaml).is_empty());
    }
}
