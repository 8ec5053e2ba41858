//! Reconnection delays: exponential with jitter, so a fleet of proxies that lost a restarted
//! control plane at the same moment does not reconnect in lockstep.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

#[derive(Debug)]
pub(super) struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(super) fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Self {
            initial,
            max: max.max(initial),
            next: initial,
        }
    }

    pub(super) fn reset(&mut self) {
        self.next = self.initial;
    }

    /// The next delay: half the current step plus a random part of the other half (never
    /// shorter than half, so retries stay spaced out), then the step doubles up to the cap.
    pub(super) fn next_delay(&mut self) -> Duration {
        let step = self.next;
        self.next = (step * 2).min(self.max);
        step.mul_f64(0.5 + 0.5 * unit_random())
    }
}

/// A number in `[0, 1)`, random enough for jitter (not for anything secret): every
/// `RandomState` gets fresh keys, and the clock is mixed in.
fn unit_random() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let mut steps = Vec::new();
        for _ in 0..10 {
            steps.push(b.next_delay());
        }
        assert!(steps[0] >= Duration::from_millis(50) && steps[0] <= Duration::from_millis(100));
        assert!(steps[1] >= Duration::from_millis(100) && steps[1] <= Duration::from_millis(200));
        for d in &steps[6..] {
            assert!(
                *d >= Duration::from_millis(2500) && *d <= Duration::from_secs(5),
                "{d:?}"
            );
        }
        // Not all equal: there is jitter.
        let capped: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        assert!(capped.iter().any(|d| *d != capped[0]), "{capped:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
