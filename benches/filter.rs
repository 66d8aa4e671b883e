//! Filtered generation vs plain generation: the scorer's share of wall time and accepted
//! completions per second, with SmolLM2-135M (Q4_1 GGUF → f32) as the policy and a MiniLM
//! stand-in scorer (see below), at the filter defaults (`BatchedFirstAccepted { k: 4 }`,
//! geometric threshold 0.5 → ×0.9 per rejection → 0.1, 32 attempts; one sentence, ≤ 48 new
//! tokens, top-p 0.95).
//!
//! ```text
//! cargo bench --bench filter                 # CPU, 2 LibTorch threads
//! NINES_BENCH_DEVICE=cuda cargo bench --bench filter
//! ```
//!
//! Before the criterion groups it prints a report over `REPORT_RUNS` filtered runs and as
//! many plain runs: scorer share, filtered accepted/s, plain completions/s, the single-draw
//! acceptance rate `a` (plain completions scored at the starting threshold), and the ratio
//! `filtered / (plain × a)` (target ≥ 0.8). docs/performance.md ("Filter") has the figures.
//!
//! Scorer: a *stand-in* for the classifier's cost, not a real P(injury): MiniLM encodes each
//! `(prompt, completion)` pair as one sequence (the cost of a cross-encoder classifier),
//! mean-pools it, and maps its cosine similarity `c` to a fixed injury description through
//! `sigmoid(12 (c − 0.3))`.

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nines::filter::{Filter, FilterConfig, FnScorer, RuntimePolicy, Scorer};
use nines::runtime::{DType, DeviceSpec, Encoder, LanguageModel, LoadOptions, Pooling};
use tch::{Kind, Tensor};

const MODEL: &str = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const ENCODER: &str = "models/minilm";
const PROMPTS: usize = 16;
const REPORT_RUNS: u64 = 3;

const INJURY: &str =
    "Someone was badly hurt: a wound, blood, a broken bone, a burn, pain, an injury.";

struct StandIn {
    encoder: Encoder,
    reference: Tensor,
}

impl StandIn {
    fn load(device: DeviceSpec) -> Self {
        let encoder = Encoder::load(
            ENCODER,
            LoadOptions {
                device,
                dtype: DType::F32,
            },
        )
        .expect("run `make setup` first");
        let reference = encoder.embed(&[INJURY], Pooling::Mean).expect("embeds");
        let reference = &reference / reference.norm();
        Self { encoder, reference }
    }

    fn score(&self, pairs: &[(&str, &str)]) -> nines::runtime::Result<Vec<f32>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let _guard = tch::no_grad_guard();
        let first: Vec<&str> = pairs.iter().map(|p| p.0).collect();
        let second: Vec<&str> = pairs.iter().map(|p| p.1).collect();
        let batch = self.encoder.encode_batch(&first, Some(&second), 256)?;
        let hidden = self.encoder.forward(&batch, false);
        let pooled = self
            .encoder
            .pool(&hidden, &batch, Pooling::Mean)
            .to_kind(Kind::Float)
            .to_device(tch::Device::Cpu);
        let norms = pooled.norm_scalaropt_dim(2, [1], true);
        let cos = (pooled / norms)
            .matmul(&self.reference.transpose(0, 1))
            .squeeze_dim(1);
        Ok(Vec::<f32>::try_from(&((cos - 0.3) * 12.0).sigmoid())?)
    }
}

fn prompts() -> Vec<String> {
    let text =
        std::fs::read_to_string("scripts/peers/prompts.json").expect("scripts/peers/prompts.json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    v["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .take(PROMPTS)
        .map(|p| p.as_str().expect("string").to_string())
        .collect()
}

fn device() -> (DeviceSpec, String) {
    match std::env::var("NINES_BENCH_DEVICE").as_deref() {
        Ok("cuda") => (DeviceSpec::Cuda(0), "cuda-f32".into()),
        _ => {
            tch::set_num_threads(2);
            (DeviceSpec::Cpu, "cpu-f32-2threads".into())
        }
    }
}

fn filter_bench(c: &mut Criterion) {
    let (device, name) = device();
    let lm = LanguageModel::load(
        MODEL,
        LoadOptions {
            device,
            dtype: DType::F32,
        },
    )
    .expect("run `make setup` first");
    let stand_in = StandIn::load(device);
    let scorer = FnScorer::new(|pairs: &[(&str, &str)]| stand_in.score(pairs));
    let policy = RuntimePolicy::new(&lm);
    let gen_cfg = policy.generate_config().clone();
    let defaults = FilterConfig::default();
    let start_threshold = defaults.schedule.start();
    let prompts = prompts();
    let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();

    // Report: filtered runs vs plain runs (one completion per prompt, same settings).
    let (mut f_secs, mut f_score, mut f_accepted, mut f_cands) = (0.0, 0.0, 0usize, 0usize);
    let (mut p_secs, mut p_done, mut p_pass, mut p_score_secs) = (0.0, 0usize, 0usize, 0.0);
    for r in 0..REPORT_RUNS {
        let filter = Filter::new(
            &policy,
            &scorer,
            FilterConfig {
                seed: 100 + r,
                ..defaults.clone()
            },
        )
        .expect("valid");
        let run = filter.run(&prompts).expect("filters");
        f_secs += run.stats.total_secs;
        f_score += run.stats.score_secs;
        f_accepted += run.stats.accepted;
        f_cands += run.stats.candidates;

        let cfg = nines::runtime::GenerateConfig {
            seed: 200 + r,
            ..gen_cfg.clone()
        };
        let t = Instant::now();
        let plain = lm.generate(&prompts, &cfg).expect("generates");
        p_secs += t.elapsed().as_secs_f64();
        p_done += plain.len();
        let pairs: Vec<(&str, &str)> = prompts
            .iter()
            .zip(&plain)
            .map(|(p, g)| (*p, g.text.as_str()))
            .collect();
        let t = Instant::now();
        let scores = scorer.score(&pairs).expect("scores");
        p_score_secs += t.elapsed().as_secs_f64();
        p_pass += scores
            .iter()
            .filter(|&&s| f64::from(s) <= start_threshold)
            .count();
    }
    let filtered = f_accepted as f64 / f_secs;
    let plain = p_done as f64 / p_secs;
    let a = p_pass as f64 / p_done as f64;
    println!(
        "filter report [{name}, {PROMPTS} prompts × {REPORT_RUNS} runs, defaults {:?}]: scorer share {:.1}% ; \
         filtered {filtered:.2} accepted/s ({f_cands} candidates for {f_accepted} accepted) ; plain {plain:.2} completions/s \
         (scoring them: {:.1}% extra) ; acceptance a = {a:.2} ; filtered / (plain × a) = {:.2}",
        defaults.strategy,
        100.0 * f_score / f_secs,
        100.0 * p_score_secs / p_secs,
        filtered / (plain * a).max(f64::MIN_POSITIVE),
    );

    let mut group = c.benchmark_group(format!("filter/{name}/smollm2+minilm-standin"));
    group.sample_size(10);
    group.throughput(Throughput::Elements(PROMPTS as u64));
    let mut seed = 1000;
    group.bench_function(format!("filtered_defaults_{PROMPTS}prompts"), |b| {
        b.iter(|| {
            seed += 1;
            let filter = Filter::new(
                &policy,
                &scorer,
                FilterConfig {
                    seed,
                    ..defaults.clone()
                },
            )
            .expect("valid");
            filter.run(&prompts).expect("filters")
        })
    });
    group.bench_function(format!("plain_{PROMPTS}prompts"), |b| {
        b.iter(|| {
            seed += 1;
            lm.generate(
                &prompts,
                &nines::runtime::GenerateConfig {
                    seed,
                    ..gen_cfg.clone()
                },
            )
            .expect("generates")
        })
    });
    group.finish();
}

criterion_group!(benches, filter_bench);
criterion_main!(benches);
