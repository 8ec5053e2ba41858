//! AuthorizationPolicy semantics: actions and their order, scoping, each source, operation
//! and condition field, TCP traffic, dry-run, and the reasons a decision carries.

mod common;

use common::*;

const SA_A: &str = "spiffe://cluster.local/ns/foo/sa/a";
const SA_EVIL: &str = "spiffe://cluster.local/ns/evil/sa/x";

fn policy(name: &str, ns: &str, spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{spec}\n---\n"
    )
}

#[test]
fn no_policy_allows_and_allow_policies_default_deny() {
    let e = engine("");
    assert!(allowed(&http(&e, &conn(None), &get("/"))));
    let e = engine(&policy(
        "allow-get",
        "foo",
        "  rules:\n  - to:\n    - operation: {methods: [GET]}",
    ));
    assert!(allowed(&http(&e, &conn(None), &get("/"))));
    let post = req("POST", "/", &[]);
    let o = http(&e, &conn(None), &post);
    assert_eq!(o.status, Some(403));
    assert_eq!(decided_by(&e, &o), "default");
    let reasons = e.policies.reasons(o.decision.as_ref().unwrap());
    assert!(
        reasons[0].contains("foo/allow-get rule 0: to[0].operation.methods [GET] did not match"),
        "{reasons:?}"
    );
}

#[test]
fn allow_without_rules_denies_all_and_empty_rule_allows_all() {
    let e = engine(&policy("deny-all", "foo", "  {}"));
    let o = http(&e, &conn(Some(SA_A)), &get("/"));
    assert!(!allowed(&o));
    assert!(e.policies.reasons(o.decision.as_ref().unwrap())[0].contains("no rules"));
    let e = engine(&policy("allow-all", "foo", "  rules:\n  - {}"));
    assert!(allowed(&http(&e, &conn(None), &get("/"))));
}

#[test]
fn order_custom_deny_allow() {
    let mesh = mesh("extensionProviders:\n- name: ext\n  envoyExtAuthzHttp: {service: ext.foo.svc.cluster.local, port: 9000}\n");
    let yaml = policy("allow", "foo", "  rules:\n  - {}")
        + &policy("deny-admin", "foo", "  action: DENY\n  rules:\n  - to:\n    - operation: {paths: [/admin]}")
        + &policy("ext", "foo", "  action: CUSTOM\n  provider: {name: ext}\n  rules:\n  - to:\n    - operation: {paths: [/ext/*]}");
    let e = engine_with(&yaml, &mesh);
    let o = http(&e, &conn(None), &get("/admin"));
    assert_eq!(
        (o.status, decided_by(&e, &o).as_str()),
        (Some(403), "foo/deny-admin rule 0")
    );
    let o = http(&e, &conn(None), &get("/ext/x"));
    assert!(allowed(&o));
    let d = o.decision.unwrap();
    assert_eq!(d.delegations.len(), 1, "CUSTOM matched: delegated");
    assert_eq!(e.policies.policy_id(d.delegations[0].policy), "foo/ext");
    let o = http(&e, &conn(None), &get("/other"));
    assert!(allowed(&o) && o.decision.unwrap().delegations.is_empty());
    // An undefined provider: the CUSTOM policy denies what it matches.
    let e = engine(&yaml);
    let o = http(&e, &conn(None), &get("/ext/x"));
    assert_eq!(o.status, Some(403));
    assert!(e
        .policies
        .reasons(o.decision.as_ref().unwrap())
        .iter()
        .any(|r| r.contains("extensionProviders")));
}

#[test]
fn audit_does_not_change_the_outcome() {
    let e = engine(&policy(
        "audit",
        "foo",
        "  action: AUDIT\n  rules:\n  - to:\n    - operation: {paths: [/x]}",
    ));
    let o = http(&e, &conn(None), &get("/x"));
    assert!(allowed(&o));
    assert_eq!(o.decision.unwrap().audited.len(), 1);
}

#[test]
fn scoping_root_namespace_selector_and_other_namespaces() {
    let yaml = policy("root-deny", "istio-system", "  action: DENY\n  selector: {matchLabels: {app: a}}\n  rules:\n  - to:\n    - operation: {paths: [/root]}")
        + &policy("other-ns", "bar", "  action: DENY\n  rules:\n  - {}")
        + &policy("other-app", "foo", "  action: DENY\n  selector: {matchLabels: {app: b}}\n  rules:\n  - {}");
    let e = engine(&yaml);
    assert!(!allowed(&http(&e, &conn(None), &get("/root"))));
    assert!(allowed(&http(&e, &conn(None), &get("/x"))));
    let mesh = mesh("rootNamespace: mesh-root\n");
    let e = engine_with(&yaml, &mesh);
    assert!(
        allowed(&http(&e, &conn(None), &get("/root"))),
        "istio-system is not the root now"
    );
}

#[test]
fn source_fields() {
    let spec = |src: &str| {
        policy(
            "p",
            "foo",
            &format!("  rules:\n  - from:\n    - source: {src}"),
        )
    };
    let cases: &[(&str, Option<&str>, bool)] = &[
        (
            "{principals: [cluster.local/ns/foo/sa/a]}",
            Some(SA_A),
            true,
        ),
        ("{principals: [cluster.local/ns/foo/sa/a]}", None, false),
        ("{principals: ['*']}", Some(SA_A), true),
        ("{principals: ['*']}", None, false),
        ("{principals: ['*/sa/a']}", Some(SA_A), true),
        (
            "{notPrincipals: [cluster.local/ns/evil/sa/x]}",
            Some(SA_EVIL),
            false,
        ),
        (
            "{notPrincipals: [cluster.local/ns/evil/sa/x]}",
            Some(SA_A),
            true,
        ),
        ("{namespaces: [foo]}", Some(SA_A), true),
        ("{namespaces: [f*]}", Some(SA_A), true),
        ("{namespaces: [foo]}", Some(SA_EVIL), false),
        ("{notNamespaces: [evil]}", Some(SA_EVIL), false),
        ("{serviceAccounts: [a]}", Some(SA_A), true),
        ("{serviceAccounts: [foo/a]}", Some(SA_A), true),
        ("{serviceAccounts: [bar/a]}", Some(SA_A), false),
        ("{notServiceAccounts: [foo/a]}", Some(SA_A), false),
        ("{trustDomains: [cluster.local]}", Some(SA_A), true),
        ("{trustDomains: ['*.local']}", Some(SA_A), true),
        ("{trustDomains: [other.td]}", Some(SA_A), false),
        ("{ipBlocks: [10.0.0.0/24]}", None, true),
        ("{notIpBlocks: [10.0.0.1]}", None, false),
        ("{remoteIpBlocks: [10.0.0.1/32]}", None, true),
        ("{remoteIpBlocks: [192.168.0.0/16]}", None, false),
    ];
    for (src, peer, expect) in cases {
        let e = engine(&spec(src));
        let got = allowed(&http(&e, &conn(*peer), &get("/")));
        assert_eq!(got, *expect, "{src} from {peer:?}");
    }
}

#[test]
fn trust_domain_aliases() {
    let mesh = mesh("trustDomain: new.td\ntrustDomainAliases: [old.td]\n");
    let e = engine_with(
        &policy(
            "p",
            "foo",
            "  rules:\n  - from:\n    - source: {principals: [old.td/ns/foo/sa/a]}",
        ),
        &mesh,
    );
    assert!(allowed(&http(
        &e,
        &conn(Some("spiffe://new.td/ns/foo/sa/a")),
        &get("/")
    )));
    assert!(!allowed(&http(
        &e,
        &conn(Some("spiffe://third.td/ns/foo/sa/a")),
        &get("/")
    )));
}

type MakeRequest = fn() -> verimesh_policy::RawRequest;

#[test]
fn operation_fields_and_templates() {
    let spec = |op: &str| {
        policy(
            "p",
            "foo",
            &format!("  rules:\n  - to:\n    - operation: {op}"),
        )
    };
    let h = |host: &str| req("GET", "/a/b", &[("host", host)]);
    let cases: &[(&str, MakeRequest, bool)] = &[
        ("{hosts: [svc.foo.svc.cluster.local]}", || get("/"), true),
        ("{hosts: ['*.foo.svc.cluster.local']}", || get("/"), true),
        (
            "{notHosts: [svc.foo.svc.cluster.local]}",
            || get("/"),
            false,
        ),
        ("{ports: ['8080']}", || get("/"), true),
        ("{notPorts: ['8080']}", || get("/"), false),
        ("{methods: [GET, HEAD]}", || get("/"), true),
        ("{notMethods: [GET]}", || get("/"), false),
        ("{paths: [/a/b]}", || get("/a/b"), true),
        ("{paths: [/a/*]}", || get("/a/b/c"), true),
        ("{paths: ['*/b']}", || get("/a/b"), true),
        ("{paths: ['*']}", || get("/a"), true),
        ("{paths: ['/a/{*}/c']}", || get("/a/b/c"), true),
        ("{paths: ['/a/{*}/c']}", || get("/a/b/x/c"), false),
        ("{paths: ['/a/{**}']}", || get("/a/b/x/c"), true),
        ("{paths: ['/{*}/b/{**}']}", || get("/x/b/"), true),
        ("{notPaths: [/a/b]}", || get("/a/b"), false),
    ];
    for (op, r, expect) in cases {
        let e = engine(&spec(op));
        assert_eq!(allowed(&http(&e, &conn(None), &r())), *expect, "{op}");
    }
    let e = engine(&spec("{hosts: [Svc.Example.COM]}"));
    assert!(allowed(&http(&e, &conn(None), &h("svc.example.com"))));
    assert!(allowed(&http(&e, &conn(None), &h("SVC.example.com"))));
}

#[test]
fn conditions() {
    let spec = |key: &str, vals: &str| {
        policy(
            "p",
            "foo",
            &format!("  rules:\n  - when:\n    - key: {key}\n      {vals}"),
        )
    };
    let r = req(
        "GET",
        "/",
        &[("host", "h"), ("x-role", "admin"), ("x-team", "core")],
    );
    let cases: &[(&str, &str, bool)] = &[
        ("request.headers[x-role]", "values: [admin]", true),
        ("request.headers[X-Role]", "values: [adm*]", true),
        ("request.headers[x-role]", "values: ['*']", true),
        ("request.headers[x-missing]", "values: ['*']", false),
        ("request.headers[x-missing]", "notValues: [admin]", true),
        ("request.headers[x-role]", "notValues: [admin]", false),
        ("source.ip", "values: [10.0.0.1]", true),
        ("remote.ip", "values: [10.0.0.0/8]", true),
        ("source.namespace", "values: [foo]", true),
        ("source.serviceAccount", "values: [foo/a]", true),
        (
            "source.principal",
            "values: [cluster.local/ns/foo/sa/a]",
            true,
        ),
        ("source.trustDomain", "values: [cluster.local]", true),
        ("destination.ip", "values: [10.0.0.2]", true),
        ("destination.port", "values: ['8080']", true),
        ("destination.port", "values: ['9090']", false),
        ("connection.sni", "values: ['*']", false),
        ("request.auth.principal", "values: ['*']", false),
        ("request.auth.principal", "notValues: ['*']", true),
        ("request.auth.claims[groups]", "values: [admin]", false),
        (
            "experimental.envoy.filters.network.mysql_proxy[db.table]",
            "values: ['[update]']",
            false,
        ),
    ];
    for (key, vals, expect) in cases {
        let e = engine(&spec(key, vals));
        assert_eq!(
            allowed(&http(&e, &conn(Some(SA_A)), &r)),
            *expect,
            "{key} {vals}"
        );
    }
}

#[test]
fn tcp_traffic_and_http_only_fields() {
    // ALLOW rules with HTTP-only fields never match TCP.
    let e = engine(&policy(
        "p",
        "foo",
        "  rules:\n  - to:\n    - operation: {methods: [GET], ports: ['8080']}",
    ));
    let o = tcp(&e, &conn(Some(SA_A)));
    assert!(!allowed(&o) && o.status.is_none());
    assert!(e.policies.reasons(o.decision.as_ref().unwrap())[0].contains("never matches TCP"));
    let e = engine(&policy(
        "p",
        "foo",
        "  rules:\n  - to:\n    - operation: {ports: ['8080']}",
    ));
    assert!(allowed(&tcp(&e, &conn(None))));
    // DENY rules drop their HTTP-only parts on TCP: this one denies all TCP to 8080.
    let e = engine(&policy(
        "d",
        "foo",
        "  action: DENY\n  rules:\n  - to:\n    - operation: {methods: [POST], ports: ['8080']}",
    ));
    assert!(!allowed(&tcp(&e, &conn(None))));
    assert!(
        allowed(&http(&e, &conn(None), &get("/"))),
        "HTTP GET is not denied"
    );
    let e = engine(&policy(
        "d",
        "foo",
        "  action: DENY\n  rules:\n  - from:\n    - source: {notRequestPrincipals: ['*']}",
    ));
    assert!(
        !allowed(&tcp(&e, &conn(Some(SA_A)))),
        "TCP: the rule becomes match-all"
    );
    let e = engine(&policy(
        "d",
        "foo",
        "  action: DENY\n  rules:\n  - to:\n    - operation: {ports: ['9090']}",
    ));
    assert!(allowed(&tcp(&e, &conn(None))), "other port");
}

#[test]
fn dry_run_is_reported_not_enforced() {
    let yaml = "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: dry\n  namespace: foo\n  annotations: {istio.io/dry-run: 'true'}\nspec:\n  action: DENY\n  rules:\n  - {}\n";
    let e = engine(yaml);
    let o = http(&e, &conn(None), &get("/"));
    assert!(allowed(&o));
    let d = o.decision.unwrap();
    assert_eq!(d.dry_runs.len(), 1);
    assert_eq!(d.dry_runs[0].matched, Some(0));
    assert!(e
        .policies
        .reasons(&d)
        .iter()
        .any(|r| r.contains("dry-run foo/dry rule 0 matched")));
    // A dry-run ALLOW policy does not switch on default deny.
    let e = engine(
        &yaml
            .replace("DENY", "ALLOW")
            .replace("  - {}\n", "  - to:\n    - operation: {paths: [/x]}\n"),
    );
    assert!(allowed(&http(&e, &conn(None), &get("/y"))));
}

#[test]
fn reasons_name_every_policy_that_did_not_match() {
    let yaml = policy("a1", "foo", "  rules:\n  - from:\n    - source: {namespaces: [bar]}\n  - to:\n    - operation: {paths: [/p]}")
        + &policy("a2", "foo", "  rules:\n  - when:\n    - key: request.headers[x-k]\n      values: [v]");
    let e = engine(&yaml);
    let o = http(&e, &conn(Some(SA_A)), &get("/q"));
    let reasons = e.policies.reasons(o.decision.as_ref().unwrap());
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].starts_with("foo/a1 rule 0: from[0].source.namespaces [bar]"));
    assert!(reasons[1].starts_with("foo/a1 rule 1: to[0].operation.paths [/p]"));
    assert!(reasons[2].starts_with("foo/a2 rule 0: when[0] request.headers[x-k] [v]"));
}
