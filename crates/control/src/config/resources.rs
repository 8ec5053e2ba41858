//! A proxy's config as the resources `verimesh.config.v1` sends: the core (top-level fields),
//! one per service, one per cluster — each encoded once and versioned by a hash of its JSON.
//! Encodings are shared: equal content is held once however many proxies' configs have it,
//! and a piece the compiler shares (`Arc<Service>`, `Arc<Cluster>`, a whole outbound view) is
//! encoded once per publication, not once per proxy.

use super::wire;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use verimesh_api::resource::{core_of, ResourceName, CORE};
use verimesh_model::{Cluster, ProxyConfig, Service};

/// One encoded resource, shared by every config that has this content.
#[derive(Debug)]
pub(crate) struct Resource {
    pub(crate) name: Arc<str>,
    /// Hex of the first 128 bits of the SHA-256 of `json`: stable across control plane
    /// restarts, so a reconnecting proxy's versions are comparable with a new control plane's.
    pub(crate) version: Arc<str>,
    /// The resource as a `resources` entry of a response (its JSON included), encoded once
    /// (see [`wire`]).
    pub(crate) entry: Bytes,
}

/// Services and clusters by name (names sort "cluster/…" before "service/…"), shared by every
/// proxy given the same outbound view.
#[derive(Debug, Default)]
pub(crate) struct ResourceSet {
    pub(crate) items: Vec<Arc<Resource>>,
    /// Every item's entry back to back: what a whole-config push sends after the core. Built
    /// on the first such push and kept only while a push in flight holds it (a set per
    /// outbound view, so keeping them all could cost a copy of each view).
    encoded: Mutex<Weak<Vec<u8>>>,
}

/// A `Bytes` over a shared buffer.
struct SharedBuf(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl ResourceSet {
    fn new(mut items: Vec<Arc<Resource>>) -> Self {
        items.sort_by(|a, b| a.name.cmp(&b.name));
        Self {
            items,
            encoded: Mutex::default(),
        }
    }

    /// Every item's entry, in order, as one shared buffer.
    pub(crate) fn encoded(&self) -> Bytes {
        let mut slot = self.encoded.lock().unwrap_or_else(|e| e.into_inner());
        let buf = match slot.upgrade() {
            Some(buf) => buf,
            None => {
                let len = self.items.iter().map(|r| r.entry.len()).sum();
                let mut buf = Vec::with_capacity(len);
                for r in &self.items {
                    buf.extend_from_slice(&r.entry);
                }
                let buf = Arc::new(buf);
                *slot = Arc::downgrade(&buf);
                buf
            }
        };
        Bytes::from_owner(SharedBuf(buf))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Arc<Resource>> {
        self.position(name).and_then(|i| self.items.get(i))
    }

    /// The index of the item named `name`.
    pub(crate) fn position(&self, name: &str) -> Option<usize> {
        self.items.binary_search_by(|r| (*r.name).cmp(name)).ok()
    }
}

/// The outbound part of configs, as the compiler shares it between proxies of one view.
#[derive(Debug, Clone, Default)]
pub struct SharedOutbound {
    pub services: Vec<Arc<Service>>,
    pub clusters: Vec<Arc<Cluster>>,
}

/// A proxy's config in shared pieces: publishing it encodes each piece once however many
/// proxies share it (see [`super::ConfigHub::publish_parts`]).
#[derive(Debug, Clone)]
pub struct ProxyParts {
    /// Every top-level field (version, workload, inbound, …). Its `services` and `clusters`
    /// are not used: they are `outbound`.
    pub core: ProxyConfig,
    pub outbound: Arc<SharedOutbound>,
}

impl ProxyParts {
    /// The whole config (sharing the services and clusters).
    pub fn to_config(&self) -> ProxyConfig {
        ProxyConfig {
            services: self.outbound.services.clone(),
            clusters: self.outbound.clusters.clone(),
            ..core_of(&self.core)
        }
    }
}

/// What the hub wants a proxy to run, as resources.
#[derive(Debug)]
pub(crate) struct Desired {
    pub(crate) version: String,
    pub(crate) core: Arc<Resource>,
    pub(crate) outbound: Arc<ResourceSet>,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Config(Arc<ProxyConfig>),
    Parts(Box<ProxyParts>),
}

impl Desired {
    /// The config as published.
    pub(crate) fn config(&self) -> Arc<ProxyConfig> {
        match &self.source {
            Source::Config(c) => c.clone(),
            Source::Parts(p) => Arc::new(p.to_config()),
        }
    }
}

/// A config that cannot be encoded as JSON (not expected of the model's types).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode resource {name}: {source}")]
pub struct EncodeError {
    name: String,
    source: serde_json::Error,
}

/// Encodings by content and by the address of the shared pieces they came from. Weak: an
/// encoding lives as long as some published config (or a stream's ACKed state) holds it. A
/// `Weak` also keeps its allocation, so an address cannot be reused while its entry exists.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    by_version: HashMap<Arc<str>, Weak<Resource>>,
    by_service: HashMap<usize, (Weak<Service>, Weak<Resource>)>,
    by_cluster: HashMap<usize, (Weak<Cluster>, Weak<Resource>)>,
    by_outbound: HashMap<usize, (Weak<SharedOutbound>, Weak<ResourceSet>)>,
    by_config: HashMap<usize, Weak<Desired>>,
    /// Entries at the last sweep of dead ones; the next sweep comes at twice as many.
    swept_at: usize,
}

impl Cache {
    /// `config` as resources; replicas given the same `Arc` share one result.
    pub(crate) fn config(
        &mut self,
        config: &Arc<ProxyConfig>,
    ) -> Result<Arc<Desired>, EncodeError> {
        let key = Arc::as_ptr(config) as usize;
        if let Some(d) = self.by_config.get(&key).and_then(Weak::upgrade) {
            if matches!(&d.source, Source::Config(c) if Arc::ptr_eq(c, config)) {
                return Ok(d);
            }
        }
        let mut items = Vec::with_capacity(config.services.len() + config.clusters.len());
        for s in &config.services {
            items.push(self.encode(ResourceName::service(&s.hostname), s)?);
        }
        for c in &config.clusters {
            items.push(self.encode(ResourceName::cluster(&c.name), c)?);
        }
        let desired = Arc::new(Desired {
            version: config.version.clone(),
            core: self.encode(CORE.to_string(), &core_of(config))?,
            outbound: Arc::new(ResourceSet::new(items)),
            source: Source::Config(config.clone()),
        });
        self.by_config.insert(key, Arc::downgrade(&desired));
        self.sweep();
        Ok(desired)
    }

    /// `parts` as resources: each shared piece is encoded once.
    pub(crate) fn parts(&mut self, parts: ProxyParts) -> Result<Arc<Desired>, EncodeError> {
        let outbound = self.outbound(&parts.outbound)?;
        let core = self.encode(CORE.to_string(), &core_of(&parts.core))?;
        self.sweep();
        Ok(Arc::new(Desired {
            version: parts.core.version.clone(),
            core,
            outbound,
            source: Source::Parts(Box::new(parts)),
        }))
    }

    fn outbound(&mut self, shared: &Arc<SharedOutbound>) -> Result<Arc<ResourceSet>, EncodeError> {
        let key = Arc::as_ptr(shared) as usize;
        if let Some((w, set)) = self.by_outbound.get(&key) {
            if let (Some(_), Some(set)) = (w.upgrade(), set.upgrade()) {
                return Ok(set);
            }
        }
        let mut items = Vec::with_capacity(shared.services.len() + shared.clusters.len());
        for s in &shared.services {
            let key = Arc::as_ptr(s) as usize;
            let memo = self.by_service.get(&key).and_then(|(_, r)| r.upgrade());
            let r = match memo {
                Some(r) => r,
                None => {
                    let r = self.encode(ResourceName::service(&s.hostname), &**s)?;
                    self.by_service
                        .insert(key, (Arc::downgrade(s), Arc::downgrade(&r)));
                    r
                }
            };
            items.push(r);
        }
        for c in &shared.clusters {
            let key = Arc::as_ptr(c) as usize;
            let memo = self.by_cluster.get(&key).and_then(|(_, r)| r.upgrade());
            let r = match memo {
                Some(r) => r,
                None => {
                    let r = self.encode(ResourceName::cluster(&c.name), &**c)?;
                    self.by_cluster
                        .insert(key, (Arc::downgrade(c), Arc::downgrade(&r)));
                    r
                }
            };
            items.push(r);
        }
        let set = Arc::new(ResourceSet::new(items));
        self.by_outbound
            .insert(key, (Arc::downgrade(shared), Arc::downgrade(&set)));
        Ok(set)
    }

    /// Encodes one resource, or returns the held resource of equal content.
    fn encode(
        &mut self,
        name: String,
        value: &impl serde::Serialize,
    ) -> Result<Arc<Resource>, EncodeError> {
        let json = match serde_json::to_vec(value) {
            Ok(json) => json,
            Err(source) => return Err(EncodeError { name, source }),
        };
        let version = content_version(&json);
        if let Some(r) = self
            .by_version
            .get(version.as_str())
            .and_then(Weak::upgrade)
        {
            return Ok(r);
        }
        let entry = wire::resource_entry(&name, &version, &json);
        let version: Arc<str> = Arc::from(version);
        let r = Arc::new(Resource {
            name: Arc::from(name),
            version: version.clone(),
            entry,
        });
        self.by_version.insert(version, Arc::downgrade(&r));
        Ok(r)
    }

    /// Drops entries whose resources are gone, once the maps have doubled since the last time
    /// (amortized: publishing stays linear in what is published).
    fn sweep(&mut self) {
        let len = self.by_version.len()
            + self.by_service.len()
            + self.by_cluster.len()
            + self.by_outbound.len()
            + self.by_config.len();
        if len < 2 * self.swept_at + 1024 {
            return;
        }
        self.by_version.retain(|_, r| r.strong_count() > 0);
        self.by_service.retain(|_, (_, r)| r.strong_count() > 0);
        self.by_cluster.retain(|_, (_, r)| r.strong_count() > 0);
        self.by_outbound.retain(|_, (_, s)| s.strong_count() > 0);
        self.by_config.retain(|_, d| d.strong_count() > 0);
        self.swept_at = self.by_version.len()
            + self.by_service.len()
            + self.by_cluster.len()
            + self.by_outbound.len()
            + self.by_config.len();
    }
}

/// The version of a resource: its content's hash.
fn content_version(json: &[u8]) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, json);
    let mut hex = String::with_capacity(32);
    for b in digest.as_ref().iter().take(16) {
        // Writing to a String cannot fail.
        let _ = write!(hex, "{b:02x}");
    }
    hex
}
