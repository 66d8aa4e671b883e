//! Intervals: closed-form values, exact binomial coverage, and Monte Carlo coverage.

mod common;

use common::{REPS, assert_valid, run};
use nines_estimate::interval::{
    self, ProportionInterval, clopper_pearson, exact_coverage, proportion, wilson, z_value,
};
use rand::Rng;
use rand_distr::{Binomial, Distribution, Normal};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn closed_form_values() {
    assert!(close(z_value(0.95).unwrap(), 1.959_963_985, 1e-8));
    assert!(close(z_value(0.90).unwrap(), 1.644_853_627, 1e-8));
    // Wilson, 5 of 10: [0.2366, 0.7634].
    let w = wilson(5, 10, 0.95).unwrap();
    assert!(
        close(w.ci.0, 0.236_593, 1e-5) && close(w.ci.1, 0.763_407, 1e-5),
        "{w:?}"
    );
    // Clopper-Pearson, 5 of 10: [0.1871, 0.8129].
    let cp = clopper_pearson(5, 10, 0.95).unwrap();
    assert!(
        close(cp.ci.0, 0.187_086, 1e-5) && close(cp.ci.1, 0.812_914, 1e-5),
        "{cp:?}"
    );
    // Zero events: upper bound 1 − (α/2)^{1/n}; all events: lower bound (α/2)^{1/n}.
    let n = 300u64;
    let cp0 = clopper_pearson(0, n, 0.95).unwrap();
    assert_eq!(cp0.ci.0, 0.0);
    assert!(close(cp0.ci.1, 1.0 - 0.025f64.powf(1.0 / n as f64), 1e-10));
    let cpn = clopper_pearson(n, n, 0.95).unwrap();
    assert_eq!(cpn.ci.1, 1.0);
    assert!(close(cpn.ci.0, 0.025f64.powf(1.0 / n as f64), 1e-10));
    // Extreme shapes stay accurate: 3 of 100000.
    let cpr = clopper_pearson(3, 100_000, 0.95).unwrap();
    assert!(
        close(cpr.ci.0, 6.187e-6, 2e-9) && close(cpr.ci.1, 8.767e-5, 2e-8),
        "{cpr:?}"
    );
    // Sample mean and its standard error.
    let m = interval::mean(&[1.0, 2.0, 3.0, 4.0], 0.95).unwrap();
    assert_eq!(m.value, 2.5);
    assert!(close(m.std_error, (5.0f64 / 3.0 / 4.0).sqrt(), 1e-12));
    // A ratio with no residual has zero standard error.
    let r = interval::ratio(&[2.0, 4.0, 6.0], &[1.0, 2.0, 3.0], 0.95).unwrap();
    assert_eq!(r.value, 2.0);
    assert_eq!(r.std_error, 0.0);
}

/// The plain CLT (Wald) interval fails for rare events; Wilson and Clopper-Pearson do not.
/// Exact (no simulation) coverage of Binomial(n, p) intervals.
#[test]
fn exact_coverage_shows_wald_fails_for_rare_events() {
    let wald = exact_coverage(2000, 0.001, ProportionInterval::Wald, 0.95).unwrap();
    let wil = exact_coverage(2000, 0.001, ProportionInterval::Wilson, 0.95).unwrap();
    let cp = exact_coverage(2000, 0.001, ProportionInterval::ClopperPearson, 0.95).unwrap();
    println!("n = 2000, p = 0.001: Wald {wald:.4}, Wilson {wil:.4}, Clopper-Pearson {cp:.4}");
    assert!(wald < 0.90, "Wald should under-cover: {wald}");
    assert!((0.93..=0.97).contains(&wil), "Wilson {wil}");
    assert!(cp >= 0.95, "Clopper-Pearson is never below nominal: {cp}");
    // Clopper-Pearson's conservatism fades as n·p grows: within the band at n·p = 30.
    let cp30 = exact_coverage(30_000, 0.001, ProportionInterval::ClopperPearson, 0.95).unwrap();
    assert!((0.95..=0.97).contains(&cp30), "{cp30}");
    // Clopper-Pearson guarantee over a grid of (n, p).
    for n in [10u64, 37, 100, 1000] {
        for p in [0.001, 0.01, 0.05, 0.2, 0.5, 0.9] {
            let c = exact_coverage(n, p, ProportionInterval::ClopperPearson, 0.95).unwrap();
            assert!(
                c >= 0.95 - 1e-9,
                "CP coverage {c} < 0.95 at n = {n}, p = {p}"
            );
        }
    }
}

fn binomial_experiment(
    n: u64,
    p: f64,
    kind: ProportionInterval,
) -> impl FnMut(&mut rand_chacha::ChaCha8Rng) -> nines_estimate::Estimate {
    let b = Binomial::new(n, p).unwrap();
    move |rng| proportion(b.sample(rng), n, kind, 0.95).unwrap()
}

#[test]
fn monte_carlo_wilson_common_and_rare() {
    let s = run(
        REPS,
        11,
        0.3,
        binomial_experiment(200, 0.3, ProportionInterval::Wilson),
    );
    assert_valid("wilson p=0.3 n=200", &s);
    // Rare: 2 expected events in 2000 (a failure rate at 99.9% acceptance).
    let s = run(
        REPS,
        12,
        0.001,
        binomial_experiment(2000, 0.001, ProportionInterval::Wilson),
    );
    assert_valid("wilson p=0.001 n=2000", &s);
}

#[test]
fn monte_carlo_clopper_pearson_rare() {
    let s = run(
        REPS,
        13,
        0.001,
        binomial_experiment(30_000, 0.001, ProportionInterval::ClopperPearson),
    );
    assert_valid("clopper-pearson p=0.001 n=30000", &s);
}

#[test]
fn monte_carlo_wald_under_covers_rare_events() {
    let s = run(
        REPS,
        14,
        0.001,
        binomial_experiment(2000, 0.001, ProportionInterval::Wald),
    );
    println!("wald p=0.001 n=2000: coverage {:.4}", s.coverage);
    assert!(
        s.coverage < 0.90,
        "the plain CLT should under-cover here: {}",
        s.coverage
    );
}

#[test]
fn monte_carlo_mean_clt() {
    // Uniform(0, 1), n = 50: truth 1/2.
    let s = run(REPS, 15, 0.5, |rng| {
        let xs: Vec<f64> = (0..50).map(|_| rng.random::<f64>()).collect();
        interval::mean(&xs, 0.95).unwrap()
    });
    assert_valid("clt mean uniform n=50", &s);
}

#[test]
fn monte_carlo_ratio_delta_method() {
    // x ~ U(1, 3), y = x² + N(0, 1): R = E[y]/E[x] = (13/3)/2.
    let noise = Normal::new(0.0, 1.0).unwrap();
    let s = run(REPS, 16, 13.0 / 6.0, |rng| {
        let mut ys = Vec::with_capacity(100);
        let mut xs = Vec::with_capacity(100);
        for _ in 0..100 {
            let x = 1.0 + 2.0 * rng.random::<f64>();
            xs.push(x);
            ys.push(x * x + noise.sample(rng));
        }
        interval::ratio(&ys, &xs, 0.95).unwrap()
    });
    assert_valid("delta-method ratio n=100", &s);
}
