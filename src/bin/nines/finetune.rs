//! `nines finetune`: fine-tune a causal LM on the corpus's training chapters (fiction),
//! measure validation perplexity before and after on the validation chapters, and export a
//! Hugging Face folder.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use nines_data::corpus::Corpus;
use nines_data::split::{SplitConfig, region_texts};
use nines_runtime::models::LoraConfig;
use nines_runtime::train::{
    FinetuneConfig, Finetuner, PackedTokens, RunOptions, ScheduleKind, export_hf, finetune_cached,
};
use nines_runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

/// Decay of the learning rate after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Schedule {
    /// Half-cosine decay.
    Cosine,
    /// Linear decay.
    Linear,
    /// Stay at the peak.
    Constant,
}

/// Flags of `nines finetune`.
#[derive(Args, Debug)]
pub struct FinetuneArgs {
    /// Model: a Hugging Face folder or a .gguf file (GGUF exports dequantized).
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    pub model: PathBuf,
    /// Corpus folder: its training chapters train, its validation chapters measure.
    #[arg(long, default_value = "data/corpus")]
    pub corpus: PathBuf,
    /// Run folder (metrics.jsonl, checkpoints/, hf/ export, report.json).
    #[arg(long, default_value = "runs/finetune")]
    pub out: PathBuf,
    /// Tokens per training sequence.
    #[arg(long, default_value_t = 256)]
    pub seq_len: usize,
    /// Sequences per micro-batch.
    #[arg(long, default_value_t = 4)]
    pub batch: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    pub grad_accum: usize,
    /// Optimizer steps (the schedule spans them).
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Stop after this many minutes of training.
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-4)]
    pub lr: f64,
    /// Warm-up steps.
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Decay after warm-up.
    #[arg(long, value_enum, default_value = "cosine")]
    pub schedule: Schedule,
    /// LoRA rank (0: no adapters).
    #[arg(long, default_value_t = 0)]
    pub lora_rank: i64,
    /// LoRA alpha.
    #[arg(long, default_value_t = 16.0)]
    pub lora_alpha: f64,
    /// LoRA target projections, comma-separated.
    #[arg(
        long,
        default_value = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj",
        value_delimiter = ','
    )]
    pub lora_targets: Vec<String>,
    /// Train only the top N blocks (0: none, LoRA only; -1: all parameters).
    #[arg(long, default_value_t = 6, allow_negative_numbers = true)]
    pub top_layers: i64,
    /// Resume from the run folder's newest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Resume from this checkpoint folder.
    #[arg(long, value_name = "CHECKPOINT", conflicts_with = "resume")]
    pub resume_from: Option<PathBuf>,
    /// Data-order seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// LibTorch threads (0: LibTorch's default).
    #[arg(long, default_value_t = 0)]
    pub threads: i32,
    /// Validation sequences (evenly spaced over the validation chapters; 0: all).
    #[arg(long, default_value_t = 64)]
    pub eval_sequences: usize,
    /// Validate every N steps (0: before and after only).
    #[arg(long, default_value_t = 0)]
    pub eval_every: usize,
    /// Checkpoint every N steps.
    #[arg(long, default_value_t = 50)]
    pub checkpoint_every: usize,
    /// Sample completions of validation passages printed before and after.
    #[arg(long, default_value_t = 3)]
    pub samples: usize,
    /// Instead of a run folder: train once into this cache folder (or reuse what is there) and
    /// print the exported Hugging Face folder (what the pipeline does).
    #[arg(long)]
    pub cached: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
}

impl FinetuneArgs {
    /// The fine-tuning settings of these flags.
    pub fn config(&self) -> FinetuneConfig {
        FinetuneConfig {
            seq_len: self.seq_len,
            batch_size: self.batch,
            grad_accum: self.grad_accum,
            max_steps: self.steps,
            lr: self.lr,
            warmup_steps: self.warmup,
            schedule: match self.schedule {
                Schedule::Cosine => ScheduleKind::Cosine,
                Schedule::Linear => ScheduleKind::Linear,
                Schedule::Constant => ScheduleKind::Constant,
            },
            top_layers: usize::try_from(self.top_layers).ok(),
            lora: (self.lora_rank > 0).then(|| LoraConfig {
                rank: self.lora_rank,
                alpha: self.lora_alpha,
                targets: self
                    .lora_targets
                    .iter()
                    .map(|s| s.trim().to_string())
                    .collect(),
            }),
            seed: self.seed,
            ..Default::default()
        }
    }
}

/// Prints a continuation of each prompt.
fn samples(
    lm: &LanguageModel,
    prompts: &[String],
    label: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    if prompts.is_empty() {
        return Ok(());
    }
    let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let cfg = GenerateConfig {
        max_new_tokens: 40,
        top_p: 0.9,
        seed: 7,
        ..Default::default()
    };
    for (p, g) in prompts.iter().zip(lm.generate(&refs, &cfg)?) {
        let chars: Vec<char> = p.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(160)..].iter().collect();
        println!(
            "[{label}] …{}⟶{}",
            tail.replace('\n', " "),
            g.text.replace('\n', " ")
        );
    }
    Ok(())
}

/// Validation passages to continue: about 300 characters from the middle of a few chapters.
fn sample_prompts(valid: &[String], n: usize) -> Vec<String> {
    valid
        .iter()
        .filter(|t| t.len() > 2000)
        .take(n)
        .map(|t| {
            let mid = t.len() / 2;
            let s = &t[t.ceil_char_boundary(mid)..t.floor_char_boundary(mid + 300)];
            let s = s.find(". ").map_or(s, |k| &s[k + 2..]);
            s.rfind(". ").map_or(s, |k| &s[..k + 1]).to_string()
        })
        .collect()
}

/// The model's logits of a fixed passage, for `scripts/reference/check_export.py` to compare
/// with HF transformers on the exported folder.
fn write_parity(lm: &LanguageModel, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use nines_runtime::tch::{Device, Kind, Tensor};
    const TEXT: &str = "The sea was calm that morning, and the captain walked the deck alone, \
                        thinking of the letter he had burned.";
    let ids: Vec<i64> = lm
        .tokenizer()
        .encode_with(TEXT, false)?
        .into_iter()
        .map(i64::from)
        .collect();
    let t = ids.len() as i64;
    let ids = Tensor::from_slice(&ids).view([1, t]);
    let pos = Tensor::arange(t, (Kind::Int64, Device::Cpu)).view([1, t]);
    let logits = {
        let _g = nines_runtime::tch::no_grad_guard();
        lm.model()
            .forward(
                &ids.to_device(lm.device()),
                &pos.to_device(lm.device()),
                None,
                None,
            )?
            .to_device(Device::Cpu)
    };
    Tensor::write_safetensors(&[("input_ids", ids), ("logits", logits)], path)?;
    Ok(())
}

/// Runs `nines finetune`.
pub fn run(args: FinetuneArgs) -> Result<(), Box<dyn std::error::Error>> {
    nines_runtime::device::set_threads(args.threads)?;
    let cfg = args.config();
    let load = LoadOptions {
        device: args.device,
        dtype: DType::F32,
    };
    let corpus = Corpus::load(&args.corpus)?;
    let [train_docs, valid_docs, _] = region_texts(&corpus, &SplitConfig::default());
    eprintln!(
        "corpus: {} training regions, {} validation regions",
        train_docs.len(),
        valid_docs.len()
    );
    if let Some(cache) = &args.cached {
        let out = finetune_cached(
            &args.model,
            load,
            &train_docs,
            &valid_docs,
            &cfg,
            cache,
            true,
        )?;
        println!("{}", out.display());
        return Ok(());
    }
    let resuming = args.resume || args.resume_from.is_some();
    if !resuming && args.out.join("checkpoints").exists() {
        return Err(format!(
            "{} already holds checkpoints: pass --resume to continue, or another --out",
            args.out.display()
        )
        .into());
    }
    let lm = LanguageModel::load_with_lora(&args.model, load, cfg.lora.clone())?;
    let train = PackedTokens::pack(lm.tokenizer(), &train_docs, cfg.seq_len)?;
    let valid = PackedTokens::pack(lm.tokenizer(), &valid_docs, cfg.seq_len)?;
    eprintln!(
        "packed: {} training sequences ({} tokens), {} validation sequences of {}",
        train.num_sequences(),
        train.total_tokens(),
        valid.num_sequences(),
        cfg.seq_len
    );
    let prompts = sample_prompts(&valid_docs, args.samples);
    if !resuming {
        samples(&lm, &prompts, "before")?;
    }
    let mut ft = Finetuner::new(lm, train, cfg)?;
    eprintln!("trainable parameters: {}", ft.trainable_parameters());
    if let Some(checkpoint) = &args.resume_from {
        ft.resume_from(checkpoint)?;
    }
    let opts = RunOptions {
        max_minutes: args.minutes,
        checkpoint_every: args.checkpoint_every,
        eval_every: args.eval_every,
        eval_sequences: args.eval_sequences,
        resume: args.resume,
        progress: true,
        ..RunOptions::new(&args.out)
    };
    let report = ft.run(Some(&valid), &opts)?;
    let mut lm = ft.into_model();
    let hf = export_hf(&mut lm, &args.out.join("hf"))?;
    write_parity(&lm, &args.out.join("parity.safetensors"))?;
    samples(&lm, &prompts, "after")?;
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    println!(
        "steps {} ({}), {} tokens in {:.1} min, {:.0} tokens/s; validation perplexity {} -> {}; exported {}",
        report.steps,
        report.stopped,
        report.tokens_seen,
        report.elapsed_s / 60.0,
        report.tokens_per_s,
        report
            .initial_ppl
            .map_or("(resumed)".into(), |p| format!("{p:.3}")),
        report.final_ppl.map_or("-".into(), |p| format!("{p:.3}")),
        hf.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<FinetuneArgs, clap::Error> {
        crate::parse_flags(args)
    }

    #[test]
    fn flags_map_onto_the_runtime_config() {
        let a = parse(&[
            "--lora-rank",
            "8",
            "--lora-targets",
            "q_proj,v_proj",
            "--top-layers",
            "-1",
            "--schedule",
            "linear",
        ])
        .unwrap();
        let c = a.config();
        assert_eq!(c.top_layers, None, "-1 trains every parameter");
        assert_eq!(c.schedule, ScheduleKind::Linear);
        let lora = c.lora.unwrap();
        assert_eq!((lora.rank, lora.targets.len()), (8, 2));
        assert!(parse(&["--schedule", "step"]).is_err());
        let resume = parse(&["--resume"]).unwrap();
        assert!(resume.resume && resume.resume_from.is_none());
        let from = parse(&["--resume-from", "runs/ft/checkpoints/step-50"]).unwrap();
        assert_eq!(
            from.resume_from,
            Some(PathBuf::from("runs/ft/checkpoints/step-50"))
        );
        assert!(parse(&["--resume", "--resume-from", "x"]).is_err());
    }

    #[test]
    fn a_missing_corpus_is_named() {
        let a = parse(&["--corpus", "no/such/corpus"]).unwrap();
        let err = run(a).unwrap_err().to_string();
        assert!(err.contains("no/such/corpus"), "{err}");
    }
}
