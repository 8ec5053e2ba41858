//! A gateway proxy's listeners, Istio's way: every Gateway resource whose selector matches
//! the gateway workload contributes its servers; servers on one port share a listener; each
//! VirtualService bound to a Gateway (`gateways: [name]` or `[namespace/name]`) and exported
//! to the Gateway's namespace adds, for every host it shares with a server, a virtual host
//! with its HTTP rules. VirtualServices for the same host are merged in input order (only
//! gateways merge them). HTTPS servers get their certificate from the Secret that
//! `credentialName` names, in the gateway workload's namespace.

use crate::compiler::Compiler;
use crate::endpoints::EndpointSource;
use crate::placement::Instance;
use crate::routes::http_routes;
use crate::scope::Viewer;
use crate::unit::UnitResolver;
use std::collections::BTreeMap;
use verimesh_analyze::hosts::{host_matches, selector_matches};
use verimesh_config::k8s::Secret;
use verimesh_config::networking::{Server, ServerTlsMode as IstioTlsMode};
use verimesh_model::{
    Cluster, Gateway, GatewayListener, HttpRoute, ListenerProtocol, ServerTls, ServerTlsMode,
    VirtualHost,
};

/// A server's `hosts` entry: `namespace/host`, `./host` (the Gateway's namespace) or a bare
/// host (any namespace).
struct ServerHost<'s> {
    namespace: Option<&'s str>,
    host: String,
}

fn server_hosts<'s>(server: &'s Server, gateway_ns: &'s str) -> Vec<ServerHost<'s>> {
    server
        .hosts
        .iter()
        .map(|h| match h.split_once('/') {
            Some(("*", host)) => ServerHost {
                namespace: None,
                host: host.to_ascii_lowercase(),
            },
            Some((".", host)) => ServerHost {
                namespace: Some(gateway_ns),
                host: host.to_ascii_lowercase(),
            },
            Some((ns, host)) => ServerHost {
                namespace: Some(ns),
                host: host.to_ascii_lowercase(),
            },
            None => ServerHost {
                namespace: None,
                host: h.to_ascii_lowercase(),
            },
        })
        .collect()
}

/// The more specific of two host patterns when one contains the other; `None` when they
/// share nothing.
pub(crate) fn intersection(vs_host: &str, server_host: &str) -> Option<String> {
    if !host_matches(vs_host, server_host) {
        return None;
    }
    let specific = |h: &str| {
        if h == "*" {
            0
        } else if h.starts_with('*') {
            h.len()
        } else {
            usize::MAX
        }
    };
    Some(if specific(vs_host) >= specific(server_host) {
        vs_host.to_string()
    } else {
        server_host.to_string()
    })
}

/// Adds routes for `domains`: appended to the virtual host already serving a domain
/// (routes for one host merge, in input order — gateways only), else a new one named `name`.
pub(crate) fn add_routes(
    vhosts: &mut Vec<VirtualHost>,
    name: &str,
    domains: Vec<String>,
    routes: &[HttpRoute],
) {
    for d in domains {
        match vhosts
            .iter_mut()
            .find(|vh| !vh.https_redirect && vh.domains.len() == 1 && vh.domains[0] == d)
        {
            Some(vh) => vh.routes.extend(routes.iter().cloned()),
            None => vhosts.push(VirtualHost {
                name: name.to_string(),
                domains: vec![d],
                https_redirect: false,
                routes: routes.to_vec(),
            }),
        }
    }
}

/// Whether a VirtualService in `vs_ns` names the Gateway `gw_ns/gw_name`.
fn binds(gateways: &[String], vs_ns: &str, gw_ns: &str, gw_name: &str) -> bool {
    gateways.iter().any(|g| match g.split_once('/') {
        Some((ns, name)) => ns == gw_ns && name == gw_name,
        None => vs_ns == gw_ns && g == gw_name,
    })
}

impl Compiler<'_> {
    /// The gateway section of a gateway instance's config, and the clusters its routes name
    /// that the view lacks (answered 503 NC).
    pub(crate) fn gateway(&self, index: usize, inst: &Instance) -> (Gateway, Vec<Cluster>) {
        let ix = &self.ix;
        let src = EndpointSource {
            ix,
            placement: self.placement,
            facts: &self.facts,
        };
        // A server's port is a port of the gateway's Service (Istio's default maps 80 to
        // 8080): the pod listens on its target port. Without such a Service, on the number.
        let listen_port = |number: u16| {
            self.facts.selected_by[index]
                .iter()
                .filter_map(|si| ix.services[*si].port(number))
                .find_map(|p| src.target_port(inst, p))
                .unwrap_or(number)
        };
        let mut notes = Vec::new();
        let viewer = Viewer {
            namespace: &inst.namespace,
            ns_id: ix.ns_id(&inst.namespace),
            labels: &inst.labels,
            gateway: None,
        };
        let sidecar = ix.sidecar_for(viewer);
        let (_, facts) = self.view_facts(viewer, sidecar);
        let mut resolver = UnitResolver::new(self, &facts);
        let mut listeners: BTreeMap<u16, GatewayListener> = BTreeMap::new();
        // Per listener, virtual hosts by domain (merged across VirtualServices).
        let mut hosts: BTreeMap<u16, Vec<VirtualHost>> = BTreeMap::new();
        for gw in &ix.gateways {
            let selected =
                gw.spec.selector.is_empty() || selector_matches(&gw.spec.selector, &inst.labels);
            if !selected {
                continue;
            }
            let gw_full = format!("{}/{}", gw.namespace, gw.name);
            for server in &gw.spec.servers {
                let Some(port) = server.port.as_ref() else {
                    continue;
                };
                let Ok(server_port) = u16::try_from(port.number) else {
                    continue;
                };
                if server_port == 0 {
                    continue;
                }
                let number = listen_port(server_port);
                let protocol = match port.protocol.to_ascii_uppercase().as_str() {
                    "HTTP" | "HTTP2" | "GRPC" => ListenerProtocol::Http,
                    "HTTPS" => ListenerProtocol::Https,
                    other => {
                        notes.push(format!("gateway {gw_full}: {other} servers are not supported yet; port {number} is not served"));
                        continue;
                    }
                };
                let tls = match protocol {
                    ListenerProtocol::Http => None,
                    ListenerProtocol::Https => {
                        match self.server_tls(server, inst, &gw_full, number, &mut notes) {
                            Some(t) => Some(t),
                            None => continue,
                        }
                    }
                };
                let listener = listeners.entry(number).or_insert_with(|| GatewayListener {
                    port: number,
                    protocol,
                    ..Default::default()
                });
                if listener.protocol != protocol {
                    notes.push(format!("gateway {gw_full}: port {number} is already served with another protocol; this server is ignored"));
                    continue;
                }
                listener.tls.extend(tls);
                let shosts = server_hosts(server, &gw.namespace);
                let vhosts = hosts.entry(number).or_default();
                if protocol == ListenerProtocol::Http
                    && server.tls.as_ref().and_then(|t| t.https_redirect) == Some(true)
                {
                    for sh in &shosts {
                        vhosts.push(VirtualHost {
                            name: gw_full.clone(),
                            domains: vec![sh.host.clone()],
                            https_redirect: true,
                            routes: Vec::new(),
                        });
                    }
                    continue;
                }
                let v = Viewer {
                    gateway: Some(&gw_full),
                    ..viewer
                };
                for vs in &ix.virtual_services {
                    if !binds(&vs.spec.gateways, &vs.namespace, &gw.namespace, &gw.name)
                        || !vs.export.visible_in(&gw.namespace)
                    {
                        continue;
                    }
                    let mut domains: Vec<String> = Vec::new();
                    for h in &vs.spec.hosts {
                        let h = h.to_ascii_lowercase();
                        for sh in &shosts {
                            if sh.namespace.is_some_and(|ns| ns != vs.namespace) {
                                continue;
                            }
                            if let Some(d) = intersection(&h, &sh.host) {
                                if !domains.contains(&d) {
                                    domains.push(d);
                                }
                            }
                        }
                    }
                    if domains.is_empty() {
                        continue;
                    }
                    if !vs.spec.tcp.is_empty() || !vs.spec.tls.is_empty() {
                        notes.push(format!("VirtualService {}/{}: tcp and tls routes on gateways are not supported yet; ignored", vs.namespace, vs.name));
                    }
                    // Route matches on `port` name the Gateway's port, not the pod's.
                    let routes = http_routes(
                        vs.spec,
                        &vs.namespace,
                        &vs.name,
                        v,
                        server_port,
                        &mut resolver,
                        &mut notes,
                    );
                    let name = format!("{}/{}", vs.namespace, vs.name);
                    add_routes(vhosts, &name, domains, &routes);
                }
            }
        }
        let mut listeners: Vec<GatewayListener> = listeners
            .into_values()
            .map(|mut l| {
                l.virtual_hosts = hosts.remove(&l.port).unwrap_or_default();
                l
            })
            .collect();
        for l in self.gateway_api_listeners(inst, &mut resolver, &mut notes) {
            if listeners.iter().any(|have| have.port == l.port) {
                notes.push(format!("port {} is served by an Istio Gateway already; the Gateway API listener is not", l.port));
                continue;
            }
            listeners.push(l);
        }
        listeners.sort_by_key(|l| l.port);
        self.note_all(notes);
        let num_trusted_proxies = self.ix.mesh.proxy_config().num_trusted_proxies();
        (
            Gateway {
                listeners,
                num_trusted_proxies,
            },
            resolver.missing,
        )
    }

    /// The first of `keys` the Secret `namespace/name` holds, as non-empty text.
    pub(crate) fn secret_text(&self, namespace: &str, name: &str, keys: &[&str]) -> Option<String> {
        let secret: &Secret = self
            .ix
            .secrets
            .get(&(namespace.to_string(), name.to_string()))?;
        keys.iter()
            .find_map(|k| secret.value(k))
            .and_then(|v| String::from_utf8(v).ok())
            .filter(|v| !v.trim().is_empty())
    }

    /// The certificate of an HTTPS server, from its `credentialName` Secret; `None` (with a
    /// note) when it cannot be served, as Istio leaves such a server without a listener.
    fn server_tls(
        &self,
        server: &Server,
        inst: &Instance,
        gw_full: &str,
        port: u16,
        notes: &mut Vec<String>,
    ) -> Option<ServerTls> {
        let tls = server.tls.as_ref()?;
        let mode = match tls.mode() {
            IstioTlsMode::Simple => ServerTlsMode::Simple,
            IstioTlsMode::Mutual => ServerTlsMode::Mutual,
            other => {
                notes.push(format!("gateway {gw_full}: tls mode {} on port {port} is not supported yet; the server is not served", other.name()));
                return None;
            }
        };
        let Some(credential) = tls.credential_name.as_deref().filter(|c| !c.is_empty()) else {
            notes.push(format!("gateway {gw_full}: port {port}: only credentialName certificates are supported (file paths are not); the server is not served"));
            return None;
        };
        let ns = inst.namespace.as_str();
        if !self
            .ix
            .secrets
            .contains_key(&(ns.to_string(), credential.to_string()))
        {
            notes.push(format!("gateway {gw_full}: port {port}: credentialName {credential:?}: no Secret of that name in namespace {ns}; the server is not served"));
            return None;
        }
        let text = |name: &str, keys: &[&str]| self.secret_text(ns, name, keys);
        let (Some(cert), Some(key)) = (
            text(credential, &["tls.crt", "cert"]),
            text(credential, &["tls.key", "key"]),
        ) else {
            notes.push(format!("gateway {gw_full}: port {port}: Secret {}/{credential} has no tls.crt/tls.key (or cert/key); the server is not served", inst.namespace));
            return None;
        };
        let ca = match mode {
            ServerTlsMode::Simple => None,
            ServerTlsMode::Mutual => {
                let ca = text(credential, &["ca.crt", "cacert"])
                    .or_else(|| text(&format!("{credential}-cacert"), &["ca.crt", "cacert"]));
                if ca.is_none() {
                    notes.push(format!("gateway {gw_full}: port {port}: MUTUAL needs a CA: none in Secret {credential} (ca.crt or cacert) nor in {credential}-cacert; the server is not served"));
                    return None;
                }
                ca
            }
        };
        Some(ServerTls {
            hosts: server_hosts(server, "")
                .into_iter()
                .map(|h| h.host)
                .collect(),
            mode,
            certificate_chain: cert,
            private_key: key,
            ca_certificates: ca,
            source: format!("{}/{credential}", inst.namespace),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersections_keep_the_more_specific_host() {
        assert_eq!(
            intersection("*", "httpbin.example.com").as_deref(),
            Some("httpbin.example.com")
        );
        assert_eq!(
            intersection("a.example.com", "*.example.com").as_deref(),
            Some("a.example.com")
        );
        assert_eq!(
            intersection("*.example.com", "*").as_deref(),
            Some("*.example.com")
        );
        assert_eq!(intersection("a.example.com", "b.example.com"), None);
    }

    #[test]
    fn gateway_names_resolve_in_the_virtual_service_namespace() {
        let g = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(binds(
            &g(&["httpbin-gateway"]),
            "foo",
            "foo",
            "httpbin-gateway"
        ));
        assert!(!binds(
            &g(&["httpbin-gateway"]),
            "bar",
            "foo",
            "httpbin-gateway"
        ));
        assert!(binds(
            &g(&["foo/httpbin-gateway"]),
            "bar",
            "foo",
            "httpbin-gateway"
        ));
        assert!(!binds(&g(&["mesh"]), "foo", "foo", "httpbin-gateway"));
    }
}
