//! ConfigMaps: configuration as text (`data`) or base64 bytes (`binaryData`).

use super::base64;
use super::common::validate_data_key;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Values are base64.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub binary_data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

impl Validate for ConfigMap {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        for k in self.data.keys() {
            out.check(&at.field("data").field(k), validate_data_key(k));
        }
        for (k, v) in &self.binary_data {
            let p = at.field("binaryData").field(k);
            out.check(&p, validate_data_key(k));
            out.check(&p, base64::decode(v).map(|_| ()));
            if self.data.contains_key(k) {
                out.error(&p, format!("key {k:?} is in both data and binaryData"));
            }
        }
    }
}
