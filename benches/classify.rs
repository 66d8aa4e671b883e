//! Classifier throughput: MiniLM pair classifier, CPU, f32, 2 LibTorch threads, batch 16,
//! pairs truncated to 128 tokens, dynamic padding — the settings of the peer script
//! `scripts/peers/hf_classifier.py` (HF transformers fine-tuning the same MiniLM), with the
//! same pairs (the 16 prompts of `scripts/peers/prompts.json`, each with one of four fixed
//! completions).
//!
//! ```text
//! cargo bench --bench classify
//! OMP_WAIT_POLICY=PASSIVE .venv/bin/python scripts/peers/hf_classifier.py --runs 5
//! ```
//! Criterion reports pairs per second (`thrpt`): `train_step` is one AdamW step (forward,
//! backward, clipping, update) on 16 pairs; `score` is batched inference of 16 pairs.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nines::classify::{Classifier, ClassifierConfig, Example, TrainConfig, Trainer};
use nines::runtime::DeviceSpec;

const COMPLETIONS: [&str; 4] = [
    " He stepped back from the window and said nothing.",
    " The blade caught his forearm and blood ran down to his wrist.",
    " She laughed, folded the letter, and put it away.",
    " The horse stumbled and threw him hard against the stones.",
];

fn pairs() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string("scripts/peers/prompts.json").expect("scripts/peers/prompts.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    v["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (
                p.as_str().expect("string").to_string(),
                COMPLETIONS[i % 4].to_string(),
            )
        })
        .collect()
}

fn classify(c: &mut Criterion) {
    tch::set_num_threads(2);
    let cfg = ClassifierConfig {
        device: DeviceSpec::Cpu,
        max_len: 128,
        score_batch_size: 16,
        ..Default::default()
    };
    let mut model = Classifier::new(&cfg).expect("run `make setup` first (models/minilm)");
    let owned = pairs();
    let batch: Vec<(&str, &str)> = owned
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let examples: Vec<Example> = owned
        .iter()
        .enumerate()
        .map(|(i, (p, c))| Example::new(p.clone(), c.clone(), i % 2 == 1))
        .collect();
    let mut group = c.benchmark_group("classify/cpu-f32-2threads/minilm");
    group.sample_size(10);
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("score_batch16_len128", |b| {
        b.iter(|| model.score(&batch).expect("score"))
    });
    group.bench_function("train_step_batch16_len128", |b| {
        b.iter_custom(|iters| {
            // One epoch over the 16 pairs is one step; the report's throughput counts only
            // forward, backward and update (not the validation pass), which is what is timed.
            let t = TrainConfig {
                epochs: iters as usize,
                batch_size: 16,
                bucket_batches: 1,
                patience: None,
                calibrate: false,
                progress: false,
                eval_every: Some(u64::MAX),
                ..Default::default()
            };
            let r = Trainer::new(&mut model, t)
                .expect("config")
                .train(&examples, &examples[..4])
                .expect("train");
            Duration::from_secs_f64(r.steps as f64 * 16.0 / r.train_examples_per_s)
        })
    });
    group.finish();
}

criterion_group!(benches, classify);
criterion_main!(benches);
