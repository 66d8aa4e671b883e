//! Exact resume: stopping after a checkpoint and resuming gives the same parameters, β and
//! metrics as an uninterrupted run.

mod common;

use common::*;
use nines_data::FnScorer;
use nines_distill::checkpoint::{
    TrainerState, load_policy_weights, read_state, save_policy_weights,
};
use nines_distill::metrics::MetricsLog;
use nines_distill::{PpoConfig, PpoTrainer, TrainScope, load_models};
use nines_runtime::LanguageModel;
use nines_runtime::tch::{Kind, Tensor};
use tempfile::TempDir;

fn params(lm: &LanguageModel) -> Vec<(String, Tensor)> {
    let mut v: Vec<_> = lm.var_store().variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn generator_params(lm: &LanguageModel) -> Vec<(String, Tensor)> {
    params(lm)
        .into_iter()
        .filter(|(n, _)| !n.starts_with("value_head"))
        .collect()
}

fn run(cfg: PpoConfig, dir: &std::path::Path) -> Trainer {
    let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
    let mut t = PpoTrainer::new(policy, reference, toy_reward(), cfg).unwrap();
    t.train(&prompts(), dir, false).unwrap();
    t
}

/// Runs `base` to the end in one folder, and in another stops after `first_steps` steps and
/// resumes to the end. Returns both folders and trainers, and the trainer state the first leg
/// of the split run left in its checkpoint.
type Trainer = PpoTrainer<FnScorer<ToyFn>>;
fn straight_and_resumed(
    base: &PpoConfig,
    first_steps: usize,
) -> (TempDir, Trainer, TempDir, Trainer, TrainerState) {
    let straight = tempfile::tempdir().unwrap();
    let a = run(base.clone(), straight.path());
    let split = tempfile::tempdir().unwrap();
    let b1 = run(
        PpoConfig {
            total_steps: first_steps,
            ..base.clone()
        },
        split.path(),
    );
    assert_eq!(b1.steps_done(), first_steps);
    drop(b1);
    let first_leg = read_state(&split.path().join("checkpoint")).unwrap();
    let b = run(base.clone(), split.path());
    (straight, a, split, b, first_leg)
}

#[test]
fn resumed_run_matches_the_uninterrupted_one() {
    for scope in [
        TrainScope::TopLayers { layers: 1 },
        TrainScope::Lora(Default::default()),
    ] {
        let base = PpoConfig {
            total_steps: 3,
            kl: nines_distill::KlConfig::Adaptive {
                init: 0.1,
                target: 0.01,
                horizon: 100.0,
            },
            scope: scope.clone(),
            ..toy_config()
        };
        let (straight, a, split, b, _) = straight_and_resumed(&base, 1);
        assert_eq!(b.steps_done(), 3);
        assert_eq!(a.kl_controller().value(), b.kl_controller().value());
        assert_ne!(a.kl_controller().value(), 0.1, "β should have adapted");
        for ((na, ta), (nb, tb)) in params(a.policy()).iter().zip(params(b.policy())) {
            assert_eq!(na, &nb);
            assert!(
                ta.equal(&tb),
                "{scope:?}: {na} differs by {}",
                (ta - &tb).abs().max().double_value(&[])
            );
        }
        let ma = MetricsLog::read(straight.path().join("metrics.jsonl")).unwrap();
        let mb = MetricsLog::read(split.path().join("metrics.jsonl")).unwrap();
        assert_eq!(ma.len(), 3);
        assert_eq!(mb.len(), 3);
        for (x, y) in ma.iter().zip(&mb) {
            assert_eq!(
                (x.step, x.kl, x.score_mean, x.policy_loss),
                (y.step, y.kl, y.score_mean, y.policy_loss)
            );
        }
        // Training changed the policy, and the export reloads into a fresh model exactly.
        let fresh =
            LanguageModel::load_with_lora(fixture("llama"), cpu(), a.policy().lora().cloned())
                .unwrap();
        let changed = generator_params(a.policy())
            .iter()
            .zip(generator_params(&fresh))
            .any(|((_, x), (_, y))| !x.equal(&y));
        assert!(changed);
        let out = straight.path().join("policy.safetensors");
        save_policy_weights(a.policy(), &out).unwrap();
        load_policy_weights(&fresh, &out).unwrap();
        let ids = Tensor::from_slice(&[5i64, 60, 70, 80]).view([1, 4]);
        let pos = Tensor::arange(4, (Kind::Int64, nines_runtime::tch::Device::Cpu)).view([1, 4]);
        let la = a.policy().model().forward(&ids, &pos, None, None).unwrap();
        let lb = fresh.model().forward(&ids, &pos, None, None).unwrap();
        assert!(la.equal(&lb));
    }
}

#[test]
fn resumed_run_replays_the_same_prompts() {
    let base = PpoConfig {
        total_steps: 4,
        replay_share: 0.5,
        replay_limit: 1,
        scope: TrainScope::TopLayers { layers: 1 },
        ..toy_config()
    };
    let (straight, a, split, b, first_leg) = straight_and_resumed(&base, 2);
    let queue_at_two = first_leg.replay;
    let state = read_state(&straight.path().join("checkpoint")).unwrap();
    assert_eq!(&state.replay, a.replay_queue());
    assert_eq!(
        state.fresh_drawn,
        Some(4 * 4 - replayed_total(straight.path()))
    );
    assert_eq!(a.replay_queue(), b.replay_queue());
    let ma = MetricsLog::read(straight.path().join("metrics.jsonl")).unwrap();
    let mb = MetricsLog::read(split.path().join("metrics.jsonl")).unwrap();
    assert_eq!(ma.len(), 4);
    for (x, y) in ma.iter().zip(&mb) {
        assert_eq!(
            (
                x.step,
                x.kl,
                x.score_mean,
                x.flagged_fraction,
                x.replayed_prompts
            ),
            (
                y.step,
                y.kl,
                y.score_mean,
                y.flagged_fraction,
                y.replayed_prompts
            )
        );
    }
    // The random toy model writes forbidden characters often: prompts were replayed, as
    // many as the share allows once the queue has any (2 of 4), and never beyond it.
    assert_eq!(ma[0].replayed_prompts, 0);
    assert!(ma.iter().any(|m| m.replayed_prompts > 0), "{ma:?}");
    assert!(ma.iter().all(|m| m.replayed_prompts <= 2));
    // A prompt replayed once (the limit) leaves the queue whatever its rollout.
    assert!(a.replay_queue().entries().iter().all(|e| e.replays == 0));
    assert!(queue_at_two.len() <= 4 * 4);
    for ((na, ta), (nb, tb)) in params(a.policy()).iter().zip(params(b.policy())) {
        assert_eq!(na, &nb);
        assert!(ta.equal(&tb), "{na} differs after resume");
    }
    // Resuming with a smaller prompt set than the queue refers to is a typed error.
    drop(b);
    assert!(a.replay_queue().entries().iter().any(|e| e.prompt >= 2));
    let more = PpoConfig {
        total_steps: 5,
        ..base
    };
    let (policy, reference) = load_models(fixture("llama"), cpu(), &more).unwrap();
    let mut t = PpoTrainer::new(policy, reference, toy_reward(), more).unwrap();
    let err = t
        .train(&prompts()[..2], straight.path(), false)
        .unwrap_err();
    assert!(
        matches!(&err, nines_distill::DistillError::InvalidInput(m) if m.contains("replay queue")),
        "{err}"
    );
}

fn replayed_total(run_dir: &std::path::Path) -> usize {
    MetricsLog::read(run_dir.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|m| m.replayed_prompts)
        .sum()
}
