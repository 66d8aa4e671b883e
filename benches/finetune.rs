//! Fine-tuning step throughput of SmolLM2-135M (Q4_1 GGUF dequantized to f32) on the CPU with
//! 2 LibTorch threads: packed sequences of 256 tokens from `moby_dick.txt`, batch 4, the top 6
//! blocks and the final norm trained, AdamW, clipping at 1.0 — the settings of the peer script
//! `scripts/peers/hf_finetune.py` (HF transformers). A second group times the same step on the
//! tiny Llama fixture (no `make setup` needed).
//!
//! ```text
//! cargo bench --bench finetune
//! OMP_WAIT_POLICY=PASSIVE .venv/bin/python scripts/peers/hf_finetune.py --threads 2 --steps 8
//! ```
//! Criterion reports training tokens per second (`thrpt`); docs/performance.md has the ratio.

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use nines::runtime::train::{FinetuneConfig, Finetuner, PackedTokens};
use nines::runtime::{DType, DeviceSpec, LanguageModel, LoadOptions};

const MODEL: &str = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const FIXTURE: &str = "crates/nines-runtime/tests/fixtures/llama";
const TEXT: &str = "data/corpus/moby_dick.txt";

fn trainer(model: &str, seq_len: usize, batch: usize, top: usize) -> Option<Finetuner> {
    let lm = LanguageModel::load(
        model,
        LoadOptions {
            device: DeviceSpec::Cpu,
            dtype: DType::F32,
        },
    )
    .ok()?;
    let text = std::fs::read_to_string(TEXT).expect("data/corpus/moby_dick.txt");
    let cut = text.floor_char_boundary(400_000);
    let data = PackedTokens::pack(lm.tokenizer(), &[&text[..cut]], seq_len).expect("packs");
    let cfg = FinetuneConfig {
        seq_len,
        batch_size: batch,
        max_steps: 1_000_000,
        warmup_steps: 0,
        top_layers: Some(top),
        ..Default::default()
    };
    Some(Finetuner::new(lm, data, cfg).expect("trainer"))
}

fn finetune(c: &mut Criterion) {
    tch::set_num_threads(2);
    let mut group = c.benchmark_group("finetune/cpu-f32-2threads");
    // One step per sample: a SmolLM2 step takes seconds on 2 cores.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    group.warm_up_time(Duration::from_secs(10));
    match trainer(MODEL, 256, 4, 6) {
        Some(mut ft) => {
            group.throughput(Throughput::Elements(4 * 256));
            group.bench_function("smollm2_seq256_batch4_top6", |b| {
                b.iter(|| ft.train_step().expect("step"))
            });
        }
        None => eprintln!("{MODEL} missing (run `make setup`): skipping the SmolLM2 benchmark"),
    }
    group.measurement_time(Duration::from_secs(5));
    group.warm_up_time(Duration::from_secs(1));
    let mut ft = trainer(FIXTURE, 32, 8, 1).expect("fixture loads");
    group.throughput(Throughput::Elements(8 * 32));
    group.bench_function("tiny_llama_seq32_batch8_top1", |b| {
        b.iter(|| ft.train_step().expect("step"))
    });
    group.finish();
}

criterion_group!(benches, finetune);
criterion_main!(benches);
