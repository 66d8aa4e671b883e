//! Continue a prompt with a causal LM loaded from a Hugging Face folder or a GGUF file.
//!
//! ```text
//! cargo run --release --example generate -- --prompt "The ship rolled in the swell." --n 3 --top-p 0.95
//! cargo run --release --example generate -- --dtype int8 --device cpu --threads 2
//! ```

use anyhow::Result;
use clap::Parser;
use nines::runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

/// Sample continuations of a prompt.
#[derive(Parser, Debug)]
struct Args {
    /// Model: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: String,
    /// Prompt to continue (repeat for several).
    #[arg(
        long,
        default_value = "It was a dark and stormy night; the rain fell in torrents."
    )]
    prompt: Vec<String>,
    /// Continuations per prompt.
    #[arg(long, default_value_t = 1)]
    n: usize,
    /// Most new tokens.
    #[arg(long, default_value_t = 48)]
    max_new_tokens: usize,
    /// Softmax temperature (0 = greedy).
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Nucleus sampling mass (1 = off).
    #[arg(long, default_value_t = 0.95)]
    top_p: f64,
    /// Keep the k most likely tokens (0 = off).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Stop at the end of the first sentence.
    #[arg(long)]
    one_sentence: bool,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
    /// f32, bf16 or int8 (int8 projections, CPU only).
    #[arg(long, default_value = "f32")]
    dtype: DType,
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
            dtype: args.dtype,
        },
    )?;
    let cfg = GenerateConfig {
        max_new_tokens: args.max_new_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        top_k: args.top_k,
        stop_at_sentence_end: args.one_sentence,
        seed: args.seed,
        ..Default::default()
    };
    let prompts: Vec<&str> = args.prompt.iter().map(String::as_str).collect();
    let start = std::time::Instant::now();
    let outputs = lm.generate_n(&prompts, args.n, &cfg)?;
    let elapsed = start.elapsed().as_secs_f64();
    let mut tokens = 0;
    for (prompt, gens) in prompts.iter().zip(&outputs) {
        println!("## {prompt}");
        for (j, g) in gens.iter().enumerate() {
            tokens += g.token_ids.len();
            let lp: f32 = g.logprobs.iter().sum();
            println!(
                "[{j}] {}  ({:?}, {} tokens, log p {lp:.2})",
                g.text.trim_end(),
                g.finish_reason,
                g.token_ids.len()
            );
        }
    }
    eprintln!(
        "{tokens} tokens in {elapsed:.2}s ({:.1} tok/s) on {:?}",
        tokens as f64 / elapsed,
        lm.device()
    );
    Ok(())
}
