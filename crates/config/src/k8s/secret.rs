//! Secrets: opaque data, TLS key pairs, tokens.

use super::base64;
use super::common::validate_data_key;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// `Opaque` (the default), `kubernetes.io/tls`, `kubernetes.io/dockerconfigjson`, …
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Values are base64.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Plain-text values, merged over `data` on write.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub string_data: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

pub const SECRET_TYPE_TLS: &str = "kubernetes.io/tls";

impl Secret {
    pub fn secret_type(&self) -> &str {
        self.type_.as_deref().unwrap_or("Opaque")
    }

    /// A key's value as the API server would store it: `stringData` wins over `data`.
    /// `None` when absent or when `data` is not valid base64.
    pub fn value(&self, key: &str) -> Option<Vec<u8>> {
        if let Some(v) = self.string_data.get(key) {
            return Some(v.as_bytes().to_vec());
        }
        self.data.get(key).and_then(|v| base64::decode(v).ok())
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.data.contains_key(key) || self.string_data.contains_key(key)
    }
}

impl Validate for Secret {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        for (k, v) in &self.data {
            let p = at.field("data").field(k);
            out.check(&p, validate_data_key(k));
            out.check(&p, base64::decode(v).map(|_| ()));
        }
        for k in self.string_data.keys() {
            out.check(&at.field("stringData").field(k), validate_data_key(k));
        }
        if self.secret_type() == SECRET_TYPE_TLS {
            for key in ["tls.crt", "tls.key"] {
                if !self.has_key(key) {
                    out.error(
                        &at.field("data"),
                        format!("a {SECRET_TYPE_TLS} secret needs the key {key:?}"),
                    );
                }
            }
        }
    }
}
