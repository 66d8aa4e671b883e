//! Generation throughput of SmolLM2-135M (Q4_1 GGUF, dequantized to f32, or requantized to
//! int8 projections) on the CPU with 2 LibTorch threads, top-p 0.95, exactly N new tokens —
//! the settings of the peer scripts `scripts/peers/hf_generate.py` (HF transformers
//! `generate()`) and `scripts/peers/llamacpp_generate.py` (llama.cpp on the GGUF as it is),
//! with the same prompts.
//!
//! ```text
//! cargo bench --bench generation                                   # f32 and int8
//! NINES_BENCH_DTYPES=int8 cargo bench --bench generation           # one of them
//! .venv/bin/python scripts/peers/hf_generate.py --runs 5
//! .venv/bin/python scripts/peers/llamacpp_generate.py --runs 5
//! ```
//! Criterion reports new tokens per second (`thrpt`); docs/performance.md has the ratios.
//! After each dtype the process's peak RSS since just before that model was loaded is
//! printed (the peak is reset between dtypes through `/proc/self/clear_refs`).

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

/// The dtypes to measure: `NINES_BENCH_DTYPES` (comma-separated), default `f32,int8`.
fn dtypes() -> Vec<DType> {
    std::env::var("NINES_BENCH_DTYPES")
        .unwrap_or_else(|_| "f32,int8".into())
        .split(',')
        .map(|d| d.parse().expect("NINES_BENCH_DTYPES: f32, bf16 or int8"))
        .collect()
}

/// A `/proc/self/status` field, e.g. `VmHWM` (peak RSS).
fn status_field(name: &str) -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(name))?;
    Some(line[name.len() + 1..].trim().to_string())
}

fn generation(c: &mut Criterion) {
    tch::set_num_threads(2);
    let prompts = prompts();
    for dtype in dtypes() {
        // Reset the peak RSS to the current RSS, so that each dtype's peak is its own.
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
        let lm = LanguageModel::load(
            MODEL,
            LoadOptions {
                device: DeviceSpec::Cpu,
                dtype,
            },
        )
        .expect("run `make setup` first");
        let mut group = c.benchmark_group(format!("generate/cpu-{dtype}-2threads/smollm2"));
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
        // Peak resident memory (model load and both settings), for the comparison with the
        // peers' `peak_rss_mb`.
        if let Some(peak) = status_field("VmHWM") {
            let since = if reset {
                "since its load"
            } else {
                "of the process"
            };
            eprintln!("peak RSS {dtype} ({MODEL}, {since}): {peak}");
        }
        drop(lm);
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        eprintln!("load average at the end: {}", load.trim());
    }
}

criterion_group!(benches, generation);
criterion_main!(benches);
