//! Load balancing settings of a DestinationRule traffic policy.

use super::checks::check_duration;
use super::connection_pool::OutlierDetection;
use crate::types::Duration;
use crate::validate::Findings;
use crate::yaml::FieldPath;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Load balancing algorithms that need no tuning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SimpleLb {
    /// Let Istio choose.
    #[default]
    Unspecified,
    /// Deprecated alias of LEAST_REQUEST.
    LeastConn,
    Random,
    /// Forward to the address the caller asked for.
    Passthrough,
    RoundRobin,
    LeastRequest,
}

/// Settings for a load balancing policy: simple or consistent hash (one of), locality or zone
/// aware settings, and slow start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simple: Option<SimpleLb>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent_hash: Option<ConsistentHashLb>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality_lb_setting: Option<LocalityLoadBalancerSetting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_aware_lb_setting: Option<ZoneAwareLoadBalancerSetting>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_duration_secs: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmupConfiguration>,
}

/// Session affinity by hashing a request property.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsistentHashLb {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_header_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_cookie: Option<HttpCookie>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_source_ip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_query_parameter_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_hash: Option<RingHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maglev: Option<MagLev>,
    /// Deprecated: use `ringHash.minimumRingSize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_ring_size: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RingHash {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_ring_size: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MagLev {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_size: Option<u64>,
}

/// A cookie to hash on; generated when absent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpCookie {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Duration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<CookieAttribute>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CookieAttribute {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Gradual traffic increase for new endpoints.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarmupConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggression: Option<f64>,
}

/// Locality weighted load balancing: either `distribute` or `failover`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityLoadBalancerSetting {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distribute: Vec<LocalityDistribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failover: Vec<LocalityFailover>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failover_priority: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Traffic from locality `from` is spread over the localities of `to` by weight (summing to 100).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityDistribute {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub to: BTreeMap<String, u32>,
}

/// When region `from` is unhealthy, send traffic to region `to`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalityFailover {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// Envoy's zone aware routing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZoneAwareLoadBalancerSetting {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failover: Vec<LocalityFailover>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failover_priority: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cluster_size: Option<u64>,
}

const TOPOLOGY_LABELS: &[&str] = &[
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];

/// Envoy's primality test for Maglev table sizes.
fn is_prime(x: u64) -> bool {
    if x != 0 && x < 4 {
        return true;
    }
    if x.is_multiple_of(2) {
        return false;
    }
    let mut f = 3u64;
    while f <= x / f {
        if x.is_multiple_of(f) {
            return false;
        }
        f += 2;
    }
    true
}

impl LoadBalancerSettings {
    pub(crate) fn check(
        &self,
        outlier: Option<&OutlierDetection>,
        at: &FieldPath,
        out: &mut Findings,
    ) {
        if self.simple.is_some() && self.consistent_hash.is_some() {
            out.error(
                at,
                "a load balancer takes only one of simple or consistentHash",
            );
        }
        if let Some(ch) = &self.consistent_hash {
            ch.check(&at.field("consistentHash"), out);
        }
        if self.locality_lb_setting.is_some() && self.zone_aware_lb_setting.is_some() {
            out.error(
                at,
                "only one of localityLbSetting and zoneAwareLbSetting may be set",
            );
        }
        if let Some(l) = &self.locality_lb_setting {
            l.check(outlier, &at.field("localityLbSetting"), out);
        }
        if let Some(z) = &self.zone_aware_lb_setting {
            z.check(outlier, &at.field("zoneAwareLbSetting"), out);
        }
        if self.warmup_duration_secs.is_some() && self.warmup.is_some() {
            out.error(at, "only one of warmupDurationSecs or warmup may be set");
        }
        check_duration(
            &self.warmup_duration_secs,
            &at.field("warmupDurationSecs"),
            out,
        );
        if let Some(w) = &self.warmup {
            let p = at.field("warmup");
            if w.duration.is_none() {
                out.error(&p.field("duration"), "warmup duration is required");
            }
            check_duration(&w.duration, &p.field("duration"), out);
            if let Some(m) = w.minimum_percent {
                if !(0.0..=100.0).contains(&m) {
                    out.error(
                        &p.field("minimumPercent"),
                        format!("minimumPercent {m} must be between 0 and 100"),
                    );
                }
            }
            if let Some(a) = w.aggression {
                if a <= 0.0 {
                    out.error(
                        &p.field("aggression"),
                        format!("aggression {a} must be greater than 0"),
                    );
                }
            }
        }
    }
}

impl ConsistentHashLb {
    fn check(&self, at: &FieldPath, out: &mut Findings) {
        let keys = [
            self.http_header_name.is_some(),
            self.http_cookie.is_some(),
            self.use_source_ip.is_some(),
            self.http_query_parameter_name.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if keys > 1 {
            out.error(
                at,
                "consistentHash takes only one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName",
            );
        }
        if self.ring_hash.is_some() && self.maglev.is_some() {
            out.error(at, "consistentHash takes only one of ringHash or maglev");
        }
        if let Some(c) = &self.http_cookie {
            let p = at.field("httpCookie");
            if c.name.is_empty() {
                out.error(&p.field("name"), "httpCookie needs a name");
            }
            let mut names: Vec<&str> = Vec::new();
            for (i, a) in c.attributes.iter().enumerate() {
                let ap = p.field("attributes").index(i).field("name");
                if a.name.is_empty() {
                    out.error(&ap, "a cookie attribute needs a name");
                } else if names.contains(&a.name.as_str()) {
                    out.error(&ap, format!("duplicate cookie attribute {:?}", a.name));
                } else {
                    names.push(&a.name);
                }
            }
        }
        if self.minimum_ring_size.is_some_and(|n| n != 0) {
            let p = at.field("minimumRingSize");
            out.warning(
                &p,
                "minimumRingSize is deprecated; use ringHash.minimumRingSize",
            );
            if self.ring_hash.is_some() || self.maglev.is_some() {
                out.error(
                    &p,
                    "minimumRingSize cannot be combined with ringHash or maglev",
                );
            }
        }
        if let Some(m) = &self.maglev {
            let p = at.field("maglev").field("tableSize");
            let n = m.table_size.unwrap_or(0);
            if n == 0 {
                out.error(&p, "maglev needs a tableSize");
            } else if n >= 5_000_011 {
                out.error(
                    &p,
                    format!("maglev tableSize {n} must be less than 5000011"),
                );
            } else if !is_prime(n) {
                out.error(&p, format!("maglev tableSize {n} must be a prime number"));
            }
        }
    }
}

fn check_failovers(failover: &[LocalityFailover], what: &str, at: &FieldPath, out: &mut Findings) {
    for (i, f) in failover.iter().enumerate() {
        let p = at.field("failover").index(i);
        let from = f.from.as_deref().unwrap_or("");
        let to = f.to.as_deref().unwrap_or("");
        if from == to {
            out.error(&p, format!("{what} failover must go to a different region"));
        }
        if from.contains('/') || to.contains('/') {
            out.error(
                &p,
                format!("{what} failover names regions only (no zone/subzone)"),
            );
        }
        if from.contains('*') || to.contains('*') {
            out.error(&p, format!("{what} failover regions must not contain '*'"));
        }
    }
}

fn warn_no_outlier(
    failover: bool,
    outlier: Option<&OutlierDetection>,
    at: &FieldPath,
    out: &mut Findings,
) {
    if failover && outlier.is_none() {
        out.warning(
            at,
            "failover only happens with outlier detection; set trafficPolicy.outlierDetection",
        );
    }
}

impl LocalityLoadBalancerSetting {
    fn check(&self, outlier: Option<&OutlierDetection>, at: &FieldPath, out: &mut Findings) {
        if !self.distribute.is_empty() && !self.failover.is_empty() {
            out.error(at, "distribute and failover cannot both be set");
            return;
        }
        if !self.failover.is_empty() {
            for (i, l) in self.failover_priority.iter().enumerate() {
                if TOPOLOGY_LABELS.contains(&l.as_str()) {
                    out.error(
                        &at.field("failoverPriority").index(i),
                        format!("topology label {l:?} in failoverPriority cannot be combined with failover"),
                    );
                    return;
                }
            }
        }
        let mut sources = Vec::new();
        for (i, d) in self.distribute.iter().enumerate() {
            let p = at.field("distribute").index(i);
            sources.push(d.from.clone().unwrap_or_default());
            let mut total: u64 = 0;
            for (loc, w) in &d.to {
                if *w == 0 || *w > 100 {
                    out.error(
                        &p.field("to").field(loc),
                        format!("locality weight {w} must be between 1 and 100"),
                    );
                }
                total += u64::from(*w);
            }
            if total != 100 {
                out.error(
                    &p.field("to"),
                    format!("locality weights add up to {total}; they must add up to 100"),
                );
            }
            let dests: Vec<String> = d.to.keys().cloned().collect();
            if let Err(e) = check_localities(&dests) {
                out.error(&p.field("to"), e);
            }
        }
        if let Err(e) = check_localities(&sources) {
            out.error(&at.field("distribute"), e);
        }
        warn_no_outlier(
            !self.failover.is_empty() || !self.failover_priority.is_empty(),
            outlier,
            at,
            out,
        );
        check_failovers(&self.failover, "locality", at, out);
    }
}

impl ZoneAwareLoadBalancerSetting {
    fn check(&self, outlier: Option<&OutlierDetection>, at: &FieldPath, out: &mut Findings) {
        for (i, l) in self.failover_priority.iter().enumerate() {
            if TOPOLOGY_LABELS.contains(&l.as_str()) {
                out.error(
                    &at.field("failoverPriority").index(i),
                    format!("zone aware load balancing handles region and zone itself; {l:?} must not be in failoverPriority"),
                );
            }
        }
        warn_no_outlier(
            !self.failover.is_empty() || !self.failover_priority.is_empty(),
            outlier,
            at,
            out,
        );
        check_failovers(&self.failover, "zone aware", at, out);
        if self.min_cluster_size == Some(0) {
            out.error(
                &at.field("minClusterSize"),
                "minClusterSize must be at least 1",
            );
        }
    }
}

/// Localities `region[/zone[/subzone]]`, with at most one trailing `*`, not overlapping.
fn check_localities(localities: &[String]) -> Result<(), String> {
    let mut seen: Vec<Vec<&str>> = Vec::new();
    for loc in localities {
        let stars = loc.matches('*').count();
        if stars > 1 || (stars == 1 && !loc.ends_with('*')) {
            return Err(format!(
                "locality {loc:?}: at most one '*' is allowed, and only at the end"
            ));
        }
        let parts: Vec<&str> = loc.splitn(3, '/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!(
                "locality {loc:?} must not have an empty region, zone or subzone"
            ));
        }
        // An earlier locality covers a later one when they agree on every level both name,
        // or the earlier one has '*' there.
        let covers =
            |a: &[&str], b: &[&str]| a.iter().zip(b.iter()).all(|(x, y)| x == y || *x == "*");
        if seen.iter().any(|s| covers(s, &parts)) {
            return Err(format!("locality {loc:?} overlaps one given before it"));
        }
        seen.push(parts);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes_and_localities() {
        assert!(is_prime(65537));
        assert!(!is_prime(65536));
        assert!(!is_prime(9));
        assert!(check_localities(&["us-west/zone1/*".into(), "us-east".into()]).is_ok());
        assert!(check_localities(&["us-west".into(), "us-west/zone1".into()]).is_err());
        assert!(check_localities(&["*".into(), "us-west".into()]).is_err());
        assert!(check_localities(&["us-west/zone1".into(), "us-west/*".into()]).is_ok());
        assert!(check_localities(&["us-west/*".into(), "us-west/zone1".into()]).is_err());
        assert!(check_localities(&["us-*/zone".into()]).is_err());
        assert!(check_localities(&["us-west//a".into()]).is_err());
    }
}
