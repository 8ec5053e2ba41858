//! ServiceAccounts: the identity workloads run as (`spiffe://<td>/ns/<ns>/sa/<name>`).

use super::common::LocalObjectReference;
use crate::validate::{Context, Findings, Validate};
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccount {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
}

impl Validate for ServiceAccount {
    fn validate(&self, _cx: &Context<'_>, at: &FieldPath, out: &mut Findings) {
        for (i, s) in self.image_pull_secrets.iter().enumerate() {
            if s.name.is_empty() {
                out.error(
                    &at.field("imagePullSecrets").index(i).field("name"),
                    "the secret name is required",
                );
            }
        }
    }
}
