//! Bad input and faults: typed errors, never panics, and the last good checkpoint kept.

mod common;

use common::*;
use nines_data::{FnScorer, PairScorer};
use nines_distill::checkpoint::{checkpoint_dir, read_state};
use nines_distill::{DistillError, PpoConfig, PpoTrainer, load_models};
use nines_runtime::LanguageModel;
use nines_runtime::tch::Tensor;

fn trainer_with<R: PairScorer>(reward: R, cfg: PpoConfig) -> PpoTrainer<R> {
    let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
    PpoTrainer::new(policy, reference, reward, cfg).unwrap()
}

#[test]
fn nan_or_infinite_reward_is_a_typed_error() {
    for bad in [f32::NAN, f32::INFINITY] {
        let reward = FnScorer::new(move |pairs: &[(&str, &str)]| {
            let mut v = vec![0.1f32; pairs.len()];
            v[pairs.len() - 1] = bad;
            Ok::<_, std::convert::Infallible>(v)
        });
        let mut t = trainer_with(reward, toy_config());
        match t.step(&["The cat sat", "A dog barked"]) {
            Err(DistillError::NonFiniteReward { index, .. }) => assert_eq!(index, 7),
            other => panic!("{other:?}"),
        }
        assert_eq!(t.steps_done(), 0);
    }
}

#[test]
fn reward_model_failure_and_wrong_count_are_typed_errors() {
    let failing = FnScorer::new(|_: &[(&str, &str)]| Err::<Vec<f32>, _>("classifier offline"));
    let mut t = trainer_with(failing, toy_config());
    let err = t.step(&["The cat sat"]).unwrap_err();
    assert!(
        matches!(err, DistillError::Reward(_)) && err.to_string().contains("offline"),
        "{err}"
    );
    let short = FnScorer::new(|_: &[(&str, &str)]| Ok::<_, std::convert::Infallible>(vec![0.5]));
    let mut t = trainer_with(short, toy_config());
    assert!(matches!(
        t.step(&["The cat sat"]),
        Err(DistillError::RewardCount {
            expected: 4,
            got: 1
        })
    ));
}

#[test]
fn empty_prompt_sets_are_typed_errors() {
    let mut t = trainer_with(toy_reward(), toy_config());
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        t.train(&[], dir.path(), false),
        Err(DistillError::EmptyPrompts { what: "training" })
    ));
    assert!(matches!(
        t.step(&[]),
        Err(DistillError::EmptyPrompts { .. })
    ));
    assert!(matches!(
        t.train(&["ok".into(), "  ".into()], dir.path(), false),
        Err(DistillError::InvalidInput(_))
    ));
    let (a, b) = load_models(fixture("llama"), cpu(), &toy_config()).unwrap();
    assert!(matches!(
        nines_distill::evaluate(&a, &b, &toy_reward(), None, None, &[], &Default::default()),
        Err(DistillError::EmptyPrompts { what: "evaluation" })
    ));
}

/// A copy of the llama fixture with one extra vocabulary row.
fn wider_vocab_fixture(dir: &std::path::Path) {
    let src = fixture("llama");
    std::fs::copy(src.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    let config = std::fs::read_to_string(src.join("config.json")).unwrap();
    std::fs::write(
        dir.join("config.json"),
        config.replace("\"vocab_size\": 320", "\"vocab_size\": 321"),
    )
    .unwrap();
    let tensors: Vec<(String, Tensor)> = Tensor::read_safetensors(src.join("model.safetensors"))
        .unwrap()
        .into_iter()
        .map(|(n, t)| {
            if n.contains("embed_tokens") || n.contains("lm_head") {
                let extra = t.narrow(0, 0, 1);
                (n, Tensor::cat(&[t, extra], 0))
            } else {
                (n, t)
            }
        })
        .collect();
    Tensor::write_safetensors(&tensors, dir.join("model.safetensors")).unwrap();
}

#[test]
fn reference_with_another_vocabulary_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    wider_vocab_fixture(dir.path());
    let cfg = toy_config();
    let policy = LanguageModel::load(fixture("llama"), cpu()).unwrap();
    let reference = LanguageModel::load(dir.path(), cpu()).unwrap();
    match PpoTrainer::new(policy, reference, toy_reward(), cfg) {
        Err(DistillError::VocabMismatch {
            policy: 320,
            reference: 321,
        }) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn invalid_config_is_rejected_before_training() {
    let (policy, reference) = load_models(fixture("llama"), cpu(), &toy_config()).unwrap();
    let cfg = PpoConfig {
        mini_batch_size: 5,
        ..toy_config()
    };
    assert!(matches!(
        PpoTrainer::new(policy, reference, toy_reward(), cfg),
        Err(DistillError::InvalidConfig {
            field: "mini_batch_size",
            ..
        })
    ));
    let (policy, reference) = load_models(fixture("llama"), cpu(), &toy_config()).unwrap();
    let cfg = PpoConfig {
        scope: nines_distill::TrainScope::TopLayers { layers: 9 },
        ..toy_config()
    };
    assert!(matches!(
        PpoTrainer::new(policy, reference, toy_reward(), cfg),
        Err(DistillError::InvalidConfig {
            field: "scope.layers",
            ..
        })
    ));
}

/// Two steps at a large learning rate (checkpointed at step 2), then the settings of a resumed
/// run with a KL limit the drifted policy exceeds.
fn drifted_run() -> (tempfile::TempDir, PpoConfig) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = PpoConfig {
        total_steps: 2,
        learning_rate: 3e-2,
        ..toy_config()
    };
    let mut t = trainer_with(toy_reward(), cfg.clone());
    let first = t
        .train_within_kl(&prompts(), dir.path(), false, None)
        .unwrap();
    assert_eq!((first.metrics.len(), first.kl_stop), (2, None));
    let strict = PpoConfig {
        total_steps: 4,
        max_kl: 1e-6,
        ..cfg
    };
    (dir, strict)
}

#[test]
fn kl_blow_up_stops_and_keeps_the_last_good_checkpoint() {
    let (dir, strict) = drifted_run();
    let ckpt = checkpoint_dir(dir.path());
    assert_eq!(read_state(&ckpt).unwrap().step, 2);
    let before = std::fs::read(ckpt.join("trainable.safetensors")).unwrap();
    let mut t = trainer_with(toy_reward(), strict);
    match t.train(&prompts(), dir.path(), false) {
        Err(DistillError::KlBlowUp {
            step: 2,
            kl,
            last_checkpoint: Some(p),
            ..
        }) => {
            assert!(kl > 1e-6);
            assert_eq!(p, ckpt);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(read_state(&ckpt).unwrap().step, 2);
    assert_eq!(
        std::fs::read(ckpt.join("trainable.safetensors")).unwrap(),
        before
    );
}

#[test]
fn train_within_kl_falls_back_to_the_last_good_checkpoint() {
    let (dir, strict) = drifted_run();
    let mut t = trainer_with(toy_reward(), strict.clone());
    let outcome = t
        .train_within_kl(&prompts(), dir.path(), false, None)
        .unwrap();
    let stop = outcome.kl_stop.expect("the bound stopped training");
    assert_eq!((stop.step, stop.resumed_step), (2, 2));
    assert!(stop.kl > stop.limit);
    // The kept policy's steps: the two before the checkpoint.
    assert_eq!(outcome.metrics.len(), 2);
    // Without a checkpoint to fall back to, the error stands.
    let fresh = tempfile::tempdir().unwrap();
    let mut t = trainer_with(
        toy_reward(),
        PpoConfig {
            max_kl: 1e-9,
            ..strict
        },
    );
    let r = t.train_within_kl(&prompts(), fresh.path(), false, None);
    assert!(
        matches!(
            r,
            Err(DistillError::KlBlowUp {
                last_checkpoint: None,
                ..
            })
        ),
        "{r:?}"
    );
}

/// A quantized policy cannot learn: loading one for PPO is a typed error before any rollout.
#[test]
fn quantized_policy_is_rejected_at_load() {
    let options = nines_runtime::LoadOptions {
        dtype: nines_runtime::DType::Int8,
        ..cpu()
    };
    match load_models(fixture("llama"), options, &toy_config()) {
        Err(DistillError::Runtime(nines_runtime::RuntimeError::Quantized { action, .. })) => {
            assert_eq!(action, "PPO");
        }
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("an int8 policy loaded for PPO"),
    }
}
