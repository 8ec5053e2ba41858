//! Value types and checks shared by the Kubernetes kinds: int-or-string, label selectors,
//! quantities, named ports and data keys.

use crate::validate::{common, Findings};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Kubernetes' `IntOrString`: a port number or a port name, a count or a percentage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    String(String),
}

impl Default for IntOrString {
    fn default() -> Self {
        IntOrString::Int(0)
    }
}

/// A resource quantity (`500m`, `128Mi`, `2`, `0.5`), kept as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Quantity {
    Int(i64),
    Float(f64),
    String(String),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: SelectorOperator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SelectorOperator {
    #[default]
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Whether labels satisfy every `matchLabels` pair and every expression.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| {
                let v = labels.get(&e.key);
                match e.operator {
                    SelectorOperator::In => v.is_some_and(|v| e.values.contains(v)),
                    SelectorOperator::NotIn => v.is_none_or(|v| !e.values.contains(v)),
                    SelectorOperator::Exists => v.is_some(),
                    SelectorOperator::DoesNotExist => v.is_none(),
                }
            })
    }
}

/// Checks keys and values of a label map (a selector or labels).
pub fn validate_label_map(labels: &BTreeMap<String, String>, at: &FieldPath, out: &mut Findings) {
    for (k, v) in labels {
        out.check(&at.field(k), common::validate_label_key(k));
        out.check(&at.field(k), common::validate_label_value(v));
    }
}

pub fn validate_label_selector(sel: &LabelSelector, at: &FieldPath, out: &mut Findings) {
    validate_label_map(&sel.match_labels, &at.field("matchLabels"), out);
    for (i, e) in sel.match_expressions.iter().enumerate() {
        let p = at.field("matchExpressions").index(i);
        out.check(&p.field("key"), common::validate_label_key(&e.key));
        match e.operator {
            SelectorOperator::In | SelectorOperator::NotIn if e.values.is_empty() => out.error(
                &p.field("values"),
                format!("operator {:?} needs at least one value", e.operator),
            ),
            SelectorOperator::Exists | SelectorOperator::DoesNotExist if !e.values.is_empty() => {
                out.error(
                    &p.field("values"),
                    format!("operator {:?} takes no values", e.operator),
                )
            }
            _ => {}
        }
        for (j, v) in e.values.iter().enumerate() {
            out.check(&p.field("values").index(j), common::validate_label_value(v));
        }
    }
}

/// An IANA service name, as Kubernetes requires for port names: at most 15 lower-case letters,
/// digits and '-', with at least one letter, no leading, trailing or doubled '-'.
pub fn validate_port_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "port name {name:?} is invalid: it must be at most 15 lower-case letters, digits and '-', with at least one letter, not starting or ending with '-' and without '--'"
        ))
    }
}

/// A port given as a number (1..65535) or the name of a container port.
pub fn validate_int_or_port_name(p: &IntOrString) -> Result<(), String> {
    match p {
        IntOrString::Int(n) => match u32::try_from(*n) {
            Ok(n) => common::validate_port(n),
            Err(_) => Err(format!("port number {n} must be in the range 1..65535")),
        },
        IntOrString::String(s) => validate_port_name(s),
    }
}

/// A port number as Kubernetes types it (int32), checked to be in 1..65535.
pub fn validate_port_number(n: i64) -> Result<(), String> {
    match u32::try_from(n) {
        Ok(n) => common::validate_port(n),
        Err(_) => Err(format!("port number {n} must be in the range 1..65535")),
    }
}

/// A key of a ConfigMap or Secret: letters, digits, '-', '_' and '.', at most 253 characters.
pub fn validate_data_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "key {key:?} is invalid: use letters, digits, '-', '_' and '.' (at most 253 characters)"
        ))
    }
}

/// A reference to an object by name, e.g. an image pull secret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalObjectReference {
    #[serde(default)]
    pub name: String,
}
