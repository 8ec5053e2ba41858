//! Bootstrap tokens: how a workload of the local mesh proves its namespace and service account
//! to the CA before it has a certificate. The state directory keeps only SHA-256 digests of the
//! tokens (`bootstrap-tokens.json`, mode 0600); the token itself is handed to the workload once.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;
use verimesh_identity::{pem, SpiffeId, TrustDomain};

/// The file name inside the state directory.
pub const TOKENS_FILE: &str = "bootstrap-tokens.json";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a bootstrap token file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Write(#[from] pem::PemError),
    #[error("invalid namespace or service account: {0}")]
    Identity(#[from] verimesh_identity::SpiffeIdError),
    #[error("no randomness available")]
    Random,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    namespace: String,
    service_account: String,
    sha256: String,
}

/// The token file, re-read whenever it changes (tokens can be added while the control plane
/// runs).
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    trust_domain: TrustDomain,
    cache: Mutex<(Option<SystemTime>, HashMap<String, SpiffeId>)>,
}

fn digest(token: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    verimesh_identity::random::hex(d.as_ref())
}

fn read_entries(path: &Path) -> Result<Vec<Entry>, TokenError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|source| TokenError::Parse {
            path: path.display().to_string(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(TokenError::Io {
            path: path.display().to_string(),
            source,
        }),
    }
}

impl TokenStore {
    pub fn new(state_dir: &Path, trust_domain: TrustDomain) -> Self {
        Self {
            path: state_dir.join(TOKENS_FILE),
            trust_domain,
            cache: Mutex::new((None, HashMap::new())),
        }
    }

    /// Creates a token for `namespace`/`service_account`, records its digest, returns it.
    pub fn add(&self, namespace: &str, service_account: &str) -> Result<String, TokenError> {
        SpiffeId::workload(&self.trust_domain, namespace, service_account)?;
        let token = verimesh_identity::random::random_hex(32).map_err(|_| TokenError::Random)?;
        let mut entries = read_entries(&self.path)?;
        entries.push(Entry {
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
            sha256: digest(&token),
        });
        let text = serde_json::to_string_pretty(&entries).map_err(|source| TokenError::Parse {
            path: self.path.display().to_string(),
            source,
        })?;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| TokenError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        pem::write_file(&self.path, &text, 0o600)?;
        Ok(token)
    }

    /// The identity a token was issued for; `None` for an unknown token or an unreadable file
    /// (fail closed).
    pub fn identity_for(&self, token: &str) -> Option<SpiffeId> {
        let mtime = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.0 != mtime || mtime.is_none() {
            let map = match read_entries(&self.path) {
                Ok(entries) => entries
                    .into_iter()
                    .filter_map(|e| {
                        SpiffeId::workload(&self.trust_domain, &e.namespace, &e.service_account)
                            .ok()
                            .map(|id| (e.sha256, id))
                    })
                    .collect(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read bootstrap tokens");
                    HashMap::new()
                }
            };
            *cache = (mtime, map);
        }
        cache.1.get(&digest(token)).cloned()
    }
}
