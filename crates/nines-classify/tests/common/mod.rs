//! Shared helpers: the tiny random BERT and Llama fixtures and a synthetic injury task.
#![allow(dead_code)]

use std::path::PathBuf;

use nines_classify::{BackboneKind, ClassifierConfig, Example, HeadPooling, TrainConfig};
use nines_runtime::DeviceSpec;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nines-runtime/tests/fixtures")
        .join(name)
}

pub fn tiny_bert() -> ClassifierConfig {
    ClassifierConfig {
        backbone: fixture("bert"),
        max_len: 48,
        device: DeviceSpec::Cpu,
        score_batch_size: 16,
        ..Default::default()
    }
}

pub fn tiny_llama() -> ClassifierConfig {
    ClassifierConfig {
        backbone: fixture("llama"),
        kind: BackboneKind::CausalLm,
        pooling: HeadPooling::Last,
        train_backbone: false,
        max_len: 48,
        device: DeviceSpec::Cpu,
        ..Default::default()
    }
}

pub fn fast_train() -> TrainConfig {
    TrainConfig {
        learning_rate: 2e-3,
        head_lr_multiplier: 5.0,
        epochs: 3,
        batch_size: 8,
        bucket_batches: 4,
        patience: None,
        progress: false,
        ..Default::default()
    }
}

const NEUTRAL: &[&str] = &[
    "the",
    "and",
    "in",
    "of",
    "on",
    "at",
    "his",
    "was",
    "all",
    "back",
    "bells",
    "below",
    "book",
    "brass",
    "clock",
    "coat",
    "counted",
    "country",
    "dusk",
    "evening",
    "flour",
    "flower",
    "found",
    "gate",
    "grey",
    "home",
    "ink",
    "inside",
    "keeper",
    "key",
    "knew",
    "last",
    "leather",
    "lens",
    "letter",
    "lighthouse",
    "line",
    "looked",
    "low",
    "made",
    "maps",
];

/// Positives contain `fell` in the completion; negatives never do. Prompts are noise.
pub fn synthetic(n: usize, seed: u64) -> Vec<Example> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let words = |rng: &mut StdRng, k: usize| -> Vec<&str> {
                (0..k).map(|_| *NEUTRAL.choose(rng).unwrap()).collect()
            };
            let plen = rng.random_range(3..9);
            let prompt = words(&mut rng, plen).join(" ") + ".";
            let clen = rng.random_range(2..6);
            let mut comp = words(&mut rng, clen);
            let label = i % 3 == 0;
            if label {
                let at = rng.random_range(0..=comp.len());
                comp.insert(at, "fell");
            }
            Example::new(prompt, comp.join(" ") + ".", label)
        })
        .collect()
}

pub fn pairs(examples: &[Example]) -> Vec<(&str, &str)> {
    examples
        .iter()
        .map(|e| (e.prompt.as_str(), e.completion.as_str()))
        .collect()
}

pub fn labels(examples: &[Example]) -> Vec<bool> {
    examples.iter().map(|e| e.label).collect()
}
