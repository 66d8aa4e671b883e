//! Failure rate of the filtered policy from labeled unfiltered draws weighted by 1/acceptance:
//! acceptance 50% to 99.9%, Wilson vs Clopper-Pearson vs the plain CLT for rare failures,
//! adaptive thresholds and the batched-safest filter.

mod common;

use common::{REPS, assert_valid, run};
use nines_estimate::Estimate;
use nines_estimate::batched::{self, OnEmpty, Outcome, OutcomeDistribution, Selection};
use nines_estimate::failure_rate::{
    self, FailureRateConfig, LabeledCount, PromptCounts, PromptScores, ScoreCount,
};
use nines_estimate::interval::ProportionInterval;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};

/// 100 prompt types; acceptance `a_i` spread around the mean acceptance, failure-given-accepted
/// `f_i = 2 f₀ (1 − u_i)` higher where acceptance is lower; truth `mean f_i = f₀`.
struct Population {
    a: Vec<f64>,
    f: Vec<f64>,
}

fn population(lo: f64, hi: f64, f0: f64) -> Population {
    let p = 100;
    let u: Vec<f64> = (0..p).map(|i| (i as f64 + 0.5) / p as f64).collect();
    Population {
        a: u.iter().map(|u| lo + (hi - lo) * u).collect(),
        f: u.iter().map(|u| 2.0 * f0 * (1.0 - u)).collect(),
    }
}

fn draw_counts(
    rng: &mut ChaCha8Rng,
    pop: &Population,
    m: usize,
    k: u64,
    l: u64,
) -> Vec<PromptCounts> {
    (0..m)
        .map(|_| {
            let i = rng.random_range(0..pop.a.len());
            let a = pop.a[i];
            let acc = Binomial::new(l, a).unwrap().sample(rng);
            PromptCounts {
                cheap_trials: k,
                cheap_accepted: Binomial::new(k, a).unwrap().sample(rng),
                labeled: l,
                labeled_accepted: acc,
                labeled_accepted_failures: Binomial::new(acc, pop.f[i]).unwrap().sample(rng),
                ..PromptCounts::default()
            }
        })
        .collect()
}

fn cfg(interval: ProportionInterval) -> FailureRateConfig {
    FailureRateConfig {
        level: 0.95,
        interval,
    }
}

#[test]
fn monte_carlo_sequential_across_acceptance() {
    let cases = [
        // (acceptance range, f0, prompts, cheap per prompt, labeled per prompt)
        ((0.2, 0.8), 0.05, 300, 100, 4),
        ((0.8, 1.0), 0.02, 300, 100, 4),
        ((0.98, 1.0), 0.005, 1000, 200, 5),
    ];
    for (c, &((lo, hi), f0, m, k, l)) in cases.iter().enumerate() {
        let pop = population(lo, hi, f0);
        let s = run(REPS, 100 + c as u64, f0, |rng| {
            let p = draw_counts(rng, &pop, m, k, l);
            failure_rate::sequential(&p, &cfg(ProportionInterval::Wilson))
                .unwrap()
                .estimate
        });
        let mean_a = (lo + hi) / 2.0;
        assert_valid(&format!("failure rate, acceptance {mean_a}, Wilson"), &s);
    }
}

/// 99.9% acceptance, failure rate 0.1%, 2000 labeled draws: about 2 failures expected. The
/// plain CLT interval under-covers badly; Wilson with the effective sample size covers.
#[test]
fn monte_carlo_rare_failures_wilson_vs_clt() {
    let pop = population(0.998, 1.0, 0.001);
    let exp = |rng: &mut ChaCha8Rng, kind| -> Estimate {
        let p = draw_counts(rng, &pop, 1000, 200, 2);
        failure_rate::sequential(&p, &cfg(kind)).unwrap().estimate
    };
    let s = run(REPS, 110, 0.001, |rng| exp(rng, ProportionInterval::Wilson));
    assert_valid("failure rate, acceptance 0.999, ~2 failures, Wilson", &s);
    let wald = run(REPS, 110, 0.001, |rng| exp(rng, ProportionInterval::Wald));
    println!(
        "same data, plain CLT interval: coverage {:.4}",
        wald.coverage
    );
    assert!(
        wald.coverage < 0.90,
        "the CLT interval should under-cover: {}",
        wald.coverage
    );
}

/// Clopper-Pearson is conservative; with ~20 expected failures its coverage is in the band.
#[test]
fn monte_carlo_rare_failures_clopper_pearson() {
    let pop = population(0.998, 1.0, 0.001);
    let s = run(REPS, 111, 0.001, |rng| {
        let p = draw_counts(rng, &pop, 2000, 200, 10);
        failure_rate::sequential(&p, &cfg(ProportionInterval::ClopperPearson))
            .unwrap()
            .estimate
    });
    assert_valid(
        "failure rate, acceptance 0.999, ~20 failures, Clopper-Pearson",
        &s,
    );
}

/// Pooling accepted labeled draws across prompts (failures / accepted) weights prompts by their
/// acceptance and is biased when failure and acceptance are related; per-prompt weighting is not.
#[test]
fn pooled_ratio_is_biased_weighting_is_not() {
    let pop = population(0.2, 0.8, 0.05);
    let mut pooled = Vec::with_capacity(REPS);
    let s = run(REPS, 112, 0.05, |rng| {
        let p = draw_counts(rng, &pop, 300, 100, 4);
        let fails: u64 = p.iter().map(|c| c.labeled_accepted_failures).sum();
        let acc: u64 = p.iter().map(|c| c.labeled_accepted).sum();
        pooled.push(fails as f64 / acc as f64);
        failure_rate::sequential(&p, &FailureRateConfig::default())
            .unwrap()
            .estimate
    });
    let pooled_mean = pooled.iter().sum::<f64>() / pooled.len() as f64;
    println!(
        "pooled ratio mean {pooled_mean:.5}, weighted {:.5}, truth 0.05",
        s.mean
    );
    assert!(s.z() <= 3.0);
    assert!((pooled_mean - 0.05).abs() > 0.005, "pooled {pooled_mean}");
}

// ---- scored outcomes: adaptive thresholds and batched-safest ----

const LEVELS: [f64; 5] = [0.02, 0.1, 0.3, 0.6, 0.9];

/// Prompt type `i` of 20: P(score = v) ∝ exp(−λ_i v), P(failure | v) = v/2.
fn scored_types() -> Vec<OutcomeDistribution> {
    (0..20)
        .map(|i| {
            let lambda = 1.0 + 10.0 * (i as f64 + 0.5) / 20.0;
            let w: Vec<f64> = LEVELS.iter().map(|v| (-lambda * v).exp()).collect();
            let z: f64 = w.iter().sum();
            let mut out = Vec::new();
            for (v, wv) in LEVELS.iter().zip(&w) {
                let p = wv / z;
                out.push(Outcome {
                    score: *v,
                    failure: true,
                    probability: p * v / 2.0,
                });
                out.push(Outcome {
                    score: *v,
                    failure: false,
                    probability: p * (1.0 - v / 2.0),
                });
            }
            OutcomeDistribution::new(out).unwrap()
        })
        .collect()
}

/// P(score = v) for each level.
fn level_probabilities(d: &OutcomeDistribution) -> Vec<f64> {
    LEVELS
        .iter()
        .map(|v| {
            d.outcomes()
                .iter()
                .filter(|o| o.score == *v)
                .map(|o| o.probability)
                .sum()
        })
        .collect()
}

/// One prompt's data: `k` cheap scores (as counts) and `l` labeled draws, given the prompt's
/// score-level probabilities.
fn draw_scores(
    rng: &mut ChaCha8Rng,
    level_p: &[f64],
    threshold: Option<f64>,
    k: u64,
    l: usize,
) -> PromptScores {
    // Multinomial cheap counts by sequential binomials.
    let mut left = k;
    let mut rest = 1.0;
    let mut cheap = Vec::new();
    for (v, p) in LEVELS.iter().zip(level_p) {
        let c = if rest <= 0.0 || left == 0 {
            0
        } else {
            Binomial::new(left, (p / rest).min(1.0))
                .unwrap()
                .sample(rng)
        };
        cheap.push(ScoreCount {
            score: *v,
            count: c,
        });
        left -= c;
        rest -= p;
    }
    cheap.last_mut().unwrap().count += left;
    let labeled = (0..l)
        .map(|_| {
            let u: f64 = rng.random();
            let mut c = 0.0;
            let mut v = LEVELS[LEVELS.len() - 1];
            for (lv, p) in LEVELS.iter().zip(level_p) {
                c += p;
                if u < c {
                    v = *lv;
                    break;
                }
            }
            LabeledCount {
                score: v,
                failure: rng.random::<f64>() < v / 2.0,
                count: 1,
            }
        })
        .collect();
    PromptScores {
        threshold,
        cheap,
        labeled,
        filter_attempts: 0,
        filter_runs: 0,
    }
}

/// The adaptive filter raises the threshold from 0.1 to 0.3 on prompts where fewer than 70% of
/// draws pass 0.1. Truth: mean over prompt types of P(failure | accepted at its threshold).
#[test]
fn monte_carlo_adaptive_threshold() {
    let types = scored_types();
    let levels: Vec<Vec<f64>> = types.iter().map(level_probabilities).collect();
    let thresholds: Vec<f64> = types
        .iter()
        .map(|d| if d.acceptance(0.1) >= 0.7 { 0.1 } else { 0.3 })
        .collect();
    assert!(thresholds.contains(&0.1) && thresholds.contains(&0.3));
    let truth = types
        .iter()
        .zip(&thresholds)
        .map(|(d, &t)| {
            batched::emission(d, &Selection::Sequential { threshold: t })
                .unwrap()
                .failure_probability
        })
        .sum::<f64>()
        / types.len() as f64;
    let mut global = Vec::new();
    let s = run(REPS, 120, truth, |rng| {
        let prompts: Vec<PromptScores> = (0..200)
            .map(|_| {
                let i = rng.random_range(0..types.len());
                draw_scores(rng, &levels[i], Some(thresholds[i]), 100, 6)
            })
            .collect();
        let wrong: Vec<PromptScores> = prompts
            .iter()
            .map(|p| PromptScores {
                threshold: Some(0.1),
                ..p.clone()
            })
            .collect();
        global.push(
            failure_rate::adaptive(&wrong, &FailureRateConfig::default())
                .unwrap()
                .estimate
                .value,
        );
        failure_rate::adaptive(&prompts, &FailureRateConfig::default())
            .unwrap()
            .estimate
    });
    assert_valid("failure rate, adaptive thresholds", &s);
    let g = global.iter().sum::<f64>() / global.len() as f64;
    println!("ignoring the per-prompt thresholds: mean {g:.5} vs truth {truth:.5}");
    assert!((g - truth).abs() > 10.0 * s.se_of_mean);
}

fn batched_case(on_empty: OnEmpty, seed: u64) {
    let types = scored_types();
    let levels: Vec<Vec<f64>> = types.iter().map(level_probabilities).collect();
    let sel = Selection::BatchedSafest {
        batch: 4,
        threshold: 0.3,
        on_empty,
    };
    let truth = types
        .iter()
        .map(|d| batched::emission(d, &sel).unwrap().failure_probability)
        .sum::<f64>()
        / types.len() as f64;
    let seq_truth = types
        .iter()
        .map(|d| {
            batched::emission(d, &Selection::Sequential { threshold: 0.3 })
                .unwrap()
                .failure_probability
        })
        .sum::<f64>()
        / types.len() as f64;
    println!("batched-safest ({on_empty:?}) truth {truth:.5}, sequential {seq_truth:.5}");
    let s = run(REPS, seed, truth, |rng| {
        let prompts: Vec<PromptScores> = (0..200)
            .map(|_| {
                let i = rng.random_range(0..types.len());
                draw_scores(rng, &levels[i], None, 60, 6)
            })
            .collect();
        failure_rate::from_scores(&prompts, &sel, &FailureRateConfig::default())
            .unwrap()
            .estimate
    });
    assert_valid(
        &format!("failure rate, batched-safest k=4, {on_empty:?}"),
        &s,
    );
}

#[test]
fn monte_carlo_batched_retry() {
    batched_case(OnEmpty::Retry, 130);
}

#[test]
fn monte_carlo_batched_emit_safest() {
    batched_case(OnEmpty::EmitSafest, 131);
}

#[test]
fn monte_carlo_sequential_from_scores() {
    let types = scored_types();
    let levels: Vec<Vec<f64>> = types.iter().map(level_probabilities).collect();
    let sel = Selection::Sequential { threshold: 0.3 };
    let truth = types
        .iter()
        .map(|d| batched::emission(d, &sel).unwrap().failure_probability)
        .sum::<f64>()
        / types.len() as f64;
    let s = run(REPS, 132, truth, |rng| {
        let prompts: Vec<PromptScores> = (0..200)
            .map(|_| {
                let i = rng.random_range(0..types.len());
                draw_scores(rng, &levels[i], None, 60, 6)
            })
            .collect();
        failure_rate::from_scores(&prompts, &sel, &FailureRateConfig::default())
            .unwrap()
            .estimate
    });
    assert_valid("failure rate, sequential from scores", &s);
}

#[test]
fn closed_form_small_cases() {
    // Two prompts, weights (K+1)/(A+1): 100/50 and 100/100.
    let p = [
        PromptCounts {
            cheap_trials: 99,
            cheap_accepted: 49,
            labeled: 4,
            labeled_accepted: 2,
            labeled_accepted_failures: 1,
            ..PromptCounts::default()
        },
        PromptCounts {
            cheap_trials: 99,
            cheap_accepted: 99,
            labeled: 2,
            labeled_accepted: 2,
            labeled_accepted_failures: 0,
            ..PromptCounts::default()
        },
    ];
    let e = failure_rate::sequential(&p, &FailureRateConfig::default()).unwrap();
    assert!((e.estimate.value - 0.5 * (2.0 * 0.25 + 0.0)).abs() < 1e-12);
    assert_eq!(e.weighted_failures, 1);
    assert_eq!(e.labeled, 6);
    // Batched with k = 1 and retry is the sequential filter (up to the 1/a estimator).
    let prompts = vec![
        PromptScores::from_samples(None, &[0.1, 0.2, 0.9, 0.1], &[(0.1, true), (0.9, true)]),
        PromptScores::from_samples(None, &[0.1, 0.3, 0.2, 0.2], &[(0.2, false), (0.2, true)]),
    ];
    let k1 = Selection::BatchedSafest {
        batch: 1,
        threshold: 0.5,
        on_empty: OnEmpty::Retry,
    };
    let b = failure_rate::from_scores(&prompts, &k1, &FailureRateConfig::default()).unwrap();
    // Prompt 1: Ẑ = 1 − 1/4 = 3/4, one accepted failure of two labeled → (4/3)/2;
    // prompt 2: Ẑ = 1, one accepted failure of two → 1/2.
    assert!(
        (b.estimate.value - 0.5 * (2.0 / 3.0 + 0.5)).abs() < 1e-12,
        "{b:?}"
    );
}
