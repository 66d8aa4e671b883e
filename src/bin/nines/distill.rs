//! `nines distill`: PPO-train the generator against the injury classifier so one sample is as
//! safe as the rejection-sampling filter's, then compare it with the original on held-out
//! prompts (flagged rate with intervals, the oracle's injury rate, KL to the original, cost
//! per accepted sample against the filter).
//!
//! Writes `RUN_DIR/{config.json, metrics.jsonl, checkpoint/, policy.safetensors, eval.json,
//! eval_samples.jsonl, summary.json}`; a run folder with a checkpoint resumes.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use nines_data::corpus::Corpus;
use nines_data::label::oracle::OracleLabeler;
use nines_data::prompt::{Prompt, PromptConfig, build_prompts};
use nines_data::select::{LexiconScorer, SelectionConfig, Strategy, select};
use nines_data::split::Split;
use nines_data::{FnScorer, PairScorer, Verdict};
use nines_distill::checkpoint::{load_policy_weights, save_policy_weights};
use nines_distill::eval::{EvalConfig, PolicyEval};
use nines_distill::{
    DistillError, KlConfig, PpoConfig, PpoTrainer, Shaping, TrainScope, evaluate, load_models,
};
use nines_runtime::models::LoraConfig;
use nines_runtime::{DeviceSpec, LanguageModel, LoadOptions};

/// How prompts are drawn from a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Design {
    /// Oversample violent-sounding prompts (the data pipeline's Poisson design).
    Lexicon,
    /// An even spread over the split.
    Uniform,
}

/// How the classifier's P(injury) becomes a reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShapingArg {
    /// ln(1 − p).
    #[value(name = "log_safe")]
    LogSafe,
    /// 0 when accepted, −1 when rejected.
    Threshold,
    /// 1 − 2p.
    Linear,
    /// ln(1 − p) minus 1 when rejected.
    #[value(name = "log_safe+threshold")]
    LogSafeThreshold,
    /// logit(threshold) − logit(p), clipped to ±3 (and to `--margin-cap` above).
    #[value(name = "logit_margin")]
    LogitMargin,
}

/// A reward without a trained classifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RewardArg {
    /// The rule oracle (injury = 1, unsure = ½); the oracle column is then not independent.
    Oracle,
}

/// Flags of `nines distill`.
#[derive(Args, Debug)]
pub struct DistillArgs {
    /// Generator: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    pub model: PathBuf,
    /// Trained classifier folder; the reward is its P(injury), its threshold defines flagged.
    #[arg(long, required_unless_present = "reward")]
    pub classifier: Option<PathBuf>,
    /// Reward without a classifier.
    #[arg(long, value_enum, conflicts_with = "classifier")]
    pub reward: Option<RewardArg>,
    /// Corpus folder or file.
    #[arg(long, default_value = "data/corpus")]
    pub corpus: PathBuf,
    /// Run folder (metrics, checkpoints, the distilled weights, the evaluation).
    #[arg(long, default_value = "runs/distill")]
    pub run_dir: PathBuf,
    /// PPO steps.
    #[arg(long, default_value_t = 60)]
    pub steps: usize,
    /// Prompts per step.
    #[arg(long, default_value_t = 8)]
    pub prompts_per_step: usize,
    /// Completions per prompt.
    #[arg(long, default_value_t = 4)]
    pub samples: usize,
    /// Minibatch size (must divide prompts × samples).
    #[arg(long, default_value_t = 16)]
    pub mini_batch: usize,
    /// PPO epochs per step.
    #[arg(long, default_value_t = 2)]
    pub epochs: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 2e-5)]
    pub lr: f64,
    /// Train the top N blocks (ignored with --lora-rank).
    #[arg(long, default_value_t = 2)]
    pub top_layers: usize,
    /// Train LoRA adapters of this rank instead.
    #[arg(long)]
    pub lora_rank: Option<i64>,
    /// Run the frozen blocks below the trained ones in int8 (CPU; not with --lora-rank):
    /// rollouts sample, and are scored, several times faster; training stays f32.
    #[arg(long, conflicts_with = "lora_rank")]
    pub int8_frozen: bool,
    /// Fixed KL coefficient (default: adaptive).
    #[arg(long)]
    pub kl_coef: Option<f64>,
    /// Adaptive KL: initial coefficient.
    #[arg(long, default_value_t = 0.05)]
    pub kl_init: f64,
    /// Adaptive KL: target nats per completion.
    #[arg(long, default_value_t = 2.0)]
    pub kl_target: f64,
    /// A step whose rollouts exceed this KL (nats per completion) rolls back to the last
    /// checkpoint and training stops there.
    #[arg(long, default_value_t = 20.0)]
    pub max_kl: f64,
    /// Most new tokens per completion (generation stops at the first sentence end).
    #[arg(long, default_value_t = 48)]
    pub max_new_tokens: usize,
    /// Held-out (test-split) prompts to evaluate on.
    #[arg(long, default_value_t = 100)]
    pub eval_prompts: usize,
    /// Training prompts drawn from the train split (0: all of them).
    #[arg(long, default_value_t = 2000)]
    pub train_prompts: usize,
    /// Prompt design for both splits.
    #[arg(long, value_enum, default_value = "lexicon")]
    pub select: Design,
    /// Prompt design of the held-out prompts, when it differs from `--select`.
    #[arg(long, value_enum)]
    pub eval_select: Option<Design>,
    /// Uniform share λ of the lexicon design (1: uniform).
    #[arg(long, default_value_t = 0.2)]
    pub uniform_mix: f64,
    /// Reward shaping.
    #[arg(long, value_enum, default_value = "log_safe")]
    pub shaping: ShapingArg,
    /// With `--shaping logit_margin`: the largest score (a hinge).
    #[arg(long)]
    pub margin_cap: Option<f64>,
    /// Subtract the other completions' mean score of the same prompt (leave-one-out baseline).
    #[arg(long)]
    pub group_baseline: bool,
    /// Share of each step's prompts taken from the replay queue of flagged training prompts.
    #[arg(long, default_value_t = 0.0)]
    pub replay_share: f64,
    /// Times one prompt may be replayed.
    #[arg(long, default_value_t = 2)]
    pub replay_limit: usize,
    /// Let completions with no visible text score what the reward model gives them (by
    /// default they count as flagged, so the policy cannot avoid flags by ending at once).
    #[arg(long)]
    pub allow_empty: bool,
    /// Rejection threshold (flagged iff P(injury) > this); default: the classifier's, else 0.5.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Checkpoint every this many steps.
    #[arg(long, default_value_t = 10)]
    pub checkpoint_every: usize,
    /// Stop training (after a whole step, with a checkpoint) after this many minutes.
    #[arg(long)]
    pub train_minutes: Option<f64>,
    /// Completions per held-out prompt and policy.
    #[arg(long, default_value_t = 4)]
    pub eval_samples: usize,
    /// Skip training; evaluate RUN_DIR/policy.safetensors.
    #[arg(long)]
    pub eval_only: bool,
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

impl DistillArgs {
    /// PPO settings of these flags, with the rejection threshold.
    pub fn config(&self, threshold: f64) -> PpoConfig {
        let reward = match self.shaping {
            ShapingArg::LogSafe => Shaping::LogSafe { floor: 1e-3 },
            ShapingArg::Threshold => Shaping::Threshold {
                threshold,
                safe: 0.0,
                flagged: -1.0,
            },
            ShapingArg::Linear => Shaping::Linear,
            ShapingArg::LogSafeThreshold => Shaping::LogSafeThreshold {
                floor: 1e-3,
                threshold,
                penalty: 1.0,
            },
            ShapingArg::LogitMargin => Shaping::LogitMargin {
                threshold,
                clip: 3.0,
                cap: self.margin_cap,
            },
        };
        let mut config = PpoConfig {
            prompts_per_step: self.prompts_per_step,
            samples_per_prompt: self.samples,
            mini_batch_size: self.mini_batch,
            ppo_epochs: self.epochs,
            learning_rate: self.lr,
            kl: match self.kl_coef {
                Some(coef) => KlConfig::Fixed { coef },
                None => KlConfig::Adaptive {
                    init: self.kl_init,
                    target: self.kl_target,
                    horizon: 10_000.0,
                },
            },
            reward,
            group_baseline: self.group_baseline,
            replay_share: self.replay_share,
            replay_limit: self.replay_limit,
            empty_is_flagged: !self.allow_empty,
            flag_threshold: threshold,
            max_kl: self.max_kl,
            scope: match self.lora_rank {
                Some(rank) => TrainScope::Lora(LoraConfig {
                    rank,
                    alpha: 2.0 * rank as f64,
                    ..Default::default()
                }),
                None => TrainScope::TopLayers {
                    layers: self.top_layers,
                },
            },
            int8_frozen_blocks: self.int8_frozen,
            total_steps: self.steps,
            checkpoint_every: self.checkpoint_every,
            seed: self.seed,
            ..Default::default()
        };
        config.generation.max_new_tokens = self.max_new_tokens;
        config
    }
}

/// `target` prompts of `split` by `design` (all of them for 0 or more than there are).
fn draw(
    prompts: &[Prompt],
    split: Split,
    target: usize,
    design: Design,
    uniform_mix: f64,
    seed: u64,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let all: Vec<Prompt> = prompts
        .iter()
        .filter(|p| p.source.split == split)
        .cloned()
        .collect();
    if target == 0 || target >= all.len() {
        return Ok(all.into_iter().map(|p| p.text).collect());
    }
    Ok(match design {
        Design::Uniform => {
            let stride = all.len() as f64 / target as f64;
            (0..target)
                .map(|i| all[(i as f64 * stride) as usize].text.clone())
                .collect()
        }
        Design::Lexicon => {
            let cfg = SelectionConfig {
                target,
                strategy: Strategy::Scored,
                uniform_mix,
                seed,
            };
            select(&all, &LexiconScorer::default(), &cfg)?
                .into_iter()
                .map(|s| s.prompt.text)
                .collect()
        }
    })
}

fn oracle_p(labeler: &OracleLabeler, prompt: &str, completion: &str) -> f32 {
    match labeler.judge(prompt, completion).verdict {
        Verdict::Injury => 1.0,
        Verdict::Unsure => 0.5,
        Verdict::NoInjury => 0.0,
    }
}

fn print_row(name: &str, e: &PolicyEval) {
    let lab = e.labeled.as_ref().map_or("-".to_string(), |l| {
        format!("{:.4} [{:.4}, {:.4}]", l.value, l.ci.0, l.ci.1)
    });
    println!(
        "{name:<10} flagged {:.4} [{:.4}, {:.4}]  oracle {lab}  empty {:.4}  {:.1} tokens  n = {}",
        e.flagged.value,
        e.flagged.ci.0,
        e.flagged.ci.1,
        e.empty.value,
        e.tokens_per_sample,
        e.samples
    );
}

/// Runs `nines distill`.
pub fn run(args: DistillArgs) -> Result<(), Box<dyn std::error::Error>> {
    nines_runtime::device::set_threads(args.threads)?;
    let options = LoadOptions {
        device: args.device,
        ..Default::default()
    };
    let t_run = Instant::now();
    let corpus = Corpus::load(&args.corpus)?;
    let (prompts, _) = build_prompts(&corpus, &PromptConfig::default())?;
    let eval_design = args.eval_select.unwrap_or(args.select);
    let train = draw(
        &prompts,
        Split::Train,
        args.train_prompts,
        args.select,
        args.uniform_mix,
        args.seed ^ 0x7EA1,
    )?;
    let test = draw(
        &prompts,
        Split::Test,
        args.eval_prompts,
        eval_design,
        args.uniform_mix,
        args.seed ^ 0x7E57,
    )?;
    println!(
        "{} training prompts ({:?} design), {} held-out prompts ({eval_design:?} design)",
        train.len(),
        args.select,
        test.len(),
    );
    let mut threshold = 0.5;
    let reward: Box<dyn PairScorer> = match (&args.classifier, args.reward) {
        (Some(dir), _) => {
            let c = nines_classify::Classifier::load(dir, args.device)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            if let Some(t) = c.threshold() {
                threshold = t;
            }
            Box::new(c)
        }
        (None, Some(RewardArg::Oracle)) => {
            println!("reward: the rule oracle (the oracle column is then not independent)");
            let o = OracleLabeler::new();
            Box::new(FnScorer::new(move |pairs: &[(&str, &str)]| {
                Ok::<_, DistillError>(pairs.iter().map(|(p, c)| oracle_p(&o, p, c)).collect())
            }))
        }
        (None, None) => return Err("give --classifier DIR or --reward oracle".into()),
    };
    if let Some(t) = args.threshold {
        threshold = t;
    }
    println!("flagged iff P(injury) > {threshold}");
    let config = args.config(threshold);
    config.validate()?;

    let weights = args.run_dir.join("policy.safetensors");
    let policy = if args.eval_only {
        let lm = LanguageModel::load(&args.model, options)?;
        load_policy_weights(&lm, &weights)?;
        lm
    } else {
        let (policy, reference) = load_models(&args.model, options, &config)?;
        let mut trainer = PpoTrainer::new(policy, reference, &*reward, config.clone())?;
        println!(
            "training {} parameters for {} steps of {} completions",
            trainer.trainable_parameters(),
            config.total_steps,
            config.batch_size()
        );
        let start = Instant::now();
        let deadline = args
            .train_minutes
            .map(|m| start + std::time::Duration::from_secs_f64(m * 60.0));
        let outcome = trainer.train_within_kl(&train, &args.run_dir, true, deadline)?;
        if let Some(stop) = outcome.kl_stop {
            println!(
                "step {}: rollout KL {:.2} > {}; fell back to the checkpoint of step {}",
                stop.step, stop.kl, stop.limit, stop.resumed_step
            );
        }
        let secs = start.elapsed().as_secs_f64();
        let metrics = outcome.metrics;
        if !metrics.is_empty() {
            let tokens: f64 = metrics
                .iter()
                .map(|m| m.completion_tokens * config.batch_size() as f64)
                .sum();
            let rollout: f64 = metrics.iter().map(|m| m.rollout_seconds).sum();
            println!(
                "{} steps in {secs:.0} s: {:.3} steps/s, rollout {:.1} tokens/s",
                metrics.len(),
                metrics.len() as f64 / secs,
                tokens / rollout
            );
        }
        let policy = trainer.into_policy();
        save_policy_weights(&policy, &weights)?;
        policy
    };

    let original = LanguageModel::load(&args.model, options)?;
    let oracle = OracleLabeler::new();
    let labeler = |p: &str, c: &str| oracle.judge(p, c).verdict == Verdict::Injury;
    let eval_cfg = EvalConfig {
        samples_per_prompt: args.eval_samples,
        generation: nines_runtime::GenerateConfig {
            seed: args.seed ^ 0xE7A1,
            ..config.generation.clone()
        },
        threshold,
        ..Default::default()
    };
    let start = Instant::now();
    let report = evaluate(
        &policy,
        &original,
        &*reward,
        Some(&labeler),
        None,
        &test,
        &eval_cfg,
    )?;
    let path = args.run_dir.join("eval.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)?)?;
    let mut lines = String::new();
    for r in &report.records {
        lines.push_str(&serde_json::to_string(r)?);
        lines.push('\n');
    }
    std::fs::write(args.run_dir.join("eval_samples.jsonl"), lines)?;
    println!(
        "held-out evaluation ({:.0} s):",
        start.elapsed().as_secs_f64()
    );
    print_row("original", &report.original);
    print_row("distilled", &report.distilled);
    println!(
        "flagged-rate reduction: {}",
        report.flagged_reduction.map_or_else(
            || if report.original.flagged.value > 0.0 {
                "∞ (no distilled flags)".to_string()
            } else {
                "n/a (no flags in either)".to_string()
            },
            |r| format!("{r:.1}×")
        )
    );
    println!(
        "KL(distilled ‖ original): {:.3} nats/completion [{:.3}, {:.3}], {:.4} nats/token [{:.4}, {:.4}]",
        report.kl.value,
        report.kl.ci.0,
        report.kl.ci.1,
        report.kl_per_token.value,
        report.kl_per_token.ci.0,
        report.kl_per_token.ci.1
    );
    println!(
        "cost per accepted sample: filter {:.3} s ({:.2} attempts), distilled alone {:.3} s ({:.1}× cheaper), distilled + filter {:.3} s",
        report.cost.filter_seconds_per_accepted,
        report.cost.filter_attempts_per_accepted,
        report.cost.distilled_seconds_per_sample,
        report.cost.speedup_alone,
        report.cost.distilled_filtered_seconds_per_accepted
    );
    let wall = t_run.elapsed().as_secs_f64();
    println!("report: {}; wall time {wall:.0} s", path.display());
    let summary = serde_json::json!({
        "args": std::env::args().collect::<Vec<_>>(),
        "wall_seconds": wall,
        "threshold": threshold,
        "train_prompts": train.len(),
        "eval_prompts": test.len(),
    });
    std::fs::write(
        args.run_dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<DistillArgs, clap::Error> {
        crate::parse_flags(args)
    }

    #[test]
    fn flags_map_onto_the_ppo_config() {
        let a = parse(&[
            "--classifier",
            "runs/c",
            "--shaping",
            "logit_margin",
            "--margin-cap",
            "0.3",
            "--kl-coef",
            "0.02",
            "--group-baseline",
            "--samples",
            "8",
            "--mini-batch",
            "32",
        ])
        .unwrap();
        let c = a.config(0.01);
        assert_eq!(
            c.reward,
            Shaping::LogitMargin {
                threshold: 0.01,
                clip: 3.0,
                cap: Some(0.3)
            }
        );
        assert_eq!(c.kl, KlConfig::Fixed { coef: 0.02 });
        assert!(c.group_baseline);
        c.validate().unwrap();
        let b = parse(&[
            "--reward",
            "oracle",
            "--shaping",
            "log_safe+threshold",
            "--select",
            "uniform",
        ])
        .unwrap();
        assert_eq!(
            (b.shaping, b.select),
            (ShapingArg::LogSafeThreshold, Design::Uniform)
        );
        assert!(matches!(b.config(0.5).kl, KlConfig::Adaptive { .. }));
    }

    #[test]
    fn a_reward_is_required_and_bad_values_are_refused() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--classifier", "c", "--reward", "oracle"]).is_err());
        assert!(parse(&["--classifier", "c", "--shaping", "cubic"]).is_err());
        assert!(parse(&["--classifier", "c", "--select", "random"]).is_err());
        let bad_batch =
            parse(&["--classifier", "c", "--samples", "3", "--mini-batch", "16"]).unwrap();
        assert!(bad_batch.config(0.5).validate().is_err());
    }
}
