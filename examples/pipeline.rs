//! The main job (`make demo`): the whole method on the embedded default, stage by stage,
//! cached in a run folder.
//!
//! ```text
//! cargo run --release --example pipeline                       # defaults, runs/default
//! cargo run --release --example pipeline -- --config my.toml   # settings from TOML
//! cargo run --release --example pipeline -- --from filter      # redo the filter and what follows
//! # A quick smoke run:
//! cargo run --release --example pipeline -- --run-dir runs/smoke --train-prompts 16 --test-prompts 8 \
//!     --train-negatives 100 --pool-size 200 --budget 20 --ppo-steps 1
//! ```

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use nines::pipeline::{Pipeline, PipelineConfig, Stage};

/// Run the Nines pipeline. Flags override the TOML config file, which overrides defaults.
#[derive(Parser, Debug)]
struct Args {
    /// TOML settings (keys as in runs/<run>/config.toml of a previous run).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Run folder (default runs/default).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Redo this stage and every later one.
    #[arg(long, value_enum)]
    from: Option<Stage>,
    /// Random seed for every stage.
    #[arg(long)]
    seed: Option<u64>,
    /// Expected number of training prompts (PPO rollouts).
    #[arg(long)]
    train_prompts: Option<usize>,
    /// Expected number of test prompts (the policy comparison).
    #[arg(long)]
    test_prompts: Option<usize>,
    /// Unfiltered completions per test prompt.
    #[arg(long)]
    completions_per_prompt: Option<usize>,
    /// Training negatives kept for the classifier.
    #[arg(long)]
    train_negatives: Option<usize>,
    /// Classifier training epochs.
    #[arg(long)]
    classifier_epochs: Option<usize>,
    /// Pool pairs scored in the active-learning round.
    #[arg(long)]
    pool_size: Option<usize>,
    /// Labels spent in the active-learning round.
    #[arg(long)]
    budget: Option<usize>,
    /// PPO steps.
    #[arg(long)]
    ppo_steps: Option<usize>,
    /// Fine-tuning steps of the generator on the corpus (0: use it as is).
    #[arg(long)]
    finetune_steps: Option<usize>,
    /// Generator: a Hugging Face folder or a .gguf file.
    #[arg(long)]
    model: Option<PathBuf>,
    /// LibTorch threads.
    #[arg(long)]
    threads: Option<i32>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let mut cfg = match &args.config {
        Some(path) => PipelineConfig::from_toml_file(path)?,
        None => PipelineConfig::default(),
    };
    if let Some(v) = args.run_dir {
        cfg.run_dir = v;
    }
    if let Some(v) = args.seed {
        cfg.seed = v;
    }
    if let Some(v) = args.train_prompts {
        cfg.data.train_prompts = v;
    }
    if let Some(v) = args.test_prompts {
        cfg.data.test_prompts = v;
    }
    if let Some(v) = args.completions_per_prompt {
        cfg.data.completions_per_prompt = v;
    }
    if let Some(v) = args.train_negatives {
        cfg.classifier.train_negatives = v;
    }
    if let Some(v) = args.classifier_epochs {
        cfg.classifier.epochs = v;
    }
    if let Some(v) = args.pool_size {
        cfg.active.pool_size = v;
    }
    if let Some(v) = args.budget {
        cfg.active.budget = v;
    }
    if let Some(v) = args.ppo_steps {
        cfg.distill.steps = v;
    }
    if let Some(v) = args.finetune_steps {
        cfg.generator.finetune_steps = v;
    }
    if let Some(v) = args.model {
        cfg.generator.model = v;
    }
    if let Some(v) = args.threads {
        cfg.threads = v;
    }
    let pipeline = Pipeline::new(cfg)?;
    eprintln!("run folder: {}", pipeline.run_dir().root().display());
    pipeline.run(args.from, &mut |line| eprintln!("{line}"))?;
    Ok(())
}
