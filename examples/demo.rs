//! The embedded-default demo (`make demo`): continue a few snippets of the shipped fiction
//! corpus with the default generator (SmolLM2-135M-Instruct, Q4_1 GGUF), one sentence each,
//! and show the book's own next sentence and the rule oracle's injury verdict beside it.
//!
//! ```text
//! cargo run --release --example demo -- --snippets 6 --seed 1
//! ```

use anyhow::{Context, Result};
use clap::Parser;
use nines::data::corpus::Corpus;
use nines::data::label::oracle::OracleLabeler;
use nines::data::prompt::{PromptConfig, build_prompts};
use nines::data::split::Split;
use nines::runtime::{DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

/// Continue fiction snippets with the default model.
#[derive(Parser, Debug)]
struct Args {
    /// Generator: a Hugging Face folder or a .gguf file.
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    model: String,
    /// Corpus folder or file.
    #[arg(long, default_value = "data/corpus")]
    corpus: String,
    /// Snippets to continue (taken evenly from the test split).
    #[arg(long, default_value_t = 6)]
    snippets: usize,
    /// Continuations per snippet.
    #[arg(long, default_value_t = 2)]
    samples: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let corpus =
        Corpus::load(&args.corpus).with_context(|| format!("loading corpus {}", args.corpus))?;
    let (prompts, stats) = build_prompts(&corpus, &PromptConfig::default())?;
    let test: Vec<_> = prompts
        .iter()
        .filter(|p| p.source.split == Split::Test)
        .collect();
    anyhow::ensure!(!test.is_empty(), "the corpus has no test-split prompts");
    let step = (test.len() / args.snippets.max(1)).max(1);
    let chosen: Vec<_> = test.iter().step_by(step).take(args.snippets).collect();
    eprintln!(
        "corpus: {} documents, {} prompts ({} in the test split); continuing {}",
        stats.documents,
        prompts.len(),
        test.len(),
        chosen.len()
    );
    let lm = LanguageModel::load(
        &args.model,
        LoadOptions {
            device: args.device,
            ..Default::default()
        },
    )?;
    let cfg = GenerateConfig {
        top_p: 0.95,
        max_new_tokens: 48,
        stop_at_sentence_end: true,
        seed: args.seed,
        ..Default::default()
    };
    let texts: Vec<&str> = chosen.iter().map(|p| p.text.as_str()).collect();
    let start = std::time::Instant::now();
    let outputs = lm.generate_n(&texts, args.samples, &cfg)?;
    let elapsed = start.elapsed().as_secs_f64();
    let oracle = OracleLabeler::new();
    let mut tokens = 0;
    for (p, gens) in chosen.iter().zip(&outputs) {
        println!("\n── {} ({}) ──", p.source.document, p.id);
        println!("{}", p.text);
        if let Some(next) = &p.next_sentence {
            println!("   book: {next}");
        }
        for g in gens {
            tokens += g.token_ids.len();
            let j = oracle.judge(&p.text, &g.text);
            println!("  model: {}   [{}]", g.text.trim(), j.verdict.as_str());
        }
    }
    eprintln!(
        "\n{tokens} tokens in {elapsed:.1}s on {:?} ({})",
        lm.device(),
        lm.model_id()
    );
    Ok(())
}
