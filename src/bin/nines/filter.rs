//! `nines filter`: rejection sampling from the command line — prompts in, accepted completions
//! out; `--show-all` prints every candidate with its score and threshold (what a red-teamer
//! wants to see).
//!
//! The scorer is a trained injury classifier (a folder written by `nines train-classifier`);
//! the threshold schedule starts at the threshold saved with it (chosen on validation for a
//! target false-negative rate) unless `--threshold` is given, and tightens by `--ratio` per
//! rejection down to `--floor` × that start.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use nines_classify::Classifier;
use nines_filter::{
    Decision, Fallback, Filter, FilterConfig, RuntimePolicy, Strategy, ThresholdSchedule, Verdict,
};
use nines_runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

/// How candidates are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// One candidate at a time.
    Sequential,
    /// Rounds of k, the first accepted in sampling order (sequential's output distribution).
    First,
    /// Rounds of k, the accepted one with the lowest score.
    Safest,
}

/// Flags of `nines filter`.
#[derive(Args, Debug)]
pub struct FilterArgs {
    /// Generator: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    pub model: PathBuf,
    /// Generator weights: f32, bf16 or int8 (CPU only).
    #[arg(long, default_value = "f32")]
    pub dtype: DType,
    /// Trained classifier folder: weights, tokenizer, temperature, threshold.
    #[arg(long, default_value = "runs/classifier")]
    pub classifier: PathBuf,
    /// A prompt to continue (repeatable; all are filtered together).
    #[arg(long, required = true)]
    pub prompt: Vec<String>,
    /// How candidates are drawn.
    #[arg(long, value_enum, default_value = "first")]
    pub strategy: StrategyArg,
    /// Candidates per prompt per round (batched strategies).
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Most candidates per prompt.
    #[arg(long, default_value_t = 32)]
    pub max_attempts: usize,
    /// Threshold before any rejection (default: the classifier's saved threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Threshold factor per rejection (1: constant).
    #[arg(long, default_value_t = 0.9)]
    pub ratio: f64,
    /// Lowest threshold, as a fraction of the starting one.
    #[arg(long, default_value_t = 0.2)]
    pub floor: f64,
    /// Text returned when every attempt is rejected (default: refuse).
    #[arg(long)]
    pub safe_text: Option<String>,
    /// First-accepted: always draw k per prompt per round (default: fill rounds).
    #[arg(long)]
    pub fixed_k: bool,
    /// Print every candidate with its score.
    #[arg(long)]
    pub show_all: bool,
    /// Write per-prompt statistics (JSONL) here.
    #[arg(long)]
    pub stats: Option<PathBuf>,
    /// Most new tokens per candidate (generation stops at the sentence end).
    #[arg(long, default_value_t = 48)]
    pub max_new_tokens: usize,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceSpec,
    /// LibTorch threads (0: LibTorch's default).
    #[arg(long, default_value_t = 0)]
    pub threads: i32,
}

impl FilterArgs {
    /// The filter's settings, given the threshold to start from.
    pub fn config(&self, start: f64) -> FilterConfig {
        FilterConfig {
            strategy: match self.strategy {
                StrategyArg::Sequential => Strategy::Sequential,
                StrategyArg::First => Strategy::BatchedFirstAccepted { k: self.k },
                StrategyArg::Safest => Strategy::BatchedSafest { k: self.k },
            },
            max_attempts: self.max_attempts,
            schedule: ThresholdSchedule::Geometric {
                start,
                ratio: self.ratio,
                floor: self.floor * start,
            },
            fallback: self
                .safe_text
                .clone()
                .map_or(Fallback::Refuse, Fallback::SafeText),
            fill_rounds: !self.fixed_k,
            seed: self.seed,
        }
    }
}

/// Runs `nines filter`.
pub fn run(args: FilterArgs) -> Result<(), Box<dyn std::error::Error>> {
    nines_runtime::device::set_threads(args.threads)?;
    let classifier = Classifier::load(&args.classifier, args.device).map_err(|e| {
        format!(
            "{}: {e} (train one with `nines train-classifier`)",
            args.classifier.display()
        )
    })?;
    let start = match args.threshold {
        Some(t) => t,
        None => classifier.threshold().ok_or_else(|| {
            format!(
                "{} has no saved threshold: pass --threshold",
                args.classifier.display()
            )
        })?,
    };
    let config = args.config(start);
    let lm = LanguageModel::load(
        &args.model,
        LoadOptions {
            device: args.device,
            dtype: args.dtype,
        },
    )?;
    let generate = GenerateConfig {
        max_new_tokens: args.max_new_tokens,
        ..RuntimePolicy::default_generate_config()
    };
    let policy = RuntimePolicy::with_config(&lm, generate)?;
    let scorer = &classifier;
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
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        run.write_jsonl(std::io::BufWriter::new(file))?;
        eprintln!("statistics → {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<FilterArgs, clap::Error> {
        crate::parse_flags(args)
    }

    #[test]
    fn flags_map_onto_the_filter_config() {
        let a = parse(&[
            "--prompt",
            "A",
            "--strategy",
            "safest",
            "--k",
            "8",
            "--safe-text",
            "…",
            "--ratio",
            "1",
        ])
        .unwrap();
        let c = a.config(0.2);
        assert_eq!(c.strategy, Strategy::BatchedSafest { k: 8 });
        assert_eq!(c.fallback, Fallback::SafeText("…".into()));
        assert!(
            matches!(c.schedule, ThresholdSchedule::Geometric { start, ratio, .. } if start == 0.2 && ratio == 1.0)
        );
        assert!(parse(&[]).is_err(), "a prompt is required");
        assert!(parse(&["--prompt", "A", "--strategy", "best"]).is_err());
    }

    #[test]
    fn a_missing_classifier_is_named() {
        let a = parse(&["--prompt", "A", "--classifier", "no/such/classifier"]).unwrap();
        let err = run(a).unwrap_err().to_string();
        assert!(err.contains("no/such/classifier"), "{err}");
    }
}
