//! The efficient win rate with few judged pairs and a lopsided judged mean (≈ 0.93): the
//! normal interval collapses whenever the few judgments agree; the Wilson-type interval for
//! the judged mean (combined with the counts' normal interval) does not. Also the explicit
//! choice for missing judgments and unequal judging probabilities.

mod common;

use common::{assert_valid, run};
use nines_estimate::EstimateError;
use nines_estimate::win_rate::{
    EfficientOptions, JudgedMeanInterval, MissingJudgments, PairRecord, efficient, efficient_with,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

const REPS: usize = 4000;
const ACCEPTANCE: f64 = 0.8;
/// P(filtered preferred | rejected) 0.9, tie 0.06: mean judgment 0.93.
const M: f64 = 0.93;

fn judgment(rng: &mut ChaCha8Rng) -> f64 {
    let u: f64 = rng.random();
    if u < 0.9 {
        1.0
    } else if u < 0.96 {
        0.5
    } else {
        0.0
    }
}

/// 5,000 pairs (so the accepted share is well known); `judged` of the rejected ones (a simple random subsample) carry a judgment.
fn records(rng: &mut ChaCha8Rng, judged: usize) -> Vec<PairRecord> {
    let mut recs: Vec<PairRecord> = (0..5000)
        .map(|_| {
            if rng.random::<f64>() < ACCEPTANCE {
                PairRecord::accepted()
            } else {
                PairRecord::rejected(None)
            }
        })
        .collect();
    let mut rejected: Vec<usize> = (0..recs.len())
        .filter(|&i| !recs[i].unfiltered_accepted)
        .collect();
    // Partial Fisher-Yates: the first `judged` are a simple random sample.
    for k in 0..judged.min(rejected.len()) {
        let j = rng.random_range(k..rejected.len());
        rejected.swap(k, j);
        recs[rejected[k]].judgment = Some(judgment(rng));
    }
    recs
}

fn options(judged_mean: JudgedMeanInterval) -> EfficientOptions {
    EfficientOptions {
        missing: MissingJudgments::RandomSubsample,
        judged_mean,
        ..EfficientOptions::default()
    }
}

#[test]
fn monte_carlo_efficient_few_judgments() {
    let truth = 0.5 * ACCEPTANCE + (1.0 - ACCEPTANCE) * M;
    for (i, &judged) in [10usize, 30].iter().enumerate() {
        let fixed = run(REPS, 400 + i as u64, truth, |rng| {
            efficient_with(&records(rng, judged), &options(JudgedMeanInterval::Auto))
                .unwrap()
                .estimate
        });
        assert_valid(
            &format!("efficient win rate, {judged} judged, judged mean 0.93, Wilson-type"),
            &fixed,
        );
        let old = run(REPS, 400 + i as u64, truth, |rng| {
            efficient_with(&records(rng, judged), &options(JudgedMeanInterval::Normal))
                .unwrap()
                .estimate
        });
        println!(
            "same, normal interval for the judged mean: coverage {:.4}",
            old.coverage
        );
        assert!(old.coverage < 0.92, "got {}", old.coverage);
    }
}

#[test]
fn missing_judgments_are_an_explicit_choice() {
    let recs = [
        PairRecord::accepted(),
        PairRecord::rejected(Some(1.0)),
        PairRecord::rejected(None),
        PairRecord::rejected(Some(0.5)),
    ];
    match efficient(&recs, 0.95) {
        Err(EstimateError::MissingJudgments {
            missing: 1,
            rejected: 3,
            first: 2,
            ..
        }) => {}
        other => panic!("expected a missing-judgment error, got {other:?}"),
    }
    let w = efficient_with(&recs, &options(JudgedMeanInterval::Auto)).unwrap();
    assert_eq!(w.unjudged, 1);
    assert_eq!(w.comparisons, 2);
    assert!((w.estimate.value - (0.125 + 0.75 * 0.75)).abs() < 1e-12);
    // Unequal judging probabilities: the judged mean is Hájek-weighted by 1/π.
    let recs = [
        PairRecord::rejected(Some(1.0)).judged_with_probability(0.5),
        PairRecord::rejected(Some(0.0)).judged_with_probability(1.0),
        PairRecord::rejected(None),
    ];
    let w = efficient_with(&recs, &options(JudgedMeanInterval::Auto)).unwrap();
    assert!((w.estimate.value - 2.0 / 3.0).abs() < 1e-12);
    let bad = [PairRecord::rejected(Some(1.0)).judged_with_probability(0.0)];
    assert!(matches!(
        efficient(&bad, 0.95),
        Err(EstimateError::Probability {
            field: "records.judge_probability",
            ..
        })
    ));
}

/// Judged with probability 0.2 where the unfiltered completion is short (and people like the
/// filtered one less there), 0.8 elsewhere: the Hájek-weighted judged mean stays unbiased and
/// covers; the unweighted mean over the judged pairs is biased.
#[test]
fn monte_carlo_unequal_judging_probabilities() {
    let draw = |rng: &mut ChaCha8Rng, weighted: bool| {
        (0..2000)
            .map(|_| {
                if rng.random::<f64>() < 0.7 {
                    return PairRecord::accepted();
                }
                let short = rng.random::<bool>();
                let (pi, m) = if short { (0.2, 0.3) } else { (0.8, 0.8) };
                if rng.random::<f64>() < pi {
                    let j = if rng.random::<f64>() < m { 1.0 } else { 0.0 };
                    let r = PairRecord::rejected(Some(j));
                    if weighted {
                        r.judged_with_probability(pi)
                    } else {
                        r
                    }
                } else {
                    PairRecord::rejected(None)
                }
            })
            .collect::<Vec<_>>()
    };
    let truth = 0.35 + 0.3 * 0.55;
    let fixed = run(REPS, 410, truth, |rng| {
        efficient_with(&draw(rng, true), &options(JudgedMeanInterval::Auto))
            .unwrap()
            .estimate
    });
    assert_valid(
        "efficient win rate, judging probabilities 0.2 / 0.8",
        &fixed,
    );
    let old = run(REPS, 410, truth, |rng| {
        efficient_with(&draw(rng, false), &options(JudgedMeanInterval::Auto))
            .unwrap()
            .estimate
    });
    println!("same, probabilities ignored: coverage {:.4}", old.coverage);
    assert!(old.coverage < 0.9, "got {}", old.coverage);
}
