//! Properties of the designs: probabilities in (0, 1] summing to the budget, exact batch
//! sizes, and Horvitz–Thompson estimates of a pool total that are unbiased (Monte Carlo).

use nines_active::acquisition::{Acquisition, Boundary, ManyRejections, Random, StrategyName};
use nines_active::study::{SyntheticConfig, synthetic};
use nines_active::{Design, Pool, PoolItem, SelectorConfig, select};
use proptest::prelude::*;

fn pool_from(scores: &[f64]) -> Pool {
    Pool::new(
        scores
            .iter()
            .enumerate()
            .map(|(i, &s)| PoolItem {
                embedding: Some(vec![s as f32, (i % 7) as f32]),
                members: Some(vec![s, (s * 1.5).min(1.0), s * 0.5]),
                ..PoolItem::new(format!("p{}", i / 3), format!("c{i}"), s)
            })
            .collect(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn probabilities_are_valid_and_sum_to_the_budget(
        scores in prop::collection::vec(0.0f64..1.0, 2..120),
        budget in 1usize..60,
        mix in 0.01f64..1.0,
        seed in any::<u64>(),
        strategy in prop::sample::select(StrategyName::ALL.to_vec()),
        design in prop::sample::select(vec![Design::Poisson, Design::Systematic, Design::Diverse]),
    ) {
        prop_assume!(scores.iter().any(|&s| s > 0.0));
        let pool = pool_from(&scores);
        let cfg = SelectorConfig { budget, design, uniform_mix: mix, clusters: 0, seed };
        let strategy = strategy.build();
        match select(&pool, strategy.as_ref(), 0.3, &cfg) {
            Ok(batch) => {
                let n = budget.min(pool.len());
                prop_assert_eq!(batch.probabilities.len(), pool.len());
                prop_assert!(batch.probabilities.iter().all(|&p| p > 0.0 && p <= 1.0));
                prop_assert!((batch.expected_size - n as f64).abs() < 1e-6);
                for p in &batch.picks {
                    let sel = p.selection().unwrap();
                    prop_assert_eq!(sel.probability, batch.probabilities[p.index]);
                    prop_assert_eq!(sel.population, pool.len() as u64);
                }
                if design != Design::Poisson {
                    prop_assert_eq!(batch.picks.len(), n);
                }
                let mut idx: Vec<usize> = batch.picks.iter().map(|p| p.index).collect();
                idx.dedup();
                prop_assert_eq!(idx.len(), batch.picks.len());
            }
            // Strategies may legitimately find nothing to value (e.g. no accepted pair).
            Err(nines_active::ActiveError::DegenerateUtility { .. }) => {}
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}

/// Monte Carlo: the mean over many draws of the HT estimate of the pool's number of
/// injuries (a pool total) matches the truth, and the mean Poisson batch size is the budget.
fn ht_unbiased(strategy: &dyn Acquisition, design: Design, draws: u64) {
    let (pool, truth) = synthetic(&SyntheticConfig {
        prompts: 200,
        per_prompt: 4,
        prompt_logit_mean: -3.0,
        dim: 3,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let total = truth.iter().filter(|&&t| t).count() as f64;
    let mut estimates = Vec::new();
    let mut sizes = 0.0;
    for seed in 0..draws {
        let cfg = SelectorConfig {
            budget: 40,
            design,
            clusters: 10,
            seed,
            ..SelectorConfig::default()
        };
        let batch = select(&pool, strategy, 0.2, &cfg).unwrap();
        let y: Vec<f64> = batch
            .picks
            .iter()
            .map(|p| f64::from(u8::from(truth[p.index])))
            .collect();
        estimates.push(batch.ht_total(&y).unwrap());
        sizes += batch.picks.len() as f64;
    }
    let n = draws as f64;
    let mean = estimates.iter().sum::<f64>() / n;
    let sd = (estimates.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let se = sd / n.sqrt();
    assert!(
        (mean - total).abs() < 4.0 * se,
        "{} {design:?}: HT mean {mean:.2} ± {se:.2} vs truth {total}",
        strategy.name()
    );
    assert!(
        (sizes / n - 40.0).abs() < 0.5,
        "mean batch size {}",
        sizes / n
    );
}

#[test]
fn horvitz_thompson_is_unbiased_under_every_design() {
    for design in [Design::Poisson, Design::Systematic, Design::Diverse] {
        ht_unbiased(&Boundary::default(), design, 2000);
    }
    ht_unbiased(&ManyRejections, Design::Systematic, 1000);
    ht_unbiased(&Random, Design::Poisson, 1000);
}

#[test]
fn a_biased_estimator_would_be_caught() {
    // The same Monte Carlo check must reject the naive (unweighted) estimate N · mean(y):
    // sampling proportional to the score over-represents injuries, so the naive total is far
    // too high.
    let (pool, truth) = synthetic(&SyntheticConfig {
        prompts: 200,
        per_prompt: 4,
        prompt_logit_mean: -3.0,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let total = truth.iter().filter(|&&t| t).count() as f64;
    let mut naive = 0.0;
    let draws = 300;
    for seed in 0..draws {
        let cfg = SelectorConfig {
            budget: 40,
            seed,
            ..SelectorConfig::default()
        };
        // Threshold 1: every pair is accepted, so boundary sampling is πps on the score.
        let b = select(&pool, &Boundary::default(), 1.0, &cfg).unwrap();
        let hits = b.picks.iter().filter(|p| truth[p.index]).count() as f64;
        naive += pool.len() as f64 * hits / b.picks.len() as f64;
    }
    assert!(naive / draws as f64 > 1.5 * total);
}

#[test]
fn boundary_probabilities_follow_the_score_on_the_accepting_side() {
    let pool = pool_from(&[0.001, 0.009, 0.5, 0.9, 0.001, 0.002]);
    let cfg = SelectorConfig {
        budget: 1,
        uniform_mix: 0.01,
        ..SelectorConfig::default()
    };
    let b = select(&pool, &Boundary::default(), 0.01, &cfg).unwrap();
    let p = &b.probabilities;
    // Utilities 0.001 and 0.009: 9× the score, nearly 9× the probability (1% uniform floor).
    let ratio = p[1] / p[0];
    assert!(ratio > 8.0 && ratio < 9.0, "{ratio}");
    // Rejected pairs get only the floor.
    assert!(p[2] < p[0] && (p[2] - p[3]).abs() < 1e-15);
    // Top-k takes the 0.9% pair and the 0.2% one, without probabilities.
    let top = select(
        &pool,
        &Boundary::default(),
        0.01,
        &SelectorConfig {
            budget: 2,
            design: Design::TopK,
            ..cfg
        },
    )
    .unwrap();
    let idx: Vec<usize> = top.picks.iter().map(|p| p.index).collect();
    assert_eq!(idx, vec![1, 5]);
    assert!(top.probabilities.is_empty());
}

#[test]
fn diverse_design_covers_every_cell() {
    // Two far clumps of 50 pairs; the left clump has all the utility. One label per cell
    // (budget 2, two cells) still reaches the right clump.
    let items: Vec<PoolItem> = (0..100)
        .map(|i| PoolItem {
            embedding: Some(vec![if i < 50 { 0.0 } else { 100.0 }, (i % 5) as f32]),
            ..PoolItem::new(format!("p{i}"), "c", if i < 50 { 0.009 } else { 0.0001 })
        })
        .collect();
    let pool = Pool::new(items).unwrap();
    for seed in 0..20 {
        let cfg = SelectorConfig {
            budget: 2,
            design: Design::Diverse,
            clusters: 2,
            seed,
            ..SelectorConfig::default()
        };
        let b = select(&pool, &Boundary::default(), 0.01, &cfg).unwrap();
        assert_eq!(b.picks.len(), 2);
        assert!(b.picks.iter().any(|p| p.index < 50));
        assert!(b.picks.iter().any(|p| p.index >= 50));
        let strata: Vec<Option<usize>> = b.picks.iter().map(|p| p.stratum).collect();
        assert!(strata.iter().all(Option::is_some) && strata[0] != strata[1]);
        // Within each cell of 50, probabilities sum to its one draw.
        let left: f64 = b.probabilities[..50].iter().sum();
        assert!((left - 1.0).abs() < 1e-9);
    }
}
