//! Filtered generation: prompts in, accepted completions out; `--show-all` prints every
//! candidate with its score and threshold (what a red-teamer wants to see).
//!
//! ```text
//! cargo run --release --example filtered_generate -- --prompt "The knife slipped on the wet board." --show-all
//! cargo run --release --example filtered_generate -- --strategy safest --k 4 --stats filter.jsonl
//! ```
//!
//! The scorer is a trained injury classifier (a `nines-classify` folder, see
//! `examples/train_classifier.rs`); the threshold schedule starts at the threshold saved with
//! it (chosen on validation for a target false-negative rate) unless `--threshold` is given,
//! and tightens by `--ratio` per rejection down to `--floor` × that start.

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use nines::classify::Classifier;
use nines::filter::{
    Decision, Fallback, Filter, FilterConfig, FnScorer, RuntimePolicy, Strategy, ThresholdSchedule,
    Verdict,
};
use nines::runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

/// Sampling strategy.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum StrategyArg {
    /// One candidate at a time.
    Sequential,
    /// Rounds of k, first accepted in sampling order.
    First,
    /// Rounds of k, accepted with the lowest score.
    Safest,
}

/// Sample completions until the scorer accepts one.
#[derive(Parser, Debug)]
struct Args {
    /// Generator: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: String,
    /// Trained classifier folder (nines-classify): weights, tokenizer, temperature, threshold.
    #[arg(long, default_value = "runs/classifier")]
    classifier: String,
    /// Prompt to continue (repeat for several; all are filtered together).
    #[arg(long, default_values_t = [
        "The knife slipped on the wet cutting board.".to_string(),
        "The ferry left at dawn.".to_string(),
    ])]
    prompt: Vec<String>,
    /// Strategy.
    #[arg(long, value_enum, default_value = "first")]
    strategy: StrategyArg,
    /// Candidates per prompt per round (batched strategies).
    #[arg(long, default_value_t = 4)]
    k: usize,
    /// Most candidates per prompt.
    #[arg(long, default_value_t = 32)]
    max_attempts: usize,
    /// Threshold before any rejection (default: the classifier's saved threshold).
    #[arg(long)]
    threshold: Option<f64>,
    /// Threshold factor per rejection (1 = constant).
    #[arg(long, default_value_t = 0.9)]
    ratio: f64,
    /// Lowest threshold, as a fraction of the starting one.
    #[arg(long, default_value_t = 0.2)]
    floor: f64,
    /// Text returned when every attempt is rejected (default: refuse).
    #[arg(long)]
    safe_text: Option<String>,
    /// First-accepted: always draw k per prompt per round (default: fill rounds, see docs).
    #[arg(long)]
    fixed_k: bool,
    /// Print every candidate with its score.
    #[arg(long)]
    show_all: bool,
    /// Write per-prompt statistics (JSONL) here.
    #[arg(long)]
    stats: Option<String>,
    /// Most new tokens per candidate (generation stops at the sentence end).
    #[arg(long, default_value_t = 48)]
    max_new_tokens: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
    /// LibTorch intra-op threads (0 = LibTorch's default).
    #[arg(long, default_value_t = 0)]
    threads: i32,
}

fn main() -> Result<()> {
    let args = Args::parse();
    nines::runtime::device::set_threads(args.threads)?;
    let lm = LanguageModel::load(
        &args.model,
        LoadOptions {
            device: args.device,
            dtype: DType::F32,
        },
    )?;
    let classifier = Classifier::load(&args.classifier, args.device).with_context(|| {
        format!(
            "loading the classifier {} (train one with examples/train_classifier.rs)",
            args.classifier
        )
    })?;
    let start = match args.threshold {
        Some(t) => t,
        None => classifier.threshold().with_context(|| {
            format!(
                "{} has no saved threshold: pass --threshold",
                args.classifier
            )
        })?,
    };
    let generate = GenerateConfig {
        max_new_tokens: args.max_new_tokens,
        ..RuntimePolicy::default_generate_config()
    };
    let policy = RuntimePolicy::with_config(&lm, generate)?;
    let scorer = FnScorer::new(|pairs: &[(&str, &str)]| classifier.score(pairs));
    let strategy = match args.strategy {
        StrategyArg::Sequential => Strategy::Sequential,
        StrategyArg::First => Strategy::BatchedFirstAccepted { k: args.k },
        StrategyArg::Safest => Strategy::BatchedSafest { k: args.k },
    };
    let config = FilterConfig {
        strategy,
        max_attempts: args.max_attempts,
        schedule: ThresholdSchedule::Geometric {
            start,
            ratio: args.ratio,
            floor: args.floor * start,
        },
        fallback: args
            .safe_text
            .clone()
            .map_or(Fallback::Refuse, Fallback::SafeText),
        fill_rounds: !args.fixed_k,
        seed: args.seed,
    };
    let filter = Filter::new(policy, scorer, config)?;
    let prompts: Vec<&str> = args.prompt.iter().map(String::as_str).collect();
    let run = filter.run(&prompts)?;

    for o in &run.outcomes {
        println!("## {}", o.prompt);
        match &o.decision {
            Decision::Accepted { index, text } => println!(
                "→{} (candidate {index} of {}, score {:.3})",
                text.trim_end(),
                o.attempts(),
                o.candidates[*index].score
            ),
            Decision::Fallback(f) => println!(
                "→ fallback after {} rejected candidates: {f:?}",
                o.attempts()
            ),
        }
        if args.show_all {
            for (j, c) in o.candidates.iter().enumerate() {
                let mark = match c.verdict {
                    Verdict::Returned => "RETURNED",
                    Verdict::Passed => "passed",
                    Verdict::Rejected => "REJECTED",
                };
                println!(
                    "  [{j:2}] round {} score {:.3} ≤? {:.3} {mark:8} |{}",
                    c.round,
                    c.score,
                    c.threshold,
                    c.text.trim_end()
                );
            }
        }
    }
    let s = &run.stats;
    eprintln!(
        "{} prompts: {} accepted, {} fallbacks; {} candidates in {} rounds ({:.0}% pass); {:.2}s total, {:.2}s generating, {:.2}s scoring ({:.1}%); {:.2} accepted/s on {:?}",
        s.prompts,
        s.accepted,
        s.fallbacks,
        s.candidates,
        s.rounds,
        100.0 * s.pooled_acceptance_rate,
        s.total_secs,
        s.generate_secs,
        s.score_secs,
        100.0 * s.scorer_share,
        s.accepted_per_sec,
        lm.device()
    );
    if let Some(path) = &args.stats {
        run.write_jsonl(std::io::BufWriter::new(std::fs::File::create(path)?))?;
        eprintln!("statistics → {path}");
    }
    Ok(())
}
