//! Training only the top blocks: the frozen bottom, shared with the reference, is computed
//! once per rollout. Scoring with the shared trunk gives the same log-probs and values as two
//! full forward passes; a reference whose bottom differs is not shared.

mod common;

use common::*;
use nines_data::FnScorer;
use nines_distill::rollout::{self, Scorers};
use nines_distill::{PpoConfig, Shaping, TrainScope, ValueHead, load_models};
use nines_runtime::LanguageModel;
use tch::Tensor;

/// Scorers of a policy, its reference and the toy reward: no score clipping, empty
/// completions flagged, 4 rows per pass, nothing shared.
fn scorers<'a>(
    policy: &'a LanguageModel,
    head: &'a ValueHead,
    reference: &'a LanguageModel,
    reward: &'a FnScorer<ToyFn>,
    shaping: Shaping,
) -> Scorers<'a, FnScorer<ToyFn>> {
    Scorers {
        policy,
        value_head: head,
        reference,
        reward,
        shaping,
        score_clip: 0.0,
        empty_is_flagged: true,
        batch_size: 4,
        shared_blocks: 0,
    }
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn shared_trunk_scores_like_full_passes() {
    let cfg = PpoConfig {
        scope: TrainScope::TopLayers { layers: 1 },
        ..toy_config()
    };
    let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
    let layers = policy.model().spec().num_layers;
    assert!(layers >= 2, "the fixture needs a bottom to share");
    let head = ValueHead::attach(&policy);
    // Give the value head weights so that values are not trivially zero.
    tch::no_grad(|| {
        for (name, t) in policy.var_store().variables() {
            if name.starts_with("value_head") {
                let _ = t.shallow_clone().fill_(0.1);
            }
        }
    });
    let prompts = prompts();
    let ps: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let r = rollout::sample(&policy, &ps[..4], 3, &cfg.generation).unwrap();
    let reward = toy_reward();
    let base = scorers(&policy, &head, &reference, &reward, cfg.reward);
    let scorers = |shared_blocks| Scorers {
        batch_size: 5,
        shared_blocks,
        ..base
    };
    let full = rollout::score(&scorers(0), &ps[..4], r.clone()).unwrap();
    let shared = rollout::score(&scorers(layers - 1), &ps[..4], r).unwrap();
    assert!(full.trunks.is_none());
    let trunks = shared.trunks.as_ref().unwrap();
    assert_eq!(trunks.completions.len(), full.rollout.items.len());
    assert!(trunks.prompts.iter().all(tch::Tensor::defined));
    assert!(max_diff(&full.old_logprobs, &shared.old_logprobs) < 1e-4);
    assert!(max_diff(&full.ref_logprobs, &shared.ref_logprobs) < 1e-4);
    assert!(max_diff(&full.values, &shared.values) < 1e-4);
    assert!(full.values.abs().max().double_value(&[]) > 0.0);
}

#[test]
fn trainer_shares_the_trunk_only_with_an_identical_frozen_bottom() {
    let cfg = PpoConfig {
        scope: TrainScope::TopLayers { layers: 1 },
        ..toy_config()
    };
    let prompts = prompts();
    let ps: Vec<&str> = prompts.iter().map(String::as_str).collect();

    let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
    let t = nines_distill::PpoTrainer::new(policy, reference, toy_reward(), cfg.clone()).unwrap();
    assert!(t.collect(&ps[..2]).unwrap().trunks.is_some());

    // Perturb one bottom weight of the reference: nothing may be shared.
    let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
    tch::no_grad(|| {
        let vars = reference.var_store().variables();
        let w = &vars["model.layers.0.mlp.up_proj.weight"];
        let _ = w.shallow_clone().g_add_scalar_(1e-3);
    });
    let t = nines_distill::PpoTrainer::new(policy, reference, toy_reward(), cfg).unwrap();
    assert!(t.collect(&ps[..2]).unwrap().trunks.is_none());
}

#[test]
fn empty_completions_score_as_flagged() {
    let cfg = toy_config();
    let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
    let head = ValueHead::attach(&policy);
    let prompts = prompts();
    let ps: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let mut r = rollout::sample(&policy, &ps[..2], 2, &cfg.generation).unwrap();
    // The toy reward passes anything without the forbidden character, "" and "\n" included.
    r.items[0].text = String::new();
    r.items[1].text = "\n ".into();
    r.items[2].text = "hm".into();
    let reward = toy_reward();
    let scores = |empty_is_flagged| {
        let s = Scorers {
            empty_is_flagged,
            ..scorers(&policy, &head, &reference, &reward, cfg.reward)
        };
        let scored = rollout::score(&s, &ps[..2], r.clone()).unwrap();
        Vec::<f32>::try_from(scored.scores).unwrap()
    };
    assert_eq!(&scores(true)[..3], &[-1.0, -1.0, 1.0]);
    assert_eq!(&scores(false)[..3], &[1.0, 1.0, 1.0]);
}

#[test]
fn int8_frozen_bottom_is_shared_and_only_the_top_trains() {
    let cfg = PpoConfig {
        scope: TrainScope::TopLayers { layers: 1 },
        int8_frozen_blocks: true,
        total_steps: 2,
        ..toy_config()
    };
    let prompts = prompts();
    let ps: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
    let before: Vec<(String, Tensor)> = policy
        .var_store()
        .variables()
        .into_iter()
        .map(|(n, t)| (n, t.detach().copy()))
        .collect();
    let f32_batch = {
        let (policy, reference) = load_models(fixture("llama"), cpu(), &cfg).unwrap();
        let f32_cfg = PpoConfig {
            int8_frozen_blocks: false,
            ..cfg.clone()
        };
        let t = nines_distill::PpoTrainer::new(policy, reference, toy_reward(), f32_cfg).unwrap();
        t.collect(&ps[..4]).unwrap()
    };
    let mut t = nines_distill::PpoTrainer::new(policy, reference, toy_reward(), cfg).unwrap();
    let batch = t.collect(&ps[..4]).unwrap();
    assert!(batch.trunks.is_some());
    // Before any update the policy is the reference, int8 bottom included.
    assert!(max_diff(&batch.old_logprobs, &batch.ref_logprobs) < 1e-5);
    // Full passes through the int8 bottom give what the shared trunk gave.
    let head = ValueHead::attach(t.policy());
    let reward = toy_reward();
    let full_passes = |r: &rollout::Rollout| {
        let s = scorers(
            t.policy(),
            &head,
            t.reference(),
            &reward,
            Shaping::default(),
        );
        rollout::score(&s, &ps[..4], r.clone()).unwrap()
    };
    let full = full_passes(&batch.rollout);
    assert!(max_diff(&full.old_logprobs, &batch.old_logprobs) < 1e-4);
    // Not the f32 bottom: the f32 trainer's rollout, scored through the int8 bottom, scores
    // differently, but not by much.
    let f32_full = full_passes(&f32_batch.rollout);
    let d = max_diff(&f32_full.old_logprobs, &f32_batch.old_logprobs);
    assert!(d > 1e-6 && d < 1.0, "int8 against f32 log-probs: {d}");
    t.update(batch).unwrap();
    // The f32 weights of the frozen bottom are kept; the top (block and final norm) trained.
    let layers = t.policy().model().spec().num_layers;
    let top = format!("layers.{}.", layers - 1);
    let after = t.policy().var_store().variables();
    let mut top_changed = false;
    for (name, b) in &before {
        let same = after[name].equal(b);
        if name.contains(&top) || name.starts_with("model.norm.") {
            top_changed |= !same;
        } else {
            assert!(same, "{name} changed");
        }
    }
    assert!(top_changed, "the top block did not train");
}

#[test]
fn int8_frozen_blocks_need_a_frozen_bottom() {
    for scope in [TrainScope::All, TrainScope::Lora(Default::default())] {
        let cfg = PpoConfig {
            scope,
            int8_frozen_blocks: true,
            ..toy_config()
        };
        let err = cfg.validate().unwrap_err();
        assert!(err.to_string().contains("int8_frozen_blocks"), "{err}");
    }
}
