//! Where analyzers put what they find.

use crate::message::Message;
use crate::messages::MessageType;
use verimesh_config::Resource;

#[derive(Default)]
pub struct Report {
    pub messages: Vec<Message>,
}

impl Report {
    /// Reports against a resource, placed on the line of `field` (a path such as
    /// `spec.http[0].route[0].destination.host`), or the resource's own line when empty.
    pub fn add(&mut self, kind: MessageType, res: &Resource, field: &str, text: impl Into<String>) {
        // Analyzer findings name a line; the column is only meaningful for schema errors.
        let mut origin = res.origin.clone();
        origin.pos.col = 0;
        if !field.is_empty() {
            origin.pos.line = res.line_of(field);
        }
        self.messages.push(Message {
            kind,
            text: text.into(),
            resource: Some(res.reference()),
            origin: Some(origin),
        });
    }
}
