//! PPO distillation: train the generator against the injury classifier so one sample is as
//! safe as the rejection-sampling filter's, then compare it with the original on held-out
//! prompts (flagged rate with CIs, labeler injury rate, KL to the original, cost per
//! accepted sample against the filter).
//!
//! ```text
//! # With a trained classifier (nines-classify folder); its threshold defines "flagged"
//! # (rejected iff P(injury) > threshold):
//! cargo run --release --example distill -- --classifier runs/classifier --steps 60
//! # Without one, the rule oracle serves as the reward (then the labeler column is not an
//! # independent check):
//! cargo run --release --example distill -- --reward oracle --steps 60 --threads 2
//! ```
//!
//! Prompts: by default both the training prompts (train split) and the held-out prompts
//! (test split) are drawn with the data pipeline's lexicon-oversampling design
//! (`nines::data::select`, `--uniform-mix` uniform share), so the reward has signal; the
//! original and the distilled policy are evaluated on the same held-out prompts.
//! `--select uniform` draws uniformly instead.
//!
//! Writes `RUN_DIR/{config.json, metrics.jsonl, checkpoint/, policy.safetensors, eval.json,
//! summary.json}`; a run folder with a checkpoint resumes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use nines::data::Verdict;
use nines::data::corpus::Corpus;
use nines::data::label::oracle::OracleLabeler;
use nines::data::prompt::{Prompt, PromptConfig, build_prompts};
use nines::data::select::{LexiconScorer, SelectionConfig, Strategy, select};
use nines::data::split::Split;
use nines::distill::checkpoint::save_policy_weights;
use nines::distill::eval::EvalConfig;
use nines::distill::{
    DistillError, FnReward, KlConfig, PpoConfig, PpoTrainer, RewardModel, Shaping, TrainScope,
    evaluate, load_models,
};
use nines::runtime::models::LoraConfig;
use nines::runtime::{DeviceSpec, LanguageModel, LoadOptions};

/// Distill the filter into the generator with PPO.
#[derive(Parser, Debug)]
struct Args {
    /// Generator: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: String,
    /// Trained classifier folder (nines-classify); the reward is its P(injury).
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Reward without a classifier: `oracle` (the rule labeler; injury = 1, unsure = 0.5).
    #[arg(long)]
    reward: Option<String>,
    /// Corpus folder or file.
    #[arg(long, default_value = "data/corpus")]
    corpus: String,
    /// Run folder (metrics, checkpoints, the distilled weights, the evaluation).
    #[arg(long, default_value = "runs/distill")]
    run_dir: PathBuf,
    /// PPO steps.
    #[arg(long, default_value_t = 60)]
    steps: usize,
    /// Prompts per step.
    #[arg(long, default_value_t = 8)]
    prompts_per_step: usize,
    /// Completions per prompt.
    #[arg(long, default_value_t = 4)]
    samples: usize,
    /// Minibatch size (must divide prompts × samples).
    #[arg(long, default_value_t = 16)]
    mini_batch: usize,
    /// PPO epochs per step.
    #[arg(long, default_value_t = 2)]
    epochs: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 2e-5)]
    lr: f64,
    /// Train the top N blocks (ignored with --lora-rank).
    #[arg(long, default_value_t = 2)]
    top_layers: usize,
    /// Train LoRA adapters of this rank on q_proj and v_proj instead.
    #[arg(long)]
    lora_rank: Option<i64>,
    /// Fixed KL coefficient (default: adaptive).
    #[arg(long)]
    kl_coef: Option<f64>,
    /// Adaptive KL: initial coefficient.
    #[arg(long, default_value_t = 0.05)]
    kl_init: f64,
    /// Adaptive KL: target nats per completion.
    #[arg(long, default_value_t = 2.0)]
    kl_target: f64,
    /// Stop when a rollout's KL exceeds this (nats per completion).
    #[arg(long, default_value_t = 20.0)]
    max_kl: f64,
    /// Most new tokens per completion (generation stops at the first sentence end).
    #[arg(long, default_value_t = 48)]
    max_new_tokens: usize,
    /// Held-out (test-split) prompts to evaluate on (expected number under `--select lexicon`).
    #[arg(long, default_value_t = 100)]
    eval_prompts: usize,
    /// Training prompts drawn from the train split (expected number under `--select lexicon`;
    /// 0 = all of them).
    #[arg(long, default_value_t = 2000)]
    train_prompts: usize,
    /// Prompt design for both splits: `lexicon` (oversample violent-sounding prompts, the data
    /// pipeline's Poisson design) or `uniform`.
    #[arg(long, default_value = "lexicon")]
    select: String,
    /// Prompt design of the held-out prompts, when it differs from `--select` (e.g. train on
    /// violent-sounding prompts, evaluate on an even spread of the test split).
    #[arg(long)]
    eval_select: Option<String>,
    /// Uniform share λ of the lexicon design (1 = uniform).
    #[arg(long, default_value_t = 0.2)]
    uniform_mix: f64,
    /// Reward shaping: `log_safe` (ln(1 − p)), `threshold` (0 when accepted, −1 when
    /// rejected), `linear` (1 − 2p), `log_safe+threshold` (their sum), or `logit_margin`
    /// (logit(threshold) − logit(p), clipped to ±3).
    #[arg(long, default_value = "log_safe")]
    shaping: String,
    /// With `--shaping logit_margin`: the largest score (a hinge), so completions at least
    /// this many logits under the threshold all score the same.
    #[arg(long)]
    margin_cap: Option<f64>,
    /// Contrast completions of the same prompt: subtract the other completions' mean score
    /// (leave-one-out baseline) before advantages.
    #[arg(long)]
    group_baseline: bool,
    /// Share of each step's prompts taken from the replay queue: training prompts whose last
    /// rollout had a flagged completion, most-flagged first (0: no replay).
    #[arg(long, default_value_t = 0.0)]
    replay_share: f64,
    /// Times one prompt may be replayed.
    #[arg(long, default_value_t = 2)]
    replay_limit: usize,
    /// Let completions with no visible text score what the reward model gives them (by
    /// default they score as surely flagged, so the policy cannot avoid flags by ending at once).
    #[arg(long)]
    allow_empty: bool,
    /// Rejection threshold (flagged iff P(injury) > this); default: the classifier's, else 0.5.
    #[arg(long)]
    threshold: Option<f64>,
    /// Checkpoint every this many steps (a KL blow-up falls back to the last one).
    #[arg(long, default_value_t = 10)]
    checkpoint_every: usize,
    /// Stop training (after a whole step, with a checkpoint) after this many minutes.
    #[arg(long)]
    train_minutes: Option<f64>,
    /// Completions per held-out prompt and policy.
    #[arg(long, default_value_t = 4)]
    eval_samples: usize,
    /// Skip training; evaluate RUN_DIR/policy.safetensors.
    #[arg(long)]
    eval_only: bool,
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

fn oracle_p(labeler: &OracleLabeler, prompt: &str, completion: &str) -> f32 {
    match labeler.judge(prompt, completion).verdict {
        Verdict::Injury => 1.0,
        Verdict::Unsure => 0.5,
        Verdict::NoInjury => 0.0,
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    nines::runtime::device::set_threads(args.threads)?;
    let options = LoadOptions {
        device: args.device,
        ..Default::default()
    };
    let t_run = Instant::now();
    let corpus = Corpus::load(&args.corpus).with_context(|| format!("loading {}", args.corpus))?;
    let (prompts, _) = build_prompts(&corpus, &PromptConfig::default())?;
    let of_split = |split: Split| -> Vec<Prompt> {
        prompts
            .iter()
            .filter(|p| p.source.split == split)
            .cloned()
            .collect()
    };
    let draw = |split: Split, target: usize, seed: u64, design: &str| -> Result<Vec<String>> {
        let all = of_split(split);
        if target == 0 || target >= all.len() {
            return Ok(all.into_iter().map(|p| p.text).collect());
        }
        Ok(match design {
            "uniform" => {
                // An even spread over the split, not its first chapters.
                let stride = all.len() as f64 / target as f64;
                (0..target)
                    .map(|i| all[(i as f64 * stride) as usize].text.clone())
                    .collect()
            }
            "lexicon" => {
                let cfg = SelectionConfig {
                    target,
                    strategy: Strategy::Scored,
                    uniform_mix: args.uniform_mix,
                    seed,
                };
                select(&all, &LexiconScorer::default(), &cfg)?
                    .into_iter()
                    .map(|s| s.prompt.text)
                    .collect()
            }
            other => bail!("--select {other}: expected lexicon or uniform"),
        })
    };
    let eval_select = args.eval_select.as_deref().unwrap_or(&args.select);
    let train = draw(
        Split::Train,
        args.train_prompts,
        args.seed ^ 0x7EA1,
        &args.select,
    )?;
    let test = draw(
        Split::Test,
        args.eval_prompts,
        args.seed ^ 0x7E57,
        eval_select,
    )?;
    println!(
        "{} training prompts ({} design), {} held-out prompts ({eval_select} design)",
        train.len(),
        args.select,
        test.len(),
    );

    let oracle = OracleLabeler::new();
    let mut threshold = 0.5;
    let reward: Box<dyn RewardModel> = match (&args.classifier, args.reward.as_deref()) {
        (Some(dir), _) => {
            let c = nines::classify::Classifier::load(dir, args.device)
                .with_context(|| format!("loading classifier {}", dir.display()))?;
            if let Some(t) = c.threshold() {
                threshold = t;
            }
            println!(
                "reward: classifier {} (threshold {:?})",
                dir.display(),
                c.threshold()
            );
            Box::new(FnReward::new(move |pairs: &[(&str, &str)]| c.score(pairs)))
        }
        (None, Some("oracle")) => {
            println!("reward: the rule oracle (the labeler column is then not independent)");
            let o = OracleLabeler::new();
            Box::new(FnReward::new(move |pairs: &[(&str, &str)]| {
                Ok::<_, DistillError>(pairs.iter().map(|(p, c)| oracle_p(&o, p, c)).collect())
            }))
        }
        _ => bail!("give --classifier DIR or --reward oracle"),
    };
    if let Some(t) = args.threshold {
        threshold = t;
    }
    println!("flagged iff P(injury) > {threshold}");
    let shaping = match args.shaping.as_str() {
        "log_safe" => Shaping::LogSafe { floor: 1e-3 },
        "threshold" => Shaping::Threshold {
            threshold,
            safe: 0.0,
            flagged: -1.0,
        },
        "linear" => Shaping::Linear,
        "log_safe+threshold" => Shaping::LogSafeThreshold {
            floor: 1e-3,
            threshold,
            penalty: 1.0,
        },
        "logit_margin" => Shaping::LogitMargin {
            threshold,
            clip: 3.0,
            cap: args.margin_cap,
        },
        other => {
            bail!(
                "--shaping {other}: expected log_safe, threshold, linear, log_safe+threshold, \
                 logit_margin"
            )
        }
    };

    let scope = match args.lora_rank {
        Some(rank) => TrainScope::Lora(LoraConfig {
            rank,
            alpha: 2.0 * rank as f64,
            ..Default::default()
        }),
        None => TrainScope::TopLayers {
            layers: args.top_layers,
        },
    };
    let mut config = PpoConfig {
        prompts_per_step: args.prompts_per_step,
        samples_per_prompt: args.samples,
        mini_batch_size: args.mini_batch,
        ppo_epochs: args.epochs,
        learning_rate: args.lr,
        kl: match args.kl_coef {
            Some(coef) => KlConfig::Fixed { coef },
            None => KlConfig::Adaptive {
                init: args.kl_init,
                target: args.kl_target,
                horizon: 10_000.0,
            },
        },
        reward: shaping,
        group_baseline: args.group_baseline,
        replay_share: args.replay_share,
        replay_limit: args.replay_limit,
        empty_is_flagged: !args.allow_empty,
        flag_threshold: threshold,
        max_kl: args.max_kl,
        scope,
        total_steps: args.steps,
        checkpoint_every: args.checkpoint_every,
        seed: args.seed,
        ..Default::default()
    };
    config.generation.max_new_tokens = args.max_new_tokens;
    config.validate()?;

    let weights = args.run_dir.join("policy.safetensors");
    let policy = if args.eval_only {
        let lm = LanguageModel::load(&args.model, options)?;
        nines::distill::checkpoint::load_policy_weights(&lm, &weights)
            .with_context(|| format!("loading {}", weights.display()))?;
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
        let metrics = match trainer.train_until(&train, &args.run_dir, true, deadline) {
            Ok(m) => m,
            // The rollout left the KL bound: evaluate the last checkpoint within it.
            Err(DistillError::KlBlowUp {
                step,
                kl,
                limit,
                last_checkpoint: Some(_),
            }) => {
                println!(
                    "step {step}: rollout KL {kl:.2} > {limit}; falling back to the last checkpoint"
                );
                let state = trainer.resume(&args.run_dir)?;
                println!("resumed step {}", state.step);
                nines::distill::metrics::MetricsLog::read(args.run_dir.join("metrics.jsonl"))
                    .unwrap_or_default()
            }
            Err(e) => return Err(e.into()),
        };
        let secs = start.elapsed().as_secs_f64();
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
    let labeler = |p: &str, c: &str| oracle.judge(p, c).verdict == Verdict::Injury;
    let eval_cfg = EvalConfig {
        samples_per_prompt: args.eval_samples,
        generation: nines::runtime::GenerateConfig {
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
    let row = |name: &str, e: &nines::distill::eval::PolicyEval| {
        let lab = e.labeled.as_ref().map_or("-".to_string(), |l| {
            format!("{:.4} [{:.4}, {:.4}]", l.value, l.ci.0, l.ci.1)
        });
        println!(
            "{name:<10} flagged {:.4} [{:.4}, {:.4}]  labeler {lab}  empty {:.4}  {:.1} tokens  n = {}",
            e.flagged.value,
            e.flagged.ci.0,
            e.flagged.ci.1,
            e.empty.value,
            e.tokens_per_sample,
            e.samples
        );
    };
    println!(
        "held-out evaluation ({:.0} s):",
        start.elapsed().as_secs_f64()
    );
    row("original", &report.original);
    row("distilled", &report.distilled);
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
        "loadavg": std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim(),
    });
    std::fs::write(
        args.run_dir.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    Ok(())
}
