//! Several pairs (or completions) per prompt: prompts differ in acceptance rate and in how
//! often people prefer the filtered completion, so the pairs of one prompt are correlated.
//! Treating them as independent under-covers; per-prompt totals restore the coverage.

mod common;

use common::{assert_valid, run};
use nines_estimate::cluster::{ClusterCount, proportion};
use nines_estimate::interval::ProportionInterval;
use nines_estimate::win_rate::{PairRecord, efficient, naive, naive_by_prompt};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Replicates for checks whose band matters.
const REPS: usize = 4000;

/// A prompt's acceptance rate and mean judgment on rejected pairs.
fn prompt(rng: &mut ChaCha8Rng) -> (f64, f64) {
    (rng.random_range(0.2..0.95), rng.random_range(0.1..0.95))
}

/// `W = E[a]/2 + E[1 − a] E[m]` for independent uniform `a`, `m`.
fn truth() -> f64 {
    let (ea, em) = (0.575, 0.525);
    0.5 * ea + (1.0 - ea) * em
}

/// `prompts × per_prompt` pairs; each pair's prompt id recorded when `ids`.
fn pairs(rng: &mut ChaCha8Rng, prompts: usize, per_prompt: usize, ids: bool) -> Vec<PairRecord> {
    let mut out = Vec::with_capacity(prompts * per_prompt);
    for p in 0..prompts {
        let (a, m) = prompt(rng);
        for _ in 0..per_prompt {
            let r = if rng.random::<f64>() < a {
                PairRecord::accepted()
            } else {
                PairRecord::rejected(Some(if rng.random::<f64>() < m { 1.0 } else { 0.0 }))
            };
            out.push(if ids { r.for_prompt(p as u64) } else { r });
        }
    }
    out
}

#[test]
fn monte_carlo_efficient_several_pairs_per_prompt() {
    for (i, &(prompts, per)) in [(40usize, 10usize), (20, 25)].iter().enumerate() {
        let fixed = run(REPS, 300 + i as u64, truth(), |rng| {
            efficient(&pairs(rng, prompts, per, true), 0.95)
                .unwrap()
                .estimate
        });
        assert_valid(
            &format!("efficient win rate by prompt, {prompts} prompts x {per} pairs"),
            &fixed,
        );
        let old = run(REPS, 300 + i as u64, truth(), |rng| {
            efficient(&pairs(rng, prompts, per, false), 0.95)
                .unwrap()
                .estimate
        });
        println!(
            "pairs treated as independent, {prompts} x {per}: coverage {:.4}",
            old.coverage
        );
        assert!(
            old.coverage < 0.90,
            "independent-pair interval should under-cover, got {}",
            old.coverage
        );
    }
}

#[test]
fn monte_carlo_naive_several_pairs_per_prompt() {
    // Naive protocol: every pair judged; J = 1/2 ± on accepted pairs, Bernoulli(m) otherwise.
    let draw = |rng: &mut ChaCha8Rng| {
        let (mut js, mut ids) = (Vec::new(), Vec::new());
        for p in 0..40u64 {
            let (a, m) = prompt(rng);
            for _ in 0..10 {
                let j = if rng.random::<f64>() < a {
                    if rng.random::<bool>() { 1.0 } else { 0.0 }
                } else if rng.random::<f64>() < m {
                    1.0
                } else {
                    0.0
                };
                js.push(j);
                ids.push(p);
            }
        }
        (js, ids)
    };
    let fixed = run(REPS, 310, truth(), |rng| {
        let (js, ids) = draw(rng);
        naive_by_prompt(&js, &ids, 0.95).unwrap()
    });
    assert_valid("naive win rate by prompt, 40 prompts x 10 pairs", &fixed);
    let old = run(REPS, 310, truth(), |rng| naive(&draw(rng).0, 0.95).unwrap());
    println!("naive, pairs as independent: coverage {:.4}", old.coverage);
    assert!(old.coverage < 0.93, "got {}", old.coverage);
}

#[test]
fn monte_carlo_failure_rate_several_completions_per_prompt() {
    // 60 prompts × 8 labeled completions; a prompt's injury probability ~ Beta-like spread.
    let draw = |rng: &mut ChaCha8Rng| -> Vec<ClusterCount> {
        (0..60)
            .map(|_| {
                let p: f64 = rng.random_range(0.0f64..1.0).powi(3) * 0.4;
                let events = (0..8).filter(|_| rng.random::<f64>() < p).count() as u64;
                ClusterCount { events, trials: 8 }
            })
            .collect()
    };
    let truth = 0.4 / 4.0;
    let fixed = run(REPS, 320, truth, |rng| {
        proportion(&draw(rng), ProportionInterval::Wilson, 0.95).unwrap()
    });
    assert_valid("injury rate by prompt, 60 prompts x 8 completions", &fixed);
    let old = run(REPS, 320, truth, |rng| {
        let c = draw(rng);
        let k: u64 = c.iter().map(|c| c.events).sum();
        nines_estimate::interval::wilson(k, 480, 0.95).unwrap()
    });
    println!("completions as independent: coverage {:.4}", old.coverage);
    assert!(old.coverage < 0.93, "got {}", old.coverage);
}

/// A stratified prompt sample like the default run's: an injury-prone stratum (a fifth of the
/// population, per-prompt injury rates of 0.5–30%) drawn with probability 1/2, the rest
/// (rates 0–2%) with probability 1/50; each prompt has 1–4 labeled completions (a filter's
/// accepted samples). Weighted by `1/π`, the mean of per-prompt shares covers the population's
/// mean rate; within the prone stratum alone (equal weights) it covers the stratum's.
#[test]
fn weighted_proportion_covers_stratified_rates_with_unequal_counts() {
    use nines_estimate::cluster::{WeightedCount, weighted_proportion};
    let (prone_share, pi_prone, pi_rest) = (0.2, 0.5, 0.02);
    let prone_rate = |rng: &mut ChaCha8Rng| rng.random_range(0.005..0.30);
    let rest_rate = |rng: &mut ChaCha8Rng| rng.random_range(0.0..0.02);
    // Population of 1,000 prompts, redrawn each replicate (a superpopulation).
    let draw = |rng: &mut ChaCha8Rng, prone_only: bool| -> Vec<WeightedCount> {
        let mut out = Vec::new();
        for i in 0..1000 {
            let prone = (i as f64) < prone_share * 1000.0;
            if prone_only && !prone {
                continue;
            }
            let (rate, pi) = if prone {
                (prone_rate(rng), pi_prone)
            } else {
                (rest_rate(rng), pi_rest)
            };
            if rng.random::<f64>() >= pi {
                continue;
            }
            let trials = rng.random_range(1..=4u64);
            let events = (0..trials).filter(|_| rng.random::<f64>() < rate).count() as u64;
            out.push(WeightedCount {
                count: ClusterCount { events, trials },
                weight: 1.0 / pi,
            });
        }
        out
    };
    let uniform_truth = prone_share * 0.1525 + (1.0 - prone_share) * 0.01;
    let s = run(REPS, 41, uniform_truth, |rng| {
        weighted_proportion(&draw(rng, false), ProportionInterval::Wilson, 0.95)
            .unwrap()
            .estimate
    });
    covers_conservatively("weighted_proportion, uniform regime", &s);
    let s = run(REPS, 42, 0.1525, |rng| {
        weighted_proportion(&draw(rng, true), ProportionInterval::Wilson, 0.95)
            .unwrap()
            .estimate
    });
    covers_conservatively("weighted_proportion, injury-prone regime", &s);
}

/// Coverage of at least 0.93 and at most 0.98, bias below a tenth of a standard error: Wilson
/// intervals at rare rates are asymmetric and cover a little more than their level.
fn covers_conservatively(name: &str, s: &common::Summary) {
    let se = s.se_of_mean * (s.reps as f64).sqrt();
    println!(
        "{name}: truth {:.6} mean {:.6} (bias {:.3} SE) coverage {:.4} half-width {:.6}",
        s.truth,
        s.mean,
        (s.mean - s.truth) / se,
        s.coverage,
        s.half_width
    );
    assert!((s.mean - s.truth).abs() <= 0.1 * se, "{name}: biased");
    assert!(
        (0.93..=0.98).contains(&s.coverage),
        "{name}: coverage {} outside [0.93, 0.98]",
        s.coverage
    );
}

/// Equal weights and counts: the same estimate and interval as [`proportion`]; the effective
/// size is every completion when nothing was seen.
#[test]
fn weighted_proportion_reduces_to_proportion() {
    use nines_estimate::cluster::{WeightedCount, weighted_proportion};
    let counts = [
        ClusterCount {
            events: 1,
            trials: 4,
        },
        ClusterCount {
            events: 0,
            trials: 4,
        },
        ClusterCount {
            events: 2,
            trials: 4,
        },
        ClusterCount {
            events: 0,
            trials: 4,
        },
    ];
    let weighted: Vec<WeightedCount> = counts
        .iter()
        .map(|&count| WeightedCount { count, weight: 7.0 })
        .collect();
    let a = proportion(&counts, ProportionInterval::Wilson, 0.95).unwrap();
    let b = weighted_proportion(&weighted, ProportionInterval::Wilson, 0.95).unwrap();
    assert!((a.value - b.estimate.value).abs() < 1e-12);
    assert!((a.ci.0 - b.estimate.ci.0).abs() < 1e-9 && (a.ci.1 - b.estimate.ci.1).abs() < 1e-9);
    assert!((b.ess - 16.0).abs() < 1e-9);
    let none: Vec<WeightedCount> = weighted
        .iter()
        .map(|w| WeightedCount {
            count: ClusterCount {
                events: 0,
                trials: 4,
            },
            ..*w
        })
        .collect();
    let z = weighted_proportion(&none, ProportionInterval::Wilson, 0.95).unwrap();
    assert_eq!((z.estimate.value, z.n_eff), (0.0, 16.0));
    assert!(z.estimate.ci.1 > 0.1);
    let bad = [WeightedCount {
        count: ClusterCount {
            events: 1,
            trials: 1,
        },
        weight: f64::NAN,
    }];
    assert!(weighted_proportion(&bad, ProportionInterval::Wilson, 0.95).is_err());
}
