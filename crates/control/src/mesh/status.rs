//! The control plane's status as a JSON file next to its state, for `verimesh status` (and
//! for `verimesh up`, which waits on it): per proxy its config version, ACK state and
//! connection, plus the config directory's last error.

use crate::config::ConfigHub;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshStatus {
    /// Seconds since the epoch when this was written.
    pub updated: u64,
    /// The config directory's last load error (the previous config stays in force).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_error: Option<String>,
    /// Loads of the config directory so far.
    pub generation: u64,
    /// What the last applied load overrode (a resource defined twice) or compiled only
    /// approximately.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub proxies: Vec<ProxyLine>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyLine {
    pub namespace: String,
    pub name: String,
    pub connected: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acked_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_nack: Option<String>,
    /// When the proxy's current workload certificate expires (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expiry: Option<u64>,
    pub in_sync: bool,
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl MeshStatus {
    pub fn of(
        hub: &ConfigHub,
        config_error: Option<String>,
        generation: u64,
        warnings: Vec<String>,
    ) -> Self {
        let proxies = hub
            .status()
            .into_iter()
            .map(|s| ProxyLine {
                in_sync: s.in_sync(),
                namespace: s.proxy.namespace.clone(),
                name: s.proxy.name.clone(),
                connected: s.connected,
                identity: s.identity.as_ref().map(ToString::to_string),
                published_version: s.published_version.clone(),
                acked_version: s.last_acked_version.clone(),
                last_nack: s
                    .last_nack
                    .as_ref()
                    .map(|n| format!("{}: {}", n.version, n.error)),
                cert_expiry: s.cert_not_after.map(epoch),
            })
            .collect();
        MeshStatus {
            updated: epoch(SystemTime::now()),
            config_error,
            generation,
            warnings,
            proxies,
        }
    }

    pub fn read(path: &Path) -> std::io::Result<MeshStatus> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }
}

/// Writes atomically (temp file + rename), so readers never see half a file.
pub fn write_status(path: &Path, status: &MeshStatus) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(status).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}
