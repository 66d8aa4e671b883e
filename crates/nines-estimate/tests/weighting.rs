//! Reweighting estimators: Horvitz-Thompson, importance sampling (bounded and heavy-tailed
//! weights), self-normalized IS, clipping and its stated bias, and mistaken-density repair.

mod common;

use common::{REPS, assert_valid, run};
use nines_estimate::weighting::{self, Normalization, OnMeanWeight, RepairOptions, WeightScale};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};
use statrs::distribution::{ContinuousCDF, Normal as SNormal};

fn phi(x: f64) -> f64 {
    SNormal::standard().cdf(x)
}

#[test]
fn closed_forms() {
    // Equal weights: IS = SNIS = plain mean; ESS = n.
    let v = [1.0, 0.0, 0.5, 0.25];
    let w = [2.0; 4];
    let snis = weighting::self_normalized(&v, &w, 0.95).unwrap();
    assert!((snis.value - 0.4375).abs() < 1e-12);
    let is = weighting::importance(&v, &[1.0; 4], 0.95).unwrap();
    assert!((is.value - 0.4375).abs() < 1e-12);
    assert_eq!(weighting::ess(&w).unwrap(), 4.0);
    // HT: population 10, two units sampled with π = 0.5 and 0.25: (2/0.5 + 1/0.25)/10 = 0.8;
    // variance (0.5·4/0.25 + 0.75·1/0.0625)/100 = (8 + 12)/100.
    let ht = weighting::horvitz_thompson(&[2.0, 1.0], &[0.5, 0.25], 10, 0.95).unwrap();
    assert!((ht.value - 0.8).abs() < 1e-12);
    assert!((ht.std_error - 0.2f64.sqrt()).abs() < 1e-12);
    // Clipping: weights (1, 4), cap 2, values (1, 1): clipped mean (1+2)/2; excess (0+2)/2;
    // bias estimate −(0 + 2·1)/2.
    let c = weighting::clipped(&[1.0, 1.0], &[1.0, 4.0], 2.0, Normalization::Exact, 0.95).unwrap();
    assert_eq!(c.estimate.value, 1.5);
    assert_eq!(c.clipped, 1);
    assert_eq!(c.excess_mass, 1.0);
    assert_eq!(c.bias_estimate, -1.0);
    // A cap above every weight changes nothing.
    let same = weighting::clipped(&v, &w, 10.0, Normalization::SelfNormalized, 0.95).unwrap();
    assert_eq!(same.estimate.value, snis.value);
    assert_eq!(same.bias_estimate, 0.0);
}

/// Active-learning style: a pool of 3000 items, each labeled with its own inclusion
/// probability (higher for uncertain items), Poisson sampling.
#[test]
fn monte_carlo_horvitz_thompson() {
    let mut g = ChaCha8Rng::seed_from_u64(1);
    let n_pop = 3000;
    let ys: Vec<f64> = (0..n_pop)
        .map(|_| if g.random::<f64>() < 0.15 { 1.0 } else { 0.0 })
        .collect();
    // Inclusion probability correlated with y (uncertainty sampling finds positives more).
    let pis: Vec<f64> = ys
        .iter()
        .map(|y| {
            if *y > 0.0 {
                0.4
            } else {
                0.05 + 0.1 * g.random::<f64>()
            }
        })
        .collect();
    let truth = ys.iter().sum::<f64>() / n_pop as f64;
    let s = run(REPS, 31, truth, |rng| {
        let (mut v, mut p) = (Vec::new(), Vec::new());
        for i in 0..n_pop {
            if rng.random::<f64>() < pis[i] {
                v.push(ys[i]);
                p.push(pis[i]);
            }
        }
        weighting::horvitz_thompson(&v, &p, n_pop, 0.95).unwrap()
    });
    assert_valid("horvitz-thompson, Poisson sampling of 3000", &s);
}

/// q = N(0, 1), target p = N(μ, 1), f = 1{x > 1}: weights are lognormal with σ = μ.
fn gaussian_shift(rng: &mut ChaCha8Rng, n: usize, mu: f64) -> (Vec<f64>, Vec<f64>) {
    let q = Normal::new(0.0, 1.0).unwrap();
    let mut f = Vec::with_capacity(n);
    let mut w = Vec::with_capacity(n);
    for _ in 0..n {
        let x: f64 = q.sample(rng);
        f.push(if x > 1.0 { 1.0 } else { 0.0 });
        w.push((mu * x - 0.5 * mu * mu).exp());
    }
    (f, w)
}

#[test]
fn monte_carlo_importance_bounded_and_lognormal() {
    // Bounded weights: q = Exp(1/3), p = Exp(1), f = 1{x > 3}; w = 3 e^{−2x/3} ≤ 3.
    let q = Exp::new(1.0 / 3.0).unwrap();
    let s = run(REPS, 32, (-3.0f64).exp(), |rng| {
        let mut f = Vec::with_capacity(400);
        let mut w = Vec::with_capacity(400);
        for _ in 0..400 {
            let x: f64 = q.sample(rng);
            f.push(if x > 3.0 { 1.0 } else { 0.0 });
            w.push(3.0 * (-2.0 * x / 3.0).exp());
        }
        weighting::importance(&f, &w, 0.95).unwrap()
    });
    assert_valid("importance sampling, bounded weights, n=400", &s);

    // Lognormal weights (σ = 1): truth P(N(1,1) > 1) = 1/2.
    let s = run(REPS, 33, 0.5, |rng| {
        let (f, w) = gaussian_shift(rng, 1000, 1.0);
        weighting::importance(&f, &w, 0.95).unwrap()
    });
    assert_valid("importance sampling, lognormal weights σ=1, n=1000", &s);
}

#[test]
fn monte_carlo_self_normalized_unnormalized_weights() {
    // Same lognormal scenario with weights known only up to a constant (×37).
    let s = run(REPS, 34, 0.5, |rng| {
        let (f, mut w) = gaussian_shift(rng, 1000, 1.0);
        for x in &mut w {
            *x *= 37.0;
        }
        weighting::self_normalized(&f, &w, 0.95).unwrap()
    });
    assert_valid("self-normalized IS, lognormal weights σ=1, n=1000", &s);
}

/// Heavy-tailed weights: q = Exp(λ), p = Exp(1), f(x) = x, so w = e^{(λ−1)x}/λ has a Pareto
/// tail with index λ/(λ−1). Index 5 (λ = 1.25): the CLT interval is valid at n = 2000.
/// Index 2.5 (λ = 5/3, infinite third moment): it under-covers at the same n.
#[test]
fn monte_carlo_heavy_tailed_weights() {
    let sample = |rng: &mut ChaCha8Rng, lambda: f64, n: usize| {
        let q = Exp::new(lambda).unwrap();
        let mut f = Vec::with_capacity(n);
        let mut w = Vec::with_capacity(n);
        for _ in 0..n {
            let x: f64 = q.sample(rng);
            f.push(x);
            w.push(((lambda - 1.0) * x).exp() / lambda);
        }
        (f, w)
    };
    let s = run(REPS, 35, 1.0, |rng| {
        let (f, w) = sample(rng, 1.25, 2000);
        weighting::importance(&f, &w, 0.95).unwrap()
    });
    assert_valid("importance sampling, Pareto(5)-tailed weights, n=2000", &s);

    let bad = run(REPS, 36, 1.0, |rng| {
        let (f, w) = sample(rng, 5.0 / 3.0, 2000);
        weighting::importance(&f, &w, 0.95).unwrap()
    });
    println!("Pareto(2.5)-tailed weights: coverage {:.4}", bad.coverage);
    assert!(
        bad.coverage < 0.92,
        "expected under-coverage: {}",
        bad.coverage
    );
}

/// Clipping at cap c: the estimator is unbiased for `E_q[min(w, c) f]`, its bias is
/// `−E_q[(w−c)₊ f]`, bounded by the excess mass `E_q[(w−c)₊]`. Lognormal σ = 1.5, f = 1{x>1}.
#[test]
fn monte_carlo_clipping_bias_as_stated() {
    let mu = 1.5f64;
    let cap = 5.0f64;
    // w > c ⇔ x > x_c.
    let x_c = (cap.ln() + 0.5 * mu * mu) / mu;
    let truth = 1.0 - phi(1.0 - mu); // P(N(μ,1) > 1)
    // E_q[min(w,c) 1{x>1}] = P_p(1 < X ≤ x_c) + c P_q(X > max(1, x_c)).
    let clipped_truth = (phi(x_c - mu) - phi(1.0 - mu)).max(0.0) + cap * (1.0 - phi(x_c.max(1.0)));
    let excess_truth = (1.0 - phi(x_c - mu)) - cap * (1.0 - phi(x_c));
    let stated_bias = clipped_truth - truth;
    assert!(stated_bias < 0.0 && -stated_bias <= excess_truth + 1e-12);

    let mut excess_sum = 0.0;
    let s = run(REPS, 37, clipped_truth, |rng| {
        let (f, w) = gaussian_shift(rng, 1000, mu);
        let c = weighting::clipped(&f, &w, cap, Normalization::Exact, 0.95).unwrap();
        excess_sum += c.excess_mass;
        c.estimate
    });
    assert_valid("clipped IS (its interval covers the clipped target)", &s);
    let excess_mean = excess_sum / REPS as f64;
    println!(
        "clipping at {cap}: bias {stated_bias:.5}, excess mass {excess_truth:.5} (estimated {excess_mean:.5})"
    );
    assert!((excess_mean - excess_truth).abs() < 0.1 * excess_truth);
    // Relative to the real target the mean is off by the stated bias, many SEs away.
    assert!(((s.mean - truth) - stated_bias).abs() < 3.0 * s.se_of_mean);
    assert!((s.mean - truth).abs() > 10.0 * s.se_of_mean);

    // Self-normalized clipping targets E_q[min(w,c) f] / E_q[min(w,c)]; its bias is at most the
    // excess mass δ (f in [0, 1]).
    let z_c = phi(x_c - mu) + cap * (1.0 - phi(x_c));
    let sn_target = clipped_truth / z_c;
    assert!((sn_target - truth).abs() <= excess_truth);
    let s = run(REPS, 137, sn_target, |rng| {
        let (f, w) = gaussian_shift(rng, 1000, mu);
        weighting::clipped(&f, &w, cap, Normalization::SelfNormalized, 0.95)
            .unwrap()
            .estimate
    });
    assert_valid("clipped self-normalized IS (clipped target)", &s);
    println!(
        "self-normalized clipping bias {:.5} (bound {excess_truth:.5})",
        sn_target - truth
    );
}

/// Data collected under a mistaken proposal: the plan was q = N(1, 1) to oversample the tail
/// of p = N(0, 1) for f = 1{x > 2}, but a sampler bug drew from N(1, 1.3²). Weighting by the
/// intended density is biased; weighting by the density actually used repairs it.
#[test]
fn monte_carlo_mistaken_density_repair() {
    let truth = 1.0 - phi(2.0);
    let used = Normal::new(1.0, 1.3).unwrap();
    let log_n = |x: f64, m: f64, s: f64| -0.5 * ((x - m) / s).powi(2) - s.ln() - 0.918_938_533;
    let draw = |rng: &mut ChaCha8Rng| {
        let n = 1000;
        let (mut f, mut lp, mut lq_used, mut lq_intended) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let x: f64 = used.sample(rng);
            f.push(if x > 2.0 { 1.0 } else { 0.0 });
            lp.push(log_n(x, 0.0, 1.0));
            lq_used.push(log_n(x, 1.0, 1.3));
            lq_intended.push(log_n(x, 1.0, 1.0));
        }
        (f, lp, lq_used, lq_intended)
    };
    let naive = run(REPS, 38, truth, |rng| {
        let (f, lp, _, lq_int) = draw(rng);
        weighting::repair_mistaken(
            &f,
            &lp,
            &lq_int,
            &RepairOptions {
                form: Normalization::Exact,
                on_mean_weight: OnMeanWeight::Warn,
                ..RepairOptions::default()
            },
        )
        .unwrap()
        .estimate
    });
    println!(
        "weights from the intended density: mean {:.5} vs truth {truth:.5} (z = {:.1})",
        naive.mean,
        naive.z()
    );
    assert!(
        naive.z() > 10.0,
        "the mistaken weights should be visibly biased"
    );
    let fixed = run(REPS, 38, truth, |rng| {
        let (f, lp, lq_used, _) = draw(rng);
        weighting::repair_mistaken(
            &f,
            &lp,
            &lq_used,
            &RepairOptions {
                form: Normalization::Exact,
                ..RepairOptions::default()
            },
        )
        .unwrap()
        .estimate
    });
    assert_valid("mistaken-density repair (exact)", &fixed);
    let fixed_sn = run(REPS, 39, truth, |rng| {
        let (f, lp, lq_used, _) = draw(rng);
        // Unnormalized log densities (constants dropped) are fine when self-normalizing.
        let lp: Vec<f64> = lp.iter().map(|l| l + 3.0).collect();
        weighting::repair_mistaken(
            &f,
            &lp,
            &lq_used,
            &RepairOptions {
                densities: WeightScale::Arbitrary,
                ..RepairOptions::default()
            },
        )
        .unwrap()
        .estimate
    });
    assert_valid("mistaken-density repair (self-normalized)", &fixed_sn);
}
