//! Shared fixtures: the tiny random BERT and Llama models of nines-runtime, a tiny BERT
//! classifier trained once on a synthetic task (injury = the completion says `fell`), and a
//! word-list oracle.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use nines_attack::{Oracle, Result, Seed};
use nines_classify::{
    BackboneKind, Classifier, ClassifierConfig, Example, HeadPooling, TrainConfig, Trainer,
};
use nines_runtime::{DeviceSpec, LanguageModel, LoadOptions};
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

pub fn tiny_llama(pooling: HeadPooling) -> ClassifierConfig {
    ClassifierConfig {
        backbone: fixture("llama"),
        kind: BackboneKind::CausalLm,
        pooling,
        train_backbone: false,
        max_len: 48,
        device: DeviceSpec::Cpu,
        ..Default::default()
    }
}

pub fn generator() -> LanguageModel {
    LanguageModel::load(
        fixture("llama"),
        LoadOptions {
            device: DeviceSpec::Cpu,
            ..Default::default()
        },
    )
    .unwrap()
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

pub const NEUTRAL: &[&str] = &[
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

/// A tiny BERT classifier trained on [`synthetic`], with a threshold; trained once per test
/// binary and loaded from its folder.
pub fn trained() -> Classifier {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let mut model = Classifier::new(&tiny_bert()).unwrap();
        Trainer::new(&mut model, fast_train())
            .unwrap()
            .train(&synthetic(240, 1), &synthetic(90, 2))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        model.save(dir.path()).unwrap();
        dir
    });
    Classifier::load(dir.path(), DeviceSpec::Cpu).unwrap()
}

/// Flagged positives of the synthetic task as seeds.
pub fn seeds(n: usize, seed: u64) -> Vec<Seed> {
    synthetic(6 * n, seed)
        .into_iter()
        .filter(|e| e.label)
        .take(n)
        .enumerate()
        .map(|(i, e)| Seed::new(format!("s{i}"), e.prompt, e.completion))
        .collect()
}

/// Injury when the completion contains one of the words; counts the pairs it judged.
pub struct WordOracle {
    pub words: Vec<&'static str>,
    pub judged: u64,
}

impl WordOracle {
    pub fn new(words: &[&'static str]) -> Self {
        WordOracle {
            words: words.to_vec(),
            judged: 0,
        }
    }
}

impl Oracle for WordOracle {
    fn name(&self) -> &str {
        "words"
    }

    fn version(&self) -> String {
        self.words.join("+")
    }

    fn judge(&mut self, pairs: &[(&str, &str)]) -> Result<Vec<bool>> {
        self.judged += pairs.len() as u64;
        Ok(pairs
            .iter()
            .map(|(_, c)| {
                c.split(|ch: char| !ch.is_alphabetic())
                    .any(|w| self.words.contains(&w.to_lowercase().as_str()))
            })
            .collect())
    }
}
