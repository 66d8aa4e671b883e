//! Exact output distributions of sequential and batched-safest filters: closed forms, and the
//! exact distribution against running the filter many times.

use nines_estimate::batched::{
    OnEmpty, Outcome, OutcomeDistribution, Selection, emission, sample_emitted,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn o(score: f64, failure: bool, probability: f64) -> Outcome {
    Outcome {
        score,
        failure,
        probability,
    }
}

/// Scores 0.1 (safe, 0.5), 0.2 (failure, 0.3), 0.9 (failure, rejected, 0.2).
fn three() -> OutcomeDistribution {
    OutcomeDistribution::new(vec![
        o(0.1, false, 0.5),
        o(0.2, true, 0.3),
        o(0.9, true, 0.2),
    ])
    .unwrap()
}

#[test]
fn closed_forms() {
    let d = three();
    let seq = emission(&d, &Selection::Sequential { threshold: 0.5 }).unwrap();
    assert!((seq.failure_probability - 0.375).abs() < 1e-12);
    assert!((seq.expected_draws - 1.25).abs() < 1e-12);
    // k = 2, retry: P(min = 0.1) = 1 − 0.5² = 0.75, P(min = 0.2) = 0.5² − 0.2² = 0.21,
    // P(both rejected) = 0.04 → failure 0.21/0.96, draws 2/0.96.
    let b2 = emission(
        &d,
        &Selection::BatchedSafest {
            batch: 2,
            threshold: 0.5,
            on_empty: OnEmpty::Retry,
        },
    )
    .unwrap();
    assert!((b2.failure_probability - 0.21 / 0.96).abs() < 1e-12);
    assert!((b2.probabilities[0] - 0.75 / 0.96).abs() < 1e-12);
    assert!((b2.expected_draws - 2.0 / 0.96).abs() < 1e-12);
    // Emit-safest: the rejected failure is emitted when both draws are rejected (0.04).
    let e2 = emission(
        &d,
        &Selection::BatchedSafest {
            batch: 2,
            threshold: 0.5,
            on_empty: OnEmpty::EmitSafest,
        },
    )
    .unwrap();
    assert!((e2.failure_probability - 0.25).abs() < 1e-12);
    assert!((e2.emits_rejected - 0.04).abs() < 1e-12);
    assert_eq!(e2.expected_draws, 2.0);
    // k = 1 with retry is the sequential filter.
    let b1 = emission(
        &d,
        &Selection::BatchedSafest {
            batch: 1,
            threshold: 0.5,
            on_empty: OnEmpty::Retry,
        },
    )
    .unwrap();
    for (a, b) in b1.probabilities.iter().zip(&seq.probabilities) {
        assert!((a - b).abs() < 1e-12);
    }
    // Ties: two outcomes with the same score share the "minimum" in proportion.
    let tie = OutcomeDistribution::new(vec![
        o(0.1, true, 0.2),
        o(0.1, false, 0.6),
        o(0.8, false, 0.2),
    ])
    .unwrap();
    let bt = emission(
        &tie,
        &Selection::BatchedSafest {
            batch: 3,
            threshold: 0.5,
            on_empty: OnEmpty::Retry,
        },
    )
    .unwrap();
    assert!((bt.failure_probability - 0.25).abs() < 1e-12);
}

/// Run each filter 100,000 times and compare the emitted frequencies with the exact
/// distribution (every cell within 4.5 binomial standard deviations), and the mean draws.
#[test]
fn exact_distribution_matches_simulation() {
    let d = OutcomeDistribution::new(vec![
        o(0.05, false, 0.25),
        o(0.05, true, 0.05),
        o(0.2, false, 0.2),
        o(0.2, true, 0.1),
        o(0.4, true, 0.1),
        o(0.4, false, 0.1),
        o(0.7, true, 0.15),
        o(0.95, false, 0.05),
    ])
    .unwrap();
    let selections = [
        Selection::Sequential { threshold: 0.4 },
        Selection::BatchedSafest {
            batch: 3,
            threshold: 0.4,
            on_empty: OnEmpty::Retry,
        },
        Selection::BatchedSafest {
            batch: 2,
            threshold: 0.1,
            on_empty: OnEmpty::EmitSafest,
        },
    ];
    let runs = 100_000usize;
    for (s_i, sel) in selections.iter().enumerate() {
        let exact = emission(&d, sel).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(500 + s_i as u64);
        let mut counts = vec![0usize; d.outcomes().len()];
        let mut draws = 0u64;
        for _ in 0..runs {
            let (i, n) = sample_emitted(&d, sel, &mut rng, 1_000_000).unwrap();
            counts[i] += 1;
            draws += n;
        }
        let total: f64 = exact.probabilities.iter().sum();
        assert!(
            (total - 1.0).abs() < 1e-12,
            "{sel:?}: probabilities sum to {total}"
        );
        for (c, p) in counts.iter().zip(&exact.probabilities) {
            let sd = (runs as f64 * p * (1.0 - p)).sqrt().max(1.0);
            let z = (*c as f64 - runs as f64 * p).abs() / sd;
            assert!(
                z < 4.5,
                "{sel:?}: count {c} vs expected {} (z = {z:.1})",
                runs as f64 * p
            );
        }
        let mean_draws = draws as f64 / runs as f64;
        assert!(
            (mean_draws - exact.expected_draws).abs() < 0.02 * exact.expected_draws,
            "{sel:?}: mean draws {mean_draws} vs {}",
            exact.expected_draws
        );
        println!(
            "{sel:?}: failure {:.4}, draws {:.3}",
            exact.failure_probability, exact.expected_draws
        );
    }
}

#[test]
fn nothing_accepted_is_an_error_for_retry_filters() {
    let d = three();
    assert!(emission(&d, &Selection::Sequential { threshold: 0.01 }).is_err());
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    assert!(
        sample_emitted(
            &d,
            &Selection::Sequential { threshold: 0.01 },
            &mut rng,
            1000
        )
        .is_err()
    );
    // Emit-safest always emits.
    let e = emission(
        &d,
        &Selection::BatchedSafest {
            batch: 2,
            threshold: 0.01,
            on_empty: OnEmpty::EmitSafest,
        },
    )
    .unwrap();
    assert!((e.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}
