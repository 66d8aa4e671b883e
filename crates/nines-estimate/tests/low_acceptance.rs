//! Failure rates when a few prompts are hard to filter (acceptance 0.005–0.05) and only
//! K = 20 cheap draws per prompt estimate it: `(K + 1)/(A + 1)` understates those prompts'
//! weights, and with them the failure rate. The filter's logged attempt counts do not.

mod common;

use common::{assert_valid, run};
use nines_estimate::failure_rate::{
    FailureRateConfig, FailureRateWarning, PromptCounts, sequential, upper_bound,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Geometric};

const REPS: usize = 4000;
const PROMPTS: usize = 2000;
const LABELED: u64 = 100;
const CHEAP: u64 = 20;
const RUNS: u64 = 8;
/// P(failure | accepted): ordinary prompts, hard prompts.
const FAIL: [f64; 2] = [0.01, 0.3];
const HARD_SHARE: f64 = 0.05;

fn truth_at(hard_share: f64) -> f64 {
    (1.0 - hard_share) * FAIL[0] + hard_share * FAIL[1]
}

fn truth() -> f64 {
    truth_at(HARD_SHARE)
}

/// Per-prompt counts, with the filter's attempts over `RUNS` runs logged when `attempts`.
fn prompts(rng: &mut ChaCha8Rng, attempts: bool) -> Vec<PromptCounts> {
    prompts_with(rng, attempts, HARD_SHARE)
}

fn prompts_with(rng: &mut ChaCha8Rng, attempts: bool, hard_share: f64) -> Vec<PromptCounts> {
    (0..PROMPTS)
        .map(|_| {
            let hard = rng.random::<f64>() < hard_share;
            let a = if hard {
                rng.random_range(0.005..0.05)
            } else {
                rng.random_range(0.3..0.95)
            };
            let acc = Binomial::new(LABELED, a).unwrap().sample(rng);
            let fail = Binomial::new(acc, FAIL[usize::from(hard)])
                .unwrap()
                .sample(rng);
            let (filter_attempts, filter_runs) = if attempts {
                let g = Geometric::new(a).unwrap();
                ((0..RUNS).map(|_| g.sample(rng) + 1).sum(), RUNS)
            } else {
                (0, 0)
            };
            PromptCounts {
                cheap_trials: CHEAP,
                cheap_accepted: Binomial::new(CHEAP, a).unwrap().sample(rng),
                labeled: LABELED,
                labeled_accepted: acc,
                labeled_accepted_failures: fail,
                filter_attempts,
                filter_runs,
            }
        })
        .collect()
}

#[test]
fn monte_carlo_failure_rate_low_acceptance_prompts() {
    let cfg = FailureRateConfig::default();
    let fixed = run(REPS, 600, truth(), |rng| {
        sequential(&prompts(rng, true), &cfg).unwrap().estimate
    });
    assert_valid(
        "failure rate, 5% of prompts with acceptance 0.005-0.05, logged attempts",
        &fixed,
    );
    let mut warned = 0usize;
    let old = run(REPS, 600, truth(), |rng| {
        let r = sequential(&prompts(rng, false), &cfg).unwrap();
        if matches!(
            r.warnings().first(),
            Some(FailureRateWarning::FewAcceptedCheapDraws { .. })
        ) {
            warned += 1;
        }
        r.estimate
    });
    println!(
        "(K+1)/(A+1) with K = 20: relative bias {:.3}, coverage {:.4}, warned in {warned} of {REPS}",
        old.mean / truth() - 1.0,
        old.coverage
    );
    assert!(old.coverage < 0.93 && old.mean < truth());
    assert_eq!(warned, REPS);
}

/// Ordinary prompts only: the one-sided bound holds 95% of the time, to within two Monte Carlo
/// standard errors of 16,000 experiments (0.0017 each). It is close to exact, not conservative:
/// this seed gives 0.9493, four other seeds of 4,000 gave 0.9520-0.9597, 0.952 over all 32,000.
/// With the hard prompts above, whose weights reach 1/0.005, it held 93.3% (not asserted).
#[test]
fn monte_carlo_safety_bound_is_one_sided_95() {
    const EXPERIMENTS: usize = 16_000;
    let truth = truth_at(0.0);
    let cfg = FailureRateConfig::default();
    let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(610);
    let mut held = 0usize;
    for _ in 0..EXPERIMENTS {
        let r = sequential(&prompts_with(&mut rng, true, 0.0), &cfg).unwrap();
        assert!(r.warnings().is_empty());
        if truth <= upper_bound(&r, 0.95).unwrap().upper {
            held += 1;
        }
    }
    let coverage = held as f64 / EXPERIMENTS as f64;
    println!("one-sided 95% Clopper-Pearson bound on the failure rate: holds {coverage:.4}");
    assert!(
        coverage >= 0.95 - 2.0 * 0.0017,
        "one-sided bound held only {coverage}"
    );
}
