//! `gateway.SecretAnalyzer`: every `credentialName` of a Gateway's TLS servers names a Secret
//! in the gateway workload's namespace, holding a certificate and key (`tls.crt`/`tls.key` or
//! `cert`/`key`) whose certificate parses and is valid now. Otherwise the listener has no
//! certificate and TLS handshakes fail.

use super::selector_field;
use crate::analyzers::Analyzer;
use crate::hosts::{selector_matches, selector_string};
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::k8s::Secret;
use verimesh_config::Kind;
use x509_parser::time::ASN1Time;

pub struct SecretAnalyzer;

/// What is wrong with the certificate and key of a credential Secret, if anything.
pub(crate) fn credential_problem(secret: &Secret, now: ASN1Time) -> Option<String> {
    let present = |k: &str| secret.value(k).filter(|v| !v.is_empty());
    let cert = match (present("cert"), present("key")) {
        (Some(c), Some(_)) => c,
        _ => match (present("tls.crt"), present("tls.key")) {
            (Some(c), Some(_)) => c,
            _ => {
                return Some(
                    "it has no non-empty certificate and key: expected keys tls.crt and tls.key (or cert and key)"
                        .to_string(),
                )
            }
        },
    };
    certificate_problem(&cert, now)
}

/// The first PEM block must hold one or more DER certificates, each valid at `now`.
fn certificate_problem(pem: &[u8], now: ASN1Time) -> Option<String> {
    let block = match x509_parser::pem::parse_x509_pem(pem) {
        Ok((_, block)) => block,
        Err(_) => return Some("its certificate is not PEM-encoded".to_string()),
    };
    let mut der: &[u8] = &block.contents;
    if der.is_empty() {
        return Some("its PEM block holds no certificate".to_string());
    }
    while !der.is_empty() {
        match x509_parser::parse_x509_certificate(der) {
            Ok((rest, cert)) => {
                let validity = cert.validity();
                if !validity.is_valid_at(now) {
                    return Some(format!(
                        "its certificate is expired or not yet valid (valid from {} to {})",
                        validity.not_before, validity.not_after
                    ));
                }
                der = rest;
            }
            Err(e) => return Some(format!("its certificate cannot be parsed: {e}")),
        }
    }
    None
}

impl Analyzer for SecretAnalyzer {
    fn name(&self) -> &'static str {
        "gateway.SecretAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        let now = ASN1Time::now();
        for r in snap.of_kind(Kind::Gateway) {
            let Some(gw) = r.as_gateway() else { continue };
            // Credentials are read in the namespace of the gateway workload.
            let gw_ns = snap
                .workloads()
                .iter()
                .find(|w| selector_matches(&gw.selector, w.labels))
                .map(|w| w.namespace.as_str())
                .unwrap_or("");
            if gw_ns.is_empty() {
                let sel = selector_string(&gw.selector);
                out.add(
                    messages::REFERENCED_RESOURCE_NOT_FOUND,
                    r,
                    &selector_field(&gw.selector),
                    format!(
                        "the selector {sel:?} matches no gateway workload, so there is no namespace to read its \
                            credentials from; fix the selector to match the gateway pods' labels"
                    ),
                );
                continue;
            }
            for (i, server) in gw.servers.iter().enumerate() {
                let Some(cn) = server
                    .tls
                    .as_ref()
                    .and_then(|t| t.credential_name.as_deref())
                    .filter(|c| !c.is_empty())
                else {
                    continue;
                };
                let field = format!("spec.servers[{i}].tls.credentialName");
                let Some(secret_res) = snap.find_short_or_full(Kind::Secret, gw_ns, cn) else {
                    out.add(
                        messages::REFERENCED_RESOURCE_NOT_FOUND,
                        r,
                        &field,
                        format!(
                            "credential {cn:?} is not a Secret in {gw_ns:?}, the gateway workload's namespace; \
                                create it there or fix the name"
                        ),
                    );
                    continue;
                };
                let problem = match secret_res.as_secret() {
                    Some(s) => credential_problem(s, now),
                    None => Some("it is not a Secret".to_string()),
                };
                if let Some(p) = problem {
                    out.add(
                        messages::INVALID_GATEWAY_CREDENTIAL,
                        r,
                        &field,
                        format!(
                            "credential Secret {gw_ns}/{cn} cannot be used: {p}; TLS handshakes on this server will fail"
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

    /// A self-signed certificate valid from 2026 to 2126, and its key.
    const CERT: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJoekNDQVMyZ0F3SUJBZ0lVWnNvcHF1amNXMnc0YXF4RStqanAzSDVycWNrd0NnWUlLb1pJemowRUF3SXcKR0RFV01CUUdBMVVFQXd3TmRtVnlhVzFsYzJndGRHVnpkREFnRncweU5qRXhNakl5TURVNU5EbGFHQTh5TVRJMgpNVEF5T1RJd05UazBPVm93R0RFV01CUUdBMVVFQXd3TmRtVnlhVzFsYzJndGRHVnpkREJaTUJNR0J5cUdTTTQ5CkFnRUdDQ3FHU000OUF3RUhBMElBQkJVYzB6OEVzYWRrbjFYK0VTSmdNaFErTkFKWDVtWHd1M2trVFh6cmFJZ3MKVXN4cVB0aFJ0bjRoamJ3c2ZGNi82V2FHcVRXcDdvWXR3dko0UTdPNmxGaWpVekJSTUIwR0ExVWREZ1FXQkJSQwo0dEtzV3F2VDlQRW9ybXQ1VWVKTGtJcjY4ekFmQmdOVkhTTUVHREFXZ0JSQzR0S3NXcXZUOVBFb3JtdDVVZUpMCmtJcjY4ekFQQmdOVkhSTUJBZjhFQlRBREFRSC9NQW9HQ0NxR1NNNDlCQU1DQTBnQU1FVUNJQ2RyQ0ZEMFRmb08KV2dmdldEZlJQbkhiM0Jld2F4OEJRYU1OcjFrZ2dQVDRBaUVBMFgzQXBKTmFmZFI1YzFmUGhjZm9SSUZRMW1SbQphY1gwZG94dzBlR0dTd1k9Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";
    const KEY: &str = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZzVnK1BYSUdCSHVIUEtLQUQKVkZxZHgwb2QwTFowQ20rSWFYaWNUL05rNnZlaFJBTkNBQVFWSE5NL0JMR25aSjlWL2hFaVlESVVQalFDVitabAo4THQ1SkUxODYyaUlMRkxNYWo3WVViWitJWTI4TEh4ZXYrbG1ocWsxcWU2R0xjTHllRU96dXBSWQotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==";

    fn input(data: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: cred, namespace: gw-ns}}\ntype: kubernetes.io/tls\ndata: {data}\n---\n\
                apiVersion: v1\nkind: Pod\nmetadata: {{name: gw, namespace: gw-ns, labels: {{istio: ingress}}}}\n\
                spec:\n  containers: [{{name: istio-proxy, image: proxyv2}}]\n---\n\
                apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: g, namespace: apps}}\n\
                spec:\n  selector: {{istio: ingress}}\n  servers:\n  - port: {{number: 443, name: https, protocol: HTTPS}}\n    hosts: [a.example.com]\n    tls: {{mode: SIMPLE, credentialName: cred}}\n"
        )
    }

    #[test]
    fn reports_missing_keys_and_bad_certificates() {
        let a = SecretAnalyzer;
        let missing = input(&format!("{{tls.crt: {CERT}}}"));
        assert_eq!(run(&a, &missing), ["IST0161 Gateway apps/g"]);
        let garbage = input(&format!("{{tls.crt: aGVsbG8K, tls.key: {KEY}}}"));
        assert_eq!(run(&a, &garbage), ["IST0161 Gateway apps/g"]);
        let other_ns = input(&format!("{{tls.crt: {CERT}, tls.key: {KEY}}}"))
            .replace("credentialName: cred", "credentialName: nope");
        assert_eq!(run(&a, &other_ns), ["IST0101 Gateway apps/g"]);
    }

    #[test]
    fn expiry_is_checked() {
        let mut secret = Secret::default();
        secret.data.insert("tls.crt".into(), CERT.into());
        secret.data.insert("tls.key".into(), KEY.into());
        assert_eq!(credential_problem(&secret, ASN1Time::now()), None);
        let later = ASN1Time::from_timestamp(5_000_000_000).expect("a valid time");
        assert!(credential_problem(&secret, later).is_some_and(|p| p.contains("expired")));
    }

    #[test]
    fn silent_for_a_valid_credential() {
        let ok = input(&format!("{{tls.crt: {CERT}, tls.key: {KEY}}}"));
        assert!(run(&SecretAnalyzer, &ok).is_empty());
    }
}
