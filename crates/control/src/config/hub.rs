//! The config hub: the control plane's current config for every proxy, as shared encoded
//! resources, and what each proxy has been sent, has applied (ACK) or refused (NACK). The
//! compiler feeds it; one stream per connected proxy ([`super::service`]) watches its proxy's
//! entry and pushes what changed in every new version.

use super::resources::{Cache, Desired, ProxyParts};
use super::ProxyKey;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::{broadcast, watch, Semaphore};
use verimesh_identity::SpiffeId;
use verimesh_model::ProxyConfig;

/// Where the control plane's placement records say a proxy belongs: the proxy named in a
/// stream's hello is served only to a client certificate of exactly this namespace and
/// service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub namespace: String,
    pub service_account: String,
}

/// The control plane's placement records, looked up when a proxy connects. `None`: no such
/// proxy is known, and the stream is refused.
pub trait PlacementLookup: Send + Sync + 'static {
    fn placement(&self, proxy: &ProxyKey) -> Option<Placement>;
}

/// Knows no proxy: every config stream is refused (a control plane with no placements yet).
#[derive(Debug, Default)]
pub struct NoPlacements;

impl PlacementLookup for NoPlacements {
    fn placement(&self, _: &ProxyKey) -> Option<Placement> {
        None
    }
}

/// Tuning of the hub.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Bytes of responses in flight at once across all proxies (sent, not yet ACKed or
    /// NACKed). A push to every proxy at once — every proxy that just connected, or
    /// reconnected to a restarted control plane, gets its whole config — would have all of
    /// them in transport buffers (and being parsed by the proxies) at the same time; this
    /// bounds it, by size rather than by count, so a thousand one-route deltas go out
    /// together while whole configs of a large mesh queue (Istio's push throttle plays the
    /// same role). A response larger than the bound is sent alone.
    pub max_bytes_in_flight: usize,
    /// How long a push may wait for its ACK or NACK before its slot is given to another
    /// proxy (the stream stays open, and a late answer is still recorded).
    pub ack_timeout: Duration,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            max_bytes_in_flight: 32 << 20,
            ack_timeout: Duration::from_secs(10),
        }
    }
}

/// The unit of [`HubOptions::max_bytes_in_flight`]: a semaphore permit per KiB.
const SLOT_BYTES: usize = 1024;

/// Permits for a bound of `bytes`: at least one, and within what a semaphore and a single
/// acquisition (`u32`) can hold.
fn slots(bytes: usize) -> usize {
    bytes
        .div_ceil(SLOT_BYTES)
        .clamp(1, (u32::MAX as usize).min(Semaphore::MAX_PERMITS))
}

/// A refused config, as the proxy reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NackRecord {
    pub version: String,
    pub error: String,
    pub at: SystemTime,
}

/// One proxy as `verimesh status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyStatus {
    pub proxy: ProxyKey,
    /// Whether a stream for it is open now.
    pub connected: bool,
    /// When the current stream opened.
    pub connected_since: Option<SystemTime>,
    /// The SPIFFE ID of the connected proxy's certificate.
    pub identity: Option<SpiffeId>,
    /// When the certificate the proxy connected with expires.
    pub cert_not_after: Option<SystemTime>,
    /// The version the control plane wants it to run.
    pub published_version: Option<String>,
    pub last_sent_version: Option<String>,
    pub last_acked_version: Option<String>,
    pub last_nack: Option<NackRecord>,
}

impl ProxyStatus {
    /// Connected and running what the control plane published.
    pub fn in_sync(&self) -> bool {
        self.connected
            && self.published_version.is_some()
            && self.published_version == self.last_acked_version
    }
}

/// What happened on a stream; for logs, tests and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    Connected(ProxyKey),
    Disconnected(ProxyKey),
    Acked {
        proxy: ProxyKey,
        version: String,
    },
    Nacked {
        proxy: ProxyKey,
        version: String,
        error: String,
    },
}

/// What a stream needs of its proxy's entry.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) desired: watch::Sender<Option<Arc<Desired>>>,
    pub(crate) track: Mutex<Tracking>,
}

impl Entry {
    fn status(&self, proxy: ProxyKey) -> ProxyStatus {
        let published_version = self.desired.borrow().as_ref().map(|d| d.version.clone());
        let t = self.track.lock().unwrap_or_else(|e| e.into_inner());
        ProxyStatus {
            proxy,
            connected: t.streams > 0,
            connected_since: t.connected_since,
            identity: t.identity.clone(),
            cert_not_after: t.cert_not_after,
            published_version,
            last_sent_version: t.last_sent.clone(),
            last_acked_version: t.last_acked.clone(),
            last_nack: t.last_nack.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Tracking {
    /// Open streams (a reconnecting proxy may briefly have two).
    pub(crate) streams: usize,
    pub(crate) connected_since: Option<SystemTime>,
    pub(crate) identity: Option<SpiffeId>,
    pub(crate) cert_not_after: Option<SystemTime>,
    pub(crate) last_sent: Option<String>,
    pub(crate) last_acked: Option<String>,
    pub(crate) last_nack: Option<NackRecord>,
}

/// Per-proxy configs and push state, shared by the control plane and every config stream.
pub struct ConfigHub {
    placements: Arc<dyn PlacementLookup>,
    entries: RwLock<HashMap<ProxyKey, Arc<Entry>>>,
    pub(crate) pushes: Arc<Semaphore>,
    pub(crate) options: HubOptions,
    events: broadcast::Sender<HubEvent>,
    /// Encoded resources, shared between proxies (see [`super::resources`]).
    cache: Mutex<Cache>,
}

impl fmt::Debug for ConfigHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigHub")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ConfigHub {
    pub fn new(placements: Arc<dyn PlacementLookup>) -> Self {
        Self::with_options(placements, HubOptions::default())
    }

    pub fn with_options(placements: Arc<dyn PlacementLookup>, options: HubOptions) -> Self {
        let (events, _) = broadcast::channel(4096);
        Self {
            placements,
            entries: RwLock::new(HashMap::new()),
            pushes: Arc::new(Semaphore::new(slots(options.max_bytes_in_flight))),
            options,
            events,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// Sets `proxy`'s config. Its stream (if connected) pushes what changed unless the proxy
    /// already has this version: a config's `version` names its content, so an equal version
    /// is not sent again. Returns whether the version changed. Replicas given the same `Arc`
    /// share one encoding; [`ConfigHub::publish_parts`] shares more.
    pub fn publish(&self, proxy: ProxyKey, config: Arc<ProxyConfig>) -> bool {
        let entry = self.entry(proxy.clone());
        if Self::has_version(&entry, &config.version) {
            return false;
        }
        let desired = self.cache().config(&config);
        self.set(&entry, &proxy, desired)
    }

    /// Sets `proxy`'s config from shared pieces: a service, cluster or outbound view that
    /// many proxies share (the compiler's `Arc`s) is encoded once, not once per proxy.
    /// Otherwise as [`ConfigHub::publish`].
    pub fn publish_parts(&self, proxy: ProxyKey, parts: ProxyParts) -> bool {
        let entry = self.entry(proxy.clone());
        if Self::has_version(&entry, &parts.core.version) {
            return false;
        }
        let desired = self.cache().parts(parts);
        self.set(&entry, &proxy, desired)
    }

    /// Publishes the parts of every proxy of a compilation; returns how many proxies got a
    /// new version.
    pub fn publish_all_parts(
        &self,
        configs: impl IntoIterator<Item = (ProxyKey, ProxyParts)>,
    ) -> usize {
        configs
            .into_iter()
            .filter(|(proxy, parts)| self.publish_parts(proxy.clone(), parts.clone()))
            .count()
    }

    /// The push slots a response of `len` bytes takes: one per started KiB, at most all.
    pub(crate) fn slots_for(&self, len: usize) -> u32 {
        let all = slots(self.options.max_bytes_in_flight);
        u32::try_from(len.div_ceil(SLOT_BYTES).clamp(1, all)).unwrap_or(u32::MAX)
    }

    fn has_version(entry: &Entry, version: &str) -> bool {
        entry
            .desired
            .borrow()
            .as_ref()
            .is_some_and(|d| d.version == version)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(
        &self,
        entry: &Entry,
        proxy: &ProxyKey,
        desired: Result<Arc<Desired>, super::resources::EncodeError>,
    ) -> bool {
        match desired {
            Ok(desired) => entry.desired.send_if_modified(|current| {
                if current
                    .as_ref()
                    .is_some_and(|c| c.version == desired.version)
                {
                    return false;
                }
                *current = Some(desired);
                true
            }),
            Err(e) => {
                tracing::error!(%proxy, error = %e, "config not published");
                false
            }
        }
    }

    /// Publishes every config of a compilation; returns how many proxies got a new version.
    pub fn publish_all(
        &self,
        configs: impl IntoIterator<Item = (ProxyKey, Arc<ProxyConfig>)>,
    ) -> usize {
        configs
            .into_iter()
            .filter(|(proxy, config)| self.publish(proxy.clone(), config.clone()))
            .count()
    }

    /// Forgets a proxy that no longer exists, unless a stream for it is still open (its entry
    /// then stays, so a config published again still reaches it). Returns whether it was
    /// forgotten.
    pub fn remove(&self, proxy: &ProxyKey) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let open = entries
            .get(proxy)
            .is_some_and(|e| e.track.lock().unwrap_or_else(|e| e.into_inner()).streams > 0);
        !open && entries.remove(proxy).is_some()
    }

    /// The config the control plane wants `proxy` to run (materialized, if it was published
    /// in parts).
    pub fn published(&self, proxy: &ProxyKey) -> Option<Arc<ProxyConfig>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let desired = entries.get(proxy).and_then(|e| e.desired.borrow().clone());
        desired.map(|d| d.config())
    }

    /// Every known proxy (published to, or connected), sorted.
    pub fn status(&self) -> Vec<ProxyStatus> {
        let entries: Vec<(ProxyKey, Arc<Entry>)> = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        let mut out: Vec<ProxyStatus> = entries
            .into_iter()
            .map(|(proxy, e)| e.status(proxy))
            .collect();
        out.sort_by(|a, b| a.proxy.cmp(&b.proxy));
        out
    }

    /// The status of one proxy.
    pub fn proxy_status(&self, proxy: &ProxyKey) -> Option<ProxyStatus> {
        let entry = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(proxy)
            .cloned()?;
        Some(entry.status(proxy.clone()))
    }

    /// Stream events from now on. A receiver that falls more than 4,096 events behind loses
    /// the oldest (`RecvError::Lagged`).
    pub fn events(&self) -> broadcast::Receiver<HubEvent> {
        self.events.subscribe()
    }

    pub(crate) fn emit(&self, event: HubEvent) {
        // No subscribers is the normal case.
        let _ = self.events.send(event);
    }

    pub(crate) fn placement(&self, proxy: &ProxyKey) -> Option<Placement> {
        self.placements.placement(proxy)
    }

    /// The entry of `proxy`, created empty (a proxy connecting before its first config waits).
    pub(crate) fn entry(&self, proxy: ProxyKey) -> Arc<Entry> {
        if let Some(e) = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&proxy)
        {
            return e.clone();
        }
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(proxy)
            .or_insert_with(|| {
                Arc::new(Entry {
                    desired: watch::Sender::new(None),
                    track: Mutex::new(Tracking::default()),
                })
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_slots_count_started_kibibytes_up_to_the_bound() {
        let hub = ConfigHub::with_options(
            Arc::new(NoPlacements),
            HubOptions {
                max_bytes_in_flight: 64 << 10,
                ..HubOptions::default()
            },
        );
        assert_eq!(hub.pushes.available_permits(), 64);
        assert_eq!(hub.slots_for(0), 1);
        assert_eq!(hub.slots_for(1), 1);
        assert_eq!(hub.slots_for(1024), 1);
        assert_eq!(hub.slots_for(1025), 2);
        // A response over the bound takes all of it: it goes alone, but it goes.
        assert_eq!(hub.slots_for(10 << 20), 64);
        let tiny = ConfigHub::with_options(
            Arc::new(NoPlacements),
            HubOptions {
                max_bytes_in_flight: 0,
                ..HubOptions::default()
            },
        );
        assert_eq!(tiny.pushes.available_permits(), 1);
        assert_eq!(tiny.slots_for(5000), 1);
    }
}
