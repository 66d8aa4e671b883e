//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use nines_data::FnScorer;
use nines_distill::{PpoConfig, TrainScope};
use nines_runtime::{DeviceSpec, GenerateConfig, LoadOptions};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nines-runtime/tests/fixtures")
        .join(name)
}

pub fn cpu() -> LoadOptions {
    LoadOptions {
        device: DeviceSpec::Cpu,
        ..Default::default()
    }
}

/// The toy task's forbidden characters: a completion containing any is flagged.
pub const BAD: &[char] = &['e', 'a', 'o', 'i', 't', 'n', 's'];

pub fn is_bad(text: &str) -> bool {
    text.contains(BAD)
}

/// The closure type behind [`toy_reward`].
pub type ToyFn = fn(&[(&str, &str)]) -> Result<Vec<f32>, std::convert::Infallible>;

fn toy_p(pairs: &[(&str, &str)]) -> Result<Vec<f32>, std::convert::Infallible> {
    Ok(pairs
        .iter()
        .map(|(_, c)| if is_bad(c) { 1.0 } else { 0.0 })
        .collect())
}

/// P(injury) = 1 for completions with a forbidden character, else 0.
pub fn toy_reward() -> FnScorer<ToyFn> {
    FnScorer::new(toy_p as ToyFn)
}

pub fn prompts() -> Vec<String> {
    [
        "The cat sat",
        "Once upon a time",
        "He ran to the door",
        "She said that",
        "In the morning",
        "The old man",
        "A dog barked",
        "They went home",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn toy_config() -> PpoConfig {
    PpoConfig {
        prompts_per_step: 4,
        samples_per_prompt: 4,
        mini_batch_size: 8,
        ppo_epochs: 4,
        learning_rate: 3e-3,
        scope: TrainScope::All,
        generation: GenerateConfig {
            max_new_tokens: 3,
            temperature: 1.0,
            stop_at_sentence_end: false,
            stop_at_eos: false,
            ..Default::default()
        },
        kl: nines_distill::KlConfig::Fixed { coef: 0.01 },
        reward: nines_distill::Shaping::Threshold {
            threshold: 0.5,
            safe: 1.0,
            flagged: -1.0,
        },
        total_steps: 40,
        // The toy's optimum is close to a policy that always emits the same three safe
        // tokens, which is 3 · (−ln p_ref(token)) ≈ 17–21 nats per completion from this random
        // reference: toy runs end there (measured over seeds and CPU kernels), not in a
        // blow-up. The default guard (20 nats per completion) is sized for full-length
        // rollouts of a real model and sits on this ceiling, where which side a run lands on
        // depends on rounding; 60 still stops a real divergence.
        max_kl: 60.0,
        checkpoint_every: 0,
        seed: 3,
        ..Default::default()
    }
}
