//! Cross-resource analysis of mesh configuration: finds what would fail at run time (often as an
//! opaque 503) before it is applied, and says why, with Istio's message codes where the meaning
//! is the same and verimesh's own (VM0xxx) otherwise.

pub mod analyzers;
pub mod conformance;
pub mod hosts;
pub mod mesh_source;
pub mod message;
pub mod messages;
pub mod registry;
pub mod report;
pub mod snapshot;
pub mod topology;
pub mod workloads;

pub use message::Message;
pub use report::Report;
pub use snapshot::Snapshot;

use verimesh_config::{Diagnostic, Level, Loaded, Stage};

/// Turns loading problems into messages: decode and validation errors are Istio's schema
/// messages; unusable inputs and unknown kinds are verimesh's.
pub fn load_messages(diags: &[Diagnostic]) -> Vec<Message> {
    diags
        .iter()
        // The VirtualService analyzer reports unreachable rules with their own codes.
        .filter(|d| {
            !(d.stage == Stage::Validate
                && d.level == Level::Warning
                && verimesh_config::networking::is_unreachable_message(&d.message))
        })
        .map(|d| {
            let kind = match (d.stage, d.level) {
                (Stage::Read, _) => messages::UNUSABLE_INPUT,
                (Stage::UnknownKind, _) => messages::UNKNOWN_KIND,
                (Stage::Decode | Stage::Validate, Level::Error) => {
                    messages::SCHEMA_VALIDATION_ERROR
                }
                (Stage::Decode | Stage::Validate, _) => messages::SCHEMA_WARNING,
            };
            let text = if d.path.is_empty() {
                d.message.clone()
            } else {
                format!("{}: {}", d.path, d.message)
            };
            Message {
                kind,
                text,
                resource: d.resource.clone(),
                origin: Some(d.origin.clone()),
            }
        })
        .collect()
}

/// Runs every analyzer over what was loaded; loading problems come first.
pub fn analyze(loaded: &Loaded, snap: &Snapshot<'_>) -> Vec<Message> {
    let mut out = Report {
        messages: load_messages(&loaded.diagnostics),
    };
    for a in analyzers::all() {
        a.analyze(snap, &mut out);
    }
    // Two analyzers may find the same fact (Istio's do too); say it once.
    let mut seen = std::collections::HashSet::new();
    out.messages.retain(|m| {
        seen.insert((
            m.kind.code,
            m.resource.as_ref().map(ToString::to_string),
            m.origin.as_ref().map(|o| o.pos.line),
            m.text.clone(),
        ))
    });
    out.messages
}
