//! Loading resources from files, directories and standard input.
//!
//! Loading never stops at the first problem: every document of every file is tried, and each
//! problem becomes a [`Diagnostic`] naming the file, line, column and field.

use crate::diag::{Diagnostic, Level, Origin, ResourceRef, Stage};
use crate::kind::{Body, Kind, Layout, Lookup};
use crate::meta::ObjectMeta;
use crate::resource::Resource;
use crate::validate::{common, Context, Findings};
use crate::yaml::{self, FieldPath, Node, PathSegment, Pos, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything loaded from a set of inputs.
#[derive(Debug, Default)]
pub struct Loaded {
    pub resources: Vec<Resource>,
    pub diagnostics: Vec<Diagnostic>,
    /// Inputs that could not be used at all: missing, unreadable, or not YAML.
    pub unusable: Vec<String>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }

    fn diag(&mut self, level: Level, stage: Stage, origin: Origin, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            level,
            stage,
            origin,
            resource: None,
            path: FieldPath::root(),
            message: message.into(),
        });
    }
}

fn is_config_file(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Lists the files under `dir` with a YAML or JSON extension, recursively, in a stable order.
fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>, errors: &mut Vec<(PathBuf, std::io::Error)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push((dir.to_path_buf(), e));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect_dir(&p, out, errors);
        } else if is_config_file(&p) {
            out.push(p);
        }
    }
}

/// Loads every path: `-` is standard input, a directory is walked recursively for `.yaml`,
/// `.yml` and `.json` files, anything else is read as a file whatever its name.
pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Loaded {
    let mut loaded = Loaded::default();
    for p in paths {
        let p = p.as_ref();
        if p == Path::new("-") {
            let mut text = String::new();
            match std::io::stdin().read_to_string(&mut text) {
                Ok(_) => load_str(&mut loaded, "-", &text),
                Err(e) => unusable(
                    &mut loaded,
                    "-",
                    &format!("cannot read standard input: {e}"),
                ),
            }
            continue;
        }
        if p.is_dir() {
            let mut files = Vec::new();
            let mut errors = Vec::new();
            collect_dir(p, &mut files, &mut errors);
            for (path, e) in errors {
                let name = path.display().to_string();
                unusable(&mut loaded, &name, &format!("cannot read directory: {e}"));
            }
            for f in files {
                load_file(&mut loaded, &f);
            }
        } else {
            load_file(&mut loaded, p);
        }
    }
    loaded
}

fn unusable(loaded: &mut Loaded, file: &str, message: &str) {
    loaded.unusable.push(file.to_string());
    let origin = Origin {
        file: Arc::from(file),
        pos: Pos { line: 0, col: 0 },
    };
    loaded.diag(Level::Error, Stage::Read, origin, message);
}

fn load_file(loaded: &mut Loaded, path: &Path) {
    let name = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => load_str(loaded, &name, &text),
            Err(e) => unusable(
                loaded,
                &name,
                &format!(
                    "not UTF-8 text (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            ),
        },
        Err(e) => unusable(loaded, &name, &format!("cannot read file: {e}")),
    }
}

/// Loads every document of one YAML stream, reporting problems against `file`.
pub fn load_str(loaded: &mut Loaded, file: &str, text: &str) {
    let file: Arc<str> = Arc::from(file);
    let docs = match yaml::parse_documents(text) {
        Ok(d) => d,
        Err(e) => {
            loaded.unusable.push(file.to_string());
            let origin = Origin {
                file: file.clone(),
                pos: e.pos,
            };
            loaded.diag(
                Level::Error,
                Stage::Read,
                origin,
                format!("invalid YAML: {}", e.message),
            );
            return;
        }
    };
    for doc in docs.into_iter().flatten() {
        load_document(loaded, &file, Arc::new(doc), 0);
    }
}

fn str_field<'a>(doc: &'a Node, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Node::as_str)
}

fn load_document(loaded: &mut Loaded, file: &Arc<str>, doc: Arc<Node>, depth: usize) {
    let origin = Origin {
        file: file.clone(),
        pos: doc.pos,
    };
    if !matches!(doc.value, Value::Map(_)) {
        loaded.diag(
            Level::Error,
            Stage::Decode,
            origin,
            format!(
                "expected a resource (a mapping with apiVersion and kind), found a {}",
                doc.type_name()
            ),
        );
        return;
    }
    let Some(kind_name) = str_field(&doc, "kind") else {
        loaded.diagnostics.push(field_diag(
            &origin,
            &doc,
            None,
            &FieldPath::parse("kind"),
            "missing or not a string: every resource needs a kind",
        ));
        return;
    };
    let Some(api_version) = str_field(&doc, "apiVersion") else {
        loaded.diagnostics.push(field_diag(
            &origin,
            &doc,
            None,
            &FieldPath::parse("apiVersion"),
            "missing or not a string: every resource needs an apiVersion",
        ));
        return;
    };
    if kind_name.ends_with("List") && doc.get("items").is_some() {
        load_list(loaded, file, &doc, depth);
        return;
    }
    let empty = Node {
        pos: doc.pos,
        value: Value::Map(Vec::new()),
    };
    let meta_node = doc.get("metadata").unwrap_or(&empty);
    let meta: ObjectMeta = match serde_path_to_error::deserialize(meta_node) {
        Ok(m) => m,
        Err(e) => {
            let path = serde_error_path(&FieldPath::parse("metadata"), &e);
            let msg = e.inner().to_string();
            loaded
                .diagnostics
                .push(field_diag(&origin, &doc, None, &path, &msg));
            return;
        }
    };
    let reference = ResourceRef {
        kind: kind_name.to_string(),
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
    };
    let kind = match Kind::lookup(api_version, kind_name) {
        Lookup::Known(k) => k,
        Lookup::UnservedVersion(k) => {
            let msg = format!(
                "{api_version:?} is not served for {kind_name}; use one of: {}",
                k.api_versions().join(", ")
            );
            let mut d = field_diag(
                &origin,
                &doc,
                Some(&reference),
                &FieldPath::parse("apiVersion"),
                &msg,
            );
            d.stage = Stage::Decode;
            loaded.diagnostics.push(d);
            return;
        }
        Lookup::Unknown => {
            loaded.diagnostics.push(Diagnostic {
                level: Level::Info,
                stage: Stage::UnknownKind,
                origin,
                resource: Some(reference),
                path: FieldPath::root(),
                message: format!(
                    "kind {kind_name} ({api_version}) is not known to verimesh; skipped"
                ),
            });
            return;
        }
    };
    let (body_node, body_path) = match body_of(kind, &doc) {
        Ok(v) => v,
        Err(path) => {
            let field = path.to_string();
            loaded.diagnostics.push(field_diag(
                &origin,
                &doc,
                Some(&reference),
                &path,
                &format!("unknown field {field:?}: a {kind_name} has only apiVersion, kind, metadata, spec and status"),
            ));
            return;
        }
    };
    let body = match Body::decode(kind, &body_node) {
        Ok(b) => b,
        Err(e) => {
            let path = serde_error_path(&body_path, &e);
            let msg = e.inner().to_string();
            loaded
                .diagnostics
                .push(field_diag(&origin, &doc, Some(&reference), &path, &msg));
            return;
        }
    };
    let mut findings = Findings::default();
    validate_meta(kind, &meta, &mut findings);
    let cx = Context {
        meta: &meta,
        api_version,
    };
    body.validate(&cx, &body_path, &mut findings);
    let valid = !findings.has_errors();
    for issue in findings.items {
        let mut d = field_diag(&origin, &doc, Some(&reference), &issue.path, &issue.message);
        d.level = issue.level;
        d.stage = Stage::Validate;
        loaded.diagnostics.push(d);
    }
    loaded.resources.push(Resource {
        kind,
        api_version: api_version.to_string(),
        meta,
        body,
        origin,
        doc,
        valid,
    });
}

/// Kubernetes `List` (and typed lists such as `ServiceList`): each item is a resource of its own.
fn load_list(loaded: &mut Loaded, file: &Arc<str>, doc: &Node, depth: usize) {
    let origin = Origin {
        file: file.clone(),
        pos: doc.pos,
    };
    let items = doc.get("items");
    match items.map(|n| &n.value) {
        Some(Value::Seq(items)) if depth < 4 => {
            for item in items {
                load_document(loaded, file, Arc::new(item.clone()), depth + 1);
            }
        }
        Some(Value::Null) => {}
        _ => loaded.diagnostics.push(field_diag(
            &origin,
            doc,
            None,
            &FieldPath::parse("items"),
            "expected a list of resources",
        )),
    }
}

/// Splits out the part of the document the kind's body type decodes, and its path.
/// Returns the path of an offending top-level field for Istio-style kinds.
fn body_of(kind: Kind, doc: &Node) -> Result<(Node, FieldPath), FieldPath> {
    let Value::Map(entries) = &doc.value else {
        return Err(FieldPath::root());
    };
    match kind.info().layout {
        Layout::Spec => {
            for (k, _) in entries {
                if !matches!(
                    k.name.as_str(),
                    "apiVersion" | "kind" | "metadata" | "spec" | "status"
                ) {
                    return Err(FieldPath::root().field(&k.name));
                }
            }
            let spec = match doc.get("spec") {
                Some(n) if !n.is_null() => n.clone(),
                _ => Node {
                    pos: doc.pos,
                    value: Value::Map(Vec::new()),
                },
            };
            Ok((spec, FieldPath::root().field("spec")))
        }
        Layout::Object => {
            let rest = entries
                .iter()
                .filter(|(k, _)| !matches!(k.name.as_str(), "apiVersion" | "kind" | "metadata"))
                .cloned()
                .collect();
            let node = Node {
                pos: doc.pos,
                value: Value::Map(rest),
            };
            Ok((node, FieldPath::root()))
        }
    }
}

fn validate_meta(kind: Kind, meta: &ObjectMeta, out: &mut Findings) {
    let at = FieldPath::root().field("metadata");
    if meta.name.is_empty() {
        if meta.generate_name.is_none() {
            out.error(&at.field("name"), "name is required");
        }
    } else if !common::is_k8s_dns1123_subdomain(&meta.name) {
        out.error(
            &at.field("name"),
            format!(
                "name {:?} is invalid: it must be lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
                meta.name
            ),
        );
    }
    if let Some(ns) = &meta.namespace {
        if !common::is_k8s_dns1123_label(ns) {
            out.error(
                &at.field("namespace"),
                format!("namespace {ns:?} is invalid: it must be a lower-case DNS-1123 label"),
            );
        }
    }
    if kind == Kind::Namespace && meta.namespace.is_some() {
        out.warning(
            &at.field("namespace"),
            "a Namespace is not namespaced; this field is ignored",
        );
    }
    for key in meta.labels.keys() {
        out.check(
            &at.field("labels").field(key),
            common::validate_label_key(key),
        );
    }
    for (key, value) in &meta.labels {
        out.check(
            &at.field("labels").field(key),
            common::validate_label_value(value),
        );
    }
}

/// The full path of a serde error: the body's path, what serde reports, and the field name for
/// unknown-field errors (which serde reports at the enclosing object).
fn serde_error_path(
    base: &FieldPath,
    e: &serde_path_to_error::Error<crate::yaml::DeError>,
) -> FieldPath {
    let mut path = base.clone();
    for seg in e.path().iter() {
        path = match seg {
            serde_path_to_error::Segment::Seq { index } => path.index(*index),
            serde_path_to_error::Segment::Map { key } => path.field(key),
            serde_path_to_error::Segment::Enum { variant } => path.field(variant),
            serde_path_to_error::Segment::Unknown => path,
        };
    }
    let msg = e.inner().to_string();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        if let Some(name) = rest.split('`').next() {
            let ends_with_it =
                matches!(path.segments().last(), Some(PathSegment::Field(f)) if f == name);
            if !ends_with_it {
                path = path.field(name);
            }
        }
    }
    path
}

fn field_diag(
    origin: &Origin,
    doc: &Node,
    resource: Option<&ResourceRef>,
    path: &FieldPath,
    message: &str,
) -> Diagnostic {
    Diagnostic {
        level: Level::Error,
        stage: Stage::Decode,
        origin: Origin {
            file: origin.file.clone(),
            pos: doc.pos_of(path),
        },
        resource: resource.cloned(),
        path: path.clone(),
        message: message.to_string(),
    }
}
