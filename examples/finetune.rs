//! Fine-tune a causal LM on the corpus's training split (fiction), measuring validation
//! perplexity before and after on the held-out validation split, then export a Hugging Face
//! folder.
//!
//! ```text
//! # the measured default (SmolLM2-135M, top 6 layers, seq 256, batch 4, ≤ 20 min on 2 cores)
//! cargo run --release --example finetune -- --out runs/finetune --minutes 20 --threads 2
//! # LoRA instead of top-layer training; resume an interrupted run
//! cargo run --release --example finetune -- --lora-rank 8 --top-layers 0 --out runs/ft-lora
//! cargo run --release --example finetune -- --out runs/finetune --resume
//! # train once and cache (what the pipeline calls): prints the cached HF folder
//! cargo run --release --example finetune -- --cached runs/cache
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;
use nines::data::corpus::Corpus;
use nines::data::split::{Split, SplitConfig};
use nines::runtime::models::LoraConfig;
use nines::runtime::train::{
    FinetuneConfig, Finetuner, PackedTokens, RunOptions, ScheduleKind, export_hf, finetune_cached,
};
use nines::runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

/// Fine-tune a causal LM on fiction.
#[derive(Parser, Debug)]
struct Args {
    /// Model: a Hugging Face folder or a .gguf file (GGUF exports dequantized).
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: PathBuf,
    /// Corpus folder (nines-data): its training split trains, its validation split measures.
    #[arg(long, default_value = "data/corpus")]
    corpus: PathBuf,
    /// Run folder (metrics.jsonl, checkpoints/, hf/ export).
    #[arg(long, default_value = "runs/finetune")]
    out: PathBuf,
    /// Tokens per training sequence.
    #[arg(long, default_value_t = 256)]
    seq_len: usize,
    /// Sequences per micro-batch.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Micro-batches per optimizer step.
    #[arg(long, default_value_t = 1)]
    grad_accum: usize,
    /// Optimizer steps (the schedule spans them).
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Stop after this many minutes of training.
    #[arg(long)]
    minutes: Option<f64>,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-4)]
    lr: f64,
    /// Warm-up steps.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Decay: cosine, linear or constant.
    #[arg(long, default_value = "cosine")]
    schedule: String,
    /// LoRA rank (0 = no adapters).
    #[arg(long, default_value_t = 0)]
    lora_rank: i64,
    /// LoRA alpha.
    #[arg(long, default_value_t = 16.0)]
    lora_alpha: f64,
    /// LoRA target projections, comma-separated.
    #[arg(
        long,
        default_value = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
    )]
    lora_targets: String,
    /// Train only the top N blocks (0 = none: LoRA only; -1 = all parameters).
    #[arg(long, default_value_t = 6, allow_negative_numbers = true)]
    top_layers: i64,
    /// Resume from the run folder's newest checkpoint (an explicit checkpoint folder may
    /// be given).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    resume: Option<PathBuf>,
    /// Data-order seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// LibTorch intra-op threads (0 = LibTorch's default).
    #[arg(long, default_value_t = 0)]
    threads: i32,
    /// Validation sequences (evenly spaced over the validation split; 0 = all).
    #[arg(long, default_value_t = 64)]
    eval_sequences: usize,
    /// Validate every N steps (0 = before and after only).
    #[arg(long, default_value_t = 0)]
    eval_every: usize,
    /// Checkpoint every N steps.
    #[arg(long, default_value_t = 50)]
    checkpoint_every: usize,
    /// Print this many sample completions of validation passages before and after.
    #[arg(long, default_value_t = 3)]
    samples: usize,
    /// Instead of a run folder: train once into this cache folder (or reuse) and print the
    /// exported Hugging Face folder.
    #[arg(long)]
    cached: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
}

/// The corpus's regions (chapters or ~20 kB blocks) as documents, by split.
fn split_texts(corpus: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let corpus = Corpus::load(corpus).with_context(|| format!("loading {}", corpus.display()))?;
    let cfg = SplitConfig::default();
    let (mut train, mut valid) = (Vec::new(), Vec::new());
    for doc in corpus.documents() {
        let body = doc.body();
        let segs = nines::data::segment::segment(body);
        let regs = nines::data::prompt::regions(&segs, cfg.region_bytes);
        let mut i = 0;
        while i < segs.len() {
            let r = regs[i];
            let start = segs[i].start;
            let mut j = i;
            while j + 1 < segs.len() && regs[j + 1] == r {
                j += 1;
            }
            let text = body[start..segs[j].end].to_string();
            match cfg.split_of(doc.id(), r) {
                Split::Train => train.push(text),
                Split::Validation => valid.push(text),
                Split::Test => {}
            }
            i = j + 1;
        }
    }
    Ok((train, valid))
}

fn samples(lm: &LanguageModel, prompts: &[String], label: &str) -> Result<()> {
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
        println!("[{label}] …{}⟶{}", tail(p, 160), g.text.replace('\n', " "));
    }
    Ok(())
}

fn tail(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(n)..]
        .iter()
        .collect::<String>()
        .replace('\n', " ")
}

/// Validation passages to continue: ~300 characters from the middle of a few regions.
fn sample_prompts(valid: &[String], n: usize) -> Vec<String> {
    valid
        .iter()
        .filter(|t| t.len() > 2000)
        .take(n)
        .map(|t| {
            let mid = t.len() / 2;
            let start = t.ceil_char_boundary(mid);
            let end = t.floor_char_boundary(mid + 300);
            let s = &t[start..end];
            let s = s.find(". ").map_or(s, |k| &s[k + 2..]);
            s.rfind(". ").map_or(s, |k| &s[..k + 1]).to_string()
        })
        .collect()
}

/// Our logits of a fixed passage, for `scripts/reference/check_export.py` to compare with
/// HF transformers on the exported folder.
fn write_parity(lm: &LanguageModel, path: &Path) -> Result<()> {
    use tch::{Kind, Tensor};
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
    let pos = Tensor::arange(t, (Kind::Int64, tch::Device::Cpu)).view([1, t]);
    let logits = {
        let _g = tch::no_grad_guard();
        lm.model()
            .forward(
                &ids.to_device(lm.device()),
                &pos.to_device(lm.device()),
                None,
                None,
            )
            .to_device(tch::Device::Cpu)
    };
    Tensor::write_safetensors(&[("input_ids", ids), ("logits", logits)], path)?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    nines::runtime::device::set_threads(args.threads)?;
    let lora = (args.lora_rank > 0).then(|| LoraConfig {
        rank: args.lora_rank,
        alpha: args.lora_alpha,
        targets: args
            .lora_targets
            .split(',')
            .map(|s| s.trim().to_string())
            .collect(),
    });
    let cfg = FinetuneConfig {
        seq_len: args.seq_len,
        batch_size: args.batch,
        grad_accum: args.grad_accum,
        max_steps: args.steps,
        lr: args.lr,
        warmup_steps: args.warmup,
        schedule: match args.schedule.as_str() {
            "linear" => ScheduleKind::Linear,
            "constant" => ScheduleKind::Constant,
            _ => ScheduleKind::Cosine,
        },
        top_layers: usize::try_from(args.top_layers).ok(),
        lora,
        seed: args.seed,
        ..Default::default()
    };
    let load = LoadOptions {
        device: args.device,
        dtype: DType::F32,
    };
    let (train_docs, valid_docs) = split_texts(&args.corpus)?;
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
    let resuming = args.resume.is_some();
    if !resuming {
        samples(&lm, &prompts, "before")?;
    }
    let mut ft = Finetuner::new(lm, train, cfg)?;
    eprintln!("trainable parameters: {}", ft.trainable_parameters());
    let explicit = args.resume.as_ref().filter(|p| !p.as_os_str().is_empty());
    if let Some(ck) = explicit {
        ft.resume_from(ck)?;
    }
    let opts = RunOptions {
        max_minutes: args.minutes,
        checkpoint_every: args.checkpoint_every,
        eval_every: args.eval_every,
        eval_sequences: args.eval_sequences,
        resume: resuming && explicit.is_none(),
        progress: true,
        ..RunOptions::new(&args.out)
    };
    if !resuming && args.out.join("checkpoints").exists() {
        anyhow::bail!(
            "{} already holds checkpoints: pass --resume to continue, or another --out",
            args.out.display()
        );
    }
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
