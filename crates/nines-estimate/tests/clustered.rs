//! Several pairs (or completions) per prompt: prompts differ in acceptance rate and in how
//! often people prefer the filtered completion, so the pairs of one prompt are correlated.
//! Treating them as independent under-covers; per-prompt totals restore the coverage.

mod common;

use common::{assert_valid, run};
use nines_estimate::cluster::{ClusterCount, proportion};
use nines_estimate::interval::ProportionInterval;
use nines_estimate::win_rate::{PairRecord, efficient, naive, naive_by_prompt};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Replicates for checks whose band matters.
const REPS: usize = 4000;

/// A prompt's acceptance rate and mean judgment on rejected pairs.
fn prompt(rng: &mut ChaCha8Rng) -> (f64, f64) {
    (rng.random_range(0.2..0.95), rng.random_range(0.1..0.95))
}

/// `W = E[a]/2 + E[1 − a] E[m]` for independent uniform `a`, `m`.
fn truth() -> f64 {
    let (ea, em) = (0.575, 0.525);
    0.5 * ea + (1.0 - ea) * em
}

/// `prompts × per_prompt` pairs; each pair's prompt id recorded when `ids`.
fn pairs(rng: &mut ChaCha8Rng, prompts: usize, per_prompt: usize, ids: bool) -> Vec<PairRecord> {
    let mut out = Vec::with_capacity(prompts * per_prompt);
    for p in 0..prompts {
        let (a, m) = prompt(rng);
        for _ in 0..per_prompt {
            let r = if rng.random::<f64>() < a {
                PairRecord::accepted()
            } else {
                PairRecord::rejected(Some(if rng.random::<f64>() < m { 1.0 } else { 0.0 }))
            };
            out.push(if ids { r.for_prompt(p as u64) } else { r });
        }
    }
    out
}

#[test]
fn monte_carlo_efficient_several_pairs_per_prompt() {
    for (i, &(prompts, per)) in [(40usize, 10usize), (20, 25)].iter().enumerate() {
        let fixed = run(REPS, 300 + i as u64, truth(), |rng| {
            efficient(&pairs(rng, prompts, per, true), 0.95)
                .unwrap()
                .estimate
        });
        assert_valid(
            &format!("efficient win rate by prompt, {prompts} prompts x {per} pairs"),
            &fixed,
        );
        let old = run(REPS, 300 + i as u64, truth(), |rng| {
            efficient(&pairs(rng, prompts, per, false), 0.95)
                .unwrap()
                .estimate
        });
        println!(
            "pairs treated as independent, {prompts} x {per}: coverage {:.4}",
            old.coverage
        );
        assert!(
            old.coverage < 0.90,
            "independent-pair interval should under-cover, got {}",
            old.coverage
        );
    }
}

#[test]
fn monte_carlo_naive_several_pairs_per_prompt() {
    // Naive protocol: every pair judged; J = 1/2 ± on accepted pairs, Bernoulli(m) otherwise.
    let draw = |rng: &mut ChaCha8Rng| {
        let (mut js, mut ids) = (Vec::new(), Vec::new());
        for p in 0..40u64 {
            let (a, m) = prompt(rng);
            for _ in 0..10 {
                let j = if rng.random::<f64>() < a {
                    if rng.random::<bool>() { 1.0 } else { 0.0 }
                } else if rng.random::<f64>() < m {
                    1.0
                } else {
                    0.0
                };
                js.push(j);
                ids.push(p);
            }
        }
        (js, ids)
    };
    let fixed = run(REPS, 310, truth(), |rng| {
        let (js, ids) = draw(rng);
        naive_by_prompt(&js, &ids, 0.95).unwrap()
    });
    assert_valid("naive win rate by prompt, 40 prompts x 10 pairs", &fixed);
    let old = run(REPS, 310, truth(), |rng| naive(&draw(rng).0, 0.95).unwrap());
    println!("naive, pairs as independent: coverage {:.4}", old.coverage);
    assert!(old.coverage < 0.93, "got {}", old.coverage);
}

#[test]
fn monte_carlo_failure_rate_several_completions_per_prompt() {
    // 60 prompts × 8 labeled completions; a prompt's injury probability ~ Beta-like spread.
    let draw = |rng: &mut ChaCha8Rng| -> Vec<ClusterCount> {
        (0..60)
            .map(|_| {
                let p: f64 = rng.random_range(0.0f64..1.0).powi(3) * 0.4;
                let events = (0..8).filter(|_| rng.random::<f64>() < p).count() as u64;
                ClusterCount { events, trials: 8 }
            })
            .collect()
    };
    let truth = 0.4 / 4.0;
    let fixed = run(REPS, 320, truth, |rng| {
        proportion(&draw(rng), ProportionInterval::Wilson, 0.95).unwrap()
    });
    assert_valid("injury rate by prompt, 60 prompts x 8 completions", &fixed);
    let old = run(REPS, 320, truth, |rng| {
        let c = draw(rng);
        let k: u64 = c.iter().map(|c| c.events).sum();
        nines_estimate::interval::wilson(k, 480, 0.95).unwrap()
    });
    println!("completions as independent: coverage {:.4}", old.coverage);
    assert!(old.coverage < 0.93, "got {}", old.coverage);
}
