//! Reproducibility and exact resume. Alone in its test binary: dropout draws from LibTorch's
//! process-wide generator, which tests running in parallel threads would share.

mod common;

use common::*;
use nines_classify::{Classifier, TrainConfig, Trainer};

fn quick(seed: u64) -> TrainConfig {
    TrainConfig {
        epochs: 2,
        seed,
        calibrate: false,
        eval_every: Some(3),
        checkpoint_every: 1,
        grad_accum: 2,
        ..fast_train()
    }
}

#[test]
fn runs_are_reproducible_and_resume_exactly_after_a_crash() {
    let train = synthetic(64, 4);
    let valid = synthetic(30, 5);
    let probe = pairs(&valid);
    let run = |cfg: TrainConfig| {
        let mut m = Classifier::new(&tiny_bert()).unwrap();
        Trainer::new(&mut m, cfg)
            .unwrap()
            .train(&train, &valid)
            .unwrap();
        m.logits(&probe).unwrap()
    };
    let a = run(quick(11));
    let b = run(quick(11));
    assert_eq!(a, b, "same seed, same result");
    let c = run(quick(12));
    assert_ne!(a, c, "another seed changes the run");

    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        checkpoint_dir: Some(dir.path().to_path_buf()),
        ..quick(11)
    };
    let mut m = Classifier::new(&tiny_bert()).unwrap();
    let partial = Trainer::new(&mut m, cfg.clone())
        .unwrap()
        .interrupt_after(5)
        .train(&train, &valid)
        .unwrap();
    assert!(partial.interrupted);
    assert_eq!(partial.steps, 5);
    drop(m);
    // A new process: a model with another initial head (so a run that ignored the checkpoint
    // would end elsewhere), same training configuration, resumes from step 5.
    let mut m = Classifier::new(&nines_classify::ClassifierConfig {
        seed: 99,
        ..tiny_bert()
    })
    .unwrap();
    let full = Trainer::new(&mut m, cfg)
        .unwrap()
        .train(&train, &valid)
        .unwrap();
    assert_eq!(full.steps, full.total_steps);
    let resumed = m.logits(&probe).unwrap();
    for (x, y) in a.iter().zip(&resumed) {
        assert!((x - y).abs() < 1e-5, "resumed run differs: {x} vs {y}");
    }
}
