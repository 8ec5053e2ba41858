//! The rules a SecureIngress must follow.

use super::secure_ingress::*;
use crate::validate::security_common as sc;
use crate::validate::{common, Context, Findings};
use crate::yaml::FieldPath;
use std::collections::BTreeSet;

pub(super) fn validate(si: &SecureIngress, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
    validate_gateway(si.gateway.as_ref(), &at.field("gateway"), out);
    validate_domains(si, at, out);
    validate_exposure(si, cx, at, out);
    match &si.tls {
        None => out.error(
            &at.field("tls"),
            "tls is required: give a credentialName or acme settings",
        ),
        Some(tls) => validate_tls(si, tls, &at.field("tls"), out),
    }
    if let Some(jwt) = &si.jwt {
        validate_jwt(jwt, &at.field("jwt"), out);
    }
    if let Some(dns) = &si.dns {
        validate_dns(si, dns, at, out);
    }
}

fn validate_gateway(gw: Option<&IngressGateway>, at: &FieldPath, out: &mut Findings) {
    let Some(gw) = gw else {
        out.error(
            at,
            "the gateway is required: the labels of the ingress gateway pods and its ports",
        );
        return;
    };
    if gw.selector.is_empty() {
        out.error(
            &at.field("selector"),
            "select the ingress gateway pods by at least one label",
        );
    }
    crate::k8s::validate_label_map(&gw.selector, &at.field("selector"), out);
    out.check(
        &at.field("httpsPort"),
        common::validate_port(gw.https_port()),
    );
    if let Some(p) = gw.http_port {
        out.check(&at.field("httpPort"), common::validate_port(p));
        if p == gw.https_port() {
            out.error(&at.field("httpPort"), "httpPort and httpsPort must differ");
        }
    } else if gw.redirect_http_to_https == Some(true) {
        out.error(
            &at.field("redirectHttpToHttps"),
            "a redirect needs httpPort, the port plain HTTP arrives on",
        );
    }
}

fn validate_domains(si: &SecureIngress, at: &FieldPath, out: &mut Findings) {
    if si.domains.is_empty() {
        out.error(&at.field("domains"), "list at least one domain");
    }
    let mut seen = BTreeSet::new();
    for (i, d) in si.domains.iter().enumerate() {
        let p = at.field("domains").index(i);
        let res = match d.strip_prefix("*.") {
            Some(rest) => common::validate_fqdn(rest),
            None => common::validate_fqdn(d),
        };
        match res {
            Err(e) => out.error(
                &p,
                format!("{e} (a domain is a fully qualified name, optionally starting with '*.')"),
            ),
            Ok(()) if d.strip_suffix('.').unwrap_or(d).split('.').count() < 2 => {
                out.error(&p, format!("{d:?} is not a fully qualified domain name"))
            }
            Ok(()) if !seen.insert(d.to_ascii_lowercase()) => {
                out.error(&p, format!("duplicate domain {d:?}"))
            }
            Ok(()) => {}
        }
    }
}

fn validate_exposure(si: &SecureIngress, cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
    if si.applications.is_empty() && si.namespaces.is_empty() {
        out.error(
            &at.field("applications"),
            "expose something: list applications, namespaces, or both",
        );
    }
    let own_ns = cx.meta.namespace_or_default();
    let mut apps = BTreeSet::new();
    for (i, a) in si.applications.iter().enumerate() {
        let p = at.field("applications").index(i);
        if !common::is_k8s_dns1123_subdomain(&a.name) {
            out.error(
                &p.field("name"),
                "the Application name is required (a lower-case DNS-1123 name)",
            );
        }
        if let Some(ns) = &a.namespace {
            if !common::is_k8s_dns1123_label(ns) {
                out.error(
                    &p.field("namespace"),
                    format!("{ns:?} is not a namespace name"),
                );
            }
        }
        let ns = a.namespace.as_deref().unwrap_or(own_ns);
        if !apps.insert((ns, a.name.as_str())) {
            out.error(&p, format!("Application {ns}/{} is listed twice", a.name));
        }
        if si.namespaces.iter().any(|n| n == ns) && a.domain.is_none() {
            out.warning(
                &p,
                format!("namespace {ns} is already exposed as a whole; this entry adds nothing"),
            );
        }
        if let Some(d) = &a.domain {
            if !si.serves(d) {
                out.error(
                    &p.field("domain"),
                    format!("{d:?} is not one of spec.domains (nor covered by a wildcard domain)"),
                );
            } else if d.starts_with("*.") {
                out.error(
                    &p.field("domain"),
                    "an Application is served on a concrete host name, not a wildcard",
                );
            }
        }
    }
    let mut nss = BTreeSet::new();
    for (i, ns) in si.namespaces.iter().enumerate() {
        let p = at.field("namespaces").index(i);
        if !common::is_k8s_dns1123_label(ns) {
            out.error(&p, format!("{ns:?} is not a namespace name"));
        } else if !nss.insert(ns.as_str()) {
            out.error(&p, format!("namespace {ns} is listed twice"));
        }
    }
    if !si.namespaces.is_empty() && si.domains.first().is_some_and(|d| d.starts_with("*.")) {
        out.error(
            &at.field("domains").index(0),
            "whole namespaces are exposed on the first domain, which must then not be a wildcard",
        );
    }
}

fn validate_tls(si: &SecureIngress, tls: &TlsSpec, at: &FieldPath, out: &mut Findings) {
    match (&tls.credential_name, &tls.acme) {
        (Some(_), Some(_)) => out.error(
            at,
            "set only one certificate source: credentialName or acme",
        ),
        (None, None) => out.error(
            at,
            "set one certificate source: credentialName (a TLS Secret) or acme",
        ),
        (Some(name), None) => {
            if !common::is_k8s_dns1123_subdomain(name) {
                out.error(
                    &at.field("credentialName"),
                    format!("{name:?} is not a Secret name"),
                );
            }
        }
        (None, Some(acme)) => validate_acme(si, acme, &at.field("acme"), out),
    }
}

fn validate_acme(si: &SecureIngress, acme: &AcmeSpec, at: &FieldPath, out: &mut Findings) {
    if acme.directory_url.is_empty() {
        out.error(&at.field("directoryUrl"), "the ACME directory URL is required, e.g. https://acme-v02.api.letsencrypt.org/directory");
    } else {
        match sc::parse_http_url(&acme.directory_url) {
            Err(e) => out.error(&at.field("directoryUrl"), e),
            Ok(u) if !u.https => out.error(
                &at.field("directoryUrl"),
                "the ACME directory must be reached over https",
            ),
            Ok(_) => {}
        }
    }
    if acme.email.is_empty() {
        out.error(
            &at.field("email"),
            "an e-mail address is required: the CA sends expiry and revocation notices there",
        );
    } else {
        out.check(&at.field("email"), sc::validate_email(&acme.email));
    }
    match acme.challenge() {
        AcmeChallenge::Dns01 if si.dns.is_none() => out.error(
            &at.field("challenge"),
            "DNS_01 needs spec.dns: the TXT record is written through the DNS provider",
        ),
        AcmeChallenge::Http01 => {
            if si.gateway.as_ref().is_some_and(|g| g.http_port.is_none()) {
                out.error(&at.field("challenge"), "HTTP_01 needs gateway.httpPort: the CA fetches the token over plain HTTP on port 80");
            }
            if let Some(i) = si.domains.iter().position(|d| d.starts_with('*')) {
                out.error(&at.field("challenge"), format!("domain {:?} is a wildcard: ACME issues wildcard certificates only with DNS_01", si.domains[i]));
            }
        }
        AcmeChallenge::Dns01 => {}
    }
    if let Some(eab) = &acme.external_account_binding {
        let p = at.field("externalAccountBinding");
        if eab.key_id.is_empty() {
            out.error(&p.field("keyId"), "the key id given by the CA is required");
        }
        match &eab.hmac_key_secret_ref {
            None => out.error(
                &p.field("hmacKeySecretRef"),
                "the Secret key holding the HMAC key is required",
            ),
            Some(r) => validate_secret_ref(r, &p.field("hmacKeySecretRef"), out),
        }
    }
    if let Some(name) = &acme.account_secret_name {
        if !common::is_k8s_dns1123_subdomain(name) {
            out.error(
                &at.field("accountSecretName"),
                format!("{name:?} is not a Secret name"),
            );
        }
    }
    if let Some(d) = &acme.renew_before {
        if d.is_zero() {
            out.error(&at.field("renewBefore"), "renewBefore must be more than 0s");
        }
    }
}

fn validate_secret_ref(r: &SecretKeyRef, at: &FieldPath, out: &mut Findings) {
    if !common::is_k8s_dns1123_subdomain(&r.name) {
        out.error(
            &at.field("name"),
            "the Secret name is required (a lower-case DNS-1123 name)",
        );
    }
    out.check(&at.field("key"), crate::k8s::validate_data_key(&r.key));
}

fn validate_jwt(jwt: &JwtIssuer, at: &FieldPath, out: &mut Findings) {
    if jwt.issuer.is_empty() {
        out.error(
            &at.field("issuer"),
            "the issuer is required: tokens are accepted by their iss claim",
        );
    }
    if jwt.jwks_uri.is_empty() {
        out.error(
            &at.field("jwksUri"),
            "the jwksUri is required: tokens are verified with the issuer's published keys",
        );
    } else {
        match sc::parse_http_url(&jwt.jwks_uri) {
            Err(e) => out.error(&at.field("jwksUri"), e),
            Ok(u) if !u.https => out.warning(
                &at.field("jwksUri"),
                "keys fetched over plain http can be tampered with; use https",
            ),
            Ok(_) => {}
        }
    }
    sc::check_non_empty(&jwt.audiences, &at.field("audiences"), out);
}

fn validate_dns(si: &SecureIngress, dns: &DnsSpec, spec: &FieldPath, out: &mut Findings) {
    let at = &spec.field("dns");
    match (&dns.rfc2136, &dns.route53) {
        (Some(_), Some(_)) => out.error(at, "set only one DNS provider: rfc2136 or route53"),
        (None, None) => out.error(at, "set a DNS provider (rfc2136 or route53), or remove dns if records are managed elsewhere"),
        (Some(r), None) => validate_rfc2136(si, r, spec, out),
        (None, Some(r)) => validate_route53(r, &at.field("route53"), out),
    }
    if dns
        .ttl
        .is_some_and(|t| t.as_std() < std::time::Duration::from_secs(1))
    {
        out.error(&at.field("ttl"), "the TTL must be at least 1s");
    }
    if let Some(t) = &dns.target {
        if common::validate_ip(t).is_err() && common::validate_fqdn(t).is_err() {
            out.error(
                &at.field("target"),
                format!("{t:?} is neither an IP address nor a host name"),
            );
        }
    }
}

fn validate_rfc2136(si: &SecureIngress, r: &Rfc2136, spec: &FieldPath, out: &mut Findings) {
    let at = &spec.field("dns").field("rfc2136");
    let (host, port) = match r.server.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
            (h.trim_matches(['[', ']']), Some(p))
        }
        _ => (r.server.as_str(), None),
    };
    if r.server.is_empty() {
        out.error(
            &at.field("server"),
            "the DNS server is required, as host or host:port",
        );
    } else if common::validate_ip(host).is_err() && common::validate_fqdn(host).is_err() {
        out.error(
            &at.field("server"),
            format!("{:?} is not host or host:port", r.server),
        );
    } else if let Some(p) = port {
        out.check(&at.field("server"), sc::validate_port_string(p));
    }
    if r.zone.is_empty() {
        out.error(&at.field("zone"), "the zone to update is required");
    } else if let Err(e) = common::validate_fqdn(&r.zone) {
        out.error(&at.field("zone"), e);
    } else {
        let zone = r.zone.trim_end_matches('.').to_ascii_lowercase();
        for (i, d) in si.domains.iter().enumerate() {
            let d = d
                .trim_start_matches("*.")
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if d != zone && !d.ends_with(&format!(".{zone}")) {
                out.error(
                    &spec.field("domains").index(i),
                    format!("{d:?} is outside the DNS zone {zone:?}"),
                );
            }
        }
    }
    match (&r.tsig_key_name, &r.tsig_secret_ref) {
        (Some(name), Some(secret)) => {
            out.check(&at.field("tsigKeyName"), common::validate_fqdn(name));
            validate_secret_ref(secret, &at.field("tsigSecretRef"), out);
        }
        (Some(_), None) => out.error(&at.field("tsigSecretRef"), "a TSIG key needs its secret"),
        (None, Some(_)) => out.error(&at.field("tsigKeyName"), "the TSIG key name is required with a TSIG secret"),
        (None, None) => out.warning(at, "updates are not signed (no TSIG key): anyone who can reach the server could change the records"),
    }
}

fn validate_route53(r: &Route53, at: &FieldPath, out: &mut Findings) {
    let id = r
        .hosted_zone_id
        .strip_prefix("/hostedzone/")
        .unwrap_or(&r.hosted_zone_id);
    if id.is_empty()
        || id.len() > 32
        || !id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        out.error(&at.field("hostedZoneId"), "the hosted zone id is required: upper-case letters and digits, e.g. Z0123456789ABCDEFGHIJ");
    }
    let region_ok = r.region.split('-').count() >= 3
        && r.region.split('-').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !region_ok {
        out.error(
            &at.field("region"),
            format!("{:?} is not an AWS region such as us-east-1", r.region),
        );
    }
    if let Some(c) = &r.credentials {
        let p = at.field("credentials");
        if !common::is_k8s_dns1123_subdomain(&c.secret_name) {
            out.error(
                &p.field("secretName"),
                "the Secret name is required (a lower-case DNS-1123 name)",
            );
        }
        for (field, key) in [
            ("accessKeyIdKey", &c.access_key_id_key),
            ("secretAccessKeyKey", &c.secret_access_key_key),
        ] {
            if let Some(k) = key {
                out.check(&p.field(field), crate::k8s::validate_data_key(k));
            }
        }
    }
}
