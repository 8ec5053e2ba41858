//! `verimesh.config.v1.ConfigService`: one stream per proxy. The hello names the proxy; the
//! caller's client certificate must be that proxy's identity by the placement records. Then the
//! stream pushes the proxy's config whenever its version changes — the resources that differ
//! from what the proxy holds — one push at a time: the next is sent only after the proxy
//! answered the previous one (or the answer timed out).

use super::delta::{Delta, Held};
use super::hub::{ConfigHub, Entry, HubEvent, NackRecord};
use super::requests::Requests;
use super::resources::Desired;
use super::stream_body::Outgoing;
use super::wire::Message;
use super::ProxyKey;
use crate::service::ConnInfo;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tonic::Status;
use verimesh_api::config::v1::config_request::Kind;
use verimesh_api::config::v1::ConfigRequest;
use verimesh_identity::SpiffeId;

/// A stream whose hello does not arrive within this time is dropped.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// The config stream over a [`ConfigHub`]; served by [`ConfigService::call`].
#[derive(Debug, Clone)]
pub struct ConfigService {
    pub(super) hub: Arc<ConfigHub>,
}

impl ConfigService {
    pub fn new(hub: Arc<ConfigHub>) -> Self {
        Self { hub }
    }
}

type Outbound = mpsc::Sender<Outgoing>;

impl ConfigService {
    /// Reads the hello, checks the caller's identity, and starts the stream's push task;
    /// returns what the task sends, or why the stream is refused.
    pub(super) async fn open(
        &self,
        conn: Option<ConnInfo>,
        mut inbound: Requests,
    ) -> Result<mpsc::Receiver<Outgoing>, Status> {
        let remote = conn
            .as_ref()
            .map(|c| c.remote.to_string())
            .unwrap_or_else(|| "unknown".to_string());
        let hello = match tokio::time::timeout(HELLO_TIMEOUT, inbound.message()).await {
            Err(_) => return Err(Status::deadline_exceeded("no hello")),
            Ok(Err(status)) => return Err(status),
            Ok(Ok(None)) => return Err(Status::cancelled("stream closed before the hello")),
            Ok(Ok(Some(ConfigRequest {
                kind: Some(Kind::Hello(hello)),
            }))) => hello,
            Ok(Ok(Some(_))) => {
                return Err(Status::invalid_argument(
                    "the first message must be a hello",
                ))
            }
        };
        let proxy = ProxyKey::new(hello.namespace.clone(), hello.name.clone());
        let not_after = conn.as_ref().and_then(|c| c.peer_not_after);
        let peer = conn.and_then(|c| c.peer);
        let identity = self
            .authorize(&proxy, peer.as_ref())
            .inspect_err(|status| {
                tracing::warn!(%remote, %proxy, peer = ?peer.as_ref().map(|p| p.to_string()),
                    reason = status.message(), "config stream refused");
            })?;
        tracing::info!(%remote, %proxy, %identity, running = %hello.running_version,
            resources = hello.resources.len(), "proxy connected");
        let entry = self.hub.entry(proxy.clone());
        let held = Held::from_hello(&hello, entry.desired.borrow().clone());
        drop(hello);
        let (tx, rx) = mpsc::channel(1);
        let session = Session {
            entry,
            hub: self.hub.clone(),
            proxy,
            remote,
        };
        tokio::spawn(session.run(identity, not_after, held, inbound, tx));
        Ok(rx)
    }
}

impl ConfigService {
    /// The proxy named in the hello is served only to its own identity: the client
    /// certificate's namespace and service account must be the placement's for that proxy.
    fn authorize(&self, proxy: &ProxyKey, peer: Option<&SpiffeId>) -> Result<SpiffeId, Status> {
        let Some(peer) = peer else {
            return Err(Status::unauthenticated(
                "a config stream needs the proxy's mesh client certificate",
            ));
        };
        if proxy.name.is_empty() || proxy.namespace.is_empty() {
            return Err(Status::invalid_argument("the hello must name the proxy"));
        }
        let Some(placement) = self.hub.placement(proxy) else {
            return Err(Status::permission_denied(format!("unknown proxy {proxy}")));
        };
        let own = peer.namespace_and_account()
            == Some((&placement.namespace, &placement.service_account))
            && placement.namespace == proxy.namespace;
        if !own {
            return Err(Status::permission_denied(format!(
                "{peer} may not receive the config of {proxy} (namespace {}, service account {})",
                placement.namespace, placement.service_account
            )));
        }
        Ok(peer.clone())
    }
}

/// A push waiting for its ACK or NACK.
struct Pending {
    nonce: String,
    desired: Arc<Desired>,
    /// Whether it was the whole config (else a delta).
    full: bool,
    /// The push slot, given back on the answer or when it times out.
    slot: Option<OwnedSemaphorePermit>,
}

/// A stream's push state.
struct PushState {
    /// What the proxy holds: the basis of the next delta.
    held: Held,
    /// The version last sent (not sent again unless a delta of it was refused).
    sent: Option<String>,
    pending: Option<Pending>,
    counter: u64,
}

/// A push built and waiting for its slot.
struct Prepared {
    desired: Arc<Desired>,
    nonce: String,
    full: bool,
    message: Message,
}

impl Prepared {
    fn new(next: Arc<Desired>, st: &PushState) -> Self {
        let nonce = (st.counter + 1).to_string();
        // A push still unanswered (timed out) may or may not have been applied: the proxy's
        // state is unknown, so only the whole config is safe.
        let basis = if st.pending.is_some() {
            &Held::Nothing
        } else {
            &st.held
        };
        let delta = Delta::new(basis, &next);
        let message = delta.message(&next.version, &nonce);
        tracing::debug!(version = %next.version, full = delta.full, resources = delta.resource_count(),
            removed = delta.removed.len(), bytes = message.len(), "push prepared");
        Self {
            full: delta.full,
            desired: next,
            nonce,
            message,
        }
    }

    /// Push slots it takes: its size (see [`super::HubOptions::max_bytes_in_flight`]).
    fn cost(&self, hub: &ConfigHub) -> u32 {
        hub.slots_for(self.message.len())
    }
}

struct Session {
    hub: Arc<ConfigHub>,
    entry: Arc<Entry>,
    proxy: ProxyKey,
    remote: String,
}

impl Session {
    async fn run(
        self,
        identity: SpiffeId,
        not_after: Option<SystemTime>,
        held: Held,
        mut inbound: Requests,
        tx: Outbound,
    ) {
        {
            let mut t = self.track();
            t.streams += 1;
            t.connected_since = Some(SystemTime::now());
            t.identity = Some(identity);
            t.cert_not_after = not_after;
        }
        self.hub.emit(HubEvent::Connected(self.proxy.clone()));
        let result = self.push_loop(held, &mut inbound, &tx).await;
        {
            let mut t = self.track();
            t.streams = t.streams.saturating_sub(1);
            if t.streams == 0 {
                t.connected_since = None;
            }
        }
        self.hub.emit(HubEvent::Disconnected(self.proxy.clone()));
        match result {
            Ok(()) => {
                tracing::info!(remote = %self.remote, proxy = %self.proxy, "proxy disconnected")
            }
            Err(status) => {
                tracing::info!(remote = %self.remote, proxy = %self.proxy, error = %status.message(), "config stream ended");
                // The proxy may still be listening: tell it why.
                let _ = tx.try_send(Outgoing::End(status));
            }
        }
    }

    fn track(&self) -> std::sync::MutexGuard<'_, super::hub::Tracking> {
        self.entry.track.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn push_loop(
        &self,
        held: Held,
        inbound: &mut Requests,
        tx: &Outbound,
    ) -> Result<(), Status> {
        let mut desired = self.entry.desired.subscribe();
        let mut st = PushState {
            held,
            sent: None,
            pending: None,
            counter: 0,
        };
        let mut deadline = pin!(tokio::time::sleep(Duration::ZERO));
        loop {
            let next = desired
                .borrow_and_update()
                .clone()
                .filter(|d| st.sent.as_deref() != Some(d.version.as_str()));
            let can_push = st.pending.as_ref().is_none_or(|p| p.slot.is_none());
            // Built before its slot is taken: the slot's size is the response's.
            let prepared = next.filter(|_| can_push).map(|n| Prepared::new(n, &st));
            let cost = prepared.as_ref().map_or(1, |p| p.cost(&self.hub));
            let waiting = st.pending.as_ref().is_some_and(|p| p.slot.is_some());
            tokio::select! {
                msg = inbound.message() => match msg? {
                    Some(req) => self.answer(req, &mut st)?,
                    None => return Ok(()),
                },
                slot = self.hub.pushes.clone().acquire_many_owned(cost), if prepared.is_some() => {
                    let slot = slot.map_err(|_| Status::unavailable("shutting down"))?;
                    let Some(prepared) = prepared else { continue };
                    if !self.push(prepared, slot, &mut st, tx).await {
                        return Ok(());
                    }
                    deadline.as_mut().reset(tokio::time::Instant::now() + self.hub.options.ack_timeout);
                }
                () = &mut deadline, if waiting => {
                    tracing::warn!(remote = %self.remote, proxy = %self.proxy,
                        "no ACK or NACK within {:?}; pushing to others meanwhile", self.hub.options.ack_timeout);
                    if let Some(p) = st.pending.as_mut() {
                        p.slot = None;
                    }
                }
                changed = desired.changed() => {
                    // The entry (and so the sender) lives as long as this session holds it.
                    if changed.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Sends a prepared push; false if the stream is gone.
    async fn push(
        &self,
        prepared: Prepared,
        slot: OwnedSemaphorePermit,
        st: &mut PushState,
        tx: &Outbound,
    ) -> bool {
        let Prepared {
            desired: next,
            nonce,
            full,
            message,
        } = prepared;
        if tx.send(Outgoing::Message(message)).await.is_err() {
            return false;
        }
        st.counter += 1;
        self.track().last_sent = Some(next.version.clone());
        st.sent = Some(next.version.clone());
        st.pending = Some(Pending {
            nonce,
            full,
            desired: next,
            slot: Some(slot),
        });
        true
    }

    /// An ACK or NACK: recorded when it answers the push in flight; a stale one (an answer to
    /// an earlier push, overtaken) is ignored, as in xDS.
    fn answer(&self, req: ConfigRequest, st: &mut PushState) -> Result<(), Status> {
        let nonce = match &req.kind {
            Some(Kind::Ack(a)) => &a.nonce,
            Some(Kind::Nack(n)) => &n.nonce,
            Some(Kind::Hello(_)) => return Err(Status::invalid_argument("a second hello")),
            None => return Err(Status::invalid_argument("an empty request")),
        };
        let Some(p) = st.pending.take_if(|p| &p.nonce == nonce) else {
            tracing::debug!(proxy = %self.proxy, %nonce, "stale answer ignored");
            return Ok(());
        };
        match req.kind {
            Some(Kind::Ack(ack)) => {
                let version = p.desired.version.clone();
                if ack.version != version {
                    tracing::warn!(proxy = %self.proxy, acked = %ack.version, sent = %version,
                        "ACK names another version than was sent; recording the one sent");
                }
                // The proxy holds exactly what was sent: the basis of the next delta, shared
                // with the hub rather than copied.
                st.held = Held::Acked(p.desired);
                self.track().last_acked = Some(version.clone());
                self.hub.emit(HubEvent::Acked {
                    proxy: self.proxy.clone(),
                    version,
                });
            }
            Some(Kind::Nack(nack)) => {
                let version = p.desired.version.clone();
                tracing::warn!(remote = %self.remote, proxy = %self.proxy, %version, full = p.full,
                    running = %nack.running_version, error = %nack.error, "proxy refused its config");
                // The proxy kept its last good config, but whether that is what this stream
                // thinks it holds is no longer certain (a delta may have been refused because
                // the proxy's state differs): the next push is the whole config. A refused
                // delta is resent at once that way; a refused whole config waits for the next
                // version, as it would be refused again.
                st.held = Held::Nothing;
                if !p.full {
                    st.sent = None;
                }
                self.track().last_nack = Some(NackRecord {
                    version: version.clone(),
                    error: nack.error.clone(),
                    at: SystemTime::now(),
                });
                self.hub.emit(HubEvent::Nacked {
                    proxy: self.proxy.clone(),
                    version,
                    error: nack.error,
                });
            }
            _ => {}
        }
        Ok(())
    }
}
