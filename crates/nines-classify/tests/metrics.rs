//! Metrics and thresholds against brute-force definitions on random data.

use nines_classify::metrics::{auprc, auroc, calibration, fit_temperature, log_loss};
use nines_classify::threshold::{clopper_pearson_upper, evaluate_threshold, select_for_fnr};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random(n: usize, seed: u64) -> (Vec<f32>, Vec<bool>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let labels: Vec<bool> = (0..n).map(|i| i % 4 == 0 || rng.random_bool(0.2)).collect();
    // Coarse scores so ties occur.
    let scores = labels
        .iter()
        .map(|&l| ((rng.random::<f32>() + if l { 0.4 } else { 0.0 }) * 10.0).round() / 10.0)
        .collect();
    (scores, labels)
}

#[test]
fn auroc_equals_the_pairwise_definition() {
    for seed in 0..20 {
        let (s, l) = random(60, seed);
        let (mut wins, mut pairs) = (0.0, 0.0);
        for i in 0..s.len() {
            for j in 0..s.len() {
                if l[i] && !l[j] {
                    pairs += 1.0;
                    wins += if s[i] > s[j] {
                        1.0
                    } else if s[i] == s[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        assert!((auroc(&s, &l).unwrap() - wins / pairs).abs() < 1e-12);
    }
}

#[test]
fn auprc_is_perfect_for_separated_scores_and_near_prevalence_for_noise() {
    let l: Vec<bool> = (0..100).map(|i| i < 30).collect();
    let s: Vec<f32> = (0..100).map(|i| 1.0 - i as f32 / 100.0).collect();
    assert!((auprc(&s, &l).unwrap() - 1.0).abs() < 1e-12);
    let flat = vec![0.5f32; 100];
    assert!((auprc(&flat, &l).unwrap() - 0.3).abs() < 1e-12);
}

#[test]
fn threshold_meets_the_target_and_is_the_highest_that_does() {
    for seed in 0..20 {
        let (s, l) = random(200, seed);
        for target in [0.0, 0.01, 0.05, 0.2] {
            let c = select_for_fnr(&s, &l, target, 0.95).unwrap();
            assert!(c.fnr <= target + 1e-12, "fnr {} > {target}", c.fnr);
            // Any higher score as threshold misses more than allowed.
            let higher = s
                .iter()
                .copied()
                .filter(|&x| f64::from(x) > c.threshold)
                .fold(f32::INFINITY, f32::min);
            if higher.is_finite() {
                let e = evaluate_threshold(&s, &l, f64::from(higher), 0.95).unwrap();
                assert!(
                    e.fnr > target,
                    "a higher threshold {higher} also meets {target}"
                );
            }
            assert!(c.fnr_upper >= c.fnr && c.fnr_upper <= 1.0);
            let rejected = s
                .iter()
                .zip(&l)
                .filter(|(x, y)| !**y && f64::from(**x) >= c.threshold)
                .count();
            assert_eq!(rejected, c.rejected_safe);
        }
    }
}

#[test]
fn clopper_pearson_upper_bound_matches_closed_forms() {
    // k = 0: 1 − α^{1/n}.
    let u = clopper_pearson_upper(0, 50, 0.95).unwrap();
    assert!((u - (1.0 - 0.05f64.powf(1.0 / 50.0))).abs() < 1e-9);
    // k = n: nothing bounds the rate below 1.
    assert_eq!(clopper_pearson_upper(50, 50, 0.95).unwrap(), 1.0);
    assert!(clopper_pearson_upper(1, 0, 0.95).is_err());
    assert!(clopper_pearson_upper(1, 10, 0.3).is_err());
}

#[test]
fn calibration_bins_and_log_loss() {
    let p = [0.05f32, 0.15, 0.95, 0.85, 0.91];
    let y = [false, false, true, true, false];
    let c = calibration(&p, &y, 10).unwrap();
    assert_eq!(c.bins.len(), 10);
    assert_eq!(c.bins.iter().map(|b| b.count).sum::<usize>(), 5);
    assert_eq!(c.bins[9].count, 2);
    let manual = (0.05 + 0.15 + 0.15 + 2.0 * (0.93 - 0.5f64).abs()) / 5.0;
    assert!((c.ece - manual).abs() < 1e-6, "{} vs {manual}", c.ece);
    let ll = log_loss(&[0.5], &[true]).unwrap();
    assert!((ll - 2f64.ln()).abs() < 1e-9);
    assert!(log_loss(&[f32::NAN], &[true]).is_err());
    assert!(auroc(&[0.1, 0.2], &[true]).is_err());
    assert!(auroc(&[0.1, 0.2], &[true, true]).is_err());
}

#[test]
fn temperature_recovers_a_known_scale() {
    let mut rng = StdRng::seed_from_u64(9);
    let z: Vec<f32> = (0..4000).map(|_| rng.random_range(-8.0f32..8.0)).collect();
    let y: Vec<bool> = z
        .iter()
        .map(|&z| rng.random_bool(1.0 / (1.0 + (-(f64::from(z)) / 3.0).exp())))
        .collect();
    let t = fit_temperature(&z, &y).unwrap();
    assert!((t - 3.0).abs() < 0.3, "{t}");
}

/// Hanley-McNeil intervals cover the AUROC of a binormal score model (shift 1.5: AUROC
/// Φ(1.5/√2) ≈ 0.856) about 95% of the time with 50 positives and 500 negatives, and
/// narrow as the sample grows.
#[test]
fn auroc_interval_covers_the_binormal_auroc() {
    use nines_classify::metrics::auroc_interval;
    use rand_distr::{Distribution, StandardNormal};
    let truth = 0.855_863_4;
    let mut rng = StdRng::seed_from_u64(11);
    let (reps, pos, neg) = (800, 50, 500);
    let mut covered = 0;
    for _ in 0..reps {
        let mut scores = Vec::with_capacity(pos + neg);
        let mut labels = Vec::with_capacity(pos + neg);
        for i in 0..pos + neg {
            let z: f64 = StandardNormal.sample(&mut rng);
            let positive = i < pos;
            scores.push((z + if positive { 1.5 } else { 0.0 }) as f32);
            labels.push(positive);
        }
        let a = auroc(&scores, &labels).unwrap();
        let (lo, hi) = auroc_interval(a, pos, neg, 0.95).unwrap();
        covered += usize::from(lo <= truth && truth <= hi);
    }
    let coverage = covered as f64 / reps as f64;
    assert!((0.92..=0.98).contains(&coverage), "coverage {coverage}");
    let narrow = auroc_interval(0.85, 500, 5000, 0.95).unwrap();
    let wide = auroc_interval(0.85, 50, 500, 0.95).unwrap();
    assert!(narrow.1 - narrow.0 < 0.5 * (wide.1 - wide.0));
    assert!(auroc_interval(1.2, 5, 5, 0.95).is_err());
    assert!(auroc_interval(0.8, 0, 5, 0.95).is_err());
}
