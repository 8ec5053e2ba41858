//! Inbound authentication and authorization with the one decision engine
//! (`verimesh_policy`). Per config version, [`SecurityState`] builds the engine from the
//! policies the compiler scoped to this workload; the keys of `jwksUri`s come from
//! [`jwks::JwksCache`] (fetched here: the policy crate does no I/O) and the engine is rebuilt
//! whenever a key set changes. HTTP requests are decided in `http::authz`; TCP connections
//! by [`SecurityState::check_tcp`] when they open.

pub mod fetch;
pub mod jwks;
pub mod jwks_tls;

use arc_swap::ArcSwap;
use jwks::{JwksCache, JwksEntry};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use verimesh_config::mesh::MeshConfig;
use verimesh_policy::authz::RuleRef;
use verimesh_policy::{
    AuthnSpec, AuthzSpec, Connection, Decision, Engine, Workload, WorkloadPolicies,
};

/// The engine and this workload's policies, with the key sets of one moment.
pub struct Compiled {
    pub engine: Engine,
    pub policies: WorkloadPolicies,
    /// The generation of each JWKS entry the keys were taken from.
    generations: Vec<u64>,
}

pub struct SecurityState {
    base: Engine,
    workload: Workload,
    jwks: Vec<Arc<JwksEntry>>,
    /// How long a request waits for a key set's first fetch.
    first_fetch: Duration,
    current: ArcSwap<Compiled>,
    /// Whether any policy applies at all (none: every request is allowed after
    /// normalization, and TCP needs no decision).
    pub enforcing: bool,
}

impl SecurityState {
    pub fn new(config: &verimesh_model::ProxyConfig, cache: &JwksCache) -> SecurityState {
        let sec = &config.security;
        let mut mesh = MeshConfig {
            trust_domain: Some(sec.trust_domain.clone()),
            trust_domain_aliases: sec.trust_domain_aliases.clone(),
            root_namespace: Some(sec.root_namespace.clone()),
            extension_providers: sec.extension_providers.clone(),
            ..MeshConfig::default()
        };
        mesh.path_normalization = Some(verimesh_config::mesh::PathNormalization {
            normalization: Some(sec.path_normalization),
            ..Default::default()
        });
        let authz = sec.authorization_policies.iter().map(|p| AuthzSpec {
            namespace: &p.namespace,
            name: &p.name,
            dry_run: p.dry_run.then_some("true"),
            spec: &p.spec,
        });
        let authn = sec.request_authentications.iter().map(|p| AuthnSpec {
            namespace: &p.namespace,
            spec: &p.spec,
        });
        let base = Engine::from_specs(authz, authn, &mesh, HashMap::new());
        // Each URI with the timeout of the first rule naming it.
        let rules = sec
            .request_authentications
            .iter()
            .flat_map(|r| &r.spec.jwt_rules);
        let mut jwks: Vec<Arc<JwksEntry>> = Vec::new();
        for uri in base.jwks_uris() {
            let timeout = rules
                .clone()
                .find(|r| r.jwks_uri.as_deref() == Some(uri.as_str()))
                .and_then(|r| r.timeout.map(|t| t.0));
            jwks.push(cache.entry(&uri, timeout));
        }
        let workload = Workload {
            namespace: config.workload.namespace.clone(),
            labels: config.workload.labels.clone(),
            waypoint: false,
            services: Vec::new(),
        };
        let first_fetch = cache.options().timeout + Duration::from_millis(500);
        let enforcing =
            !sec.authorization_policies.is_empty() || !sec.request_authentications.is_empty();
        let compiled = compile(&base, &workload, &jwks);
        SecurityState {
            base,
            workload,
            jwks,
            first_fetch,
            current: ArcSwap::from_pointee(compiled),
            enforcing,
        }
    }

    /// The engine with the newest keys; rebuilt when a key set changed. The first requests
    /// wait (bounded) for key sets never fetched yet.
    pub async fn current(&self) -> Arc<Compiled> {
        let c = self.current.load_full();
        if self.fresh(&c) {
            return c;
        }
        for e in &self.jwks {
            if e.generation() == 0 {
                e.first_fetch(self.first_fetch).await;
            }
        }
        let c = Arc::new(compile(&self.base, &self.workload, &self.jwks));
        self.current.store(c.clone());
        c
    }

    fn fresh(&self, c: &Compiled) -> bool {
        self.jwks
            .iter()
            .zip(&c.generations)
            .all(|(e, g)| e.generation() == *g && *g > 0)
    }

    /// Decides a TCP connection when it opens; `Err` names why it is refused.
    pub async fn check_tcp(&self, conn: &Connection) -> Result<Option<String>, Denied> {
        if !self.enforcing {
            return Ok(None);
        }
        let c = self.current().await;
        let out = c.engine.decide_quiet(&c.policies, conn, None, now());
        let d = out.decision.unwrap_or_default();
        let decided = describe(&c.engine, &d);
        if d.allowed && d.delegations.is_empty() {
            return Ok(decided);
        }
        Err(denied(&c.engine, &d))
    }
}

/// A refusal: the policy and rule that decided, and Envoy's details string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub policy: String,
    pub details: String,
    /// A CUSTOM policy matched and its provider cannot be asked.
    pub custom: bool,
}

pub fn denied(engine: &Engine, d: &Decision) -> Denied {
    if let Some(r) = d.delegations.first().filter(|_| d.allowed) {
        let policy = engine.policies.describe(r);
        // Only HTTP requests are sent to an external authorizer (`http::ext_authz`); a TCP
        // connection a CUSTOM policy delegates is refused rather than allowed without the
        // authorizer's say (fail closed).
        tracing::warn!(
            "{policy} delegates a TCP connection to an external authorizer, which this proxy \
             asks only about HTTP requests: denied"
        );
        return Denied {
            policy,
            details: "ext_authz_error".into(),
            custom: true,
        };
    }
    let (policy, id) = match &d.deciding {
        Some(r) => (engine.policies.describe(r), envoy_policy_id(engine, r)),
        None => ("no ALLOW policy matched".into(), "none".into()),
    };
    Denied {
        policy,
        details: format!("rbac_access_denied_matched_policy[{id}]"),
        custom: false,
    }
}

/// `DENY foo/deny rule 0`, or the default that decided when no rule did.
pub fn describe(engine: &Engine, d: &Decision) -> Option<String> {
    d.deciding.as_ref().map(|r| engine.policies.describe(r))
}

/// Istio's policy id in Envoy's RBAC config: `ns[foo]-policy[deny-admin]-rule[0]`.
fn envoy_policy_id(engine: &Engine, r: &RuleRef) -> String {
    match engine.policies.policy(r.policy as usize) {
        Some(p) => format!(
            "ns[{}]-policy[{}]-rule[{}]",
            p.namespace,
            p.name,
            r.rule.unwrap_or(0)
        ),
        None => "none".into(),
    }
}

fn compile(base: &Engine, w: &Workload, jwks: &[Arc<JwksEntry>]) -> Compiled {
    let generations = jwks.iter().map(|e| e.generation()).collect();
    let mut engine = base.clone();
    if !jwks.is_empty() {
        engine.set_jwks(
            jwks.iter()
                .map(|e| (e.uri.clone(), (*e.keys()).clone()))
                .collect(),
        );
    }
    let policies = engine.for_workload(w);
    Compiled {
        engine,
        policies,
        generations,
    }
}

/// Seconds since the Unix epoch: token lifetimes are judged against the wall clock.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The connection as the engine sees it: the verified peer (none for plaintext), addresses
/// and the port the caller dialled.
pub fn connection(
    peer: Option<&str>,
    remote: std::net::SocketAddr,
    dst: std::net::SocketAddr,
) -> Connection {
    Connection {
        peer: peer.and_then(verimesh_policy::Peer::parse),
        source_ip: Some(remote.ip()),
        remote_ip: None,
        destination_ip: Some(dst.ip()),
        destination_port: dst.port(),
        sni: None,
    }
}
