//! `nines generate`: continue prompts with a causal LM; print the completions or append them
//! to a snippet store for labeling (`nines label`).

use std::path::PathBuf;

use clap::Args;
use nines_data::Snippet;
use nines_data::record::{Generator, SamplingSettings};
use nines_data::store::Store;
use nines_runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

/// Flags of `nines generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Model: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    pub model: PathBuf,
    /// A prompt to continue (repeatable).
    #[arg(long, required_unless_present = "prompts")]
    pub prompt: Vec<String>,
    /// A text file of prompts, one per line (blank lines skipped).
    #[arg(long, value_name = "FILE")]
    pub prompts: Option<PathBuf>,
    /// Continuations per prompt.
    #[arg(long, default_value_t = 1)]
    pub n: usize,
    /// Most new tokens per continuation.
    #[arg(long, default_value_t = 48)]
    pub max_new_tokens: usize,
    /// Softmax temperature (0: greedy).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Nucleus sampling mass (1: off).
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f64,
    /// Keep only the k most likely tokens (0: off).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Stop each continuation at the end of its first sentence.
    #[arg(long)]
    pub one_sentence: bool,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceSpec,
    /// f32, bf16 or int8 (int8 projections; CPU only).
    #[arg(long, default_value = "f32")]
    pub dtype: DType,
    /// LibTorch threads (0: LibTorch's default).
    #[arg(long, default_value_t = 0)]
    pub threads: i32,
    /// Append the completions to this snippet store (JSONL) instead of printing them.
    #[arg(long, value_name = "STORE")]
    pub out: Option<PathBuf>,
}

/// The prompts of `args`: `--prompt`s, then the lines of `--prompts`.
pub fn prompts(args: &GenerateArgs) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut prompts = args.prompt.clone();
    if let Some(path) = &args.prompts {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        prompts.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
    }
    if prompts.is_empty() {
        return Err("no prompt given (--prompt or --prompts)".into());
    }
    if args.n == 0 {
        return Err("--n must be at least 1".into());
    }
    Ok(prompts)
}

/// Runs `nines generate`.
pub fn run(args: GenerateArgs) -> Result<(), Box<dyn std::error::Error>> {
    let prompts = prompts(&args)?;
    nines_runtime::device::set_threads(args.threads)?;
    let lm = LanguageModel::load(
        &args.model,
        LoadOptions {
            device: args.device,
            dtype: args.dtype,
        },
    )?;
    let config = GenerateConfig {
        max_new_tokens: args.max_new_tokens,
        temperature: args.temperature,
        top_p: args.top_p,
        top_k: args.top_k,
        stop_at_sentence_end: args.one_sentence,
        seed: args.seed,
        ..Default::default()
    };
    let refs: Vec<&str> = prompts.iter().map(String::as_str).collect();
    let start = std::time::Instant::now();
    let outputs = lm.generate_n(&refs, args.n, &config)?;
    let seconds = start.elapsed().as_secs_f64();
    let tokens: usize = outputs.iter().flatten().map(|g| g.token_ids.len()).sum();
    match &args.out {
        Some(path) => {
            let generator = Generator {
                model: lm.model_id().to_string(),
                settings: SamplingSettings {
                    temperature: args.temperature,
                    top_p: args.top_p,
                    top_k: (args.top_k > 0).then_some(args.top_k as u32),
                    max_new_tokens: args.max_new_tokens as u32,
                    extra: Default::default(),
                },
                seed: args.seed,
            };
            let snippets: Vec<Snippet> = refs
                .iter()
                .zip(&outputs)
                .flat_map(|(prompt, gens)| {
                    gens.iter().map(|g| {
                        Snippet::new(*prompt, g.text.clone(), None, Some(generator.clone()), None)
                    })
                })
                .collect();
            let mut store = Store::open(path)?;
            let added = snippets.len();
            store.append(snippets)?;
            eprintln!("{added} completions appended to {}", path.display());
        }
        None => {
            for (prompt, gens) in refs.iter().zip(&outputs) {
                println!("## {prompt}");
                for (j, g) in gens.iter().enumerate() {
                    let lp: f32 = g.logprobs.iter().sum();
                    println!(
                        "[{j}] {}  ({:?}, {} tokens, log p {lp:.2})",
                        g.text.trim_end(),
                        g.finish_reason,
                        g.token_ids.len()
                    );
                }
            }
        }
    }
    eprintln!(
        "{tokens} tokens in {seconds:.2} s ({:.1} tokens/s) on {:?}",
        tokens as f64 / seconds.max(1e-9),
        lm.device()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<GenerateArgs, clap::Error> {
        crate::parse_flags(args)
    }

    #[test]
    fn prompts_come_from_flags_and_files() {
        let dir = std::env::temp_dir().join(format!("nines-cli-generate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("prompts.txt");
        std::fs::write(&file, "The ship rolled.\n\n  The rain fell.  \n").unwrap();
        let args = parse(&["--prompt", "A", "--prompts", file.to_str().unwrap()]).unwrap();
        assert_eq!(
            prompts(&args).unwrap(),
            ["A", "The ship rolled.", "The rain fell."]
        );
        let args = parse(&["--prompts", dir.join("none.txt").to_str().unwrap()]).unwrap();
        assert!(prompts(&args).unwrap_err().to_string().contains("none.txt"));
        let args = parse(&["--prompt", "A", "--n", "0"]).unwrap();
        assert!(prompts(&args).is_err());
    }

    #[test]
    fn flags_are_typed() {
        assert!(parse(&[]).is_err(), "a prompt is required");
        assert!(parse(&["--prompt", "A", "--dtype", "int4"]).is_err());
        assert!(parse(&["--prompt", "A", "--device", "tpu"]).is_err());
        let args = parse(&["--prompt", "A", "--dtype", "int8", "--one-sentence"]).unwrap();
        assert_eq!(args.dtype, DType::Int8);
        assert!(args.one_sentence);
    }
}
