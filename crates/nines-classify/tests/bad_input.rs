//! Bad input gives typed errors, never panics.

mod common;

use common::*;
use nines_classify::example::{LabelSource, from_snippets};
use nines_classify::{Classifier, ClassifierConfig, ClassifyError, Example, TrainConfig, Trainer};
use nines_data::{Label, Snippet, Verdict};
use nines_runtime::DeviceSpec;

#[test]
fn empty_and_single_class_data_are_rejected() {
    let mut m = Classifier::new(&tiny_bert()).unwrap();
    let valid = synthetic(12, 1);
    let err = Trainer::new(&mut m, fast_train())
        .unwrap()
        .train(&[], &valid)
        .unwrap_err();
    assert!(
        matches!(err, ClassifyError::Data { ref what, .. } if what == "train"),
        "{err}"
    );
    let one_class: Vec<Example> = synthetic(12, 2).into_iter().filter(|e| !e.label).collect();
    let err = Trainer::new(&mut m, fast_train())
        .unwrap()
        .train(&one_class, &valid)
        .unwrap_err();
    assert!(err.to_string().contains("single class"), "{err}");
    let err = Trainer::new(&mut m, fast_train())
        .unwrap()
        .train(&valid, &one_class)
        .unwrap_err();
    assert!(
        matches!(err, ClassifyError::Data { ref what, .. } if what == "validation"),
        "{err}"
    );
}

#[test]
fn unsure_and_missing_labels_are_excluded_and_counted() {
    let mk = |c: &str, v: Option<Verdict>| {
        let mut s = Snippet::new("p.", c, None, None, None);
        if let Some(v) = v {
            s.upsert_label(Label::now("oracle", v, ""));
        }
        s
    };
    let snippets = [
        mk("a.", Some(Verdict::Injury)),
        mk("b.", Some(Verdict::NoInjury)),
        mk("c.", Some(Verdict::Unsure)),
        mk("d.", None),
    ];
    let (ex, r) = from_snippets(&snippets, &LabelSource::Majority);
    assert_eq!(
        (ex.len(), r.used, r.positives, r.unsure, r.missing),
        (2, 2, 1, 1, 1)
    );
    let (ex, r) = from_snippets(&snippets, &LabelSource::Labeler("someone".into()));
    assert_eq!((ex.len(), r.missing), (0, 4));
}

#[test]
fn invalid_configs_name_the_field() {
    let e = TrainConfig {
        learning_rate: -1.0,
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("train.learning_rate"), "{e}");
    let e = TrainConfig {
        grad_accum: 0,
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("train.grad_accum"), "{e}");
    let e = ClassifierConfig {
        head_dropout: 1.5,
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("head_dropout"), "{e}");
    let e = ClassifierConfig {
        pooling: nines_classify::HeadPooling::Last,
        ..Default::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("pooling"), "{e}");
    let e = Classifier::new(&ClassifierConfig {
        backbone: "/nonexistent/model".into(),
        device: DeviceSpec::Cpu,
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/model"), "{e}");
}

#[test]
fn a_diverging_run_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let train = synthetic(64, 3);
    let valid = synthetic(24, 4);
    let mut m = Classifier::new(&tiny_bert()).unwrap();
    let cfg = TrainConfig {
        learning_rate: 1e30,
        clip_norm: None,
        warmup_fraction: 0.0,
        checkpoint_dir: Some(dir.path().to_path_buf()),
        checkpoint_every: 1,
        ..fast_train()
    };
    let err = Trainer::new(&mut m, cfg)
        .unwrap()
        .train(&train, &valid)
        .unwrap_err();
    match err {
        ClassifyError::NonFiniteLoss {
            step,
            ref checkpoint,
            ..
        } => {
            assert!(step >= 1, "{err}");
            assert!(checkpoint.ends_with("checkpoint"), "{err}");
            let state: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.path().join("checkpoint/state.json")).unwrap(),
            )
            .unwrap();
            assert_eq!(
                state["step"].as_u64(),
                Some(step),
                "the checkpoint is the last good step"
            );
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
}

#[test]
fn checkpoints_and_folders_from_another_backbone_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let train = synthetic(32, 5);
    let valid = synthetic(12, 6);
    let cfg = TrainConfig {
        checkpoint_dir: Some(dir.path().to_path_buf()),
        epochs: 1,
        ..fast_train()
    };
    let mut m = Classifier::new(&tiny_bert()).unwrap();
    Trainer::new(&mut m, cfg.clone())
        .unwrap()
        .interrupt_after(1)
        .train(&train, &valid)
        .unwrap();
    let mut other = Classifier::new(&tiny_llama()).unwrap();
    let err = Trainer::new(&mut other, cfg)
        .unwrap()
        .train(&train, &valid)
        .unwrap_err();
    assert!(
        matches!(err, ClassifyError::BackboneMismatch { .. }),
        "{err}"
    );

    let saved = tempfile::tempdir().unwrap();
    m.save(saved.path()).unwrap();
    let path = saved.path().join(nines_classify::MANIFEST);
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    manifest["backbone"]["hidden_size"] = 64.into();
    std::fs::write(&path, manifest.to_string()).unwrap();
    let err = Classifier::load(saved.path(), DeviceSpec::Cpu).unwrap_err();
    assert!(
        matches!(err, ClassifyError::BackboneMismatch { .. }),
        "{err}"
    );
    std::fs::remove_file(saved.path().join(nines_classify::HEAD_FILE)).unwrap();
    assert!(Classifier::load(saved.path(), DeviceSpec::Cpu).is_err());
}

#[test]
fn scoring_handles_odd_inputs() {
    let m = Classifier::new(&tiny_bert()).unwrap();
    assert!(m.score(&[]).unwrap().is_empty());
    let long = "the keeper ".repeat(500);
    let s = m.score(&[("", ""), (&long, "key."), ("x", &long)]).unwrap();
    assert!(s.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)));
    assert!(m.reject(&[("a", "b")]).is_err(), "no threshold chosen yet");
}
