//! One analysis finding, and how it is printed.

use crate::messages::MessageType;
use serde::Serialize;
use verimesh_config::{Level, Origin, ResourceRef};

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub kind: MessageType,
    pub text: String,
    /// The resource at fault; its namespace is as the user wrote it (None when omitted).
    pub resource: Option<ResourceRef>,
    pub origin: Option<Origin>,
}

impl Message {
    pub fn level(&self) -> Level {
        self.kind.level
    }

    /// `Error [IST0101] (VirtualService default/reviews reviews.yaml:12) Referenced host not found: "foo"`.
    /// Namespaced resources without a namespace are shown in `default_ns`, as they would be
    /// applied.
    pub fn to_text(&self, default_ns: &str) -> String {
        let mut where_ = String::new();
        if let Some(r) = &self.resource {
            where_.push_str(&display_ref(r, default_ns));
        }
        if let Some(o) = &self.origin {
            if !where_.is_empty() {
                where_.push(' ');
            }
            where_.push_str(&format!("{}:{}", o.file, o.pos.line));
            if o.pos.col > 0 {
                where_.push_str(&format!(":{}", o.pos.col));
            }
        }
        if where_.is_empty() {
            format!("{} [{}] {}", self.kind.level, self.kind.code, self.text)
        } else {
            format!(
                "{} [{}] ({}) {}",
                self.kind.level, self.kind.code, where_, self.text
            )
        }
    }

    pub fn to_json(&self, default_ns: &str) -> JsonMessage {
        JsonMessage {
            code: self.kind.code,
            level: self.kind.level,
            message: self.text.clone(),
            resource: self.resource.as_ref().map(|r| JsonResource {
                kind: r.kind.clone(),
                namespace: namespace_for_display(r, default_ns),
                name: r.name.clone(),
            }),
            origin: self.origin.as_ref().map(|o| JsonOrigin {
                file: o.file.to_string(),
                line: o.pos.line,
                column: (o.pos.col > 0).then_some(o.pos.col),
            }),
        }
    }
}

/// Kinds that live outside namespaces; they are never shown with one.
fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "Node"
            | "CustomResourceDefinition"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "ClusterRole"
            | "ClusterRoleBinding"
    )
}

fn namespace_for_display(r: &ResourceRef, default_ns: &str) -> Option<String> {
    if is_cluster_scoped(&r.kind) {
        None
    } else {
        Some(
            r.namespace
                .clone()
                .unwrap_or_else(|| default_ns.to_string()),
        )
    }
}

fn display_ref(r: &ResourceRef, default_ns: &str) -> String {
    let name = if r.name.is_empty() {
        "(unnamed)"
    } else {
        r.name.as_str()
    };
    match namespace_for_display(r, default_ns) {
        Some(ns) => format!("{} {}/{}", r.kind, ns, name),
        None => format!("{} {}", r.kind, name),
    }
}

#[derive(Serialize)]
pub struct JsonMessage {
    pub code: &'static str,
    pub level: Level,
    pub message: String,
    pub resource: Option<JsonResource>,
    pub origin: Option<JsonOrigin>,
}

#[derive(Serialize)]
pub struct JsonResource {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Serialize)]
pub struct JsonOrigin {
    pub file: String,
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}
