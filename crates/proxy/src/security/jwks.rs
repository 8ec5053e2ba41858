//! The key sets of `jwksUri`s: one entry per URI, shared by every config version that names
//! it, each refreshed by a task of its own (Istio's default interval, 20 minutes). A failed
//! fetch leaves the entry with no keys, so every token of that issuer is refused (401) until
//! a fetch succeeds: there is never a fallback key. After a failure the next attempt comes
//! sooner (1 s, doubling up to the refresh interval), so an outage of the key server costs
//! no longer than it lasts.

use super::fetch::{fetch, FetchError};
use super::jwks_tls::JwksTls;
use arc_swap::ArcSwap;
use rustls_pki_types::CertificateDer;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use verimesh_policy::Jwks;

/// How JWKS are fetched and refreshed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwksOptions {
    /// Time between refreshes of a key set that was fetched.
    pub refresh: Duration,
    /// Limit for one fetch when the jwtRule sets no `timeout`.
    pub timeout: Duration,
    /// First retry delay after a failed fetch (doubling up to `refresh`).
    pub retry: Duration,
    /// Allow `jwksUri`s that resolve to link-local or cloud metadata addresses.
    pub allow_link_local: bool,
    /// CAs trusted for `https://` key servers besides the system trust store.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl Default for JwksOptions {
    fn default() -> Self {
        JwksOptions {
            refresh: Duration::from_secs(20 * 60),
            timeout: Duration::from_secs(5),
            retry: Duration::from_secs(1),
            allow_link_local: false,
            extra_roots: Vec::new(),
        }
    }
}

/// The keys of one URI and how many fetches have completed (0: none yet).
pub struct JwksEntry {
    pub uri: String,
    keys: ArcSwap<Jwks>,
    fetched: AtomicU64,
    done: watch::Sender<u64>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl JwksEntry {
    /// Completed fetches, successful or not; a change means the keys may have changed.
    pub fn generation(&self) -> u64 {
        self.fetched.load(Ordering::Acquire)
    }

    pub fn keys(&self) -> Arc<Jwks> {
        self.keys.load_full()
    }

    /// Waits until the first fetch has completed (or `limit` passed): the first requests
    /// after a config arrives are judged with the keys, not refused for want of them.
    pub async fn first_fetch(&self, limit: Duration) {
        let mut rx = self.done.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|n| *n > 0)).await;
    }

    fn publish(&self, keys: Jwks) {
        self.keys.store(Arc::new(keys));
        let n = self.fetched.fetch_add(1, Ordering::AcqRel) + 1;
        self.done.send_replace(n);
    }
}

impl Drop for JwksEntry {
    fn drop(&mut self) {
        if let Ok(mut t) = self.task.lock() {
            if let Some(t) = t.take() {
                t.abort();
            }
        }
    }
}

/// Every URI's entry; lives as long as the proxy (config versions come and go).
pub struct JwksCache {
    opts: JwksOptions,
    tls: Arc<JwksTls>,
    entries: Mutex<HashMap<String, Arc<JwksEntry>>>,
    /// False for a cache that only lets a config be compiled (`crate::check_config`):
    /// its entries never fetch.
    fetches: bool,
}

impl JwksCache {
    pub fn new(opts: JwksOptions) -> Self {
        JwksCache {
            tls: Arc::new(JwksTls::new(opts.extra_roots.clone())),
            opts,
            entries: Mutex::new(HashMap::new()),
            fetches: true,
        }
    }

    /// A cache whose entries stay empty and start no refresh task.
    pub(crate) fn inert() -> Self {
        JwksCache {
            fetches: false,
            ..JwksCache::new(JwksOptions::default())
        }
    }

    pub fn options(&self) -> &JwksOptions {
        &self.opts
    }

    /// The entry for `uri`, starting its refresh task when it is new (and a runtime runs).
    pub fn entry(&self, uri: &str, timeout: Option<Duration>) -> Arc<JwksEntry> {
        let mut entries = match self.entries.lock() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(e) = entries.get(uri) {
            return e.clone();
        }
        let entry = Arc::new(JwksEntry {
            uri: uri.to_string(),
            keys: ArcSwap::from_pointee(Jwks::default()),
            fetched: AtomicU64::new(0),
            done: watch::channel(0).0,
            task: Mutex::new(None),
        });
        if let (true, Ok(rt)) = (self.fetches, tokio::runtime::Handle::try_current()) {
            let opts = JwksOptions {
                timeout: timeout.unwrap_or(self.opts.timeout),
                ..self.opts.clone()
            };
            let task = rt.spawn(refresh(Arc::downgrade(&entry), opts, self.tls.clone()));
            if let Ok(mut t) = entry.task.lock() {
                *t = Some(task);
            }
        }
        entries.insert(uri.to_string(), entry.clone());
        entry
    }

    /// Drops entries no config in force names any more (their tasks stop).
    pub fn retain_used(&self) {
        let removed: Vec<Arc<JwksEntry>> = match self.entries.lock() {
            Ok(mut entries) => {
                let unused: Vec<String> = entries
                    .iter()
                    .filter(|(_, e)| Arc::strong_count(e) == 1)
                    .map(|(k, _)| k.clone())
                    .collect();
                unused.iter().filter_map(|k| entries.remove(k)).collect()
            }
            Err(_) => Vec::new(),
        };
        // Dropped outside the lock: dropping aborts the refresh task.
        drop(removed);
    }
}

async fn refresh(entry: Weak<JwksEntry>, opts: JwksOptions, tls: Arc<JwksTls>) {
    let mut retry = opts.retry;
    loop {
        let Some(e) = entry.upgrade() else { return };
        let uri = e.uri.clone();
        drop(e);
        let result = fetch(&uri, opts.timeout, opts.allow_link_local, &tls)
            .await
            .and_then(|text| Jwks::parse(&text).map_err(|err| FetchError::Body(err.to_string())));
        let Some(e) = entry.upgrade() else { return };
        let wait = match result {
            Ok(keys) => {
                retry = opts.retry;
                tracing::debug!(uri, keys = keys.len(), skipped = ?keys.skipped, "JWKS fetched");
                e.publish(keys);
                opts.refresh
            }
            Err(err) => {
                tracing::warn!(
                    uri,
                    "JWKS fetch failed, tokens of this issuer are refused until one succeeds: {err}"
                );
                e.publish(Jwks::default());
                let wait = retry.min(opts.refresh);
                retry = (retry * 2).min(opts.refresh);
                wait
            }
        };
        drop(e);
        tokio::time::sleep(wait).await;
    }
}
