//! How much a run's pooled p99 comparison could have come out otherwise. The pooled p99 of
//! two chains is decided in part by which rounds a stall of the machine happened to hit, and
//! in part by the processes themselves: where address randomization put each proxy's code
//! and data, which CPU it settled on. So the run is resampled at both levels: each draw picks
//! as many starts of the proxies as the run had, with replacement, and within each start as
//! many of its rounds, with replacement and keeping a round's chains together (they ran side
//! by side), and recomputes the pooled p99 difference. The spread of the draws is the
//! uncertainty of the run's one number; the share of draws above zero is how often a run
//! like this one would have come out the other way.

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

/// One round of the two chains compared: their latencies in µs, and which start of the
/// proxies it ran on.
#[derive(Debug, Clone, Copy)]
pub struct Round<'a> {
    pub start: usize,
    pub first: &'a [u64],
    pub second: &'a [u64],
}

pub fn pooled_p99_difference(rounds: &[Round<'_>], draws: usize) -> Option<Spread> {
    if rounds.is_empty() || draws == 0 {
        return None;
    }
    // Round indices by start, in the order the starts first appear.
    let mut starts: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, r) in rounds.iter().enumerate() {
        match starts.iter_mut().find(|(s, _)| *s == r.start) {
            Some((_, members)) => members.push(i),
            None => starts.push((r.start, vec![i])),
        }
    }
    // A fixed seed: the same run gives the same interval when its numbers are re-read.
    let mut rng = SplitMix(0x5eed_5eed_5eed);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut diffs = Vec::with_capacity(draws);
    for _ in 0..draws {
        a.clear();
        b.clear();
        for _ in 0..starts.len() {
            let members = &starts[rng.below(starts.len())].1;
            for _ in 0..members.len() {
                let r = &rounds[members[rng.below(members.len())]];
                a.extend_from_slice(r.first);
                b.extend_from_slice(r.second);
            }
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

    fn round<'a>(start: usize, first: &'a [u64], second: &'a [u64]) -> Round<'a> {
        Round {
            start,
            first,
            second,
        }
    }

    #[test]
    fn a_steady_gap_has_no_spread() {
        let a: Vec<u64> = (100..1100).collect();
        let b: Vec<u64> = a.iter().map(|x| x + 100).collect();
        let rounds: Vec<Round> = (0..10).map(|_| round(0, &a, &b)).collect();
        let s = pooled_p99_difference(&rounds, 200).expect("rounds given");
        assert_eq!((s.low, s.high, s.above_zero), (0.1, 0.1, 1.0));
    }

    #[test]
    fn equal_chains_are_never_above() {
        let a: Vec<u64> = (0..500).map(|x| x * 3 % 701).collect();
        let rounds: Vec<Round> = (0..8).map(|i| round(i % 2, &a, &a)).collect();
        let s = pooled_p99_difference(&rounds, 200).expect("rounds given");
        assert_eq!((s.low, s.high, s.above_zero), (0.0, 0.0, 0.0));
    }

    /// One round of ten where the second chain stalled: its pooled p99 is the stall's
    /// whenever that round is drawn at all, which happens in 1 − 0.9¹⁰ ≈ 65 % of draws.
    #[test]
    fn one_stalled_round_decides_as_often_as_it_is_drawn() {
        let quiet = vec![1_000u64; 100];
        let stalled = vec![5_000u64; 100];
        let mut rounds = vec![round(0, &quiet, &stalled)];
        rounds.extend((0..9).map(|_| round(0, &quiet, &quiet)));
        let s = pooled_p99_difference(&rounds, 4_000).expect("rounds given");
        assert!((0.62..0.68).contains(&s.above_zero), "{}", s.above_zero);
        assert_eq!((s.low, s.high), (0.0, 4.0));
    }

    /// Two starts of five rounds each, the second chain behind in every round of one start:
    /// drawing starts, the run's result rides on that start, which is in 3 of 4 draws
    /// (1 − 0.5²); drawing only rounds from the ten it would be in nearly all of them.
    #[test]
    fn a_start_that_went_badly_weighs_as_a_start() {
        let quiet = vec![1_000u64; 100];
        let slow = vec![1_200u64; 100];
        let mut rounds: Vec<Round> = (0..5).map(|_| round(7, &quiet, &slow)).collect();
        rounds.extend((0..5).map(|_| round(3, &quiet, &quiet)));
        let s = pooled_p99_difference(&rounds, 4_000).expect("rounds given");
        assert!((0.72..0.78).contains(&s.above_zero), "{}", s.above_zero);
        assert_eq!((s.low, s.high), (0.0, 0.2));
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
        assert_eq!(
            pooled_p99_difference(&[round(0, &empty, &empty)], 100),
            None
        );
    }
}
