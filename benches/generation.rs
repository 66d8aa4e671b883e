//! Generation throughput of SmolLM2-135M (Q4_1 GGUF dequantized to f32) on the CPU with 2
//! LibTorch threads, top-p 0.95, exactly N new tokens — the settings of the peer script
//! `scripts/peers/hf_generate.py` (HF transformers `generate()`), with the same prompts.
//!
//! ```text
//! cargo bench --bench generation
//! .venv/bin/python scripts/peers/hf_generate.py --runs 5
//! ```
//! Criterion reports new tokens per second (`thrpt`); docs/performance.md has the ratio. The
//! process's peak RSS (model load and both settings) is printed at the end.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nines::runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

const MODEL: &str = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

fn prompts() -> Vec<String> {
    let text =
        std::fs::read_to_string("scripts/peers/prompts.json").expect("scripts/peers/prompts.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    v["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| p.as_str().expect("string").to_string())
        .collect()
}

fn generation(c: &mut Criterion) {
    tch::set_num_threads(2);
    let lm = LanguageModel::load(
        MODEL,
        LoadOptions {
            device: DeviceSpec::Cpu,
            dtype: DType::F32,
        },
    )
    .expect("run `make setup` first");
    let prompts = prompts();
    let mut group = c.benchmark_group("generate/cpu-f32-2threads/smollm2");
    group.sample_size(10);
    for (batch, new_tokens) in [(1usize, 64usize), (16, 32)] {
        let batch_prompts: Vec<&str> = prompts.iter().take(batch).map(String::as_str).collect();
        let mut seed = 0;
        group.throughput(Throughput::Elements((batch * new_tokens) as u64));
        group.bench_function(format!("batch{batch}_new{new_tokens}_top_p0.95"), |b| {
            b.iter(|| {
                seed += 1;
                let cfg = GenerateConfig {
                    max_new_tokens: new_tokens,
                    min_new_tokens: new_tokens,
                    top_p: 0.95,
                    seed,
                    ..Default::default()
                };
                let out = lm.generate(&batch_prompts, &cfg).expect("generates");
                assert!(out.iter().all(|g| g.token_ids.len() == new_tokens));
                out
            })
        });
    }
    group.finish();
    // Peak resident memory of the whole process (model load, both settings), for the
    // comparison with the peer's `peak_rss_mb`.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
        eprintln!(
            "peak RSS ({}): {}",
            MODEL,
            line.trim_start_matches("VmHWM:").trim()
        );
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        eprintln!("load average at the end: {}", load.trim());
    }
}

criterion_group!(benches, generation);
criterion_main!(benches);
