//! Per-kind validation: the rules Istio's own validation enforces, reported against field paths.

pub mod common;
pub mod security_common;

use crate::diag::Level;
use crate::meta::ObjectMeta;
use crate::yaml::FieldPath;

#[derive(Clone, Debug, PartialEq)]
pub struct FieldIssue {
    pub level: Level,
    pub path: FieldPath,
    pub message: String,
}

/// Collects the problems one resource has.
#[derive(Debug, Default)]
pub struct Findings {
    pub items: Vec<FieldIssue>,
}

impl Findings {
    pub fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.push(Level::Error, path, message);
    }

    pub fn warning(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.push(Level::Warning, path, message);
    }

    pub fn push(&mut self, level: Level, path: &FieldPath, message: impl Into<String>) {
        self.items.push(FieldIssue {
            level,
            path: path.clone(),
            message: message.into(),
        });
    }

    /// Records `result`'s error, if any, at `path`.
    pub fn check<E: std::fmt::Display>(&mut self, path: &FieldPath, result: Result<(), E>) {
        if let Err(e) = result {
            self.error(path, e.to_string());
        }
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|i| i.level == Level::Error)
    }
}

/// What a validator may need to know besides the spec itself.
pub struct Context<'a> {
    pub meta: &'a ObjectMeta,
    /// `apiVersion` as written, e.g. `networking.istio.io/v1beta1`.
    pub api_version: &'a str,
}

/// Implemented by every kind's body. `spec` is the path of the body in the document (usually
/// `spec`), so that issues name the full field path.
pub trait Validate {
    fn validate(&self, cx: &Context<'_>, spec: &FieldPath, out: &mut Findings);
}
