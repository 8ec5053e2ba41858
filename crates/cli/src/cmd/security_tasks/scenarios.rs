//! The scenarios of Istio's security tasks: which files of the suite each applies (and in
//! which namespace, for files that are applied with `kubectl apply -n`), the requests the
//! task sends and the outcomes istio.io documents for them. The outcomes are Istio's facts;
//! the requests are the task's `kubectl exec ... curl` commands.

/// Which token a request carries as `Authorization: Bearer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    None,
    /// The task's `invalidToken`.
    Invalid,
    /// samples/jwt/demo.jwt (sub and iss testing@secure.istio.io, claim foo: bar).
    Demo,
    /// samples/jwt/groups-scope.jwt (adds groups [group1, group2]).
    Groups,
}

/// Where a request goes.
#[derive(Clone, Debug)]
pub enum To {
    /// A Service by name: `app.ns:port`, whose pods listen on `target`.
    Service {
        app: &'static str,
        ns: &'static str,
        port: u16,
        target: u16,
    },
    /// A pod's own address and a port the Service does not declare (tcp-echo's 9002).
    Pod {
        app: &'static str,
        ns: &'static str,
        port: u16,
    },
    /// Istio's ingress gateway, as `$INGRESS_HOST:$INGRESS_PORT`.
    Ingress,
    /// The gateway Istio deploys for the Gateway API `httpbin-gateway` in foo.
    ApiIngress,
}

#[derive(Clone, Debug)]
pub struct Check {
    /// The client's namespace and app: the request is sent from that workload (Istio's
    /// `curl`, or a bookinfo service standing in for its own calls).
    pub from: &'static str,
    pub client: &'static str,
    pub to: To,
    /// None: a TCP connection that sends a line and expects tcp-echo's `hello` back.
    pub http: Option<Http>,
    /// `200`, `401`, `403`, `000` (connection failed); for TCP `echo` or `refused`.
    pub expect: &'static str,
}

#[derive(Clone, Debug)]
pub struct Http {
    pub method: &'static str,
    pub path: &'static str,
    pub headers: Vec<(&'static str, &'static str)>,
    pub token: Token,
    /// Text the answer's body must hold (compared without spaces, case-insensitively).
    pub body_contains: Option<&'static str>,
}

/// A suite file to apply, with the namespace `kubectl apply -n` gives resources that name
/// none, and an optional text replacement (a variant the file's own comment describes).
#[derive(Clone, Debug)]
pub struct Apply {
    pub file: &'static str,
    pub namespace: Option<&'static str>,
    pub replace: Option<(&'static str, &'static str)>,
    /// Only the first N YAML documents (a task that applies a file's resources one by one).
    pub docs: Option<usize>,
    /// Only the K-th document (from 0): a file that holds each step's variant in turn.
    pub doc: Option<usize>,
}

pub struct Scenario {
    pub name: &'static str,
    pub apply: Vec<Apply>,
    pub checks: Vec<Check>,
    /// After the requests: a line of the proxy log of this (namespace, Deployment) must
    /// hold every one of these words (what the task reads in the sidecar's log).
    pub log: Option<(&'static str, &'static str, &'static [&'static str])>,
}

/// A scenario the runner runs (one variant today; scenarios it cannot run are reported
/// from `skipped_file`, by file).
pub enum Entry {
    Run(Scenario),
}

/// Istio's sample Gateway and VirtualService for httpbin (`kubectl apply -n foo`).
const HTTPBIN_GATEWAY: &str = "../istio-samples/httpbin/httpbin-gateway.yaml";

pub(super) fn file(file: &'static str) -> Apply {
    Apply {
        file,
        namespace: None,
        replace: None,
        docs: None,
        doc: None,
    }
}

fn file_in(name: &'static str, ns: &'static str) -> Apply {
    Apply {
        namespace: Some(ns),
        ..file(name)
    }
}

fn httpbin(ns: &'static str) -> To {
    To::Service {
        app: "httpbin",
        ns,
        port: 8000,
        target: 8080,
    }
}

pub(super) fn get(path: &'static str) -> Http {
    Http {
        method: "GET",
        path,
        headers: Vec::new(),
        token: Token::None,
        body_contains: None,
    }
}

pub(super) fn http(from: &'static str, to: To, h: Http, expect: &'static str) -> Check {
    Check {
        from,
        client: "curl",
        to,
        http: Some(h),
        expect,
    }
}

/// The mTLS tasks' test loop: `curl http://httpbin.$to:8000/ip` from every client to every
/// server; `refused` lists the (client, server) pairs that fail (000, curl exit 56).
fn matrix(
    clients: &[&'static str],
    servers: &[&'static str],
    refused: &[(&str, &str)],
) -> Vec<Check> {
    let mut out = Vec::new();
    for from in clients {
        for to in servers {
            let expect = if refused.contains(&(*from, *to)) {
                "000"
            } else {
                "200"
            };
            out.push(http(from, httpbin(to), get("/ip"), expect));
        }
    }
    out
}

const ALL: [&str; 3] = ["foo", "bar", "legacy"];
const MESHED: [&str; 2] = ["foo", "bar"];

fn foo_get(
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    expect: &'static str,
) -> Check {
    let mut h = get(path);
    h.headers = headers;
    http("foo", httpbin("foo"), h, expect)
}

fn foo_token(path: &'static str, token: Token, expect: &'static str) -> Check {
    let mut h = get(path);
    h.token = token;
    http("foo", httpbin("foo"), h, expect)
}

fn tcp(port: u16, expect: &'static str) -> Check {
    let to = if port == 9002 {
        To::Pod {
            app: "tcp-echo",
            ns: "foo",
            port,
        }
    } else {
        To::Service {
            app: "tcp-echo",
            ns: "foo",
            port,
            target: port,
        }
    };
    Check {
        from: "foo",
        client: "curl",
        to,
        http: None,
        expect,
    }
}

pub(super) fn run(name: &'static str, apply: Vec<Apply>, checks: Vec<Check>) -> Entry {
    Entry::Run(Scenario {
        name,
        apply,
        checks,
        log: None,
    })
}

/// The task's three requests. With the gRPC provider, the authorizer's `ok_response` header
/// reaches httpbin, which echoes it, as the task's output for that provider shows; the HTTP
/// provider's mesh config forwards no authorizer header upstream.
fn ext_authz_checks(grpc: bool) -> Vec<Check> {
    // The authorizer's own denial reaches the caller.
    let mut denied = get("/headers");
    denied.headers = vec![("x-ext-authz", "deny")];
    denied.body_contains = Some("denied by ext_authz for not found header `x-ext-authz: allow`");
    let mut allowed = get("/headers");
    allowed.headers = vec![("x-ext-authz", "allow")];
    if grpc {
        allowed.body_contains = Some(r#""x-ext-authz-check-result":"allowed""#);
    }
    vec![
        http("foo", httpbin("foo"), denied, "403"),
        http("foo", httpbin("foo"), allowed, "200"),
        foo_get("/ip", vec![("x-ext-authz", "deny")], "200"),
    ]
}

/// Every scenario, in the order the tasks run them.
pub fn all() -> Vec<Entry> {
    let mut claim_header = get("/headers");
    claim_header.token = Token::Demo;
    claim_header.body_contains = Some(r#""x-jwt-claim-foo":"bar""#);
    vec![
        // Each task first checks that everything answers before any policy exists.
        run(
            "baseline: authn-policy set-up",
            vec![],
            matrix(&ALL, &ALL, &[]),
        ),
        run(
            "baseline: authz-tcp set-up",
            vec![],
            vec![tcp(9000, "echo"), tcp(9001, "echo"), tcp(9002, "echo")],
        ),
        // authentication/authn-policy: foo, bar (sidecars) and legacy (none).
        run(
            "authn-mtls-mesh-strict",
            vec![file("authn-mtls-mesh-strict.yaml")],
            matrix(&ALL, &ALL, &[("legacy", "foo"), ("legacy", "bar")]),
        ),
        run(
            "authn-mtls-namespace-strict",
            vec![file("authn-mtls-namespace-strict.yaml")],
            matrix(&ALL, &ALL, &[("legacy", "foo")]),
        ),
        // The task applies it while foo's namespace policy is still in place.
        run(
            "authn-mtls-workload-strict",
            vec![
                file("authn-mtls-namespace-strict.yaml"),
                file("authn-mtls-workload-strict.yaml"),
            ],
            matrix(&ALL, &ALL, &[("legacy", "foo"), ("legacy", "bar")]),
        ),
        run(
            "authn-mtls-workload-port-disable",
            vec![
                file("authn-mtls-namespace-strict.yaml"),
                file("authn-mtls-workload-port-disable.yaml"),
            ],
            matrix(&ALL, &ALL, &[("legacy", "foo")]),
        ),
        run(
            "authn-mtls-precedence",
            vec![file("authn-mtls-precedence.yaml")],
            matrix(&ALL, &ALL, &[]),
        ),
        // authentication/mtls-migration: servers in foo and bar only.
        run(
            "authn-mtls-migration-namespace-strict",
            vec![file_in("authn-mtls-migration-namespace-strict.yaml", "foo")],
            matrix(&ALL, &MESHED, &[("legacy", "foo")]),
        ),
        run(
            "authn-mtls-migration-mesh-strict",
            vec![
                file_in("authn-mtls-migration-namespace-strict.yaml", "foo"),
                file_in("authn-mtls-migration-mesh-strict.yaml", "istio-system"),
            ],
            matrix(&ALL, &MESHED, &[("legacy", "foo"), ("legacy", "bar")]),
        ),
        // authentication/jwt-route: the sample's Gateway, the task's own VirtualService.
        run(
            "authn-jwt-claim-routing",
            vec![
                Apply {
                    docs: Some(1),
                    ..file_in(HTTPBIN_GATEWAY, "foo")
                },
                file("authn-jwt-claim-routing.yaml"),
            ],
            vec![
                ingress("/headers", Token::None, "404"),
                ingress("/headers", Token::Invalid, "401"),
                ingress("/headers", Token::Groups, "200"),
                ingress("/headers", Token::Demo, "404"),
            ],
        ),
        run(
            "authn-jwt-claim-to-header",
            vec![file("authn-jwt-claim-to-header.yaml")],
            vec![
                foo_token("/headers", Token::Invalid, "401"),
                http("foo", httpbin("foo"), claim_header, "200"),
            ],
        ),
        // authorization/authz-deny.
        run(
            "authz-deny-method-get",
            vec![file("authz-deny-method-get.yaml")],
            vec![
                foo_get("/get", vec![], "403"),
                http(
                    "foo",
                    httpbin("foo"),
                    Http {
                        method: "POST",
                        ..get("/post")
                    },
                    "200",
                ),
            ],
        ),
        run(
            "authz-deny-get-unless-admin",
            vec![file("authz-deny-get-unless-admin.yaml")],
            vec![
                foo_get("/get", vec![("x-token", "admin")], "200"),
                foo_get("/get", vec![("x-token", "guest")], "403"),
            ],
        ),
        run(
            "authz-deny-and-allow-path",
            vec![file("authz-deny-and-allow-path.yaml")],
            vec![
                foo_get("/ip", vec![("x-token", "guest")], "403"),
                foo_get("/ip", vec![("x-token", "admin")], "200"),
                foo_get("/get", vec![("x-token", "admin")], "403"),
            ],
        ),
        // authorization/authz-tcp (9002 is reached by pod address, as the task does).
        run(
            "authz-tcp-allow-ports",
            vec![file("authz-tcp-allow-ports.yaml")],
            vec![tcp(9000, "echo"), tcp(9001, "echo"), tcp(9002, "refused")],
        ),
        run(
            "authz-tcp-allow-http-field",
            vec![file("authz-tcp-allow-http-field.yaml")],
            vec![tcp(9000, "refused")],
        ),
        run(
            "authz-tcp-deny-http-field",
            vec![file("authz-tcp-deny-http-field.yaml")],
            vec![tcp(9000, "refused"), tcp(9001, "refused")],
        ),
        run(
            "authz-tcp-deny-http-field-and-port",
            vec![file("authz-tcp-deny-http-field-and-port.yaml")],
            vec![tcp(9000, "refused"), tcp(9001, "echo")],
        ),
        // authorization/authz-jwt: first the RequestAuthentication alone (a token is
        // checked if present, but not required).
        run(
            "authz-jwt-requestauthentication-only",
            vec![Apply {
                docs: Some(1),
                ..file("authz-jwt-require-principal.yaml")
            }],
            vec![
                foo_token("/headers", Token::Invalid, "401"),
                foo_token("/headers", Token::None, "200"),
            ],
        ),
        run(
            "authz-jwt-require-principal",
            vec![file("authz-jwt-require-principal.yaml")],
            vec![
                foo_token("/headers", Token::Invalid, "401"),
                foo_token("/headers", Token::Demo, "200"),
                foo_token("/headers", Token::None, "403"),
            ],
        ),
        run(
            "authz-jwt-require-claim",
            vec![file("authz-jwt-require-claim.yaml")],
            vec![
                foo_token("/headers", Token::Groups, "200"),
                foo_token("/headers", Token::Demo, "403"),
            ],
        ),
        // authorization/authz-dry-run: the DENY is only logged.
        // The task then finds `shadow denied, matched policy ...deny-path-headers...rule[0]`
        // in httpbin's proxy log; verimesh's proxy logs its dry-run verdicts as an audit.
        Entry::Run(Scenario {
            name: "authz-dry-run",
            apply: vec![file_in("authz-dry-run.yaml", "foo")],
            checks: vec![
                foo_get("/headers", vec![], "200"),
                foo_get("/ip", vec![], "200"),
            ],
            log: Some((
                "foo",
                "httpbin",
                &["dry-run", "deny-path-headers", "rule 0 matched"],
            )),
        }),
        // authorization/authz-custom: the file as written names the gRPC provider.
        run(
            "authz-custom-ext-authz",
            vec![file_in("authz-custom-ext-authz.yaml", "foo")],
            ext_authz_checks(true),
        ),
        // The HTTP provider, as the file's own comment offers.
        run(
            "authz-custom-ext-authz (sample-ext-authz-http)",
            vec![Apply {
                replace: Some(("name: sample-ext-authz-grpc", "name: sample-ext-authz-http")),
                ..file_in("authz-custom-ext-authz.yaml", "foo")
            }],
            ext_authz_checks(false),
        ),
    ]
    .into_iter()
    .chain(ingress_scenarios())
    .chain(gateway_api_scenarios())
    .chain(super::bookinfo::steps())
    .collect()
}

/// A request from outside the mesh (the legacy namespace's curl) to the ingress gateway.
fn ingress(path: &'static str, token: Token, expect: &'static str) -> Check {
    let mut h = get(path);
    h.token = token;
    http("legacy", To::Ingress, h, expect)
}

/// A request from outside the mesh to the gateway of the Gateway API `httpbin-gateway`.
fn api_ingress(path: &'static str, token: Token, expect: &'static str) -> Check {
    let mut h = get(path);
    h.token = token;
    http("legacy", To::ApiIngress, h, expect)
}

/// The Gateway API variants: the sample's Gateway and HTTPRoute are part of the base mesh
/// (Istio deploys a gateway for a Gateway; `up` does for those present when it starts), and
/// each step applies one document of the variant file, bound by `targetRef`.
fn gateway_api_scenarios() -> Vec<Entry> {
    let step = |f: &'static str, doc: usize| Apply {
        doc: Some(doc),
        ..file(f)
    };
    const AUTHN: &str = "authn-jwt-ingress.gateway-api.yaml";
    const AUTHZ: &str = "authz-ingress.gateway-api.yaml";
    let headers = |expect| api_ingress("/headers", Token::None, expect);
    vec![
        run(
            "baseline: Gateway API gateway set-up",
            vec![],
            vec![headers("200")],
        ),
        run(
            "authn-jwt-ingress.gateway-api 1 (RequestAuthentication)",
            vec![step(AUTHN, 0)],
            vec![
                headers("200"),
                api_ingress("/headers", Token::Invalid, "401"),
                api_ingress("/headers", Token::Demo, "200"),
            ],
        ),
        run(
            "authn-jwt-ingress.gateway-api 2 (+require a token per path)",
            vec![Apply {
                docs: Some(2),
                ..file(AUTHN)
            }],
            vec![
                headers("403"),
                api_ingress("/headers", Token::Demo, "200"),
                api_ingress("/ip", Token::None, "200"),
            ],
        ),
        run(
            "authz-ingress.gateway-api 1 (ipBlocks allow)",
            vec![step(AUTHZ, 0)],
            vec![headers("403")],
        ),
        run(
            "authz-ingress.gateway-api 2 (remoteIpBlocks allow)",
            vec![step(AUTHZ, 1)],
            vec![headers("403")],
        ),
        run(
            "authz-ingress.gateway-api 3 (ipBlocks allow client)",
            vec![step(AUTHZ, 2)],
            vec![headers("200")],
        ),
        run(
            "authz-ingress.gateway-api 4 (remoteIpBlocks allow client)",
            vec![step(AUTHZ, 3)],
            vec![headers("200")],
        ),
        run(
            "authz-ingress.gateway-api 5 (ipBlocks deny client)",
            vec![step(AUTHZ, 4)],
            vec![headers("403")],
        ),
        run(
            "authz-ingress.gateway-api 6 (remoteIpBlocks deny client)",
            vec![step(AUTHZ, 5)],
            vec![headers("403")],
        ),
    ]
}

/// authentication/authn-policy's end-user part and authorization/authz-ingress: httpbin in
/// foo behind the sample's Gateway; `$CLIENT_IP` is the caller's address.
fn ingress_scenarios() -> Vec<Entry> {
    let with_gateway = |f: &'static str| vec![file_in(HTTPBIN_GATEWAY, "foo"), file(f)];
    let headers = |expect| ingress("/headers", Token::None, expect);
    vec![
        run(
            "baseline: ingress gateway set-up",
            vec![file_in(HTTPBIN_GATEWAY, "foo")],
            vec![headers("200")],
        ),
        run(
            "authn-jwt-ingress-requestauthn",
            with_gateway("authn-jwt-ingress-requestauthn.yaml"),
            vec![
                headers("200"),
                ingress("/headers", Token::Invalid, "401"),
                ingress("/headers", Token::Demo, "200"),
            ],
        ),
        run(
            "authn-jwt-ingress-require-token",
            with_gateway("authn-jwt-ingress-require-token.yaml"),
            vec![headers("403"), ingress("/headers", Token::Demo, "200")],
        ),
        run(
            "authn-jwt-ingress-require-token-per-path",
            with_gateway("authn-jwt-ingress-require-token-per-path.yaml"),
            vec![
                headers("403"),
                ingress("/headers", Token::Demo, "200"),
                ingress("/ip", Token::None, "200"),
            ],
        ),
        run(
            "authz-ingress-ipblocks-allow",
            with_gateway("authz-ingress-ipblocks-allow.yaml"),
            vec![headers("403")],
        ),
        run(
            "authz-ingress-ipblocks-allow-client",
            with_gateway("authz-ingress-ipblocks-allow-client.yaml"),
            vec![headers("200")],
        ),
        run(
            "authz-ingress-ipblocks-deny-client",
            with_gateway("authz-ingress-ipblocks-deny-client.yaml"),
            vec![headers("403")],
        ),
        run(
            "authz-ingress-remoteipblocks-allow",
            with_gateway("authz-ingress-remoteipblocks-allow.yaml"),
            vec![headers("403")],
        ),
        run(
            "authz-ingress-remoteipblocks-allow-client",
            with_gateway("authz-ingress-remoteipblocks-allow-client.yaml"),
            vec![headers("200")],
        ),
        run(
            "authz-ingress-remoteipblocks-deny-client",
            with_gateway("authz-ingress-remoteipblocks-deny-client.yaml"),
            vec![headers("403")],
        ),
    ]
}

/// Suite files no scenario runs, with why (the rest are listed by [`all`]).
pub fn skipped_file(name: &str) -> Option<&'static str> {
    if name.ends_with(".istiooperator.yaml") {
        return Some("IstioOperator install-time settings, not mesh configuration");
    }
    None
}
