//! Bad input gives typed errors that name the argument and position; nothing panics.

use nines_estimate::EstimateError as E;
use nines_estimate::batched::{OnEmpty, Outcome, OutcomeDistribution, Selection};
use nines_estimate::bootstrap::{self, BootstrapConfig, BootstrapMethod};
use nines_estimate::failure_rate::{self, FailureRateConfig, PromptCounts, PromptScores};
use nines_estimate::interval::{self, ProportionInterval};
use nines_estimate::weighting::{self, Normalization, RepairOptions};
use nines_estimate::win_rate::{self, PairRecord, Scenario, Stratum, WeightedPair};

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

#[test]
fn empty_samples() {
    assert!(matches!(
        interval::mean(&[], 0.95),
        Err(E::Empty { field: "samples" })
    ));
    assert!(matches!(
        weighting::importance(&[], &[], 0.95),
        Err(E::Empty { .. })
    ));
    assert!(matches!(
        weighting::self_normalized(&[], &[], 0.95),
        Err(E::Empty { .. })
    ));
    assert!(matches!(
        weighting::horvitz_thompson(&[], &[], 10, 0.95),
        Err(E::Empty { .. })
    ));
    assert!(matches!(weighting::ess(&[]), Err(E::Empty { .. })));
    assert!(matches!(win_rate::naive(&[], 0.95), Err(E::Empty { .. })));
    assert!(matches!(
        win_rate::efficient(&[], 0.95),
        Err(E::Empty { .. })
    ));
    assert!(matches!(
        win_rate::stratified(&[], 0.95),
        Err(E::Empty { .. })
    ));
    assert!(matches!(
        failure_rate::sequential(&[], &FailureRateConfig::default()),
        Err(E::Empty { .. })
    ));
    let cfg = BootstrapConfig::default();
    let none: [f64; 0] = [];
    assert!(matches!(
        bootstrap::percentile(&none, mean, &cfg),
        Err(E::Empty { .. })
    ));
    assert!(matches!(
        bootstrap::cluster(&[Vec::<f64>::new()], mean, BootstrapMethod::Bca, &cfg),
        Err(E::Empty { .. })
    ));
    assert!(matches!(
        OutcomeDistribution::new(vec![]),
        Err(E::Empty { .. })
    ));
    assert!(matches!(
        interval::proportion(0, 0, ProportionInterval::Wilson, 0.95),
        Err(E::Empty { .. })
    ));
    // One sample is too few for a variance.
    assert!(matches!(
        interval::mean(&[1.0], 0.95),
        Err(E::TooFew {
            need: 2,
            got: 1,
            ..
        })
    ));
}

#[test]
fn zero_negative_and_nan_weights() {
    let v = [1.0, 0.0, 1.0];
    assert!(matches!(
        weighting::self_normalized(&v, &[0.0, 0.0, 0.0], 0.95),
        Err(E::ZeroWeights { n: 3, .. })
    ));
    assert!(matches!(
        weighting::ess(&[0.0, 0.0]),
        Err(E::ZeroWeights { .. })
    ));
    let neg = weighting::importance(&v, &[1.0, -0.5, 1.0], 0.95).unwrap_err();
    assert_eq!(
        neg,
        E::NegativeWeight {
            field: "weights",
            index: 1,
            value: -0.5
        }
    );
    assert!(neg.to_string().contains("weights`[1]"), "{neg}");
    let nan = weighting::self_normalized(&v, &[1.0, 1.0, f64::NAN], 0.95).unwrap_err();
    assert!(
        matches!(
            nan,
            E::NonFinite {
                field: "weights",
                index: 2,
                ..
            }
        ),
        "{nan:?}"
    );
    assert!(matches!(
        weighting::importance(&v, &[1.0, f64::INFINITY, 1.0], 0.95),
        Err(E::NonFinite { index: 1, .. })
    ));
    assert!(matches!(
        weighting::importance(&[1.0, f64::NAN], &[1.0, 1.0], 0.95),
        Err(E::NonFinite {
            field: "values",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        weighting::clipped(&v, &[1.0; 3], 0.0, Normalization::Exact, 0.95),
        Err(E::Parameter { name: "cap", .. })
    ));
    assert!(matches!(
        weighting::repair_mistaken(
            &v,
            &[f64::NEG_INFINITY; 3],
            &[0.0; 3],
            &RepairOptions::default()
        ),
        Err(E::ZeroWeights { .. })
    ));
    assert!(matches!(
        weighting::repair_mistaken(
            &v,
            &[0.0, f64::NAN, 0.0],
            &[0.0; 3],
            &RepairOptions::default()
        ),
        Err(E::NonFinite {
            field: "log_target",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        weighting::repair_mistaken(
            &v,
            &[0.0; 3],
            &[0.0, f64::NEG_INFINITY, 0.0],
            &RepairOptions::default()
        ),
        Err(E::NonFinite {
            field: "log_used",
            index: 1,
            ..
        })
    ));
    assert!(matches!(
        win_rate::neyman_allocation(&[1.0, -1.0], &[1.0, 1.0], 10),
        Err(E::NegativeWeight { .. })
    ));
}

#[test]
fn probabilities_outside_the_unit_interval() {
    for bad in [0.0, -0.1, 1.5, f64::NAN] {
        let e = weighting::horvitz_thompson(&[1.0, 2.0], &[0.5, bad], 10, 0.95).unwrap_err();
        assert!(
            matches!(
                e,
                E::Probability {
                    field: "inclusion",
                    index: 1,
                    range: "(0, 1]",
                    ..
                }
            ),
            "{bad}: {e:?}"
        );
    }
    assert!(matches!(
        win_rate::naive(&[0.5, 1.2], 0.95),
        Err(E::Probability { index: 1, .. })
    ));
    let rec = |j| PairRecord::rejected(Some(j));
    assert!(matches!(
        win_rate::efficient(&[rec(0.5), rec(-1.0)], 0.95),
        Err(E::Probability { index: 1, .. })
    ));
    assert!(matches!(
        OutcomeDistribution::new(vec![Outcome {
            score: 0.1,
            failure: false,
            probability: 1.2
        }]),
        Err(E::Probability { .. })
    ));
    assert!(matches!(
        OutcomeDistribution::new(vec![Outcome {
            score: 0.1,
            failure: false,
            probability: 0.7
        }]),
        Err(E::Parameter { .. })
    ));
    assert!(matches!(
        interval::exact_coverage(10, 1.1, ProportionInterval::Wilson, 0.95),
        Err(E::Probability { .. })
    ));
    assert!(
        Scenario {
            acceptance: 1.0,
            ..Scenario::default()
        }
        .validate()
        .is_err()
    );
}

#[test]
fn mismatched_lengths() {
    let e = weighting::importance(&[1.0, 2.0], &[1.0], 0.95).unwrap_err();
    assert_eq!(
        e,
        E::LengthMismatch {
            left: "values",
            left_len: 2,
            right: "weights",
            right_len: 1
        }
    );
    assert!(matches!(
        weighting::self_normalized(&[1.0, 2.0], &[1.0; 3], 0.95),
        Err(E::LengthMismatch { .. })
    ));
    assert!(matches!(
        weighting::horvitz_thompson(&[1.0], &[0.5, 0.5], 10, 0.95),
        Err(E::LengthMismatch { .. })
    ));
    assert!(matches!(
        interval::ratio(&[1.0, 2.0], &[1.0], 0.95),
        Err(E::LengthMismatch { .. })
    ));
    assert!(matches!(
        weighting::repair_mistaken(&[1.0, 2.0], &[0.0, 0.0], &[0.0], &RepairOptions::default()),
        Err(E::LengthMismatch { .. })
    ));
    assert!(matches!(
        win_rate::neyman_allocation(&[1.0], &[1.0, 2.0], 5),
        Err(E::LengthMismatch { .. })
    ));
}

#[test]
fn levels_counts_and_parameters() {
    for level in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        assert!(
            matches!(interval::z_value(level), Err(E::Level(_))),
            "{level}"
        );
        assert!(matches!(
            interval::mean(&[1.0, 2.0], level),
            Err(E::Level(_))
        ));
    }
    assert!(matches!(
        interval::wilson(11, 10, 0.95),
        Err(E::Counts { .. })
    ));
    assert!(matches!(
        win_rate::efficient_from_counts(5, 1, &[1.0, 0.0], 0.95),
        Err(E::Counts { .. })
    ));
    assert!(matches!(
        win_rate::efficient_from_counts(5, 3, &[], 0.95),
        Err(E::TooFew { .. })
    ));
    let st = Stratum {
        weight: 0.0,
        accepted: 3,
        rejected: 1,
        rejected_judgments: vec![1.0],
        refused: 0,
    };
    assert!(matches!(
        win_rate::stratified(&[st], 0.95),
        Err(E::ZeroWeights { .. })
    ));
    let wp = WeightedPair {
        weight: 1.0,
        unfiltered_accepted: false,
        filtered_refused: false,
        judgment: None,
        prompt: None,
    };
    let e = win_rate::weighted(&[wp, wp], 0.95).unwrap_err();
    assert!(e.to_string().contains("pairs[0]"), "{e}");
    let good = PromptCounts {
        cheap_trials: 10,
        cheap_accepted: 5,
        labeled: 2,
        labeled_accepted: 1,
        labeled_accepted_failures: 1,
        ..PromptCounts::default()
    };
    let cfg = FailureRateConfig::default();
    for bad in [
        PromptCounts {
            cheap_accepted: 11,
            ..good
        },
        PromptCounts {
            cheap_trials: 0,
            cheap_accepted: 0,
            ..good
        },
        PromptCounts {
            labeled: 0,
            labeled_accepted: 0,
            labeled_accepted_failures: 0,
            ..good
        },
        PromptCounts {
            labeled_accepted_failures: 2,
            ..good
        },
        PromptCounts {
            labeled_accepted: 3,
            ..good
        },
    ] {
        let e = failure_rate::sequential(&[good, bad], &cfg).unwrap_err();
        assert!(e.to_string().contains("prompts[1]"), "{e}");
    }
    assert!(matches!(
        failure_rate::sequential(&[good], &cfg),
        Err(E::TooFew { need: 2, .. })
    ));
    let no_threshold = PromptScores::from_samples(None, &[0.1], &[(0.1, true)]);
    assert!(failure_rate::adaptive(&[no_threshold.clone(), no_threshold.clone()], &cfg).is_err());
    let nan_score = PromptScores::from_samples(Some(0.5), &[f64::NAN], &[(0.1, true)]);
    assert!(matches!(
        failure_rate::adaptive(&[nan_score.clone(), nan_score], &cfg),
        Err(E::NonFinite { .. })
    ));
    let few = PromptScores::from_samples(None, &[0.1], &[(0.1, true)]);
    let k3 = Selection::BatchedSafest {
        batch: 3,
        threshold: 0.5,
        on_empty: OnEmpty::Retry,
    };
    assert!(matches!(
        failure_rate::from_scores(&[few.clone(), few], &k3, &cfg),
        Err(E::Counts { .. })
    ));
    let k0 = Selection::BatchedSafest {
        batch: 0,
        threshold: 0.5,
        on_empty: OnEmpty::Retry,
    };
    assert!(matches!(
        k0.validate(),
        Err(E::Parameter { name: "batch", .. })
    ));
    assert!(matches!(
        weighting::horvitz_thompson(&[1.0, 1.0], &[0.5, 0.5], 1, 0.95),
        Err(E::Parameter {
            name: "population",
            ..
        })
    ));
}

#[test]
fn bootstrap_failures() {
    let data = [1.0, 2.0, 3.0, 4.0];
    let few = BootstrapConfig {
        resamples: 10,
        ..BootstrapConfig::default()
    };
    assert!(matches!(
        bootstrap::percentile(&data, mean, &few),
        Err(E::Parameter { .. })
    ));
    let nan_stat = |_: &[f64]| f64::NAN;
    assert!(matches!(
        bootstrap::percentile(&data, nan_stat, &BootstrapConfig::default()),
        Err(E::Statistic { .. })
    ));
    // The number of distinct values: every resample has fewer than the sample, so all
    // replicates lie below the estimate and BCa's bias correction is infinite.
    let distinct = |xs: &[f64]| {
        let mut v = xs.to_vec();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v.len() as f64
    };
    let data: Vec<f64> = (0..20).map(f64::from).collect();
    assert!(matches!(
        bootstrap::bca(&data, distinct, &BootstrapConfig::default()),
        Err(E::Degenerate(_))
    ));
    // Constant data is not an error: a zero-width interval at the value.
    let c = bootstrap::bca(&[2.0; 10], mean, &BootstrapConfig::default()).unwrap();
    assert_eq!(c.ci, (2.0, 2.0));
}
