//! Istio's VirtualService analyzers: destinations that exist, subsets that exist, gateways
//! that exist and serve the hosts, hosts claimed twice on the mesh, JWT claim routing.

mod conflicting_mesh_gateway_hosts;
mod destination_host;
mod destination_rule;
mod gateway;
mod jwt_claim_route;

pub use conflicting_mesh_gateway_hosts::ConflictingMeshGatewayHostsAnalyzer;
pub use destination_host::DestinationHostAnalyzer;
pub use destination_rule::DestinationRuleAnalyzer;
pub use gateway::GatewayAnalyzer;
pub use jwt_claim_route::JwtClaimRouteAnalyzer;

use verimesh_config::networking::{Destination, RouteDestination, VirtualService};

/// A destination of a VirtualService and the path of its `host` field.
pub(crate) struct PlacedDestination<'v> {
    pub destination: &'v Destination,
    pub host_path: String,
}

/// Route destinations in Istio's order: TCP routes, then TLS, then HTTP.
pub(crate) fn route_destinations(vs: &VirtualService) -> Vec<PlacedDestination<'_>> {
    let mut out = Vec::new();
    let l4: [(&str, Vec<&[RouteDestination]>); 2] = [
        ("tcp", vs.tcp.iter().map(|r| r.route.as_slice()).collect()),
        ("tls", vs.tls.iter().map(|r| r.route.as_slice()).collect()),
    ];
    for (rule, routes) in l4 {
        for (i, dests) in routes.into_iter().enumerate() {
            for (j, d) in dests.iter().enumerate() {
                if let Some(destination) = &d.destination {
                    out.push(PlacedDestination {
                        destination,
                        host_path: format!("spec.{rule}[{i}].route[{j}].destination.host"),
                    });
                }
            }
        }
    }
    for (i, r) in vs.http.iter().enumerate() {
        for (j, d) in r.route.iter().enumerate() {
            if let Some(destination) = &d.destination {
                out.push(PlacedDestination {
                    destination,
                    host_path: format!("spec.http[{i}].route[{j}].destination.host"),
                });
            }
        }
    }
    out
}

/// Mirror destinations of HTTP routes: `mirror`, then each of `mirrors`.
pub(crate) fn mirror_destinations(vs: &VirtualService) -> Vec<PlacedDestination<'_>> {
    let mut out = Vec::new();
    for (i, r) in vs.http.iter().enumerate() {
        if let Some(destination) = &r.mirror {
            out.push(PlacedDestination {
                destination,
                host_path: format!("spec.http[{i}].mirror.host"),
            });
        }
        for (j, m) in r.mirrors.iter().enumerate() {
            if let Some(destination) = &m.destination {
                out.push(PlacedDestination {
                    destination,
                    host_path: format!("spec.http[{i}].mirrors[{j}].destination.host"),
                });
            }
        }
    }
    out
}
