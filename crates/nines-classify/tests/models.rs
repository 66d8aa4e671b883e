//! The causal-LM head, ensembles and the hyperparameter search on tiny fixtures.

mod common;

use common::*;
use nines_classify::search::{SearchMode, SearchSpace, run_search};
use nines_classify::{
    Aggregation, Classifier, ClassifierConfig, Ensemble, LossKind, TrainConfig, Trainer,
};
use nines_runtime::DeviceSpec;

#[test]
fn causal_lm_head_trains_saves_and_loads() {
    let train = synthetic(48, 1);
    let valid = synthetic(24, 2);
    let mut m = Classifier::new(&tiny_llama()).unwrap();
    let r = Trainer::new(
        &mut m,
        TrainConfig {
            epochs: 2,
            learning_rate: 1e-2,
            head_lr_multiplier: 1.0,
            ..fast_train()
        },
    )
    .unwrap()
    .train(&train, &valid)
    .unwrap();
    assert!(r.steps > 0);
    let s = m.score(&pairs(&valid)).unwrap();
    assert!(s.iter().all(|p| (0.0..=1.0).contains(p)));
    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path()).unwrap();
    assert!(
        !dir.path()
            .join(nines_classify::CAUSAL_BACKBONE_FILE)
            .exists(),
        "frozen backbone is not copied"
    );
    let loaded = Classifier::load(dir.path(), DeviceSpec::Cpu).unwrap();
    for (a, b) in s.iter().zip(loaded.score(&pairs(&valid)).unwrap()) {
        assert!((a - b).abs() < 1e-5);
    }
    let mean = ClassifierConfig {
        pooling: nines_classify::HeadPooling::Mean,
        ..tiny_llama()
    };
    assert_eq!(
        Classifier::new(&mean)
            .unwrap()
            .score(&pairs(&valid))
            .unwrap()
            .len(),
        valid.len()
    );
}

#[test]
fn ensembles_aggregate_and_report_disagreement() {
    let valid = synthetic(20, 3);
    let members: Vec<Classifier> = (0..3)
        .map(|seed| {
            Classifier::new(&ClassifierConfig {
                seed,
                ..tiny_bert()
            })
            .unwrap()
        })
        .collect();
    let singles: Vec<Vec<f32>> = members
        .iter()
        .map(|m| m.score(&pairs(&valid)).unwrap())
        .collect();
    let mut e = Ensemble::new(members, Aggregation::Mean).unwrap();
    let d = e.score_detailed(&pairs(&valid)).unwrap();
    for (i, s) in d.iter().enumerate() {
        let mean = (singles[0][i] + singles[1][i] + singles[2][i]) / 3.0;
        assert!((s.score - mean).abs() < 1e-6);
        assert!(s.disagreement > 0.0);
        assert_eq!(s.members.len(), 3);
    }
    let c = e
        .choose_threshold(&pairs(&valid), &labels(&valid), 0.0, 0.95)
        .unwrap();
    assert_eq!(c.missed, 0);
    let dir = tempfile::tempdir().unwrap();
    e.save(dir.path()).unwrap();
    let loaded = Ensemble::load(dir.path(), DeviceSpec::Cpu).unwrap();
    assert_eq!(loaded.threshold(), Some(c.threshold));
    let members: Vec<Classifier> = (0..2)
        .map(|seed| {
            Classifier::new(&ClassifierConfig {
                seed,
                ..tiny_bert()
            })
            .unwrap()
        })
        .collect();
    let max = Ensemble::new(members, Aggregation::Max).unwrap();
    for s in max.score_detailed(&pairs(&valid)).unwrap() {
        assert_eq!(s.score, s.members[0].max(s.members[1]));
    }
    assert!(Ensemble::new(Vec::new(), Aggregation::Mean).is_err());
}

#[test]
fn search_writes_jsonl_and_markdown_and_picks_by_the_rule() {
    let train = synthetic(60, 4);
    let valid = synthetic(30, 5);
    let space = SearchSpace {
        learning_rate: vec![1e-5, 2e-3],
        head_dropout: vec![0.1],
        clip_norm: vec![Some(1.0)],
        loss: vec![LossKind::Bce],
        pos_weight: vec![1.0],
    };
    let dir = tempfile::tempdir().unwrap();
    let report = run_search(
        &tiny_bert(),
        &TrainConfig {
            epochs: 2,
            ..fast_train()
        },
        &space,
        SearchMode::Grid,
        &train,
        &valid,
        dir.path(),
    )
    .unwrap();
    assert_eq!(report.trials.len(), 2);
    let lines = std::fs::read_to_string(dir.path().join("trials.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 2);
    let md = std::fs::read_to_string(dir.path().join("trials.md")).unwrap();
    assert!(md.contains("| 0") && md.contains("FNR UCB"));
    assert_eq!(
        nines_classify::search::best_trial(&report.trials),
        Some(report.best)
    );
    let random = nines_classify::search::combinations(
        &SearchSpace::default(),
        SearchMode::Random { trials: 5, seed: 1 },
    )
    .unwrap();
    assert_eq!(random.len(), 5);
    assert_eq!(
        nines_classify::search::combinations(&SearchSpace::default(), SearchMode::Grid)
            .unwrap()
            .len(),
        24
    );
}
