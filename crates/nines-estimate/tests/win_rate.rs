//! Win rate: naive vs efficient protocol across acceptance rates 50% to 99.9%, subsampled,
//! stratified with oversampling, weighted prompts, and the label-efficiency plan.

mod common;

use common::{REPS, assert_valid, run};
use nines_estimate::win_rate::{
    self, PairRecord, Scenario, Stratum, WeightedPair, efficient, efficient_from_counts, naive,
    plan,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution};

fn scenario(acceptance: f64) -> Scenario {
    Scenario {
        acceptance,
        win_given_rejected: 0.7,
        tie_given_rejected: 0.1,
        tie_given_accepted: 0.15,
    }
}

/// One judgment given acceptance, by the scenario's model.
fn judge(rng: &mut ChaCha8Rng, s: &Scenario, accepted: bool) -> f64 {
    let u: f64 = rng.random();
    if accepted {
        let half_loss = 0.5 * (1.0 - s.tie_given_accepted);
        if u < half_loss {
            0.0
        } else if u < half_loss + s.tie_given_accepted {
            0.5
        } else {
            1.0
        }
    } else if u < s.win_given_rejected {
        1.0
    } else if u < s.win_given_rejected + s.tie_given_rejected {
        0.5
    } else {
        0.0
    }
}

/// Judgments for `r` rejected pairs, drawn as multinomial counts.
fn rejected_judgments(rng: &mut ChaCha8Rng, s: &Scenario, r: u64) -> Vec<f64> {
    let wins = Binomial::new(r, s.win_given_rejected).unwrap().sample(rng);
    let tie_p = s.tie_given_rejected / (1.0 - s.win_given_rejected);
    let ties = Binomial::new(r - wins, tie_p.min(1.0)).unwrap().sample(rng);
    let mut j = vec![1.0; wins as usize];
    j.extend(std::iter::repeat_n(0.5, ties as usize));
    j.extend(std::iter::repeat_n(0.0, (r - wins - ties) as usize));
    j
}

#[test]
fn symmetry_closed_forms() {
    // All accepted: exactly 1/2, no comparison, bound from the binomial upper limit.
    let acc = PairRecord::accepted();
    let w = efficient(&[acc; 100], 0.95).unwrap();
    assert_eq!(w.estimate.value, 0.5);
    assert_eq!(w.comparisons, 0);
    assert_eq!(w.comparisons_saved, 100);
    let u = 1.0 - 0.025f64.powf(0.01);
    assert!((w.estimate.ci.1 - (0.5 + 0.5 * u)).abs() < 1e-9);
    // Judgments on accepted pairs are ignored (they count 1/2).
    let odd = PairRecord {
        judgment: Some(1.0),
        ..PairRecord::accepted()
    };
    let rej = PairRecord::rejected(Some(1.0));
    let w = efficient(&[odd, odd, rej, rej], 0.95).unwrap();
    assert_eq!(w.estimate.value, 0.75);
    assert_eq!(w.comparisons, 2);
    // Scenario arithmetic.
    let s = scenario(0.9);
    assert!((s.win_rate() - (0.45 + 0.1 * 0.75)).abs() < 1e-12);
}

#[test]
fn monte_carlo_naive_across_acceptance() {
    for (i, &a) in [0.5, 0.9, 0.99, 0.999].iter().enumerate() {
        let s = scenario(a);
        let mc = run(REPS, 40 + i as u64, s.win_rate(), |rng| {
            let js: Vec<f64> = (0..500)
                .map(|_| {
                    let accepted = rng.random::<f64>() < a;
                    judge(rng, &s, accepted)
                })
                .collect();
            naive(&js, 0.95).unwrap()
        });
        assert_valid(&format!("naive win rate, acceptance {a}, 500 pairs"), &mc);
    }
}

#[test]
fn monte_carlo_efficient_records() {
    // Per-pair records at 50% and 90% acceptance.
    for (i, &(a, n)) in [(0.5, 600usize), (0.9, 2000)].iter().enumerate() {
        let s = scenario(a);
        let mut saved = 0u64;
        let mc = run(REPS, 50 + i as u64, s.win_rate(), |rng| {
            let recs: Vec<PairRecord> = (0..n)
                .map(|_| {
                    let accepted = rng.random::<f64>() < a;
                    if accepted {
                        PairRecord::accepted()
                    } else {
                        PairRecord::rejected(Some(judge(rng, &s, false)))
                    }
                })
                .collect();
            let w = efficient(&recs, 0.95).unwrap();
            saved += w.comparisons_saved;
            w.estimate
        });
        assert_valid(
            &format!("efficient win rate, acceptance {a}, {n} pairs"),
            &mc,
        );
        let share = saved as f64 / (REPS * n) as f64;
        assert!(
            (share - a).abs() < 0.01,
            "saved share {share} vs acceptance {a}"
        );
    }
}

#[test]
fn monte_carlo_efficient_high_acceptance_counts() {
    // 99% and 99.9% acceptance: about 200 rejected pairs per experiment, all judged.
    for (i, &(a, n)) in [(0.99, 20_000u64), (0.999, 200_000)].iter().enumerate() {
        let s = scenario(a);
        let mc = run(REPS, 60 + i as u64, s.win_rate(), |rng| {
            let r = Binomial::new(n, 1.0 - a).unwrap().sample(rng);
            let js = rejected_judgments(rng, &s, r);
            efficient_from_counts(n - r, r, &js, 0.95).unwrap().estimate
        });
        assert_valid(
            &format!("efficient win rate, acceptance {a}, {n} pairs"),
            &mc,
        );
    }
}

#[test]
fn monte_carlo_efficient_subsampled() {
    // 90% acceptance, 5000 cheap pairs, a random 100 of the ~500 rejected pairs judged.
    let a = 0.9;
    let s = scenario(a);
    let mc = run(REPS, 70, s.win_rate(), |rng| {
        let n = 5000u64;
        let r = Binomial::new(n, 1.0 - a).unwrap().sample(rng);
        let js = rejected_judgments(rng, &s, 100.min(r));
        let w = efficient_from_counts(n - r, r, &js, 0.95).unwrap();
        assert_eq!(w.comparisons, js.len() as u64);
        w.estimate
    });
    assert_valid("efficient win rate, 100 judged of ~500 rejected", &mc);
}

/// Three acceptance strata; the low-acceptance stratum (20% of prompts) gets as many pairs as
/// the others (oversampled), and stratification weights undo it.
#[test]
fn monte_carlo_stratified_oversampled() {
    let strata = [(0.5, 0.99, 0.6), (0.3, 0.9, 0.7), (0.2, 0.5, 0.8)];
    let truth: f64 = strata
        .iter()
        .map(|&(w, a, win)| {
            w * Scenario {
                acceptance: a,
                win_given_rejected: win,
                ..scenario(a)
            }
            .win_rate()
        })
        .sum();
    let mc = run(REPS, 80, truth, |rng| {
        let st: Vec<Stratum> = strata
            .iter()
            .map(|&(w, a, win)| {
                let s = Scenario {
                    acceptance: a,
                    win_given_rejected: win,
                    ..scenario(a)
                };
                let n = 3000u64;
                let r = Binomial::new(n, 1.0 - a).unwrap().sample(rng);
                Stratum {
                    weight: w,
                    accepted: n - r,
                    rejected: r,
                    rejected_judgments: rejected_judgments(rng, &s, r.min(150)),
                    refused: 0,
                }
            })
            .collect();
        win_rate::stratified(&st, 0.95).unwrap().estimate
    });
    assert_valid(
        "stratified efficient win rate, oversampled low acceptance",
        &mc,
    );
}

/// Prompt types with different acceptance; low-acceptance prompts drawn 5× as often as their
/// share; weights 1/(relative draw probability).
#[test]
fn monte_carlo_weighted_prompts() {
    let types: Vec<(f64, f64)> = (0..10)
        .map(|i| (0.5 + 0.05 * i as f64, 0.55 + 0.04 * i as f64))
        .collect(); // (acceptance, win | rejected)
    let truth: f64 = types
        .iter()
        .map(|&(a, win)| {
            Scenario {
                acceptance: a,
                win_given_rejected: win,
                ..scenario(a)
            }
            .win_rate()
        })
        .sum::<f64>()
        / types.len() as f64;
    // Draw probabilities ∝ 5 for acceptance < 0.7, else 1.
    let raw: Vec<f64> = types
        .iter()
        .map(|&(a, _)| if a < 0.7 { 5.0 } else { 1.0 })
        .collect();
    let total: f64 = raw.iter().sum();
    let q: Vec<f64> = raw.iter().map(|r| r / total).collect();
    let mc = run(REPS, 90, truth, |rng| {
        let pairs: Vec<WeightedPair> = (0..1000)
            .map(|_| {
                let u: f64 = rng.random();
                let mut c = 0.0;
                let mut t = types.len() - 1;
                for (i, qi) in q.iter().enumerate() {
                    c += qi;
                    if u < c {
                        t = i;
                        break;
                    }
                }
                let (a, win) = types[t];
                let s = Scenario {
                    acceptance: a,
                    win_given_rejected: win,
                    ..scenario(a)
                };
                let accepted = rng.random::<f64>() < a;
                WeightedPair {
                    weight: 0.1 / q[t],
                    unfiltered_accepted: accepted,
                    filtered_refused: false,
                    judgment: (!accepted).then(|| judge(rng, &s, false)),
                    prompt: None,
                }
            })
            .collect();
        win_rate::weighted(&pairs, 0.95).unwrap().estimate
    });
    assert_valid("weighted efficient win rate, oversampled prompts", &mc);
}

/// The sample-size plan delivers the ±2% half-width it promises, naive and efficient.
#[test]
fn plan_delivers_its_half_width() {
    let s = scenario(0.8);
    let p = plan(&s, 0.02, 0.95).unwrap();
    assert!(p.efficient_comparisons < 0.5 * p.naive_comparisons, "{p:?}");
    let n_naive = p.naive_comparisons.ceil() as usize;
    let mc = run(REPS, 95, s.win_rate(), |rng| {
        let js: Vec<f64> = (0..n_naive)
            .map(|_| {
                let accepted = rng.random::<f64>() < s.acceptance;
                judge(rng, &s, accepted)
            })
            .collect();
        naive(&js, 0.95).unwrap()
    });
    assert_valid("naive at the planned size", &mc);
    assert!((mc.half_width - 0.02).abs() < 0.0005, "{}", mc.half_width);
    let n_eff = p.efficient_pairs.ceil() as u64;
    let mc = run(REPS, 96, s.win_rate(), |rng| {
        let r = Binomial::new(n_eff, 1.0 - s.acceptance)
            .unwrap()
            .sample(rng);
        let js = rejected_judgments(rng, &s, r);
        efficient_from_counts(n_eff - r, r, &js, 0.95)
            .unwrap()
            .estimate
    });
    assert_valid("efficient at the planned size", &mc);
    assert!((mc.half_width - 0.02).abs() < 0.0005, "{}", mc.half_width);
}

#[test]
fn neyman_allocation_sums_and_proportions() {
    let n = win_rate::neyman_allocation(&[0.2, 0.3, 0.5], &[0.1, 0.0, 0.3], 101).unwrap();
    assert_eq!(n.iter().sum::<u64>(), 101);
    assert_eq!(n[1], 0);
    assert!(n[2] > n[0]);
    let n = win_rate::neyman_allocation(&[1.0, 3.0], &[0.0, 0.0], 8).unwrap();
    assert_eq!(n, vec![2, 6]);
}

/// A filter that gives up after `K` rejected candidates refuses prompt `x` with probability
/// `(1 − a(x))^K`, and a refusal loses. Prompts come from a fixed population with acceptance
/// rates from 0.05 to 0.99 (half of them low, so about a third of prompts are refused); the
/// unfiltered completion and the filter's candidates are independent draws. The efficient
/// estimator fed each pair's refusal covers the true win rate; the old accounting, which
/// counted a pair 1/2 whenever the unfiltered completion was accepted (even when the filter
/// refused), is biased upward by half the share of (accepted, refused) pairs.
#[test]
fn monte_carlo_efficient_with_refusals() {
    const K: i32 = 3;
    const PAIRS: usize = 400;
    // (acceptance, P(filtered preferred | unfiltered rejected)).
    let population: Vec<(f64, f64)> = (0..200)
        .map(|i| {
            let a = if i % 2 == 0 {
                0.05 + 0.25 * (i as f64 / 200.0)
            } else {
                0.8 + 0.19 * (i as f64 / 200.0)
            };
            (a, 0.5 + 0.3 * ((i * 37 % 200) as f64 / 200.0))
        })
        .collect();
    let refusal = |a: f64| (1.0 - a).powi(K);
    // Judgments: ties 10%; given rejection, wins `win`, losses the rest; given acceptance,
    // wins and losses equally likely (the symmetric judge).
    let tie = 0.1;
    let mean_given_rejected = |win: f64| win + 0.5 * tie;
    let truth = population
        .iter()
        .map(|&(a, win)| (1.0 - refusal(a)) * (0.5 * a + (1.0 - a) * mean_given_rejected(win)))
        .sum::<f64>()
        / population.len() as f64;
    let old_bias = population
        .iter()
        .map(|&(a, _)| 0.5 * a * refusal(a))
        .sum::<f64>()
        / population.len() as f64;
    let draw = |rng: &mut ChaCha8Rng| -> Vec<(PairRecord, PairRecord)> {
        (0..PAIRS)
            .map(|_| {
                let (a, win) = population[rng.random_range(0..population.len())];
                let accepted = rng.random::<f64>() < a;
                let refused = rng.random::<f64>() < refusal(a);
                let u: f64 = rng.random();
                let j = if u < tie {
                    0.5
                } else if accepted {
                    if u < tie + 0.5 * (1.0 - tie) {
                        1.0
                    } else {
                        0.0
                    }
                } else if u < tie + win {
                    1.0
                } else {
                    0.0
                };
                let fixed = if refused {
                    PairRecord::refused(accepted)
                } else if accepted {
                    PairRecord::accepted()
                } else {
                    PairRecord::rejected(Some(j))
                };
                // The old accounting: 1/2 whenever the unfiltered completion passed; a
                // rejected pair judged 0 when the filter refused.
                let old = if accepted {
                    PairRecord::accepted()
                } else {
                    PairRecord::rejected(Some(if refused { 0.0 } else { j }))
                };
                (fixed, old)
            })
            .collect()
    };
    let mut refused_share = 0.0;
    let fixed = run(4000, 120, truth, |rng| {
        let recs: Vec<PairRecord> = draw(rng).into_iter().map(|p| p.0).collect();
        let w = efficient(&recs, 0.95).unwrap();
        refused_share += w.refused as f64 / w.pairs as f64;
        w.estimate
    });
    assert_valid("efficient win rate with refusals", &fixed);
    refused_share /= 4000.0;
    assert!(
        (0.25..0.45).contains(&refused_share),
        "the regime refuses about a third of prompts: {refused_share}"
    );
    let old = run(4000, 120, truth, |rng| {
        let recs: Vec<PairRecord> = draw(rng).into_iter().map(|p| p.1).collect();
        efficient(&recs, 0.95).unwrap().estimate
    });
    println!(
        "old accounting: truth {:.4} mean {:.4} (z = {:.1}, predicted bias {old_bias:.4}) coverage {:.3}",
        old.truth,
        old.mean,
        old.z(),
        old.coverage
    );
    assert!(
        ((old.mean - old.truth) - old_bias).abs() < 4.0 * old.se_of_mean,
        "the old accounting's bias is half the (accepted, refused) share"
    );
    assert!(
        old.z() > 10.0,
        "the old accounting is biased: z = {}",
        old.z()
    );
    assert!(
        old.coverage < 0.90,
        "the old accounting's interval misses: coverage {}",
        old.coverage
    );
}
