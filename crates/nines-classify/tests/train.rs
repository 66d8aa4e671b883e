//! Training on the tiny BERT fixture: learning, save/load, reproducibility, exact resume.

mod common;

use common::*;
use nines_classify::metrics::auroc;
use nines_classify::{Classifier, TrainConfig, Trainer};
use nines_data::PairScorer;
use nines_runtime::DeviceSpec;

#[test]
fn learns_a_synthetic_task_and_round_trips_through_a_folder() {
    let train = synthetic(240, 1);
    let valid = synthetic(90, 2);
    let test = synthetic(90, 3);
    let mut model = Classifier::new(&tiny_bert()).unwrap();
    let before = auroc(&model.score(&pairs(&test)).unwrap(), &labels(&test)).unwrap();
    let report = Trainer::new(&mut model, fast_train())
        .unwrap()
        .train(&train, &valid)
        .unwrap();
    let scores = model.score(&pairs(&test)).unwrap();
    let after = auroc(&scores, &labels(&test)).unwrap();
    assert!(after > 0.95 && after > before, "AUROC {before} -> {after}");
    assert_eq!(report.history.len(), 3);
    assert!(report.grad_norm_max >= report.grad_norm_mean && report.grad_norm_mean > 0.0);
    assert!(report.train_examples_per_s > 0.0);
    let choice = report.threshold.clone().unwrap();
    assert_eq!(model.threshold(), Some(choice.threshold));
    assert!(choice.fnr <= 0.01 + 1e-12);
    assert!(choice.fnr_upper >= choice.fnr);
    assert!(model.temperature() > 0.0);

    let dir = tempfile::tempdir().unwrap();
    model.save(dir.path()).unwrap();
    let loaded = Classifier::load(dir.path(), DeviceSpec::Cpu).unwrap();
    let again = loaded.score(&pairs(&test)).unwrap();
    for (a, b) in scores.iter().zip(&again) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    assert_eq!(loaded.threshold(), model.threshold());
    assert_eq!(loaded.temperature(), model.temperature());
    let boxed: Box<dyn PairScorer> = Box::new(loaded);
    assert_eq!(boxed.score(&[]).unwrap().len(), 0);
    assert_eq!(boxed.score(&pairs(&test)).unwrap(), again);
}

#[test]
fn imbalance_options_train() {
    let train = synthetic(120, 6);
    let valid = synthetic(45, 7);
    for cfg in [
        TrainConfig {
            loss: nines_classify::LossKind::Focal,
            pos_weight: 2.0,
            epochs: 1,
            ..fast_train()
        },
        TrainConfig {
            oversample_positives: 2.5,
            epochs: 1,
            max_steps: Some(10),
            ..fast_train()
        },
    ] {
        let mut m = Classifier::new(&tiny_bert()).unwrap();
        let r = Trainer::new(&mut m, cfg)
            .unwrap()
            .train(&train, &valid)
            .unwrap();
        assert!(r.steps > 0 && r.valid.is_some());
    }
}
