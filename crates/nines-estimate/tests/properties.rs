//! Property tests (proptest) for invariants that must hold on any valid input.

use nines_estimate::batched::{OnEmpty, Outcome, OutcomeDistribution, Selection, emission};
use nines_estimate::bootstrap::{self, BootstrapConfig};
use nines_estimate::failure_rate::{self, FailureRateConfig, PromptCounts};
use nines_estimate::interval::{self, ProportionInterval};
use nines_estimate::weighting::{self, Normalization};
use nines_estimate::win_rate;
use nines_estimate::{Estimate, Estimator, IntervalKind, Method};
use proptest::prelude::*;

fn kind() -> impl Strategy<Value = ProportionInterval> {
    prop_oneof![
        Just(ProportionInterval::Wald),
        Just(ProportionInterval::Wilson),
        Just(ProportionInterval::ClopperPearson)
    ]
}

fn values_and_weights() -> impl Strategy<Value = (Vec<f64>, Vec<f64>)> {
    (2usize..40).prop_flat_map(|n| {
        (
            prop::collection::vec(-5.0f64..5.0, n),
            prop::collection::vec(0.01f64..50.0, n),
        )
    })
}

/// A random outcome distribution: up to 8 outcomes with scores on a coarse grid (ties).
fn distribution() -> impl Strategy<Value = OutcomeDistribution> {
    prop::collection::vec((0u8..10, any::<bool>(), 0.01f64..1.0), 1..8).prop_map(|raw| {
        let total: f64 = raw.iter().map(|r| r.2).sum();
        let outcomes = raw
            .iter()
            .map(|&(s, f, p)| Outcome {
                score: s as f64 / 10.0,
                failure: f,
                probability: p / total,
            })
            .collect();
        OutcomeDistribution::new(outcomes).unwrap()
    })
}

proptest! {
    #[test]
    fn proportion_intervals_are_ordered_and_nested(n in 1u64..5000, frac in 0.0f64..=1.0, k in kind()) {
        let s = ((n as f64) * frac).round() as u64;
        let e90 = interval::proportion(s, n, k, 0.90).unwrap();
        let e99 = interval::proportion(s, n, k, 0.99).unwrap();
        for e in [e90, e99] {
            prop_assert!(0.0 <= e.ci.0 && e.ci.0 <= e.ci.1 && e.ci.1 <= 1.0);
            if k != ProportionInterval::Wald {
                prop_assert!(e.ci.0 <= e.value + 1e-12 && e.value <= e.ci.1 + 1e-12);
            }
        }
        prop_assert!(e99.ci.0 <= e90.ci.0 + 1e-12 && e90.ci.1 <= e99.ci.1 + 1e-12);
    }

    #[test]
    fn ess_is_between_one_and_n_and_scale_free((_, w) in values_and_weights(), c in 0.001f64..1000.0) {
        let e = weighting::ess(&w).unwrap();
        prop_assert!(e >= 1.0 - 1e-9 && e <= w.len() as f64 + 1e-9);
        let scaled: Vec<f64> = w.iter().map(|x| x * c).collect();
        prop_assert!((weighting::ess(&scaled).unwrap() - e).abs() < 1e-9 * e);
    }

    #[test]
    fn self_normalized_is_a_convex_combination((v, w) in values_and_weights(), c in 0.001f64..1000.0) {
        let e = weighting::self_normalized(&v, &w, 0.95).unwrap();
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        prop_assert!(lo - 1e-9 <= e.value && e.value <= hi + 1e-9);
        let scaled: Vec<f64> = w.iter().map(|x| x * c).collect();
        let e2 = weighting::self_normalized(&v, &scaled, 0.95).unwrap();
        prop_assert!((e2.value - e.value).abs() < 1e-9 * (1.0 + e.value.abs()));
        prop_assert!((e2.std_error - e.std_error).abs() < 1e-9 * (1.0 + e.std_error));
        prop_assert!((e.ci.0 + e.ci.1 - 2.0 * e.value).abs() < 1e-9 * (1.0 + e.value.abs()));
    }

    #[test]
    fn clipping_is_monotone((v, w) in values_and_weights(), cap in 0.1f64..60.0) {
        let vpos: Vec<f64> = v.iter().map(|x| x.abs()).collect();
        let full = weighting::importance(&vpos, &w, 0.95).unwrap();
        let c = weighting::clipped(&vpos, &w, cap, Normalization::Exact, 0.95).unwrap();
        prop_assert!(c.estimate.value <= full.value + 1e-12);
        prop_assert!(c.bias_estimate <= 0.0);
        prop_assert!((c.estimate.value - full.value - c.bias_estimate).abs() < 1e-9 * (1.0 + full.value));
        let maxw = w.iter().copied().fold(0.0, f64::max);
        if cap >= maxw {
            prop_assert_eq!(c.clipped, 0);
            prop_assert!((c.estimate.value - full.value).abs() < 1e-12 * (1.0 + full.value));
        }
    }

    #[test]
    fn horvitz_thompson_census_is_exact(v in prop::collection::vec(-10.0f64..10.0, 1..50)) {
        let ones = vec![1.0; v.len()];
        let e = weighting::horvitz_thompson(&v, &ones, v.len(), 0.95).unwrap();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        prop_assert!((e.value - m).abs() < 1e-9);
        prop_assert_eq!(e.std_error, 0.0);
    }

    #[test]
    fn efficient_win_rate_bounds(acc in 0u64..500, rej in 0u64..200, seed in any::<u64>()) {
        prop_assume!(acc + rej > 0);
        // Judge a pseudo-random subset (at least one) of the rejected pairs.
        let n_j = if rej == 0 { 0 } else { 1 + (seed % rej) };
        let js: Vec<f64> = (0..n_j).map(|i| [0.0, 0.5, 1.0][((seed >> (i % 60)) % 3) as usize]).collect();
        let w = win_rate::efficient_from_counts(acc, rej, &js, 0.95).unwrap();
        let e = w.estimate;
        prop_assert!((0.0..=1.0).contains(&e.value));
        prop_assert!(0.0 <= e.ci.0 && e.ci.0 <= e.value && e.value <= e.ci.1 && e.ci.1 <= 1.0);
        prop_assert_eq!(w.comparisons + w.comparisons_saved, w.pairs);
        if rej == 0 {
            prop_assert_eq!(e.value, 0.5);
            prop_assert_eq!(e.method.interval, IntervalKind::Bound);
        }
    }

    #[test]
    fn neyman_allocation_sums(ws in prop::collection::vec(0.01f64..5.0, 1..10), total in 0u64..10_000, seed in any::<u64>()) {
        let sds: Vec<f64> = ws.iter().enumerate().map(|(i, _)| ((seed >> i) % 7) as f64 / 3.0).collect();
        let n = win_rate::neyman_allocation(&ws, &sds, total).unwrap();
        prop_assert_eq!(n.iter().sum::<u64>(), total);
    }

    #[test]
    fn emission_is_a_distribution(d in distribution(), k in 1usize..8, t in 0u8..10, retry in any::<bool>()) {
        let threshold = t as f64 / 10.0;
        let on_empty = if retry { OnEmpty::Retry } else { OnEmpty::EmitSafest };
        let sel = Selection::BatchedSafest { batch: k, threshold, on_empty };
        match emission(&d, &sel) {
            Ok(e) => {
                let total: f64 = e.probabilities.iter().sum();
                prop_assert!((total - 1.0).abs() < 1e-9, "sum {}", total);
                prop_assert!(e.probabilities.iter().all(|p| *p >= 0.0));
                prop_assert!(e.expected_draws >= 1.0 - 1e-12);
                prop_assert!((0.0..=1.0 + 1e-12).contains(&e.failure_probability));
                if k == 1 && retry {
                    let s = emission(&d, &Selection::Sequential { threshold }).unwrap();
                    for (a, b) in e.probabilities.iter().zip(&s.probabilities) {
                        prop_assert!((a - b).abs() < 1e-9);
                    }
                }
            }
            Err(_) => prop_assert!(retry && d.acceptance(threshold) == 0.0),
        }
    }

    #[test]
    fn failure_rate_without_failures_is_zero(n in 2usize..30, k in 1u64..200, l in 1u64..10) {
        let p: Vec<PromptCounts> = (0..n).map(|i| {
            let acc = (i as u64 * 7) % (k + 1);
            PromptCounts { cheap_trials: k, cheap_accepted: acc, labeled: l,
                labeled_accepted: l / 2, labeled_accepted_failures: 0, ..PromptCounts::default() }
        }).collect();
        for kind in [ProportionInterval::Wilson, ProportionInterval::ClopperPearson] {
            let e = failure_rate::sequential(&p, &FailureRateConfig { level: 0.95, interval: kind }).unwrap();
            prop_assert_eq!(e.estimate.value, 0.0);
            prop_assert_eq!(e.estimate.ci.0, 0.0);
            prop_assert!(e.estimate.ci.1 > 0.0 && e.estimate.ci.1 < 1.0);
        }
    }

    #[test]
    fn estimate_round_trips_through_json(v in -1e6f64..1e6, se in 0.0f64..1e3, n in 0usize..1_000_000) {
        let e = Estimate {
            value: v,
            std_error: se,
            ci: (v - 2.0 * se, v + 2.0 * se),
            level: 0.95,
            n,
            method: Method::new(Estimator::WinRateEfficient, IntervalKind::Normal),
        };
        let s = serde_json::to_string(&e).unwrap();
        let back: Estimate = serde_json::from_str(&s).unwrap();
        // serde_json's default float parser may differ in the last bit.
        let near = |a: f64, b: f64| (a - b).abs() <= 1e-15 * (1.0 + a.abs());
        prop_assert!(near(back.value, e.value) && near(back.std_error, e.std_error));
        prop_assert!(near(back.ci.0, e.ci.0) && near(back.ci.1, e.ci.1));
        prop_assert_eq!((back.level, back.n, back.method), (e.level, e.n, e.method));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn bootstrap_is_deterministic_and_within_range(v in prop::collection::vec(-10.0f64..10.0, 3..40), seed in any::<u64>()) {
        let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
        let cfg = BootstrapConfig { resamples: 200, level: 0.95, seed };
        let a = bootstrap::percentile(&v, mean, &cfg).unwrap();
        let b = bootstrap::percentile(&v, mean, &cfg).unwrap();
        prop_assert_eq!(a, b);
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // A resampled mean cannot leave [min, max] beyond rounding.
        let tol = 1e-12 * (1.0 + lo.abs().max(hi.abs()));
        prop_assert!(lo - tol <= a.ci.0 && a.ci.0 <= a.ci.1 && a.ci.1 <= hi + tol);
    }
}

#[test]
fn serialized_method_names_are_snake_case() {
    let e = interval::wilson(3, 10, 0.95).unwrap();
    let s = serde_json::to_string(&e).unwrap();
    assert!(
        s.contains(r#""method":{"estimator":"proportion","interval":"wilson"}"#),
        "{s}"
    );
}
