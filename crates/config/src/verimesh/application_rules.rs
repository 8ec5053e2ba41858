//! The rules an Application must follow.

use super::application::{Access, AppPort, Application, PathKind, PathMatch, Route};
use crate::security::target::validate_selector;
use crate::validate::security_common as sc;
use crate::validate::{common, Findings};
use crate::yaml::FieldPath;
use std::collections::BTreeSet;

pub(super) fn validate(app: &Application, at: &FieldPath, out: &mut Findings) {
    validate_workload(app, at, out);
    validate_ports(&app.ports, &at.field("ports"), out);
    let mut names = BTreeSet::new();
    // (port, kind, path) of every exact and prefix match, with the methods it covers.
    let mut seen: Vec<(Option<u32>, &'static str, &str, &[String])> = Vec::new();
    for (i, route) in app.routes.iter().enumerate() {
        let rp = at.field("routes").index(i);
        if !common::is_k8s_dns1123_label(&route.name) {
            out.error(
                &rp.field("name"),
                "each route needs a name: a lower-case DNS-1123 label",
            );
        } else if !names.insert(route.name.as_str()) {
            out.error(
                &rp.field("name"),
                format!("duplicate route name {:?}", route.name),
            );
        }
        validate_route_port(app, route, &rp, out);
        validate_route(route, &rp, out);
        let port = app.route_port(route).map(|p| p.number);
        for (j, m) in route.paths.iter().enumerate() {
            let (kind, path) = match m.kind() {
                Some(PathKind::Exact(p)) => ("exact", p),
                Some(PathKind::Prefix(p)) => ("prefix", p),
                _ => continue,
            };
            let overlap = seen.iter().any(|(sp, sk, spath, smethods)| {
                *sp == port
                    && *sk == kind
                    && *spath == path
                    && methods_overlap(smethods, &route.methods)
            });
            if overlap {
                out.error(
                    &rp.field("paths").index(j),
                    format!("{kind} path {path:?} is already matched by an earlier route for the same methods; which access rule applies would be ambiguous"),
                );
            }
            seen.push((port, kind, path, &route.methods));
        }
    }
}

fn methods_overlap(a: &[String], b: &[String]) -> bool {
    a.is_empty() || b.is_empty() || a.iter().any(|m| b.contains(m))
}

fn validate_workload(app: &Application, at: &FieldPath, out: &mut Findings) {
    let wp = at.field("workload");
    let Some(w) = &app.workload else {
        out.error(
            &wp,
            "the workload is required: name a Service (service) or select pods (selector)",
        );
        return;
    };
    match (&w.service, &w.selector) {
        (Some(_), Some(_)) => out.error(&wp, "set only one of service and selector"),
        (None, None) => out.error(
            &wp,
            "set one of service (a Service name) or selector (pod labels)",
        ),
        (Some(s), None) => {
            if !common::is_k8s_dns1123_label(&s.name) {
                out.error(
                    &wp.field("service").field("name"),
                    format!(
                        "{:?} is not a Service name (a lower-case DNS-1123 label)",
                        s.name
                    ),
                );
            }
        }
        (None, Some(sel)) => {
            if sel.match_labels.is_empty() {
                out.error(
                    &wp.field("selector").field("matchLabels"),
                    "the selector needs at least one label",
                );
            }
            validate_selector(sel, &wp.field("selector"), out);
        }
    }
}

fn validate_ports(ports: &[AppPort], at: &FieldPath, out: &mut Findings) {
    if ports.is_empty() {
        out.error(at, "list at least one port the workload serves");
    }
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = at.index(i);
        if !common::is_k8s_dns1123_label(&p.name) {
            out.error(
                &pp.field("name"),
                "each port needs a name: a lower-case DNS-1123 label",
            );
        } else if !names.insert(p.name.as_str()) {
            out.error(
                &pp.field("name"),
                format!("duplicate port name {:?}", p.name),
            );
        }
        match common::validate_port(p.number) {
            Err(e) => out.error(&pp.field("number"), e),
            Ok(()) if !numbers.insert(p.number) => out.error(
                &pp.field("number"),
                format!("port {} is listed twice", p.number),
            ),
            Ok(()) => {}
        }
        if p.protocol.is_none() {
            out.error(
                &pp.field("protocol"),
                "the protocol is required: HTTP, HTTP2, GRPC, HTTPS, TLS or TCP",
            );
        }
    }
}

fn validate_route_port(app: &Application, route: &Route, rp: &FieldPath, out: &mut Findings) {
    match &route.port {
        Some(name) => match app.ports.iter().find(|p| &p.name == name) {
            None => out.error(&rp.field("port"), format!("no port named {name:?} in spec.ports")),
            Some(p) if !p.protocol.is_some_and(|pr| pr.is_http()) => out.error(
                &rp.field("port"),
                format!("port {name:?} is not HTTP, HTTP2 or GRPC, so paths and methods cannot be matched on it"),
            ),
            Some(_) => {}
        },
        None => {
            if app.route_port(route).is_none() {
                out.error(
                    &rp.field("port"),
                    "name the port: the Application does not have exactly one HTTP, HTTP2 or GRPC port",
                );
            }
        }
    }
}

fn validate_route(route: &Route, rp: &FieldPath, out: &mut Findings) {
    if route.paths.is_empty() {
        out.error(&rp.field("paths"), "list at least one path");
    }
    for (j, m) in route.paths.iter().enumerate() {
        validate_path(m, route.access(), &rp.field("paths").index(j), out);
    }
    let mut methods = BTreeSet::new();
    for (j, m) in route.methods.iter().enumerate() {
        let mp = rp.field("methods").index(j);
        match sc::validate_method(m) {
            Err(e) => out.error(&mp, e),
            Ok(()) if !methods.insert(m.as_str()) => {
                out.error(&mp, format!("method {m} is listed twice"))
            }
            Ok(()) => {}
        }
    }
    if let Some(jwt) = &route.jwt {
        let jp = rp.field("jwt");
        if route.access() == Access::Public {
            out.error(&jp, "a PUBLIC route takes no token requirements; remove jwt or make the route AUTHENTICATED");
        }
        for (k, s) in jwt.required_scopes.iter().enumerate() {
            if s.is_empty() || s.contains(char::is_whitespace) {
                out.error(
                    &jp.field("requiredScopes").index(k),
                    "a scope is a non-empty word without spaces",
                );
            }
        }
        if jwt.scope_claim.as_deref() == Some("") {
            out.error(
                &jp.field("scopeClaim"),
                "the scope claim name must not be empty",
            );
        }
        for (k, c) in jwt.required_claims.iter().enumerate() {
            let cp = jp.field("requiredClaims").index(k);
            if c.name.is_empty() {
                out.error(&cp.field("name"), "the claim name is required");
            }
            if c.values.is_empty() {
                out.error(&cp.field("values"), "list the accepted values of the claim");
            }
            sc::check_non_empty(&c.values, &cp.field("values"), out);
        }
    }
}

fn validate_path(m: &PathMatch, access: Access, at: &FieldPath, out: &mut Findings) {
    let Some(kind) = m.kind() else {
        out.error(at, "set exactly one of exact, prefix or regex");
        return;
    };
    match kind {
        PathKind::Exact(p) => out.check(&at.field("exact"), check_literal_path(p)),
        PathKind::Prefix(p) => out.check(&at.field("prefix"), check_literal_path(p)),
        PathKind::Regex(r) => {
            out.check(&at.field("regex"), common::validate_regex(r));
            if access == Access::Public {
                out.error(
                    &at.field("regex"),
                    "PUBLIC routes take exact or prefix paths only, so that the set of unauthenticated paths is explicit",
                );
            }
        }
    }
}

/// An exact or prefix path: absolute, already normalized, without query or fragment (a `?`
/// or `#` in a protected path was how CVE-2020-8595 bypassed JWT checks).
fn check_literal_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("path {p:?} must start with '/'"));
    }
    if p.contains(['?', '#']) {
        return Err(format!(
            "path {p:?} contains '?' or '#': paths are matched without the query string and fragment"
        ));
    }
    if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "path {p:?} contains white space or control characters"
        ));
    }
    if p.contains('*') {
        return Err(format!(
            "path {p:?} contains '*', which is not a wildcard here: use a prefix or a regex"
        ));
    }
    if p.contains("//") || p.split('/').any(|s| s == "." || s == "..") {
        return Err(format!(
            "path {p:?} is not normalized ('//', '.' or '..'): requests are normalized before matching, so it could never match"
        ));
    }
    Ok(())
}
