//! Bad input gives typed errors, never a panic.

use nines_active::acquisition::{Boundary, Disagreement, DisagreementMeasure, ManyRejections};
use nines_active::design::{poisson_draw, systematic_draw};
use nines_active::{ActiveError, Design, Pool, PoolItem, SelectorConfig, select};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn pool(scores: &[f64]) -> Result<Pool, ActiveError> {
    Pool::new(
        scores
            .iter()
            .enumerate()
            .map(|(i, &s)| PoolItem::new(format!("p{i}"), "c", s))
            .collect(),
    )
}

#[test]
fn empty_pool() {
    assert!(matches!(pool(&[]), Err(ActiveError::EmptyPool)));
}

#[test]
fn zero_budget() {
    let p = pool(&[0.1, 0.2]).unwrap();
    let cfg = SelectorConfig {
        budget: 0,
        ..SelectorConfig::default()
    };
    let e = select(&p, &Boundary::default(), 0.5, &cfg).unwrap_err();
    assert!(matches!(e, ActiveError::ZeroBudget { .. }), "{e}");
    assert!(e.to_string().contains("budget"));
}

#[test]
fn nan_infinite_and_out_of_range_scores() {
    for bad in [f64::NAN, f64::INFINITY, -0.1, 1.5] {
        match pool(&[0.1, bad]) {
            Err(ActiveError::BadScore {
                index: 1, value, ..
            }) => {
                assert!(value.is_nan() || value == bad)
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let mut it = PoolItem::new("p", "c", 0.1);
    it.members = Some(vec![0.1, f64::NAN]);
    assert!(matches!(
        Pool::new(vec![it]),
        Err(ActiveError::BadScore { .. })
    ));
}

#[test]
fn all_zero_scores() {
    assert!(matches!(
        pool(&[0.0, 0.0, 0.0]),
        Err(ActiveError::AllZeroScores { n: 3 })
    ));
}

#[test]
fn probabilities_outside_the_unit_interval() {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for bad in [0.0, -1.0, 1.0001, f64::NAN] {
        assert!(matches!(
            poisson_draw(&[bad], &mut rng),
            Err(ActiveError::BadProbability { .. })
        ));
        assert!(matches!(
            systematic_draw(&[0.5, bad], &mut rng),
            Err(ActiveError::BadProbability { .. })
        ));
    }
    let p = pool(&[0.1, 0.2]).unwrap();
    let mut b = select(&p, &Boundary::default(), 0.5, &SelectorConfig::default()).unwrap();
    b.picks[0].probability = Some(1.5);
    assert!(matches!(
        b.picks[0].selection(),
        Err(ActiveError::BadProbability { .. })
    ));
}

#[test]
fn bad_configuration_and_threshold() {
    let p = pool(&[0.1, 0.2]).unwrap();
    for mix in [0.0, -0.5, 1.5, f64::NAN] {
        let cfg = SelectorConfig {
            uniform_mix: mix,
            ..SelectorConfig::default()
        };
        assert!(matches!(
            select(&p, &Boundary::default(), 0.5, &cfg),
            Err(ActiveError::Config { .. })
        ));
    }
    for t in [0.0, 1.5, f64::NAN] {
        assert!(matches!(
            select(&p, &Boundary::default(), t, &SelectorConfig::default()),
            Err(ActiveError::Config { .. })
        ));
    }
    let cfg = SelectorConfig {
        budget: 2,
        clusters: 3,
        ..SelectorConfig::default()
    };
    assert!(cfg.validate().is_err());
}

#[test]
fn strategies_that_cannot_rank_say_why() {
    // Every pair rejected: the boundary band is empty.
    let p = pool(&[0.6, 0.9]).unwrap();
    assert!(matches!(
        select(&p, &Boundary::default(), 0.5, &SelectorConfig::default()),
        Err(ActiveError::DegenerateUtility { .. })
    ));
    // No ensemble members.
    let e = select(
        &p,
        &Disagreement::new(DisagreementMeasure::VoteEntropy),
        0.5,
        &SelectorConfig::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, ActiveError::MissingData { index: 0, .. }),
        "{e}"
    );
    // One completion per prompt: nothing to compare.
    assert!(matches!(
        select(&p, &ManyRejections, 0.5, &SelectorConfig::default()),
        Err(ActiveError::DegenerateUtility { .. })
    ));
    // The diverse design needs embeddings.
    let cfg = SelectorConfig {
        design: Design::Diverse,
        ..SelectorConfig::default()
    };
    assert!(matches!(
        select(&pool(&[0.1, 0.2]).unwrap(), &Boundary::default(), 0.5, &cfg),
        Err(ActiveError::MissingData { .. })
    ));
}

#[test]
fn top_k_picks_are_not_reweightable() {
    let p = pool(&[0.1, 0.2, 0.3]).unwrap();
    let cfg = SelectorConfig {
        budget: 2,
        design: Design::TopK,
        ..SelectorConfig::default()
    };
    let b = select(&p, &Boundary::default(), 0.5, &cfg).unwrap();
    assert!(matches!(
        b.picks[0].selection(),
        Err(ActiveError::NotReweightable { .. })
    ));
    assert!(b.ht_total(&[1.0, 0.0]).is_err());
}

#[test]
fn ragged_and_duplicate_pools() {
    let mut a = PoolItem::new("p", "a", 0.1);
    let mut b = PoolItem::new("p", "b", 0.1);
    a.members = Some(vec![0.1, 0.2]);
    b.members = Some(vec![0.1]);
    assert!(matches!(
        Pool::new(vec![a.clone(), b]),
        Err(ActiveError::Ragged { index: 1, .. })
    ));
    assert!(matches!(
        Pool::new(vec![a.clone(), a]),
        Err(ActiveError::DuplicateId {
            first: 0,
            second: 1,
            ..
        })
    ));
}

#[test]
fn pool_files_round_trip_and_bad_lines_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.jsonl");
    let mut it = PoolItem::new("p", "c", 0.25);
    it.members = Some(vec![0.2, 0.3]);
    let p = Pool::new(vec![it, PoolItem::new("q", "d", 0.5)]).unwrap();
    p.write_jsonl(&path).unwrap();
    assert_eq!(Pool::read_jsonl(&path).unwrap(), p);
    // Ids are optional in the file.
    std::fs::write(
        &path,
        "{\"prompt\":\"p\",\"completion\":\"c\",\"score\":0.3}\n",
    )
    .unwrap();
    assert!(
        Pool::read_jsonl(&path).unwrap().items()[0]
            .id
            .starts_with("pp-")
    );
    std::fs::write(
        &path,
        "{\"prompt\":\"p\",\"completion\":\"c\",\"score\":0.3}\n{\"prompt\":1}\n",
    )
    .unwrap();
    assert!(matches!(
        Pool::read_jsonl(&path),
        Err(ActiveError::BadLine { line: 2, .. })
    ));
    assert!(matches!(
        Pool::read_jsonl(dir.path().join("missing.jsonl")),
        Err(ActiveError::Io { .. })
    ));
}
