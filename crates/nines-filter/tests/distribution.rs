//! Proof by simulation: the output distributions of the strategies on a known discrete policy,
//! checked with chi-square goodness-of-fit tests (fixed seeds, so deterministic).

mod common;

use common::{OUTCOMES, index_of, policy, scorer};
use nines_estimate::batched::{OnEmpty, Outcome, OutcomeDistribution, Selection, emission};
use nines_filter::{Filter, FilterConfig, FilterRun, Strategy, ThresholdSchedule};
use statrs::distribution::{ChiSquared, ContinuousCDF};

const PROMPTS: usize = 4000;

fn run(strategy: Strategy, schedule: ThresholdSchedule, seed: u64) -> FilterRun {
    run_with(strategy, schedule, seed, true)
}

fn run_with(
    strategy: Strategy,
    schedule: ThresholdSchedule,
    seed: u64,
    fill_rounds: bool,
) -> FilterRun {
    let cfg = FilterConfig {
        strategy,
        schedule,
        max_attempts: 48,
        fill_rounds,
        seed,
        ..Default::default()
    };
    let filter = Filter::new(policy(), scorer(), cfg).unwrap();
    let prompts = vec!["The rope frayed."; PROMPTS];
    filter.run(&prompts).unwrap()
}

fn counts(run: &FilterRun) -> Vec<f64> {
    let mut c = vec![0.0; OUTCOMES.len()];
    for o in &run.outcomes {
        c[index_of(
            o.completion()
                .expect("acceptance is certain within 48 draws"),
        )] += 1.0;
    }
    c
}

/// Chi-square p-value of observed counts against expected probabilities (cells with zero
/// expected probability must be empty, else p = 0).
fn p_value(observed: &[f64], expected: &[f64]) -> f64 {
    let n: f64 = observed.iter().sum();
    let mut stat = 0.0;
    let mut cells = 0;
    for (o, p) in observed.iter().zip(expected) {
        if *p == 0.0 {
            if *o > 0.0 {
                return 0.0;
            }
            continue;
        }
        stat += (o - n * p).powi(2) / (n * p);
        cells += 1;
    }
    1.0 - ChiSquared::new((cells - 1) as f64).unwrap().cdf(stat)
}

fn dist() -> OutcomeDistribution {
    OutcomeDistribution::new(
        OUTCOMES
            .iter()
            .map(|(t, p, s)| Outcome {
                score: f64::from(*s),
                failure: *t != "A",
                probability: *p,
            })
            .collect(),
    )
    .unwrap()
}

const HALF: ThresholdSchedule = ThresholdSchedule::Constant { threshold: 0.5 };

#[test]
fn first_accepted_matches_sequential_and_safest_does_not() {
    let sequential = emission(&dist(), &Selection::Sequential { threshold: 0.5 })
        .unwrap()
        .probabilities;
    let safest = emission(
        &dist(),
        &Selection::BatchedSafest {
            batch: 4,
            threshold: 0.5,
            on_empty: OnEmpty::Retry,
        },
    )
    .unwrap()
    .probabilities;

    let seq = counts(&run(Strategy::Sequential, HALF, 1));
    let first_run = run(Strategy::BatchedFirstAccepted { k: 4 }, HALF, 2);
    // Filled rounds: one candidate each first, then more for the prompts left.
    assert!(first_run.stats.rounds >= 3);
    assert_eq!(
        first_run
            .outcomes
            .iter()
            .filter(|o| o.rounds == 1)
            .map(|o| o.attempts())
            .max(),
        Some(1)
    );
    let first = counts(&first_run);
    let fixed = counts(&run_with(
        Strategy::BatchedFirstAccepted { k: 4 },
        HALF,
        4,
        false,
    ));
    let safe = counts(&run(Strategy::BatchedSafest { k: 4 }, HALF, 3));

    // Sequential and batched-first-accepted: the policy conditioned on acceptance.
    let p_seq = p_value(&seq, &sequential);
    let p_first = p_value(&first, &sequential);
    assert!(
        p_seq > 1e-3,
        "sequential vs conditional: p = {p_seq}, counts {seq:?}"
    );
    assert!(
        p_first > 1e-3,
        "first-accepted vs conditional: p = {p_first}, counts {first:?}"
    );
    let p_fixed = p_value(&fixed, &sequential);
    assert!(
        p_fixed > 1e-3,
        "first-accepted (fixed k) vs conditional: p = {p_fixed}, counts {fixed:?}"
    );

    // Batched-safest is a different distribution: the same test rejects it outright...
    let p_safe_vs_seq = p_value(&safe, &sequential);
    assert!(
        p_safe_vs_seq < 1e-12,
        "safest looked sequential: p = {p_safe_vs_seq}"
    );
    // ...and it matches the closed form p_i r(v_i) / Z instead.
    let p_safe = p_value(&safe, &safest);
    assert!(
        p_safe > 1e-3,
        "safest vs closed form: p = {p_safe}, counts {safe:?}"
    );

    // How it differs: it moves mass to the lowest score (A), so its failure rate is lower.
    let share = |c: &[f64], i: usize| c[i] / c.iter().sum::<f64>();
    assert!(share(&safe, 0) > share(&seq, 0) + 0.2);
    assert!(share(&safe, 2) < share(&seq, 2) / 3.0);
    assert!(sequential[0] < 0.45 && safest[0] > 0.75);
    // No rejected outcome (D, E) is ever returned by any of them.
    for c in [&seq, &first, &fixed, &safe] {
        assert_eq!(c[3] + c[4], 0.0);
    }
}

/// Exact output of sequential rejection sampling with a schedule `t(n)`: outcome `i` is
/// emitted at draw `n` with probability `Π_{m<n} (1 − a(t(m))) · p_i 1{v_i ≤ t(n)}`,
/// normalised by the chance of emitting within `max` draws.
fn scheduled(schedule: &ThresholdSchedule, max: usize) -> Vec<f64> {
    let mut out = vec![0.0; OUTCOMES.len()];
    let mut none = 1.0;
    for n in 0..max {
        let t = schedule.threshold(n);
        let mut a = 0.0;
        for (i, (_, p, s)) in OUTCOMES.iter().enumerate() {
            if f64::from(*s) <= t {
                out[i] += none * p;
                a += p;
            }
        }
        none *= 1.0 - a;
    }
    out.iter().map(|x| x / (1.0 - none)).collect()
}

#[test]
fn first_accepted_matches_sequential_under_a_tightening_schedule() {
    // t = 0.5, 0.375, 0.25, 0.125, 0.0625, ...: C passes only the first draw, B the first three.
    let schedule = ThresholdSchedule::Linear {
        start: 0.5,
        step: 0.125,
        floor: 0.0625,
    };
    let exact = scheduled(&schedule, 48);
    let fixed = emission(&dist(), &Selection::Sequential { threshold: 0.5 })
        .unwrap()
        .probabilities;
    let seq = counts(&run(Strategy::Sequential, schedule, 11));
    let first = counts(&run_with(
        Strategy::BatchedFirstAccepted { k: 3 },
        schedule,
        12,
        false,
    ));
    assert!(
        p_value(&seq, &exact) > 1e-3,
        "sequential {seq:?} vs {exact:?}"
    );
    assert!(
        p_value(&first, &exact) > 1e-3,
        "first-accepted {first:?} vs {exact:?}"
    );
    // The schedule matters: a late pass is more suspicious, so C is rarer than at a fixed 0.5.
    assert!(exact[2] < fixed[2] * 0.8);
    assert!(p_value(&seq, &fixed) < 1e-6);
}

#[test]
fn same_seed_same_run_other_seed_other_run() {
    let a = run(Strategy::BatchedSafest { k: 2 }, HALF, 5);
    let b = run(Strategy::BatchedSafest { k: 2 }, HALF, 5);
    let c = run(Strategy::BatchedSafest { k: 2 }, HALF, 6);
    let texts = |r: &FilterRun| -> Vec<String> {
        r.outcomes
            .iter()
            .flat_map(|o| o.candidates.iter().map(|c| c.text.clone()))
            .collect()
    };
    assert_eq!(texts(&a), texts(&b));
    assert_ne!(texts(&a), texts(&c));
}
