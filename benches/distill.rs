//! PPO speed on SmolLM2-135M (Q4_1 GGUF dequantized to f32), CPU, 2 LibTorch threads, at the
//! settings of the peer script `scripts/peers/trl_ppo.py` (TRL's PPO trainer): 8 prompts × 1
//! completion of exactly 32 tokens at temperature 1, 4 PPO epochs over one minibatch of 8, all
//! parameters trained, fixed KL coefficient 0.05. The reward model is a third copy of the
//! 135M network scoring `prompt ++ completion` (TRL runs a 135M reward model too).
//!
//! ```text
//! cargo bench --bench distill
//! OMP_WAIT_POLICY=PASSIVE .venv/bin/python scripts/peers/trl_ppo.py --steps 5
//! ```
//! `ppo_step` reports PPO steps per second (`thrpt`, elements = steps); `rollout` reports
//! rollout tokens per second. docs/performance.md has the ratio.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nines::data::FnScorer;
use nines::distill::rollout::sample;
use nines::distill::{DistillError, KlConfig, PpoConfig, PpoTrainer, TrainScope, load_models};
use nines::runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

const MODEL: &str = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const BATCH: usize = 8;
const NEW: usize = 32;

fn prompts() -> Vec<String> {
    let text =
        std::fs::read_to_string("scripts/peers/prompts.json").expect("scripts/peers/prompts.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    v["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .take(BATCH)
        .map(|p| p.as_str().expect("string").to_string())
        .collect()
}

fn config() -> PpoConfig {
    PpoConfig {
        prompts_per_step: BATCH,
        samples_per_prompt: 1,
        mini_batch_size: BATCH,
        ppo_epochs: 4,
        learning_rate: 1e-6,
        kl: KlConfig::Fixed { coef: 0.05 },
        scope: TrainScope::All,
        generation: GenerateConfig {
            max_new_tokens: NEW,
            min_new_tokens: NEW,
            stop_at_eos: false,
            stop_at_sentence_end: false,
            ..Default::default()
        },
        max_kl: 1e9,
        ..Default::default()
    }
}

fn ppo(c: &mut Criterion) {
    tch::set_num_threads(2);
    let options = LoadOptions {
        device: DeviceSpec::Cpu,
        dtype: DType::F32,
    };
    let cfg = config();
    let (policy, reference) = load_models(MODEL, options, &cfg).expect("run `make setup` first");
    let judge = LanguageModel::load(MODEL, options).expect("model");
    // A 135M reward model: P(injury) = sigmoid of the completion's mean log-prob + 3.
    let reward = FnScorer::new(move |pairs: &[(&str, &str)]| {
        let lp = judge.score(pairs, 8)?;
        Ok::<_, DistillError>(
            lp.iter()
                .map(|r| {
                    1.0 / (1.0 + (-(r.iter().sum::<f32>() / r.len().max(1) as f32 + 3.0)).exp())
                })
                .collect(),
        )
    });
    let prompts = prompts();
    let ps: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let mut trainer = PpoTrainer::new(policy, reference, reward, cfg.clone()).expect("trainer");
    let mut group = c.benchmark_group("ppo/cpu-f32-2threads/smollm2");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    group.bench_function("ppo_step_batch8_new32_epochs4_all", |b| {
        b.iter(|| trainer.step(&ps).expect("step"))
    });
    group.throughput(Throughput::Elements((BATCH * NEW) as u64));
    let mut seed = 0;
    group.bench_function("rollout_batch8_new32", |b| {
        b.iter(|| {
            seed += 1;
            let g = GenerateConfig {
                seed,
                ..cfg.generation.clone()
            };
            let r = sample(trainer.policy(), &ps, 1, &g).expect("rollout");
            assert_eq!(r.tokens, BATCH * NEW);
            r
        })
    });
    group.finish();
}

criterion_group!(benches, ppo);
criterion_main!(benches);
