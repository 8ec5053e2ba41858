//! SecureIngress: each validation rule reports its path.

mod common;

use common::{assert_error, assert_warning, istio, load_ok};

const SI_BASE: &str = "gateway: {selector: {istio: ingressgateway}, httpPort: 80}\ndomains: [shop.example.com]\napplications: [{name: orders, namespace: shop}]\n";

fn si(spec: &str) -> String {
    istio("verimesh.io/v1alpha1", "SecureIngress", spec)
}

fn si_tls(extra: &str) -> String {
    si(&format!(
        "{SI_BASE}tls: {{credentialName: shop-tls}}\n{extra}"
    ))
}

#[test]
fn secure_ingress_rules() {
    load_ok(&si_tls(""));
    assert_error(
        &si("domains: [a.example.com]\napplications: [{name: a}]\ntls: {credentialName: c}\n"),
        "spec.gateway",
        "gateway is required",
    );
    assert_error(
        &si_tls("").replace("{istio: ingressgateway}", "{}"),
        "spec.gateway.selector",
        "at least one label",
    );
    assert_error(
        &si_tls("").replace("httpPort: 80", "httpPort: 443"),
        "spec.gateway.httpPort",
        "must differ",
    );
    assert_error(
        &si_tls("").replace("httpPort: 80", "httpsPort: 70000"),
        "spec.gateway.httpsPort",
        "1..65535",
    );
    assert_error(
        &si_tls("").replace("httpPort: 80", "redirectHttpToHttps: true"),
        "spec.gateway.redirectHttpToHttps",
        "needs httpPort",
    );
    assert_error(
        &si_tls("").replace("[shop.example.com]", "[]"),
        "spec.domains",
        "at least one domain",
    );
    assert_error(
        &si_tls("").replace("[shop.example.com]", "[shop_example.com]"),
        "spec.domains[0]",
        "fully qualified",
    );
    assert_error(
        &si_tls("").replace("[shop.example.com]", "[localhost]"),
        "spec.domains[0]",
        "not a fully qualified",
    );
    assert_error(
        &si_tls("").replace("[shop.example.com]", "[a.example.com, A.example.com]"),
        "spec.domains[1]",
        "duplicate domain",
    );
    assert_error(
        &si_tls("").replace(
            "applications: [{name: orders, namespace: shop}]",
            "applications: []",
        ),
        "spec.applications",
        "expose something",
    );
    assert_error(
        &si_tls("").replace(
            "{name: orders, namespace: shop}",
            "{name: orders, namespace: shop}, {name: orders, namespace: shop}",
        ),
        "spec.applications[1]",
        "listed twice",
    );
    assert_error(
        &si_tls("").replace(
            "namespace: shop}",
            "namespace: shop, domain: other.example.com}",
        ),
        "spec.applications[0].domain",
        "not one of spec.domains",
    );
    assert_error(
        &si_tls("").replace("namespace: shop}", "namespace: Shop}"),
        "spec.applications[0].namespace",
        "not a namespace name",
    );
    assert_warning(
        &si_tls("namespaces: [shop]\n"),
        "spec.applications[0]",
        "adds nothing",
    );
    assert_error(
        &si_tls("namespaces: [shop, shop]\n"),
        "spec.namespaces[1]",
        "listed twice",
    );
    assert_error(
        &si_tls("")
            .replace("[shop.example.com]", "[\"*.example.com\"]")
            .replace("applications", "namespaces: [x]\n  applications"),
        "spec.domains[0]",
        "must then not be a wildcard",
    );
    let wild = si_tls("")
        .replace("[shop.example.com]", "[\"*.example.com\"]")
        .replace(
            "namespace: shop}",
            "namespace: shop, domain: api.example.com}",
        );
    load_ok(&wild);
}

fn acme(a: &str, extra: &str) -> String {
    si(&format!("{SI_BASE}tls:\n  acme: {a}\n{extra}"))
}

const ACME_OK: &str = "{directoryUrl: \"https://acme.example.com/dir\", email: ops@example.com}";

#[test]
fn secure_ingress_tls_rules() {
    load_ok(&acme(ACME_OK, ""));
    assert_error(&si(SI_BASE), "spec.tls", "tls is required");
    assert_error(
        &si(&format!("{SI_BASE}tls: {{}}\n")),
        "spec.tls",
        "set one certificate source",
    );
    assert_error(
        &si(&format!(
            "{SI_BASE}tls: {{credentialName: c, acme: {ACME_OK}}}\n"
        )),
        "spec.tls",
        "only one certificate source",
    );
    assert_error(
        &si(&format!("{SI_BASE}tls: {{credentialName: Bad_Name}}\n")),
        "spec.tls.credentialName",
        "not a Secret name",
    );
    assert_error(
        &acme("{email: ops@example.com}", ""),
        "spec.tls.acme.directoryUrl",
        "required",
    );
    assert_error(
        &acme(
            "{directoryUrl: \"http://acme.example.com/dir\", email: ops@example.com}",
            "",
        ),
        "spec.tls.acme.directoryUrl",
        "https",
    );
    assert_error(
        &acme(
            "{directoryUrl: \"acme.example.com\", email: ops@example.com}",
            "",
        ),
        "spec.tls.acme.directoryUrl",
        "http:// or https://",
    );
    assert_error(
        &acme("{directoryUrl: \"https://acme.example.com/dir\"}", ""),
        "spec.tls.acme.email",
        "e-mail address is required",
    );
    assert_error(
        &acme(
            "{directoryUrl: \"https://acme.example.com/dir\", email: ops}",
            "",
        ),
        "spec.tls.acme.email",
        "not a valid e-mail",
    );
    assert_error(
        &acme(
            "{directoryUrl: \"https://a.example.com/d\", email: o@example.com, challenge: DNS_01}",
            "",
        ),
        "spec.tls.acme.challenge",
        "DNS_01 needs spec.dns",
    );
    let no_http = acme(ACME_OK, "").replace(", httpPort: 80", "");
    assert_error(
        &no_http,
        "spec.tls.acme.challenge",
        "HTTP_01 needs gateway.httpPort",
    );
    let wildcard = acme(ACME_OK, "")
        .replace("[shop.example.com]", "[\"*.example.com\"]")
        .replace(
            "namespace: shop}",
            "namespace: shop, domain: a.example.com}",
        );
    assert_error(&wildcard, "spec.tls.acme.challenge", "wildcard");
    assert_error(&acme("{directoryUrl: \"https://a.example.com/d\", email: o@example.com, externalAccountBinding: {hmacKeySecretRef: {name: eab, key: hmac}}}", ""), "spec.tls.acme.externalAccountBinding.keyId", "required");
    assert_error(&acme("{directoryUrl: \"https://a.example.com/d\", email: o@example.com, externalAccountBinding: {keyId: k}}", ""), "spec.tls.acme.externalAccountBinding.hmacKeySecretRef", "required");
    assert_error(&acme("{directoryUrl: \"https://a.example.com/d\", email: o@example.com, externalAccountBinding: {keyId: k, hmacKeySecretRef: {name: eab}}}", ""), "spec.tls.acme.externalAccountBinding.hmacKeySecretRef.key", "is invalid");
    assert_error(
        &acme(
            "{directoryUrl: \"https://a.example.com/d\", email: o@example.com, renewBefore: 0s}",
            "",
        ),
        "spec.tls.acme.renewBefore",
        "more than 0s",
    );
    assert_error(&acme("{directoryUrl: \"https://a.example.com/d\", email: o@example.com, challenge: TLS_ALPN_01}", ""), "spec.tls.acme.challenge", "unknown variant");
}

#[test]
fn secure_ingress_jwt_and_dns_rules() {
    load_ok(&si_tls(
        "jwt: {issuer: \"https://id.example.com\", jwksUri: \"https://id.example.com/jwks\"}\n",
    ));
    assert_error(
        &si_tls("jwt: {jwksUri: \"https://id.example.com/jwks\"}\n"),
        "spec.jwt.issuer",
        "issuer is required",
    );
    assert_error(
        &si_tls("jwt: {issuer: i}\n"),
        "spec.jwt.jwksUri",
        "jwksUri is required",
    );
    assert_error(
        &si_tls("jwt: {issuer: i, jwksUri: \"file:///k\"}\n"),
        "spec.jwt.jwksUri",
        "http:// or https://",
    );
    assert_warning(
        &si_tls("jwt: {issuer: i, jwksUri: \"http://id.example.com/k\"}\n"),
        "spec.jwt.jwksUri",
        "use https",
    );
    assert_error(
        &si_tls("jwt: {issuer: i, jwksUri: \"https://id.example.com/k\", audiences: [\"\"]}\n"),
        "spec.jwt.audiences[0]",
        "empty",
    );

    let r2136 = "dns:\n  rfc2136: {server: \"10.0.0.53:53\", zone: example.com, tsigKeyName: verimesh., tsigAlgorithm: HMAC_SHA512, tsigSecretRef: {name: tsig, key: secret}}\n";
    load_ok(&si_tls(r2136));
    load_ok(&acme(
        "{directoryUrl: \"https://a.example.com/d\", email: o@example.com, challenge: DNS_01}",
        r2136,
    ));
    assert_error(&si_tls("dns: {}\n"), "spec.dns", "set a DNS provider");
    assert_error(&si_tls("dns:\n  rfc2136: {server: a.example.com, zone: example.com}\n  route53: {hostedZoneId: Z1, region: us-east-1}\n"), "spec.dns", "only one DNS provider");
    assert_error(
        &si_tls(&r2136.replace("\"10.0.0.53:53\"", "\"ns:99999\"")),
        "spec.dns.rfc2136.server",
        "1..65535",
    );
    assert_error(
        &si_tls(&r2136.replace("\"10.0.0.53:53\"", "\"bad host!\"")),
        "spec.dns.rfc2136.server",
        "host or host:port",
    );
    assert_error(
        &si_tls(&r2136.replace("zone: example.com", "zone: other.org")),
        "spec.domains[0]",
        "outside the DNS zone",
    );
    assert_error(
        &si_tls(&r2136.replace(", tsigSecretRef: {name: tsig, key: secret}", "")),
        "spec.dns.rfc2136.tsigSecretRef",
        "needs its secret",
    );
    assert_error(
        &si_tls(&r2136.replace("tsigKeyName: verimesh., ", "")),
        "spec.dns.rfc2136.tsigKeyName",
        "required",
    );
    assert_warning(
        &si_tls("dns:\n  rfc2136: {server: ns.example.com, zone: example.com}\n"),
        "spec.dns.rfc2136",
        "not signed",
    );
    assert_error(
        &si_tls(&r2136.replace("HMAC_SHA512", "HMAC_MD5")),
        "spec.dns.rfc2136.tsigAlgorithm",
        "unknown variant",
    );
    assert_error(
        &si_tls("dns:\n  rfc2136: {server: ns.example.com, zone: example.com}\n  ttl: 0s\n"),
        "spec.dns.ttl",
        "at least 1s",
    );
    assert_error(&si_tls("dns:\n  rfc2136: {server: ns.example.com, zone: example.com}\n  target: \"not a host\"\n"), "spec.dns.target", "neither an IP");

    load_ok(&si_tls("dns:\n  route53: {hostedZoneId: /hostedzone/Z0123ABC, region: eu-west-3, credentials: {secretName: aws, accessKeyIdKey: id}}\n"));
    assert_error(
        &si_tls("dns:\n  route53: {hostedZoneId: z-1, region: us-east-1}\n"),
        "spec.dns.route53.hostedZoneId",
        "hosted zone id",
    );
    assert_error(
        &si_tls("dns:\n  route53: {hostedZoneId: Z1, region: mars}\n"),
        "spec.dns.route53.region",
        "AWS region",
    );
    assert_error(
        &si_tls("dns:\n  route53: {hostedZoneId: Z1, region: us-east-1, credentials: {}}\n"),
        "spec.dns.route53.credentials.secretName",
        "required",
    );
}
