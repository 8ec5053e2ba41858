//! Reading a MeshConfig from a file or from the `istio` ConfigMap, with positions, and the
//! checks it must pass.

use super::MeshConfig;
use crate::diag::{Diagnostic, Level, Origin, Stage};
use crate::kind::Kind;
use crate::validate::{common, security_common as sc, Findings};
use crate::yaml::{self, FieldPath, Node, PathSegment, Pos, Value};
use crate::Resource;
use std::sync::Arc;

/// Where problems are reported: the file, how a position in the mesh text maps to one in the
/// file, the path the mesh text sits at, and the resource holding it.
struct Sink<'a> {
    file: Arc<str>,
    map_pos: &'a dyn Fn(Pos) -> Pos,
    base: FieldPath,
    resource: Option<crate::ResourceRef>,
    out: Vec<Diagnostic>,
}

impl Sink<'_> {
    fn push(&mut self, level: Level, stage: Stage, pos: Pos, path: &FieldPath, message: String) {
        let mut full = self.base.clone();
        for seg in path.segments() {
            full = match seg {
                PathSegment::Field(f) => full.field(f),
                PathSegment::Index(i) => full.index(*i),
            };
        }
        self.out.push(Diagnostic {
            level,
            stage,
            origin: Origin {
                file: self.file.clone(),
                pos: (self.map_pos)(pos),
            },
            resource: self.resource.clone(),
            path: full,
            message,
        });
    }
}

pub(super) fn from_yaml_str(file: &str, text: &str) -> Result<MeshConfig, Vec<Diagnostic>> {
    let mut sink = Sink {
        file: Arc::from(file),
        map_pos: &|p| p,
        base: FieldPath::root(),
        resource: None,
        out: Vec::new(),
    };
    decode(text, &mut sink)
}

pub(super) fn from_config_map(res: &Resource) -> Option<Result<MeshConfig, Vec<Diagnostic>>> {
    if res.kind != Kind::ConfigMap || res.name() != "istio" || res.namespace() != "istio-system" {
        return None;
    }
    let cm = res.as_config_map()?;
    let Some(text) = cm.data.get("mesh") else {
        return Some(Ok(MeshConfig::default()));
    };
    let data = res.doc.get("data");
    let key = data
        .and_then(|d| d.key_pos("mesh"))
        .unwrap_or(res.origin.pos);
    let value = data.and_then(|d| d.get("mesh")).map_or(key, |n| n.pos);
    // A block scalar (`mesh: |`) starts on the line after its indicator; its content is
    // indented past the key, by two columns in the usual layout.
    let block = text.contains('\n') && value.line == key.line;
    let map_pos = move |p: Pos| {
        let line = p.line.max(1) - 1;
        if block {
            Pos {
                line: key.line + 1 + line,
                col: key.col + 1 + p.col,
            }
        } else if line == 0 {
            Pos {
                line: value.line,
                col: value.col + p.col,
            }
        } else {
            Pos {
                line: value.line + line,
                col: p.col,
            }
        }
    };
    let mut sink = Sink {
        file: res.origin.file.clone(),
        map_pos: &map_pos,
        base: FieldPath::root().field("data").field("mesh"),
        resource: Some(res.reference()),
        out: Vec::new(),
    };
    Some(decode(text, &mut sink))
}

fn decode(text: &str, sink: &mut Sink<'_>) -> Result<MeshConfig, Vec<Diagnostic>> {
    let docs = match yaml::parse_documents(text) {
        Ok(d) => d,
        Err(e) => {
            let msg = format!("invalid YAML in the mesh config: {}", e.message);
            sink.push(Level::Error, Stage::Read, e.pos, &FieldPath::root(), msg);
            return Err(std::mem::take(&mut sink.out));
        }
    };
    let mut docs: Vec<Node> = docs
        .into_iter()
        .flatten()
        .filter(|d| !d.is_null())
        .collect();
    if docs.len() > 1 {
        let pos = docs[1].pos;
        let msg = "a mesh config holds a single YAML document".to_string();
        sink.push(Level::Error, Stage::Decode, pos, &FieldPath::root(), msg);
        return Err(std::mem::take(&mut sink.out));
    }
    let Some(doc) = docs.pop() else {
        return Ok(MeshConfig::default());
    };
    if !matches!(doc.value, Value::Map(_)) {
        let msg = format!(
            "a mesh config is a mapping of fields, found a {}",
            doc.type_name()
        );
        sink.push(
            Level::Error,
            Stage::Decode,
            doc.pos,
            &FieldPath::root(),
            msg,
        );
        return Err(std::mem::take(&mut sink.out));
    }
    let mesh: MeshConfig = match serde_path_to_error::deserialize(&doc) {
        Ok(m) => m,
        Err(e) => {
            let mut path = FieldPath::root();
            for seg in e.path().iter() {
                path = match seg {
                    serde_path_to_error::Segment::Seq { index } => path.index(*index),
                    serde_path_to_error::Segment::Map { key } => path.field(key),
                    serde_path_to_error::Segment::Enum { variant } => path.field(variant),
                    serde_path_to_error::Segment::Unknown => path,
                };
            }
            let msg = e.inner().to_string();
            sink.push(Level::Error, Stage::Decode, doc.pos_of(&path), &path, msg);
            return Err(std::mem::take(&mut sink.out));
        }
    };
    let findings = validate(&mesh);
    if !findings.has_errors() {
        return Ok(mesh);
    }
    for issue in findings.items {
        let pos = doc.pos_of(&issue.path);
        sink.push(
            issue.level,
            Stage::Validate,
            pos,
            &issue.path,
            issue.message,
        );
    }
    Err(std::mem::take(&mut sink.out))
}

/// The checks a mesh config must pass; paths are relative to the mesh config's root.
pub(super) fn validate(mesh: &MeshConfig) -> Findings {
    let mut out = Findings::default();
    let root = FieldPath::root();
    if let Some(td) = mesh.trust_domain.as_deref().filter(|s| !s.is_empty()) {
        out.check(&root.field("trustDomain"), common::validate_fqdn(td));
    }
    for (i, td) in mesh.trust_domain_aliases.iter().enumerate() {
        out.check(
            &root.field("trustDomainAliases").index(i),
            common::validate_fqdn(td),
        );
    }
    if let Some(ns) = &mesh.root_namespace {
        if !common::is_k8s_dns1123_label(ns) {
            out.error(
                &root.field("rootNamespace"),
                format!("{ns:?} must be a lower-case DNS-1123 label"),
            );
        }
    }
    for (i, sel) in mesh.discovery_selectors.iter().enumerate() {
        crate::k8s::validate_label_selector(
            sel,
            &root.field("discoverySelectors").index(i),
            &mut out,
        );
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, p) in mesh.extension_providers.iter().enumerate() {
        let at = root.field("extensionProviders").index(i);
        if p.name.is_empty() {
            out.error(&at.field("name"), "every extension provider needs a name");
        } else if !names.insert(p.name.as_str()) {
            out.error(
                &at.field("name"),
                format!("duplicate extension provider name {:?}", p.name),
            );
        }
        let targets = [
            p.envoy_ext_authz_http
                .as_ref()
                .map(|x| ("envoyExtAuthzHttp", &x.service, x.port, x.timeout)),
            p.envoy_ext_authz_grpc
                .as_ref()
                .map(|x| ("envoyExtAuthzGrpc", &x.service, x.port, x.timeout)),
        ];
        for (field, service, port, timeout) in targets.into_iter().flatten() {
            let at = at.field(field);
            if service.is_empty() {
                out.error(
                    &at.field("service"),
                    "the authorization service's host name is required",
                );
            }
            out.check(&at.field("port"), common::validate_port(port));
            if let Some(t) = timeout {
                out.check(&at.field("timeout"), sc::validate_timeout(&t));
            }
        }
        // Both kinds answer with statusOnError when the authorizer cannot be asked.
        let status_on_error = [
            p.envoy_ext_authz_http
                .as_ref()
                .map(|h| ("envoyExtAuthzHttp", &h.status_on_error)),
            p.envoy_ext_authz_grpc
                .as_ref()
                .map(|g| ("envoyExtAuthzGrpc", &g.status_on_error)),
        ];
        for (field, status) in status_on_error.into_iter().flatten() {
            if let Some(s) = status {
                if !s.parse::<u16>().is_ok_and(|c| (100..=599).contains(&c)) {
                    out.error(
                        &at.field(field).field("statusOnError"),
                        format!("{s:?} is not an HTTP status code"),
                    );
                }
            }
        }
        if let Some(h) = &p.envoy_ext_authz_http {
            let at = at.field("envoyExtAuthzHttp");
            for (field, list) in [
                (
                    "includeRequestHeadersInCheck",
                    &h.include_request_headers_in_check,
                ),
                ("headersToUpstreamOnAllow", &h.headers_to_upstream_on_allow),
                (
                    "headersToDownstreamOnDeny",
                    &h.headers_to_downstream_on_deny,
                ),
                (
                    "headersToDownstreamOnAllow",
                    &h.headers_to_downstream_on_allow,
                ),
            ] {
                sc::check_non_empty(list, &at.field(field), &mut out);
            }
        }
    }
    out
}
