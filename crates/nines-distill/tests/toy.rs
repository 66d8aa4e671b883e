//! Correctness on a task whose optimum is known: a tiny random Llama must learn to avoid
//! completions containing forbidden characters. The optimal policy never emits them.

mod common;

use common::*;
use nines_distill::{PpoConfig, PpoTrainer, load_models};
use nines_runtime::LanguageModel;

fn bad_rate(lm: &LanguageModel, prompts: &[String], seed: u64) -> f64 {
    let cfg = nines_runtime::GenerateConfig {
        seed,
        ..toy_config().generation
    };
    let ps: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let out = lm.generate_n(&ps, 16, &cfg).unwrap();
    let all: Vec<_> = out.into_iter().flatten().collect();
    all.iter().filter(|g| is_bad(&g.text)).count() as f64 / all.len() as f64
}

#[test]
fn ppo_drives_the_forbidden_rate_down() {
    let cfg = toy_config();
    let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
    let before = bad_rate(&policy, &prompts(), 99);
    let mut trainer = PpoTrainer::new(policy, reference, toy_reward(), cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let metrics = trainer.train(&prompts(), dir.path(), false).unwrap();
    let policy = trainer.into_policy();
    let after = bad_rate(&policy, &prompts(), 99);
    let first: f64 = metrics[..5].iter().map(|m| m.flagged_fraction).sum::<f64>() / 5.0;
    let last: f64 = metrics[metrics.len() - 5..]
        .iter()
        .map(|m| m.flagged_fraction)
        .sum::<f64>()
        / 5.0;
    eprintln!("held-out bad rate {before:.3} → {after:.3}; rollout flagged {first:.3} → {last:.3}");
    assert!(before > 0.3, "the toy task must start hard: {before}");
    assert!(after < before / 4.0, "{before} → {after}");
    assert!(metrics.iter().all(|m| m.kl.is_finite() && m.entropy > 0.0));
    let max_kl = metrics.iter().map(|m| m.kl).fold(0.0, f64::max);
    assert!(
        max_kl < 30.0,
        "KL to the reference stays near the toy optimum's ceiling (≈ 17–21 nats): {max_kl}"
    );
}

/// The trust region: with `target_kl` far below what one minibatch update moves the policy,
/// every step stops after its first update; without it every step makes all its updates.
#[test]
fn target_kl_stops_each_step_early() {
    let base = PpoConfig {
        total_steps: 3,
        ..toy_config()
    };
    let full = base.ppo_epochs * base.batch_size() / base.mini_batch_size;
    for (target_kl, per_step) in [(None, full), (Some(1e-6), 1)] {
        let cfg = PpoConfig {
            target_kl,
            ..base.clone()
        };
        let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
        let mut trainer = PpoTrainer::new(policy, reference, toy_reward(), cfg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let metrics = trainer.train(&prompts(), dir.path(), false).unwrap();
        assert_eq!(metrics.len(), 3);
        for m in &metrics {
            assert_eq!(m.updates, per_step, "target_kl {target_kl:?}: {m:?}");
            assert!(m.entropy > 0.0);
        }
    }
}

/// Training the top block over a frozen bottom, the bottom in f32 or in int8
/// (`int8_frozen_blocks`): both learn the toy task. One trained block learns it less well
/// than the whole model (measured over CPU kernel sets and thread counts: 0.43 → 0.02–0.13
/// with the f32 bottom, → 0.06–0.09 with int8).
#[test]
fn an_int8_frozen_bottom_learns_the_toy_as_f32_does() {
    let after = |int8: bool| {
        let cfg = PpoConfig {
            scope: nines_distill::TrainScope::TopLayers { layers: 1 },
            int8_frozen_blocks: int8,
            ..toy_config()
        };
        let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
        let before = bad_rate(&policy, &prompts(), 99);
        let mut trainer = PpoTrainer::new(policy, reference, toy_reward(), cfg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        trainer.train(&prompts(), dir.path(), false).unwrap();
        // Sampled as trained: the policy keeps its int8 bottom.
        let after = bad_rate(trainer.policy(), &prompts(), 99);
        eprintln!("int8 bottom {int8}: held-out bad rate {before:.3} → {after:.3}");
        (before, after)
    };
    let (before, f32_after) = after(false);
    let (_, int8_after) = after(true);
    assert!(before > 0.3, "the toy task must start hard: {before}");
    assert!(
        f32_after < before / 2.0,
        "f32 bottom: {before} → {f32_after}"
    );
    assert!(
        int8_after < before / 2.0,
        "int8 bottom: {before} → {int8_after}"
    );
}
