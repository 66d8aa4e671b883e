//! What int8 projections cost in accuracy: validation perplexity of a causal LM in f32 and in
//! int8 on the corpus's validation split (the split and packing of the fine-tuning example),
//! the share of positions where the two models' top-1 next tokens agree on that text, and how
//! well greedy continuations of validation passages agree.
//!
//! ```text
//! cargo run -p nines-runtime --release --example int8_accuracy -- --threads 2
//! ```
//! Prints one JSON object (also written to `--out` when given).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;
use nines_data::corpus::Corpus;
use nines_data::split::{Split, SplitConfig};
use nines_runtime::tch::{Kind, Tensor};
use nines_runtime::train::{PackedTokens, evaluate};
use nines_runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

/// Measure int8 against f32.
#[derive(Parser, Debug)]
struct Args {
    /// Model: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: PathBuf,
    /// Corpus folder (nines-data); its validation split is measured.
    #[arg(long, default_value = "data/corpus")]
    corpus: PathBuf,
    /// Tokens per validation sequence.
    #[arg(long, default_value_t = 256)]
    seq_len: usize,
    /// Validation sequences, evenly spaced (0 = all).
    #[arg(long, default_value_t = 64)]
    sequences: usize,
    /// Sequences per forward pass.
    #[arg(long, default_value_t = 4)]
    batch_size: usize,
    /// Validation passages to continue greedily (one at a time).
    #[arg(long, default_value_t = 16)]
    prompts: usize,
    /// New tokens per greedy continuation.
    #[arg(long, default_value_t = 32)]
    new_tokens: usize,
    /// LibTorch intra-op threads (0 = LibTorch's default).
    #[arg(long, default_value_t = 0)]
    threads: i32,
    /// Also write the JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The corpus's validation regions (chapters or ~20 kB blocks) as documents.
fn validation_texts(corpus: &Path) -> Result<Vec<String>> {
    let corpus = Corpus::load(corpus).with_context(|| format!("loading {}", corpus.display()))?;
    let cfg = SplitConfig::default();
    let mut valid = Vec::new();
    for doc in corpus.documents() {
        let body = doc.body();
        let segs = nines_data::segment::segment(body);
        let regs = nines_data::prompt::regions(&segs, cfg.region_bytes);
        let mut i = 0;
        while i < segs.len() {
            let r = regs[i];
            let mut j = i;
            while j + 1 < segs.len() && regs[j + 1] == r {
                j += 1;
            }
            if cfg.split_of(doc.id(), r) == Split::Validation {
                valid.push(body[segs[i].start..segs[j].end].to_string());
            }
            i = j + 1;
        }
    }
    Ok(valid)
}

/// ~300 characters ending mid-region, on a character boundary, from the first `n` long
/// regions.
fn passages(valid: &[String], n: usize) -> Vec<String> {
    valid
        .iter()
        .filter(|t| t.len() > 2000)
        .take(n)
        .map(|t| {
            let mut end = t.len() / 2;
            while !t.is_char_boundary(end) {
                end += 1;
            }
            let mut start = end.saturating_sub(300);
            while !t.is_char_boundary(start) {
                start += 1;
            }
            t[start..end].to_string()
        })
        .collect()
}

/// Share of next-token positions where the two models' most likely tokens agree.
fn top1_agreement(
    a: &LanguageModel,
    b: &LanguageModel,
    data: &PackedTokens,
    take: usize,
    batch: usize,
) -> Result<f64> {
    let n = data.num_sequences();
    let take = if take == 0 { n } else { take.min(n) };
    let idx: Vec<usize> = (0..take).map(|i| i * n / take).collect();
    let _guard = nines_runtime::tch::no_grad_guard();
    let t = data.seq_len() as i64;
    let (mut same, mut total) = (0i64, 0i64);
    for chunk in idx.chunks(batch.max(1)) {
        let ids = data.batch(chunk, a.device());
        let pos = Tensor::arange(t, (Kind::Int64, a.device()))
            .unsqueeze(0)
            .expand([chunk.len() as i64, t], true);
        let top = |lm: &LanguageModel| {
            lm.model()
                .forward(&ids, &pos, None, None)
                .map(|l| l.argmax(-1, false))
        };
        same += top(a)?
            .eq_tensor(&top(b)?)
            .sum(Kind::Int64)
            .int64_value(&[]);
        total += chunk.len() as i64 * t;
    }
    Ok(same as f64 / total as f64)
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.threads > 0 {
        nines_runtime::tch::set_num_threads(args.threads);
    }
    let load = |dtype| {
        LanguageModel::load(
            &args.model,
            LoadOptions {
                device: DeviceSpec::Cpu,
                dtype,
            },
        )
    };
    let f32 = load(DType::F32)?;
    let int8 = load(DType::Int8)?;
    let valid = validation_texts(&args.corpus)?;
    let data = PackedTokens::pack(f32.tokenizer(), &valid, args.seq_len)?;
    let ppl_f32 = evaluate(&f32, &data, args.sequences, args.batch_size)?;
    let ppl_int8 = evaluate(&int8, &data, args.sequences, args.batch_size)?;
    let top1 = top1_agreement(&int8, &f32, &data, args.sequences, args.batch_size)?;

    let prompts = passages(&valid, args.prompts);
    let cfg = GenerateConfig {
        max_new_tokens: args.new_tokens,
        min_new_tokens: args.new_tokens,
        temperature: 0.0,
        ..Default::default()
    };
    let (mut same_position, mut prefix, mut identical, mut total) = (0, 0, 0, 0);
    for p in &prompts {
        let a = &int8.generate(&[p.as_str()], &cfg)?[0].token_ids;
        let b = &f32.generate(&[p.as_str()], &cfg)?[0].token_ids;
        same_position += a.iter().zip(b).filter(|(x, y)| x == y).count();
        prefix += a.iter().zip(b).take_while(|(x, y)| x == y).count();
        identical += usize::from(a == b);
        total += b.len();
    }
    let result = serde_json::json!({
        "model": args.model,
        "validation_sequences": if args.sequences == 0 { data.num_sequences() } else { args.sequences.min(data.num_sequences()) },
        "seq_len": args.seq_len,
        "perplexity_f32": ppl_f32.perplexity,
        "perplexity_int8": ppl_int8.perplexity,
        "perplexity_ratio": ppl_int8.perplexity / ppl_f32.perplexity,
        "top1_agreement": top1,
        "greedy": {
            "prompts": prompts.len(),
            "new_tokens": args.new_tokens,
            "token_agreement": same_position as f64 / total.max(1) as f64,
            "prefix_agreement": prefix as f64 / total.max(1) as f64,
            "identical_continuations": identical,
        },
        "threads": nines_runtime::tch::get_num_threads(),
    });
    let text = serde_json::to_string_pretty(&result)?;
    println!("{text}");
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(out, text + "\n")?;
    }
    Ok(())
}
