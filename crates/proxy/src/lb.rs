//! Load balancing over a service's endpoints: ROUND_ROBIN, LEAST_REQUEST (the better of two
//! random picks by active requests, as Envoy does by default) and RANDOM. Picks take no lock:
//! counters are atomics shared with the connections that update them.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    RoundRobin,
    LeastRequest,
    Random,
}

/// Per-endpoint state the balancer reads.
#[derive(Debug, Default)]
pub struct EndpointLoad {
    active: AtomicUsize,
}

impl EndpointLoad {
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Counts a request as active until the returned guard drops.
    pub fn start(self: &Arc<Self>) -> ActiveRequest {
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveRequest(self.clone())
    }
}

pub struct ActiveRequest(Arc<EndpointLoad>);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A balancer for one set of endpoints.
#[derive(Debug)]
pub struct Balancer {
    policy: Policy,
    next: AtomicUsize,
    rng: AtomicU64,
}

impl Balancer {
    pub fn new(policy: Policy, seed: u64) -> Self {
        Balancer {
            policy,
            next: AtomicUsize::new(0),
            // xorshift must not start at zero.
            rng: AtomicU64::new(seed | 1),
        }
    }

    fn random(&self) -> u64 {
        // A racy xorshift step is fine here: two picks seeing the same value only costs a
        // little evenness, never correctness.
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.store(x, Ordering::Relaxed);
        x
    }

    /// Picks among the endpoints for which `healthy` holds; `None` when none is.
    pub fn pick(
        &self,
        loads: &[Arc<EndpointLoad>],
        healthy: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let n = loads.len();
        if n == 0 {
            return None;
        }
        let start = match self.policy {
            Policy::RoundRobin => self.next.fetch_add(1, Ordering::Relaxed) % n,
            Policy::Random => (self.random() % n as u64) as usize,
            Policy::LeastRequest => {
                let a = (self.random() % n as u64) as usize;
                let b = (self.random() % n as u64) as usize;
                match (healthy(a), healthy(b)) {
                    (true, true) => {
                        return Some(if loads[b].active() < loads[a].active() {
                            b
                        } else {
                            a
                        })
                    }
                    (true, false) => return Some(a),
                    (false, true) => return Some(b),
                    (false, false) => a,
                }
            }
        };
        // Skip unhealthy endpoints, visiting each at most once.
        (0..n).map(|i| (start + i) % n).find(|&i| healthy(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loads(n: usize) -> Vec<Arc<EndpointLoad>> {
        (0..n).map(|_| Arc::new(EndpointLoad::default())).collect()
    }

    #[test]
    fn round_robin_is_even_and_skips_unhealthy() {
        let l = loads(3);
        let b = Balancer::new(Policy::RoundRobin, 1);
        let mut counts = [0; 3];
        for _ in 0..300 {
            counts[b.pick(&l, |_| true).unwrap()] += 1;
        }
        assert_eq!(counts, [100, 100, 100]);
        for _ in 0..30 {
            assert_ne!(b.pick(&l, |i| i != 1), Some(1));
        }
        assert_eq!(b.pick(&l, |_| false), None);
        assert_eq!(b.pick(&[], |_| true), None);
    }

    #[test]
    fn least_request_prefers_idle_endpoints() {
        let l = loads(2);
        let _busy: Vec<_> = (0..10).map(|_| l[0].start()).collect();
        let b = Balancer::new(Policy::LeastRequest, 7);
        let picks: Vec<usize> = (0..200).filter_map(|_| b.pick(&l, |_| true)).collect();
        let to_idle = picks.iter().filter(|&&i| i == 1).count();
        // Whenever both endpoints are drawn, the idle one wins: about 3/4 of all picks.
        assert!(to_idle > 130, "{to_idle} of 200 went to the idle endpoint");
        drop(_busy);
        assert_eq!(l[0].active(), 0);
    }

    #[test]
    fn random_covers_all_endpoints() {
        let l = loads(4);
        let b = Balancer::new(Policy::Random, 42);
        let mut seen = [0; 4];
        for _ in 0..400 {
            seen[b.pick(&l, |_| true).unwrap()] += 1;
        }
        assert!(seen.iter().all(|&c| c > 50), "{seen:?}");
    }
}
