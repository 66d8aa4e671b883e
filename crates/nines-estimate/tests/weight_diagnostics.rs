//! Weighted estimators where they go wrong: the unnormalized repair form with exact weights
//! (under-covers), a support gap (nothing in the estimate shows it, the mean weight does), and
//! prompts drawn without replacement (p/q weights are biased; p/π weights are not).

mod common;

use common::{assert_covers, assert_valid, run};
use nines_estimate::EstimateError;
use nines_estimate::weighting::{
    InclusionForm, Normalization, OnMeanWeight, RepairOptions, inclusion_weighted, repair_mistaken,
    self_normalized,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1, Normal};
use statrs::distribution::{ContinuousCDF, Normal as SNormal};
use statrs::function::gamma::ln_gamma;

const REPS: usize = 4000;

/// Target `p = N(0, 1)`, draws from `q_used = N(−0.75, 1)` (a sampler shifted from the
/// intended one), `f = 1{x > −0.75}`: lognormal weights `p/q` with σ = 0.75.
fn shifted_draws(rng: &mut ChaCha8Rng, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let used = Normal::new(-0.75, 1.0).unwrap();
    let log_n = |x: f64, m: f64| -0.5 * (x - m).powi(2) - 0.918_938_533_204_672_7;
    let (mut f, mut lp, mut lq) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let x: f64 = used.sample(rng);
        f.push(if x > -0.75 { 1.0 } else { 0.0 });
        lp.push(log_n(x, 0.0));
        lq.push(log_n(x, -0.75));
    }
    (f, lp, lq)
}

fn options(form: Normalization, on_mean_weight: OnMeanWeight) -> RepairOptions {
    RepairOptions {
        form,
        on_mean_weight,
        ..RepairOptions::default()
    }
}

#[test]
fn monte_carlo_repair_self_normalized_by_default() {
    let truth = 1.0 - SNormal::standard().cdf(-0.75);
    for (i, &n) in [100usize, 400].iter().enumerate() {
        let fixed = run(REPS, 500 + i as u64, truth, |rng| {
            let (f, lp, lq) = shifted_draws(rng, n);
            repair_mistaken(
                &f,
                &lp,
                &lq,
                &options(Normalization::SelfNormalized, OnMeanWeight::Warn),
            )
            .unwrap()
            .estimate
        });
        assert_covers(
            &format!("repair, self-normalized (default), n = {n}"),
            &fixed,
        );
        let old = run(REPS, 500 + i as u64, truth, |rng| {
            let (f, lp, lq) = shifted_draws(rng, n);
            repair_mistaken(
                &f,
                &lp,
                &lq,
                &options(Normalization::Exact, OnMeanWeight::Warn),
            )
            .unwrap()
            .estimate
        });
        println!(
            "repair, unnormalized form, n = {n}: coverage {:.4}, half-width {:.4} vs {:.4}",
            old.coverage, old.half_width, fixed.half_width
        );
        // The unnormalized form's interval is more than twice as wide for the same draws.
        assert!(old.half_width > 2.0 * fixed.half_width);
    }
    assert_eq!(RepairOptions::default().form, Normalization::SelfNormalized);
}

/// 100 prompt types with target share 1/100 each; the sampler draws only the first 85, with
/// unequal probabilities; the unsampled 15 fail more often. Normalized densities: the weights
/// average 0.85.
struct Gap {
    q: Vec<f64>,
    f: Vec<f64>,
    cdf: Vec<f64>,
}

impl Gap {
    fn new(gap: bool) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let support = if gap { 85 } else { 100 };
        let raw: Vec<f64> = (0..100)
            .map(|i| {
                if i < support {
                    rng.random_range(0.5..1.5)
                } else {
                    0.0
                }
            })
            .collect();
        let s: f64 = raw.iter().sum();
        let q: Vec<f64> = raw.iter().map(|r| r / s).collect();
        let f: Vec<f64> = (0..100)
            .map(|i| {
                if i < 85 {
                    0.1 + 0.3 * (i % 3) as f64 / 2.0
                } else {
                    0.7
                }
            })
            .collect();
        let mut acc = 0.0;
        let cdf = q
            .iter()
            .map(|p| {
                acc += p;
                acc
            })
            .collect();
        Self { q, f, cdf }
    }

    fn truth(&self) -> f64 {
        self.f.iter().sum::<f64>() / 100.0
    }

    /// `n` draws: (Bernoulli outcome, log target density, log used density).
    fn draw(&self, rng: &mut ChaCha8Rng, n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut v, mut lp, mut lq) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let u: f64 = rng.random::<f64>() * self.cdf[99];
            let i = self.cdf.partition_point(|c| *c < u).min(99);
            v.push(if rng.random::<f64>() < self.f[i] {
                1.0
            } else {
                0.0
            });
            lp.push(0.01f64.ln());
            lq.push(self.q[i].ln());
        }
        (v, lp, lq)
    }
}

#[test]
fn monte_carlo_support_gap_is_detected() {
    let n = 200;
    let gap = Gap::new(true);
    let truth = gap.truth();
    // Old behaviour: an estimate, and an interval that misses.
    let old = run(REPS, 510, truth, |rng| {
        let (v, lp, lq) = gap.draw(rng, n);
        repair_mistaken(
            &v,
            &lp,
            &lq,
            &options(Normalization::SelfNormalized, OnMeanWeight::Warn),
        )
        .unwrap()
        .estimate
    });
    println!(
        "support gap, estimate returned: coverage {:.4}, bias {:.4}",
        old.coverage,
        old.mean - truth
    );
    assert!(old.coverage < 0.5, "got {}", old.coverage);
    // Default: the mean weight (0.85) is flagged and the estimate refused.
    let mut rng = ChaCha8Rng::seed_from_u64(511);
    let mut refused = 0usize;
    let mut mean_weight = 0.0;
    for _ in 0..REPS {
        let (v, lp, lq) = gap.draw(&mut rng, n);
        match repair_mistaken(&v, &lp, &lq, &RepairOptions::default()) {
            Err(EstimateError::MeanWeight { mean, .. }) => {
                refused += 1;
                mean_weight += mean;
            }
            Ok(_) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    let share = refused as f64 / REPS as f64;
    println!(
        "support gap refused in {share:.4} of experiments (mean weight {:.3})",
        mean_weight / refused.max(1) as f64
    );
    assert!(share >= 0.95, "support gap refused only in {share}");
    // Without a gap the check stays quiet and the default interval covers.
    let full = Gap::new(false);
    let mut rng = ChaCha8Rng::seed_from_u64(512);
    let mut alarms = 0usize;
    for _ in 0..REPS {
        let (v, lp, lq) = full.draw(&mut rng, n);
        if repair_mistaken(&v, &lp, &lq, &RepairOptions::default()).is_err() {
            alarms += 1;
        }
    }
    println!("full support: false alarms {alarms} of {REPS}");
    assert!(alarms as f64 / (REPS as f64) < 0.01);
    let ok = run(REPS, 513, full.truth(), |rng| {
        let (v, lp, lq) = full.draw(rng, n);
        repair_mistaken(
            &v,
            &lp,
            &lq,
            &options(Normalization::SelfNormalized, OnMeanWeight::Warn),
        )
        .unwrap()
        .estimate
    });
    assert_valid("repair, full support, n = 200", &ok);
}

/// Inclusion probabilities of successive sampling (draw `n` one by one ∝ `q` without
/// replacement) for two groups of equal-`q` units, by integrating over the exponential clock
/// of the unit: `π_i = ∫₀¹ P(fewer than n other clocks ring first) ds`, `s = 1 − e^{−q_i t}`.
fn successive_inclusion(sizes: [usize; 2], q: [f64; 2], n: usize) -> [f64; 2] {
    let ln_choose = |n: usize, k: usize| {
        ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
    };
    let mut out = [0.0; 2];
    for g in 0..2 {
        let others = [
            sizes[0] - usize::from(g == 0),
            sizes[1] - usize::from(g == 1),
        ];
        let lc: Vec<Vec<f64>> = (0..2)
            .map(|h| (0..=others[h]).map(|k| ln_choose(others[h], k)).collect())
            .collect();
        let steps = 20_000;
        let mut sum = 0.0;
        for k in 0..=steps {
            let s = k as f64 / steps as f64;
            let t = -(1.0 - s).ln() / q[g];
            let p = [1.0 - (-q[0] * t).exp(), 1.0 - (-q[1] * t).exp()];
            let pmf = |h: usize, j: usize| -> f64 {
                if p[h] <= 0.0 {
                    return if j == 0 { 1.0 } else { 0.0 };
                }
                if p[h] >= 1.0 {
                    return if j == others[h] { 1.0 } else { 0.0 };
                }
                (lc[h][j] + j as f64 * p[h].ln() + (others[h] - j) as f64 * (1.0 - p[h]).ln()).exp()
            };
            // P(X + Y ≤ n − 1) = Σ_x P(X = x) F_Y(n − 1 − x).
            let mut cdf_y = vec![0.0; others[1] + 1];
            let mut acc = 0.0;
            for (j, c) in cdf_y.iter_mut().enumerate() {
                acc += pmf(1, j);
                *c = acc;
            }
            let mut prob = 0.0;
            for x in 0..=others[0].min(n - 1) {
                prob += pmf(0, x) * cdf_y[(n - 1 - x).min(others[1])];
            }
            let w = if k == 0 || k == steps {
                1.0
            } else if k % 2 == 1 {
                4.0
            } else {
                2.0
            };
            sum += w * prob;
        }
        out[g] = sum / (3.0 * steps as f64);
    }
    out
}

#[test]
fn monte_carlo_without_replacement_inclusion_probabilities() {
    let (sizes, q, n) = ([500usize, 500usize], [1.0, 4.0], 600usize);
    let pi = successive_inclusion(sizes, q, n);
    let expected = sizes[0] as f64 * pi[0] + sizes[1] as f64 * pi[1];
    assert!((expected - n as f64).abs() < 1e-3, "Σπ = {expected}");
    println!("inclusion probabilities {:.5} / {:.5}", pi[0], pi[1]);
    // A fixed population: the second group's prompts fail more often.
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let group = |i: usize| usize::from(i >= sizes[0]);
    let y: Vec<f64> = (0..1000)
        .map(|i| f64::from(rng.random::<f64>() < [0.2, 0.6][group(i)]))
        .collect();
    let truth = y.iter().sum::<f64>() / 1000.0;
    let sample = |rng: &mut ChaCha8Rng| -> Vec<usize> {
        let mut keys: Vec<(f64, usize)> = (0..1000)
            .map(|i| {
                let e: f64 = Exp1.sample(rng);
                (e / q[group(i)], i)
            })
            .collect();
        keys.select_nth_unstable_by(n - 1, |a, b| a.0.total_cmp(&b.0));
        keys[..n].iter().map(|k| k.1).collect()
    };
    let fixed = run(REPS, 520, truth, |rng| {
        let s = sample(rng);
        let v: Vec<f64> = s.iter().map(|&i| y[i]).collect();
        let incl: Vec<f64> = s.iter().map(|&i| pi[group(i)]).collect();
        inclusion_weighted(&v, &vec![1.0; n], &incl, InclusionForm::Hajek, None, 0.95)
            .unwrap()
            .estimate
    });
    assert_valid(
        "Hájek with inclusion probabilities, 600 of 1,000 drawn ∝ q",
        &fixed,
    );
    let old = run(REPS, 520, truth, |rng| {
        let s = sample(rng);
        let v: Vec<f64> = s.iter().map(|&i| y[i]).collect();
        let w: Vec<f64> = s.iter().map(|&i| 1.0 / q[group(i)]).collect();
        self_normalized(&v, &w, 0.95).unwrap()
    });
    println!(
        "p/q weights: bias {:.4} ({:.0} standard errors), coverage {:.4}",
        old.mean - truth,
        old.z(),
        old.coverage
    );
    assert!(old.z() > 10.0 && old.coverage < 0.5);
}
