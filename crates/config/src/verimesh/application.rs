//! Application (verimesh.io/v1alpha1): what an app developer knows about their service — which
//! workload it is, the ports and protocols it speaks, and which API paths may be exposed, with
//! or without authentication. It says nothing about domains, certificates or token issuers:
//! those belong to the platform operator's SecureIngress.

use crate::security::WorkloadSelector;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Application {
    /// The workload this Application describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadRef>,
    /// The ports the workload serves, with their protocols.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<AppPort>,
    /// The HTTP APIs that may be exposed. Paths not listed are not reachable from outside.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

/// Exactly one of `service` or `selector`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadRef {
    /// A Service in the Application's namespace; port numbers are the Service's ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
    /// Pods in the Application's namespace, by label; port numbers are container ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceRef {
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppPort {
    /// Referred to by routes; a lower-case DNS-1123 label.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub number: u32,
    /// Required: the protocol decides how the mesh routes and secures the port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<AppProtocol>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppProtocol {
    /// HTTP/1.1 (and HTTP/2 with prior knowledge).
    Http,
    Http2,
    Grpc,
    /// HTTP over TLS that the workload terminates itself.
    Https,
    /// TLS the workload terminates; routed by SNI only.
    Tls,
    /// Opaque TCP.
    Tcp,
}

impl AppProtocol {
    /// Whether requests on the port can be routed and authorized by path and method.
    pub fn is_http(self) -> bool {
        matches!(
            self,
            AppProtocol::Http | AppProtocol::Http2 | AppProtocol::Grpc
        )
    }
}

/// A set of API paths on one port, with one access rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// Unique within the Application; a lower-case DNS-1123 label.
    #[serde(default)]
    pub name: String,
    /// The name of the HTTP, HTTP2 or GRPC port; may be left out when there is only one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// The request paths of this route; at least one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathMatch>,
    /// Upper-case HTTP methods; empty allows every method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Default AUTHENTICATED: a path is public only when it says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// What a token must carry, besides being valid; AUTHENTICATED routes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<JwtRequirements>,
}

/// Exactly one of `exact`, `prefix` or `regex`, matched against the normalized path without
/// the query string or fragment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PathMatch {
    /// The whole path, e.g. `/healthz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// Whole leading segments: `/api/v1` matches `/api/v1` and `/api/v1/...`, not `/api/v1x`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// An RE2 expression that must match the whole path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Access {
    /// A valid JWT from the SecureIngress's issuer is required.
    #[default]
    Authenticated,
    /// No credentials are required.
    Public,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtRequirements {
    /// Every scope listed must be in the token's scope claim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_scopes: Vec<String>,
    /// The claim holding scopes (a space-separated string or a list); default `scope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope_claim: Option<String>,
    /// Every claim listed must have one of its values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_claims: Vec<ClaimRequirement>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClaimRequirement {
    /// The claim name; nested claims as `a.b`.
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A path match with its kind, once validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind<'a> {
    Exact(&'a str),
    Prefix(&'a str),
    Regex(&'a str),
}

impl PathMatch {
    /// The match, when exactly one of its fields is set.
    pub fn kind(&self) -> Option<PathKind<'_>> {
        match (&self.exact, &self.prefix, &self.regex) {
            (Some(e), None, None) => Some(PathKind::Exact(e)),
            (None, Some(p), None) => Some(PathKind::Prefix(p)),
            (None, None, Some(r)) => Some(PathKind::Regex(r)),
            _ => None,
        }
    }
}

impl Route {
    pub fn access(&self) -> Access {
        self.access.unwrap_or_default()
    }
}

impl JwtRequirements {
    pub fn scope_claim(&self) -> &str {
        self.scope_claim.as_deref().unwrap_or("scope")
    }
}

impl Application {
    /// The port a route is served on: the named one, or the only HTTP-family port.
    pub fn route_port(&self, route: &Route) -> Option<&AppPort> {
        match &route.port {
            Some(name) => self.ports.iter().find(|p| &p.name == name),
            None => {
                let mut http = self
                    .ports
                    .iter()
                    .filter(|p| p.protocol.is_some_and(AppProtocol::is_http));
                let first = http.next();
                if http.next().is_some() {
                    None
                } else {
                    first
                }
            }
        }
    }
}

impl Validate for Application {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        super::application_rules::validate(self, at, out);
    }
}
