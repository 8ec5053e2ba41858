//! What to send a proxy: the resources of its desired config that differ from what it holds,
//! and the names it holds that the config no longer has. What it holds is known from its
//! ACKs (the config last ACKed on this stream, shared with the hub, so a proxy costs one
//! pointer), or from its hello after a reconnect (the names and versions it reported), or is
//! unknown (first connection, or after a NACK): then the whole config is sent.

use super::resources::{Desired, Resource};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;
use verimesh_api::config::v1::{self as pb, ConfigResponse};
use verimesh_api::resource::CORE;

/// What a proxy holds, as far as its stream knows.
#[derive(Debug)]
pub(crate) enum Held {
    /// Unknown: send the whole config.
    Nothing,
    /// The config it ACKed.
    Acked(Arc<Desired>),
    /// What its hello reported: the version it runs, its resources' versions by name.
    Reported {
        version: String,
        resources: HashMap<String, String>,
    },
}

impl Held {
    pub(crate) fn from_hello(hello: &pb::Hello) -> Self {
        if hello.resources.is_empty() {
            return Self::Nothing;
        }
        Self::Reported {
            version: hello.running_version.clone(),
            resources: hello
                .resources
                .iter()
                .map(|r| (r.name.clone(), r.version.clone()))
                .collect(),
        }
    }
}

/// One response's content.
#[derive(Debug)]
pub(crate) struct Delta {
    pub(crate) full: bool,
    pub(crate) base_version: String,
    pub(crate) resources: Vec<Arc<Resource>>,
    pub(crate) removed: Vec<String>,
}

impl Delta {
    /// `next` against what the proxy holds.
    pub(crate) fn new(held: &Held, next: &Desired) -> Self {
        match held {
            Held::Nothing => Self::full(next),
            Held::Acked(prev) => Self::from_acked(prev, next),
            Held::Reported { version, resources } => Self::from_reported(version, resources, next),
        }
    }

    fn full(next: &Desired) -> Self {
        let mut resources = Vec::with_capacity(next.outbound.items.len() + 1);
        resources.push(next.core.clone());
        resources.extend(next.outbound.items.iter().cloned());
        Self {
            full: true,
            base_version: String::new(),
            resources,
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
            removed,
        }
    }

    pub(crate) fn response(&self, version: &str, nonce: String) -> ConfigResponse {
        ConfigResponse {
            version: version.to_string(),
            nonce,
            full: self.full,
            base_version: self.base_version.clone(),
            resources: self
                .resources
                .iter()
                .map(|r| pb::Resource {
                    name: r.name.to_string(),
                    version: r.version.to_string(),
                    json: r.json.clone(),
                })
                .collect(),
            removed: self.removed.clone(),
        }
    }
}
