//! The simulation study on a calibrated synthetic pool: boundary sampling finds at least five
//! times as many misses per label as random, and every reweightable strategy's
//! Horvitz–Thompson estimate of the pool's misses agrees with the truth.

use nines_active::Design;
use nines_active::study::{StudyConfig, SyntheticConfig, markdown_table, run_study, synthetic};

#[test]
fn boundary_finds_five_times_more_misses_than_random() {
    let (pool, truth) = synthetic(&SyntheticConfig::default()).unwrap();
    let cfg = StudyConfig {
        reps: 40,
        ..StudyConfig::default()
    };
    let rows = run_study(&pool, &truth, &cfg).unwrap();
    println!("{}", markdown_table(&rows));
    let get = |name: &str| rows.iter().find(|r| r.strategy == name).unwrap();
    let random = get("random");
    let boundary = get("boundary");
    // Random's measured rate agrees with its exact expectation (the pool's miss rate).
    assert!(
        (random.misses_per_100 - random.pool_misses_per_100).abs()
            <= 3.0 * random.misses_per_100_se,
        "random {:.3} ± {:.3} vs expected {:.3}",
        random.misses_per_100,
        random.misses_per_100_se,
        random.pool_misses_per_100
    );
    assert!(
        boundary.ratio_vs_random >= 5.0,
        "boundary finds {:.2}× random",
        boundary.ratio_vs_random
    );
    for r in rows.iter().filter(|r| r.skipped.is_none()) {
        assert!(
            (r.labels - 200.0).abs() < 1e-9,
            "{}: {}",
            r.strategy,
            r.labels
        );
        let (m, se) = (r.ht_misses.unwrap(), r.ht_misses_se.unwrap());
        let truth = r.true_misses as f64;
        assert!(
            (m - truth).abs() <= 4.0 * se + 0.02 * truth,
            "{}: HT {m:.1} ± {se:.1} vs {truth}",
            r.strategy
        );
    }
}

#[test]
fn top_k_rows_are_not_reweightable_and_diverse_design_runs() {
    let (pool, truth) = synthetic(&SyntheticConfig {
        prompts: 300,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let base = StudyConfig {
        strategies: vec![nines_active::acquisition::StrategyName::Boundary],
        budget: 40,
        reps: 5,
        ..StudyConfig::default()
    };
    let top = run_study(
        &pool,
        &truth,
        &StudyConfig {
            design: Design::TopK,
            ..base.clone()
        },
    )
    .unwrap();
    assert!(top.iter().all(|r| r.ht_misses.is_none()));
    let diverse = run_study(
        &pool,
        &truth,
        &StudyConfig {
            design: Design::Diverse,
            ..base
        },
    )
    .unwrap();
    assert!(
        diverse
            .iter()
            .all(|r| r.ht_misses.is_some() && r.labels == 40.0)
    );
}
