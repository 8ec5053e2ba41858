//! How much a run's pooled p99 comparison could have come out otherwise. The pooled p99 of
//! two chains is decided in part by which rounds a stall of the machine happened to hit, so
//! the rounds themselves are resampled: each draw picks as many rounds as the run had, with
//! replacement and keeping a round's chains together (they ran side by side), and recomputes
//! the pooled p99 difference. The spread of the draws is the uncertainty of the run's one
//! number; the share of draws above zero is how often a run like this one would have come
//! out the other way.

use crate::http_load::nearest_rank;

/// The pooled p99 difference (second chain minus first) over resampled runs, in ms.
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// 5th and 95th percentiles of the draws: a 90 % interval.
    pub low: f64,
    pub high: f64,
    /// The share of draws in which the second chain's p99 was above the first's.
    pub above_zero: f64,
}

/// `rounds[r]` holds round r's latencies in µs for the two chains compared.
pub fn pooled_p99_difference(rounds: &[(&[u64], &[u64])], draws: usize) -> Option<Spread> {
    if rounds.is_empty() || draws == 0 {
        return None;
    }
    // A fixed seed: the same run gives the same interval when its numbers are re-read.
    let mut rng = SplitMix(0x5eed_5eed_5eed);
    let mut picked = Vec::with_capacity(rounds.len());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut diffs = Vec::with_capacity(draws);
    for _ in 0..draws {
        picked.clear();
        picked.extend((0..rounds.len()).map(|_| rng.below(rounds.len())));
        a.clear();
        b.clear();
        for &r in &picked {
            a.extend_from_slice(rounds[r].0);
            b.extend_from_slice(rounds[r].1);
        }
        let (Some(pa), Some(pb)) = (p99(&mut a), p99(&mut b)) else {
            return None;
        };
        diffs.push((pb as f64 - pa as f64) / 1000.0);
    }
    diffs.sort_by(f64::total_cmp);
    let at = |q: f64| diffs[((diffs.len() - 1) as f64 * q).round() as usize];
    Some(Spread {
        low: at(0.05),
        high: at(0.95),
        above_zero: diffs.iter().filter(|d| **d > 0.0).count() as f64 / diffs.len() as f64,
    })
}

/// The 99th percentile the way `Latencies::percentile` takes it, reordering `v` in place.
fn p99(v: &mut [u64]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    Some(*v.select_nth_unstable(nearest_rank(v.len(), 0.99)).1)
}

/// SplitMix64: small, fast and good enough to pick rounds.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` ≤ 2³²: the bias of a 64-bit multiply-shift is then nil here).
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_gap_has_no_spread() {
        let a: Vec<u64> = (100..1100).collect();
        let b: Vec<u64> = a.iter().map(|x| x + 100).collect();
        let rounds: Vec<(&[u64], &[u64])> = (0..10).map(|_| (&a[..], &b[..])).collect();
        let s = pooled_p99_difference(&rounds, 200).expect("rounds given");
        assert_eq!((s.low, s.high, s.above_zero), (0.1, 0.1, 1.0));
    }

    #[test]
    fn equal_chains_are_never_above() {
        let a: Vec<u64> = (0..500).map(|x| x * 3 % 701).collect();
        let rounds: Vec<(&[u64], &[u64])> = (0..8).map(|_| (&a[..], &a[..])).collect();
        let s = pooled_p99_difference(&rounds, 200).expect("rounds given");
        assert_eq!((s.low, s.high, s.above_zero), (0.0, 0.0, 0.0));
    }

    /// One round of ten where the second chain stalled: its pooled p99 is the stall's
    /// whenever that round is drawn at all, which happens in 1 − 0.9¹⁰ ≈ 65 % of draws.
    #[test]
    fn one_stalled_round_decides_as_often_as_it_is_drawn() {
        let quiet = vec![1_000u64; 100];
        let stalled = vec![5_000u64; 100];
        let mut rounds: Vec<(&[u64], &[u64])> = vec![(&quiet, &stalled)];
        rounds.extend((0..9).map(|_| (&quiet[..], &quiet[..])));
        let s = pooled_p99_difference(&rounds, 4_000).expect("rounds given");
        assert!((0.62..0.68).contains(&s.above_zero), "{}", s.above_zero);
        assert_eq!((s.low, s.high), (0.0, 4.0));
    }

    #[test]
    fn picks_cover_every_round_evenly() {
        let mut rng = SplitMix(1);
        let mut seen = [0u32; 7];
        for _ in 0..70_000 {
            seen[rng.below(7)] += 1;
        }
        assert!(seen.iter().all(|n| (9_500..10_500).contains(n)), "{seen:?}");
    }

    #[test]
    fn nothing_to_resample() {
        assert_eq!(pooled_p99_difference(&[], 100), None);
        let empty: Vec<u64> = Vec::new();
        assert_eq!(pooled_p99_difference(&[(&empty, &empty)], 100), None);
    }
}
