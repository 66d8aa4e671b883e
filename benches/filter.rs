//! Filtered generation vs plain generation: the classifier's share of wall time and accepted
//! completions per second, with SmolLM2-135M (Q4_1 GGUF → f32) as the policy and the trained
//! MiniLM injury classifier as the scorer, at the filter defaults (`BatchedFirstAccepted
//! { k: 4 }` with filled rounds, 32 attempts; one sentence, ≤ 48 new tokens, top-p 0.95) and
//! a geometric threshold schedule that starts at the classifier's saved threshold, × 0.9 per
//! rejection, floor 0.2 × start.
//!
//! ```text
//! cargo run --release --bin nines -- train-classifier --data runs/data/snippets.jsonl --out runs/classifier   # once
//! cargo bench --bench filter                 # CPU, 2 LibTorch threads
//! NINES_CLASSIFIER=path/to/classifier NINES_BENCH_DEVICE=cuda cargo bench --bench filter
//! ```
//!
//! Before the criterion groups it prints a report per prompt set over `REPORT_RUNS` filtered
//! runs and as many plain runs: classifier share, filtered accepted/s, plain completions/s,
//! the single-draw acceptance rate `a` (plain completions scored at the starting threshold),
//! the ratio `filtered / (plain × a)` (target ≥ 0.8), and the same ratio with the acceptance
//! rate the filter met, `a_f = accepted / candidates` (the filter's cost per candidate against
//! plain generation's; `filtered / (plain × a)` also folds in how unevenly acceptance is spread
//! over the prompts, which no filter can change: see docs/performance.md). Two prompt sets: `benign` (the 16
//! prompts of `scripts/peers/prompts.json`) and `violent` (the 16 test-split corpus prompts
//! that score highest on the injury lexicon), where rejections are frequent.
//! docs/performance.md ("Filter") has the figures.

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nines::classify::Classifier;
use nines::data::PairScorer;
use nines::data::corpus::Corpus;
use nines::data::prompt::{PromptConfig, build_prompts};
use nines::data::select::{LexiconScorer, PromptScorer};
use nines::data::split::Split;
use nines::filter::{Filter, FilterConfig, RuntimePolicy, ThresholdSchedule};
use nines::runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

const MODEL: &str = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
const PROMPTS: usize = 16;
const REPORT_RUNS: u64 = 3;

fn classifier_dir() -> String {
    std::env::var("NINES_CLASSIFIER").unwrap_or_else(|_| "runs/classifier".into())
}

fn benign_prompts() -> Vec<String> {
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

/// The test-split prompts of the shipped corpus that score highest on the injury lexicon.
fn violent_prompts() -> Vec<String> {
    let corpus = Corpus::load("data/corpus").expect("data/corpus");
    let (all, _) = build_prompts(&corpus, &PromptConfig::default()).expect("prompts");
    let lexicon = LexiconScorer::default();
    let mut scored: Vec<(f64, String)> = all
        .into_iter()
        .filter(|p| p.source.split == Split::Test)
        .map(|p| (lexicon.score(&p.text), p.text))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(PROMPTS).map(|(_, t)| t).collect()
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

/// Filtered runs vs plain runs (one completion per prompt, same settings) on one prompt set.
fn report(
    set: &str,
    device: &str,
    lm: &LanguageModel,
    filter_config: &FilterConfig,
    scorer: &dyn PairScorer,
    prompts: &[&str],
) {
    let policy = RuntimePolicy::new(lm);
    let gen_cfg = policy.generate_config().clone();
    let start_threshold = filter_config.schedule.start();
    let (mut f_secs, mut f_score, mut f_accepted, mut f_cands, mut f_fallbacks) =
        (0.0, 0.0, 0usize, 0usize, 0usize);
    let (mut p_secs, mut p_done, mut p_pass, mut p_score_secs) = (0.0, 0usize, 0usize, 0.0);
    for r in 0..REPORT_RUNS {
        let filter = Filter::new(
            &policy,
            scorer,
            FilterConfig {
                seed: 100 + r,
                ..filter_config.clone()
            },
        )
        .expect("valid");
        let run = filter.run(prompts).expect("filters");
        f_secs += run.stats.total_secs;
        f_score += run.stats.score_secs;
        f_accepted += run.stats.accepted;
        f_cands += run.stats.candidates;
        f_fallbacks += run.stats.fallbacks;

        let cfg = GenerateConfig {
            seed: 200 + r,
            ..gen_cfg.clone()
        };
        let t = Instant::now();
        let plain = lm.generate(prompts, &cfg).expect("generates");
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
    // The acceptance rate the filter met: accepted / candidates, at its own (tightening)
    // thresholds, over the prompts as they came (hard prompts draw more candidates).
    let a_filter = f_accepted as f64 / f_cands.max(1) as f64;
    println!(
        "filter report [{device}, {set}: {} prompts × {REPORT_RUNS} runs, start threshold {start_threshold:.4}]: \
         classifier share {:.1}% ; filtered {filtered:.3} accepted/s ({f_cands} candidates for {f_accepted} accepted, \
         {f_fallbacks} fallbacks) ; plain {plain:.3} completions/s (scoring them: {:.1}% extra) ; \
         single-draw acceptance a = {a:.2} ; filtered / (plain × a) = {:.2} ; \
         candidate acceptance a_f = {a_filter:.3} ; filtered / (plain × a_f) = {:.2}",
        prompts.len(),
        100.0 * f_score / f_secs,
        100.0 * p_score_secs / p_secs,
        filtered / (plain * a).max(f64::MIN_POSITIVE),
        filtered / (plain * a_filter).max(f64::MIN_POSITIVE),
    );
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
    let dir = classifier_dir();
    let classifier = Classifier::load(&dir, device).unwrap_or_else(|e| {
        panic!(
            "{dir}: {e} (train one: cargo run --release --bin nines -- train-classifier --data runs/data/snippets.jsonl --out runs/classifier)"
        )
    });
    let start = classifier
        .threshold()
        .expect("the classifier has a saved threshold");
    let scorer = classifier;
    let defaults = FilterConfig {
        schedule: ThresholdSchedule::Geometric {
            start,
            ratio: 0.9,
            floor: 0.2 * start,
        },
        ..FilterConfig::default()
    };
    let sets = [("benign", benign_prompts()), ("violent", violent_prompts())];
    for (set, prompts) in &sets {
        let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
        report(set, &name, &lm, &defaults, &scorer, &prompts);
    }

    let policy = RuntimePolicy::new(&lm);
    let gen_cfg = policy.generate_config().clone();
    let mut group = c.benchmark_group(format!("filter/{name}/smollm2+minilm-classifier"));
    group.sample_size(10);
    for (set, prompts) in &sets {
        let prompts: Vec<&str> = prompts.iter().map(String::as_str).collect();
        group.throughput(Throughput::Elements(prompts.len() as u64));
        let mut seed = 1000;
        group.bench_function(format!("filtered_{set}_{PROMPTS}prompts"), |b| {
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
        group.bench_function(format!("plain_{set}_{PROMPTS}prompts"), |b| {
            b.iter(|| {
                seed += 1;
                lm.generate(
                    &prompts,
                    &GenerateConfig {
                        seed,
                        ..gen_cfg.clone()
                    },
                )
                .expect("generates")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, filter_bench);
criterion_main!(benches);
