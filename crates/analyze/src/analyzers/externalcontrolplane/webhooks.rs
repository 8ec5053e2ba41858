//! `externalcontrolplane.ExternalControlPlaneAnalyzer`: Istio's injection and validation
//! webhooks must reach istiod, either as a Service or, for an external control plane, at a URL.
//! A webhook with neither, or with a URL that does not parse, cannot be called; one whose URL
//! names an IP address works but is fragile.

use crate::analyzers::Analyzer;
use crate::messages;
use crate::report::Report;
use crate::snapshot::Snapshot;
use verimesh_config::k8s::Webhook;
use verimesh_config::{Kind, Resource};

pub struct ExternalControlPlaneAnalyzer;

const DEFAULT_VALIDATOR: &str = "istiod-default-validator";
const VALIDATOR_PREFIX: &str = "istio-validator";
const INJECTOR_PREFIX: &str = "istio-sidecar-injector";

/// The host part of a URL, as Go's `net/url` finds it (without port, brackets or user info);
/// an error for what it would refuse to parse.
pub(crate) fn url_hostname(url: &str) -> Result<String, &'static str> {
    if url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("contains a control character");
    }
    let url = url.split('#').next().unwrap_or_default();
    // A scheme is letters, digits, '+', '-', '.' starting with a letter, before the first ':'.
    let mut rest = url;
    if let Some(colon) = url.find(':') {
        let scheme = &url[..colon];
        if scheme.is_empty() {
            return Err("has no scheme before ':'");
        }
        let valid = scheme.bytes().enumerate().all(|(i, b)| {
            b.is_ascii_alphabetic() || (i > 0 && (b.is_ascii_digit() || b"+-.".contains(&b)))
        });
        if valid {
            rest = &url[colon + 1..];
        }
    }
    let rest = rest.split('?').next().unwrap_or_default();
    let Some(after) = rest.strip_prefix("//") else {
        return Ok(String::new());
    };
    let authority = after.split('/').next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (name, port) = if let Some(inner) = host.strip_prefix('[') {
        let Some((name, after)) = inner.split_once(']') else {
            return Err("has an unclosed '[' in the host");
        };
        if !after.is_empty() && !after.starts_with(':') {
            return Err("has text after the bracketed host");
        }
        (name, after.strip_prefix(':'))
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    if port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err("has an invalid port");
    }
    if name.contains(' ') || has_bad_escape(name) {
        return Err("has an invalid host");
    }
    Ok(name.to_string())
}

fn has_bad_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, c)| {
        *c == b'%'
            && !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

fn check(res: &Resource, i: usize, hook: &Webhook, out: &mut Report) {
    let field = format!("webhooks[{i}].clientConfig");
    match &hook.client_config.url {
        Some(url) => match url_hostname(url) {
            Err(why) => out.add(
                messages::INVALID_EXTERNAL_CONTROL_PLANE_CONFIG,
                res,
                &format!("{field}.url"),
                format!(
                    "webhook {:?} cannot reach the control plane: its URL {url:?} {why}",
                    hook.name
                ),
            ),
            Ok(host) if host.parse::<std::net::IpAddr>().is_ok() => out.add(
                messages::EXTERNAL_CONTROL_PLANE_ADDRESS_IS_NOT_A_HOSTNAME,
                res,
                &format!("{field}.url"),
                format!(
                    "webhook {:?} reaches the external control plane at the IP address {host}; a hostname is safer for production, as addresses change",
                    hook.name
                ),
            ),
            Ok(_) => {}
        },
        None if hook.client_config.service.is_none() => out.add(
            messages::INVALID_EXTERNAL_CONTROL_PLANE_CONFIG,
            res,
            &field,
            format!(
                "webhook {:?} has neither a URL nor a service, so the API server cannot call the control plane",
                hook.name
            ),
        ),
        None => {}
    }
}

impl Analyzer for ExternalControlPlaneAnalyzer {
    fn name(&self) -> &'static str {
        "externalcontrolplane.ExternalControlPlaneAnalyzer"
    }

    fn analyze(&self, snap: &Snapshot<'_>, out: &mut Report) {
        for res in snap.of_kind(Kind::ValidatingWebhookConfiguration) {
            let name = res.name();
            if name != DEFAULT_VALIDATOR && !name.starts_with(VALIDATOR_PREFIX) {
                continue;
            }
            if let Some(c) = res.as_validating_webhook_configuration() {
                for (i, h) in c.webhooks.iter().enumerate() {
                    check(res, i, h, out);
                }
            }
        }
        for res in snap.of_kind(Kind::MutatingWebhookConfiguration) {
            if !res.name().starts_with(INJECTOR_PREFIX) {
                continue;
            }
            if let Some(c) = res.as_mutating_webhook_configuration() {
                for (i, h) in c.webhooks.iter().enumerate() {
                    check(res, i, h, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::url_hostname;
    use crate::analyzers::testutil::run;

    fn hooks(kind: &str, name: &str, urls: &[&str]) -> String {
        let mut s = format!("apiVersion: admissionregistration.k8s.io/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nwebhooks:\n");
        for (i, u) in urls.iter().enumerate() {
            s.push_str(&format!("- name: h{i}.sidecar-injector.istio.io\n  sideEffects: None\n  admissionReviewVersions: [v1]\n  clientConfig:\n    url: {u}\n"));
        }
        s.push_str("---\n");
        s
    }

    #[test]
    fn hostnames() {
        assert_eq!(
            url_hostname("https://1.1.1.1:5100/inject").as_deref(),
            Ok("1.1.1.1")
        );
        assert_eq!(url_hostname("https://u@[::1]:443/x").as_deref(), Ok("::1"));
        assert_eq!(
            url_hostname("https://test.com/x?y#z").as_deref(),
            Ok("test.com")
        );
        assert_eq!(url_hostname("").as_deref(), Ok(""));
        assert!(url_hostname("https://a:b:c/").is_err());
        assert!(url_hostname("https://[::1/").is_err());
        assert!(url_hostname(":foo").is_err());
    }

    #[test]
    fn reports_blank_and_ip_urls() {
        let yaml = format!(
            "{}{}",
            hooks(
                "MutatingWebhookConfiguration",
                "istio-sidecar-injector-x",
                &[
                    "null",
                    "https://10.0.0.1/inject",
                    "https://istiod.example.com/inject"
                ]
            ),
            hooks(
                "ValidatingWebhookConfiguration",
                "istiod-default-validator",
                &["null"]
            )
        );
        assert_eq!(
            run(&super::ExternalControlPlaneAnalyzer, &yaml),
            [
                "IST0163 MutatingWebhookConfiguration istio-sidecar-injector-x",
                "IST0163 ValidatingWebhookConfiguration istiod-default-validator",
                "IST0164 MutatingWebhookConfiguration istio-sidecar-injector-x"
            ]
        );
    }

    #[test]
    fn silent_for_hostnames_and_other_webhooks() {
        let yaml = format!(
            "{}{}",
            hooks(
                "MutatingWebhookConfiguration",
                "istio-sidecar-injector",
                &["https://istiod.example.com:15017/inject"]
            ),
            hooks(
                "MutatingWebhookConfiguration",
                "cert-manager",
                &["null", "https://10.0.0.1/"]
            )
        );
        assert!(run(&super::ExternalControlPlaneAnalyzer, &yaml).is_empty());
    }
}
