//! verimesh.io kinds: the shipped examples load, and each validation rule reports its path.

mod common;

use common::{assert_error, assert_warning, istio, load_ok};
use verimesh_config::verimesh::{Access, AcmeChallenge, PathKind};

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/ingress")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn examples_load_without_errors_or_warnings() {
    for name in ["application.yaml", "secure-ingress.yaml"] {
        let l = load_ok(&example(name));
        assert!(l.diagnostics.is_empty(), "{name}: {:?}", l.diagnostics);
    }
    let l = load_ok(&example("application.yaml"));
    let app = l.resources[0].as_application().unwrap();
    assert_eq!(app.routes[3].access(), Access::Authenticated);
    assert_eq!(
        app.routes[0].paths[0].kind(),
        Some(PathKind::Exact("/healthz"))
    );
    assert_eq!(app.route_port(&app.routes[4]).unwrap().number, 9090);
    let l = load_ok(&example("secure-ingress.yaml"));
    let si = l.resources[0].as_secure_ingress().unwrap();
    assert_eq!(
        si.tls.as_ref().unwrap().acme.as_ref().unwrap().challenge(),
        AcmeChallenge::Http01
    );
    assert!(si.gateway.as_ref().unwrap().redirect_http_to_https());
    assert!(si.serves("API.shop.example.com"));
}

fn app(spec: &str) -> String {
    istio("verimesh.io/v1alpha1", "Application", spec)
}

const PORTS: &str = "workload: {service: {name: web}}\nports:\n- {name: http, number: 8080, protocol: HTTP}\n- {name: db, number: 5432, protocol: TCP}\n";

fn route(r: &str) -> String {
    app(&format!("{PORTS}routes:\n- {r}\n"))
}

#[test]
fn application_rules() {
    load_ok(&app("workload: {selector: {matchLabels: {app: web}}}\nports:\n- {name: http, number: 80, protocol: HTTP2}\nroutes:\n- {name: all, paths: [{prefix: /}]}\n"));
    assert_error(
        &app("ports: [{name: a, number: 1, protocol: TCP}]"),
        "spec.workload",
        "workload is required",
    );
    assert_error(
        &app("workload: {}\nports: [{name: a, number: 1, protocol: TCP}]"),
        "spec.workload",
        "set one of service",
    );
    assert_error(
        &app("workload: {service: {name: a}, selector: {matchLabels: {a: b}}}"),
        "spec.workload",
        "only one of",
    );
    assert_error(
        &app("workload: {service: {name: Web}}"),
        "spec.workload.service.name",
        "not a Service name",
    );
    assert_error(
        &app("workload: {selector: {}}"),
        "spec.workload.selector.matchLabels",
        "at least one label",
    );
    assert_error(
        &app("workload: {service: {name: a}}"),
        "spec.ports",
        "at least one port",
    );
    assert_error(
        &app("workload: {service: {name: a}}\nports: [{number: 80, protocol: HTTP}]"),
        "spec.ports[0].name",
        "needs a name",
    );
    assert_error(&app("workload: {service: {name: a}}\nports: [{name: a, number: 80, protocol: HTTP}, {name: a, number: 81, protocol: HTTP}]"), "spec.ports[1].name", "duplicate port name");
    assert_error(&app("workload: {service: {name: a}}\nports: [{name: a, number: 80, protocol: HTTP}, {name: b, number: 80, protocol: TCP}]"), "spec.ports[1].number", "listed twice");
    assert_error(
        &app("workload: {service: {name: a}}\nports: [{name: a, number: 0, protocol: HTTP}]"),
        "spec.ports[0].number",
        "1..65535",
    );
    assert_error(
        &app("workload: {service: {name: a}}\nports: [{name: a, number: 80}]"),
        "spec.ports[0].protocol",
        "protocol is required",
    );
    assert_error(
        &app("workload: {service: {name: a}}\nports: [{name: a, number: 80, protocol: SMTP}]"),
        "spec.ports[0].protocol",
        "unknown variant",
    );
    assert_error(
        &app("workload: {service: {name: a}}\nextra: 1"),
        "spec.extra",
        "unknown field",
    );
}

#[test]
fn application_route_rules() {
    assert_error(
        &route("{paths: [{prefix: /}]}"),
        "spec.routes[0].name",
        "needs a name",
    );
    assert_error(&app(&format!("{PORTS}routes:\n- {{name: a, paths: [{{prefix: /a}}]}}\n- {{name: a, paths: [{{prefix: /b}}]}}\n")), "spec.routes[1].name", "duplicate route name");
    assert_error(
        &route("{name: a, port: nope, paths: [{prefix: /}]}"),
        "spec.routes[0].port",
        "no port named",
    );
    assert_error(
        &route("{name: a, port: db, paths: [{prefix: /}]}"),
        "spec.routes[0].port",
        "not HTTP, HTTP2 or GRPC",
    );
    let two_http = "workload: {service: {name: web}}\nports:\n- {name: a, number: 1, protocol: HTTP}\n- {name: b, number: 2, protocol: GRPC}\nroutes:\n- {name: r, paths: [{prefix: /}]}\n";
    assert_error(&app(two_http), "spec.routes[0].port", "exactly one HTTP");
    assert_error(
        &route("{name: a}"),
        "spec.routes[0].paths",
        "at least one path",
    );
    assert_error(
        &route("{name: a, paths: [{}]}"),
        "spec.routes[0].paths[0]",
        "exactly one of exact, prefix or regex",
    );
    assert_error(
        &route("{name: a, paths: [{exact: /a, prefix: /b}]}"),
        "spec.routes[0].paths[0]",
        "exactly one of",
    );
    assert_error(
        &route("{name: a, paths: [{exact: a}]}"),
        "spec.routes[0].paths[0].exact",
        "must start with '/'",
    );
    assert_error(
        &route("{name: a, paths: [{exact: \"/a?x=1\"}]}"),
        "spec.routes[0].paths[0].exact",
        "query string",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: \"/a#b\"}]}"),
        "spec.routes[0].paths[0].prefix",
        "query string",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /a//b}]}"),
        "spec.routes[0].paths[0].prefix",
        "not normalized",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /a/../b}]}"),
        "spec.routes[0].paths[0].prefix",
        "not normalized",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: \"/a/*\"}]}"),
        "spec.routes[0].paths[0].prefix",
        "not a wildcard",
    );
    assert_error(
        &route("{name: a, paths: [{regex: \"(\"}]}"),
        "spec.routes[0].paths[0].regex",
        "not a valid regular expression",
    );
    assert_error(
        &route("{name: a, access: PUBLIC, paths: [{regex: \"/a/.*\"}]}"),
        "spec.routes[0].paths[0].regex",
        "PUBLIC routes take exact or prefix",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], methods: [get]}"),
        "spec.routes[0].methods[0]",
        "case-sensitive",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], methods: [GET, GET]}"),
        "spec.routes[0].methods[1]",
        "listed twice",
    );
    assert_error(
        &route("{name: a, access: PUBLIC, paths: [{prefix: /}], jwt: {requiredScopes: [x]}}"),
        "spec.routes[0].jwt",
        "PUBLIC route takes no token",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], jwt: {requiredScopes: [\"a b\"]}}"),
        "spec.routes[0].jwt.requiredScopes[0]",
        "without spaces",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], jwt: {scopeClaim: \"\"}}"),
        "spec.routes[0].jwt.scopeClaim",
        "must not be empty",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], jwt: {requiredClaims: [{values: [x]}]}}"),
        "spec.routes[0].jwt.requiredClaims[0].name",
        "required",
    );
    assert_error(
        &route("{name: a, paths: [{prefix: /}], jwt: {requiredClaims: [{name: g}]}}"),
        "spec.routes[0].jwt.requiredClaims[0].values",
        "accepted values",
    );
    assert_error(
        &route("{name: a, access: SOMETIMES, paths: [{prefix: /}]}"),
        "spec.routes[0].access",
        "unknown variant",
    );
    let dup = format!("{PORTS}routes:\n- {{name: a, access: PUBLIC, paths: [{{prefix: /x}}], methods: [GET]}}\n- {{name: b, paths: [{{prefix: /x}}]}}\n");
    assert_error(&app(&dup), "spec.routes[1].paths[0]", "ambiguous");
    let disjoint = format!("{PORTS}routes:\n- {{name: a, access: PUBLIC, paths: [{{prefix: /x}}], methods: [GET]}}\n- {{name: b, paths: [{{prefix: /x}}], methods: [POST]}}\n");
    load_ok(&app(&disjoint));
}

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
