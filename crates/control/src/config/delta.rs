//! What to send a proxy: the resources of its desired config that differ from what it holds,
//! and the names it holds that the config no longer has. What it holds is known from its
//! ACKs (the config last ACKed on this stream, shared with the hub, so a proxy costs one
//! pointer), or from its hello after a reconnect (the names and versions it reported, kept as
//! a few bytes per resource against the config the hub had then), or is unknown (first
//! connection, or after a NACK): then the whole config is sent.

use super::resources::{Desired, Resource, ResourceSet};
use super::wire::{Message, ResponseWriter};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;
use verimesh_api::config::v1 as pb;
use verimesh_api::resource::CORE;

/// What a proxy holds, as far as its stream knows.
#[derive(Debug)]
pub(crate) enum Held {
    /// Unknown: send the whole config.
    Nothing,
    /// The config it ACKed.
    Acked(Arc<Desired>),
    /// What its hello reported when the hub had no config for it yet: the version it runs,
    /// its resources' versions by name.
    Reported {
        version: String,
        resources: HashMap<String, String>,
    },
    /// What its hello reported, matched against the config the hub had then (`base`): for
    /// each of base's resources whether the proxy holds that very version, and the names it
    /// holds that base lacks. A thousand proxies reconnecting to a restarted control plane
    /// each report thousands of names; kept as reported, they would cost hundreds of
    /// kilobytes per proxy until the first push is answered.
    Matched {
        version: String,
        base: Arc<Desired>,
        core: Holding,
        /// One per item of `base.outbound`.
        items: Vec<Holding>,
        extra: Vec<String>,
    },
}

/// Whether a proxy holds a resource of the base config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holding {
    Absent,
    /// The base's version of it.
    Same,
    /// Another version.
    Other,
}

impl Held {
    /// What `hello` reports, matched against `base` (the config the hub has for the proxy
    /// now) if there is one.
    pub(crate) fn from_hello(hello: &pb::Hello, base: Option<Arc<Desired>>) -> Self {
        if hello.resources.is_empty() {
            return Self::Nothing;
        }
        let Some(base) = base else {
            return Self::Reported {
                version: hello.running_version.clone(),
                resources: hello
                    .resources
                    .iter()
                    .map(|r| (r.name.clone(), r.version.clone()))
                    .collect(),
            };
        };
        let holding = |theirs: &str, ours: &str| {
            if theirs == ours {
                Holding::Same
            } else {
                Holding::Other
            }
        };
        let mut core = Holding::Absent;
        let mut items = vec![Holding::Absent; base.outbound.items.len()];
        let mut extra = Vec::new();
        for r in &hello.resources {
            if r.name == CORE {
                core = holding(&r.version, &base.core.version);
            } else if let Some(i) = base.outbound.position(&r.name) {
                items[i] = holding(&r.version, &base.outbound.items[i].version);
            } else {
                extra.push(r.name.clone());
            }
        }
        Self::Matched {
            version: hello.running_version.clone(),
            base,
            core,
            items,
            extra,
        }
    }
}

/// One response's content.
#[derive(Debug)]
pub(crate) struct Delta {
    pub(crate) full: bool,
    pub(crate) base_version: String,
    pub(crate) resources: Vec<Arc<Resource>>,
    /// A whole set, sent after `resources` (a whole config: its outbound set, whose encoding
    /// every stream shares).
    pub(crate) set: Option<Arc<ResourceSet>>,
    pub(crate) removed: Vec<String>,
}

impl Delta {
    /// `next` against what the proxy holds.
    pub(crate) fn new(held: &Held, next: &Desired) -> Self {
        match held {
            Held::Nothing => Self::full(next),
            Held::Acked(prev) => Self::from_acked(prev, next),
            Held::Reported { version, resources } => Self::from_reported(version, resources, next),
            Held::Matched {
                version,
                base,
                core,
                items,
                extra,
            } => Self::from_matched(version, base, *core, items, extra, next),
        }
    }

    fn full(next: &Desired) -> Self {
        Self {
            full: true,
            base_version: String::new(),
            resources: vec![next.core.clone()],
            set: Some(next.outbound.clone()),
            removed: Vec::new(),
        }
    }

    /// Both sets are sorted by name: one merge walk. Sets shared between proxies (the usual
    /// case) are compared by pointer first, and resources by pointer before version.
    fn from_acked(prev: &Desired, next: &Desired) -> Self {
        let mut delta = Self {
            full: false,
            base_version: prev.version.clone(),
            resources: Vec::new(),
            set: None,
            removed: Vec::new(),
        };
        if prev.core.version != next.core.version {
            delta.resources.push(next.core.clone());
        }
        if Arc::ptr_eq(&prev.outbound, &next.outbound) {
            return delta;
        }
        let (mut old, mut new) = (
            prev.outbound.items.iter().peekable(),
            next.outbound.items.iter().peekable(),
        );
        loop {
            let order = match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(o), Some(n)) => o.name.cmp(&n.name),
            };
            match order {
                Ordering::Less => {
                    if let Some(o) = old.next() {
                        delta.removed.push(o.name.to_string());
                    }
                }
                Ordering::Greater => delta.resources.extend(new.next().cloned()),
                Ordering::Equal => {
                    if let (Some(o), Some(n)) = (old.next(), new.next()) {
                        if !Arc::ptr_eq(o, n) && o.version != n.version {
                            delta.resources.push(n.clone());
                        }
                    }
                }
            }
        }
        delta
    }

    fn from_reported(version: &str, held: &HashMap<String, String>, next: &Desired) -> Self {
        let differs = |r: &Resource| held.get(&*r.name).map(String::as_str) != Some(&*r.version);
        let mut resources: Vec<Arc<Resource>> = std::iter::once(&next.core)
            .chain(next.outbound.items.iter())
            .filter(|r| differs(r))
            .cloned()
            .collect();
        resources.shrink_to_fit();
        let mut removed: Vec<String> = held
            .keys()
            .filter(|name| name.as_str() != CORE && next.outbound.get(name).is_none())
            .cloned()
            .collect();
        removed.sort();
        Self {
            full: false,
            base_version: version.to_string(),
            resources,
            set: None,
            removed,
        }
    }

    fn from_matched(
        version: &str,
        base: &Desired,
        core: Holding,
        items: &[Holding],
        extra: &[String],
        next: &Desired,
    ) -> Self {
        let same_set = Arc::ptr_eq(&base.outbound, &next.outbound);
        let base_index = |j: usize, name: &str| {
            if same_set {
                Some(j)
            } else {
                base.outbound.position(name)
            }
        };
        let mut resources = Vec::new();
        if core != Holding::Same || base.core.version != next.core.version {
            resources.push(next.core.clone());
        }
        for (j, n) in next.outbound.items.iter().enumerate() {
            let held = base_index(j, &n.name).is_some_and(|i| {
                items.get(i) == Some(&Holding::Same) && base.outbound.items[i].version == n.version
            });
            if !held {
                resources.push(n.clone());
            }
        }
        let mut removed: Vec<String> = extra
            .iter()
            .filter(|name| next.outbound.position(name).is_none())
            .cloned()
            .collect();
        if !same_set {
            removed.extend(
                base.outbound
                    .items
                    .iter()
                    .zip(items)
                    .filter(|(r, h)| {
                        **h != Holding::Absent && next.outbound.position(&r.name).is_none()
                    })
                    .map(|(r, _)| r.name.to_string()),
            );
        }
        removed.sort();
        Self {
            full: false,
            base_version: version.to_string(),
            resources,
            set: None,
            removed,
        }
    }

    /// How many resources it sends.
    pub(crate) fn resource_count(&self) -> usize {
        self.resources.len() + self.set.as_ref().map_or(0, |s| s.items.len())
    }

    /// The response as it goes on the wire: the shared encodings of its resources referenced,
    /// not copied (see [`super::wire`]).
    pub(crate) fn message(&self, version: &str, nonce: &str) -> Message {
        let mut w = ResponseWriter::head(version, nonce, self.full, &self.base_version);
        for r in &self.resources {
            w.entries(&r.entry);
        }
        if let Some(set) = &self.set {
            w.entries(&set.encoded());
        }
        for name in &self.removed {
            w.removed(name);
        }
        w.finish()
    }

    /// The response as a message (what [`Delta::message`] encodes; for tests).
    #[cfg(test)]
    pub(crate) fn response(&self, version: &str, nonce: String) -> pb::ConfigResponse {
        use prost::Message as _;
        let set = self.set.iter().flat_map(|s| s.items.iter());
        let resources = self
            .resources
            .iter()
            .chain(set)
            .flat_map(|r| {
                // An entry is a response holding just that resource.
                let one = pb::ConfigResponse::decode(&r.entry[..]).expect("an entry decodes");
                assert_eq!(one.resources[0].name, *r.name);
                one.resources
            })
            .collect();
        pb::ConfigResponse {
            version: version.to_string(),
            nonce,
            full: self.full,
            base_version: self.base_version.clone(),
            resources,
            removed: self.removed.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::resources::{Cache, ProxyParts, SharedOutbound};
    use super::*;
    use prost::Message as _;
    use verimesh_model::{Cluster, ProxyConfig, Service};

    fn desired(cache: &mut Cache, version: &str, hosts: &[&str]) -> Arc<Desired> {
        let outbound = SharedOutbound {
            services: hosts
                .iter()
                .map(|h| {
                    Arc::new(Service {
                        hostname: h.to_string(),
                        aliases: vec!["x".repeat(3000)],
                        ..Default::default()
                    })
                })
                .collect(),
            clusters: vec![Arc::new(Cluster {
                name: "c".into(),
                ..Default::default()
            })],
        };
        let parts = ProxyParts {
            core: ProxyConfig {
                version: version.into(),
                ..Default::default()
            },
            outbound: Arc::new(outbound),
        };
        cache.parts(parts).expect("encodes")
    }

    fn wire_bytes(m: &Message) -> Vec<u8> {
        m.chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }

    #[test]
    fn whole_configs_and_deltas_go_on_the_wire_as_prost_encodes_them() {
        let mut cache = Cache::default();
        let v1 = desired(&mut cache, "v1", &["a", "b"]);
        let v2 = desired(&mut cache, "v2", &["a", "c"]);
        for (held, next) in [(Held::Nothing, &v1), (Held::Acked(v1.clone()), &v2)] {
            let delta = Delta::new(&held, next);
            let message = delta.message(&next.version, "9");
            let body = delta.response(&next.version, "9".into()).encode_to_vec();
            let bytes = wire_bytes(&message);
            assert_eq!(bytes[0], 0);
            assert_eq!(&bytes[1..5], &(body.len() as u32).to_be_bytes());
            assert_eq!(&bytes[5..], &body[..]);
        }
    }

    #[test]
    fn whole_configs_share_one_encoding_of_the_outbound_set() {
        let mut cache = Cache::default();
        let v1 = desired(&mut cache, "v1", &["a", "b", "c"]);
        let first = Delta::new(&Held::Nothing, &v1).message("v1", "1");
        let second = Delta::new(&Held::Nothing, &v1).message("v1", "2");
        // The set is the largest chunk of each, and the same bytes in memory.
        let largest = |m: &Message| {
            m.chunks
                .iter()
                .max_by_key(|c| c.len())
                .map(|c| (c.as_ptr(), c.len()))
        };
        assert_eq!(largest(&first), largest(&second));
        assert!(largest(&first).is_some_and(|(_, len)| len > 9000));
    }

    fn names(d: &Delta) -> (Vec<String>, Vec<String>) {
        let sent = d.resources.iter().map(|r| r.name.to_string()).collect();
        (sent, d.removed.clone())
    }

    fn hello(reported: &[(&str, &str)]) -> pb::Hello {
        pb::Hello {
            name: "p".into(),
            namespace: "ns".into(),
            running_version: "v1".into(),
            resources: reported
                .iter()
                .map(|(name, version)| pb::ResourceVersion {
                    name: name.to_string(),
                    version: version.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_hello_matched_against_the_hub_asks_for_what_the_raw_report_would() {
        let mut cache = Cache::default();
        let v1 = desired(&mut cache, "v1", &["a", "b", "c"]);
        let v2 = desired(&mut cache, "v2", &["a", "d"]);
        let version = |d: &Desired, name: &str| {
            if name == CORE {
                return d.core.version.to_string();
            }
            d.outbound
                .get(name)
                .map(|r| r.version.to_string())
                .unwrap_or_default()
        };
        let (core, a, b, c) = (
            version(&v1, CORE),
            version(&v1, "service/a"),
            version(&v1, "service/b"),
            version(&v1, "service/c"),
        );
        let reports: Vec<Vec<(&str, &str)>> = vec![
            // Everything of v1, as it is.
            vec![
                (CORE, &core),
                ("service/a", &a),
                ("service/b", &b),
                ("service/c", &c),
                ("cluster/c", "x"),
            ],
            // A stale service, a missing one, one the hub never had, a stale core.
            vec![
                (CORE, "old"),
                ("service/a", "old"),
                ("service/c", &c),
                ("service/gone", "1"),
            ],
        ];
        for reported in &reports {
            let h = hello(reported);
            for (base, next) in [(&v1, &v1), (&v1, &v2), (&v2, &v2)] {
                let matched = Held::from_hello(&h, Some(base.clone()));
                assert!(matches!(matched, Held::Matched { .. }));
                let raw = Held::from_hello(&h, None);
                assert_eq!(
                    names(&Delta::new(&matched, next)),
                    names(&Delta::new(&raw, next)),
                    "{reported:?} against {} then {}",
                    base.version,
                    next.version
                );
            }
        }
        // Holding all of v1 exactly, and one more: nothing to send but that one's removal.
        let cluster = version(&v1, "cluster/c");
        let h = hello(&[
            (CORE, &core),
            ("cluster/c", &cluster),
            ("service/a", &a),
            ("service/b", &b),
            ("service/c", &c),
            ("service/zzz", "1"),
        ]);
        let d = Delta::new(&Held::from_hello(&h, Some(v1.clone())), &v1);
        assert_eq!(names(&d), (vec![], vec!["service/zzz".to_string()]));
    }
}
