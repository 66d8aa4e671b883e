//! Build a labeled dataset: corpus → prompts → completions → labels → JSONL store.
//!
//! ```text
//! # Prompts only: corpus → prompts → selection, written as JSONL (no model needed).
//! cargo run --release --example build_dataset -- --generator none --out runs/data/snippets.jsonl
//!
//! # The books' own next sentences as completions, labeled by the rule oracle.
//! cargo run --release --example build_dataset -- --generator reference --k 1 --labeler oracle
//!
//! # Label the store yourself at the terminal (resumes where you stopped).
//! cargo run --release --example build_dataset -- --generator reference --k 1 --labeler terminal:alice
//!
//! # One-sentence completions from the default generator, labeled by the oracle.
//! cargo run --release --example build_dataset -- --generator model:models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --k 2 --prompts 200
//! ```
//!
//! Model-written completions plug in through [`run_generation`], which takes any
//! `&mut dyn CompletionSampler`; `--generator model:PATH` uses `nines::sampler::LmSampler`.
//! Every step appends to the store, so a run can be stopped and started again: re-importing
//! the same snippets changes nothing and labeling resumes with the unlabeled ones.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use nines::data::complete::{
    CompletionConfig, CompletionSampler, ReferenceSampler, build_completions,
};
use nines::data::corpus::Corpus;
use nines::data::label::noise::{Noise, NoisyLabeler};
use nines::data::label::oracle::OracleLabeler;
use nines::data::label::terminal::TerminalLabeler;
use nines::data::label::{Labeler, RunOptions, label_store};
use nines::data::prompt::{PromptConfig, PromptStats, document_prompts};
use nines::data::select::{
    LexiconScorer, SelectedPrompt, SelectionConfig, Strategy, select, write_selected,
};
use nines::data::store::Store;
use nines::data::{Snippet, Verdict};

/// Build a labeled (prompt, completion, verdict) dataset from fiction.
#[derive(Parser, Debug)]
struct Args {
    /// Corpus: a UTF-8 text file or a folder of them (default: the shipped corpus).
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Output store (JSONL); created if missing, appended to otherwise.
    #[arg(long, default_value = "runs/data/snippets.jsonl")]
    out: PathBuf,
    /// Sentences per prompt.
    #[arg(long, default_value_t = 3)]
    sentences: usize,
    /// Sentences between the starts of consecutive prompts (default: --sentences, so prompts
    /// do not overlap; 1 makes every sentence a completion of its preceding sentences).
    #[arg(long)]
    stride: Option<usize>,
    /// Longest prompt in characters.
    #[arg(long, default_value_t = 600)]
    max_chars: usize,
    /// Expected number of prompts to select.
    #[arg(long, default_value_t = 1000)]
    prompts: usize,
    /// Select uniformly instead of oversampling violent-sounding prompts.
    #[arg(long)]
    uniform: bool,
    /// Completions per prompt.
    #[arg(long, default_value_t = 4)]
    k: usize,
    /// Seed for splits, selection and sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Completions: `none` (write selected prompts only), `reference` (the book's next
    /// sentence; needs --k 1) or `model:PATH` (one-sentence samples from a Hugging Face folder
    /// or GGUF file, e.g. `model:models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`).
    #[arg(long, default_value = "none")]
    generator: String,
    /// Labeler: `oracle`, `terminal:NAME`, or `none`.
    #[arg(long, default_value = "oracle")]
    labeler: String,
    /// Flip the labeler's verdicts with this probability (to study noisy labels).
    #[arg(long)]
    noise: Option<f64>,
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

/// Corpus → prompts → selection. Needs no model.
pub fn select_prompts(
    corpus_path: &Path,
    prompt_cfg: &PromptConfig,
    select_cfg: &SelectionConfig,
) -> Result<(Vec<SelectedPrompt>, PromptStats, usize)> {
    prompt_cfg.validate()?;
    let corpus =
        Corpus::load(corpus_path).with_context(|| format!("loading {}", corpus_path.display()))?;
    let pb = bar(corpus.documents().len() as u64, "prompts");
    let mut stats = PromptStats::default();
    let mut prompts = Vec::new();
    for doc in corpus.documents() {
        prompts.extend(document_prompts(doc, prompt_cfg, &mut stats));
        pb.inc(1);
    }
    pb.finish();
    let chosen = select(&prompts, &LexiconScorer::default(), select_cfg)?;
    Ok((chosen, stats, prompts.len()))
}

/// Prompts → completions with any sampler → store.
pub fn run_generation(
    prompts: &[SelectedPrompt],
    sampler: &mut dyn CompletionSampler,
    cfg: &CompletionConfig,
    store: &mut Store,
) -> Result<()> {
    let pb = bar(prompts.len() as u64, "completions");
    let out = build_completions(prompts, sampler, cfg, &mut |done, _| {
        pb.set_position(done as u64)
    })?;
    pb.finish();
    let report = store.append(out.snippets)?;
    println!(
        "completions: {} new, {} already stored; {} empty dropped, {} cut to one sentence",
        report.added,
        report.unchanged + report.updated,
        out.empty,
        out.truncated
    );
    Ok(())
}

/// Store → labels from one labeler (resumes with the unlabeled snippets).
pub fn run_labeling(store: &mut Store, labeler: &mut dyn Labeler) -> Result<()> {
    let interactive = labeler.is_interactive();
    let todo = store
        .iter()
        .filter(|s| s.label_by(labeler.name()).is_none())
        .count();
    let pb = if interactive {
        ProgressBar::hidden()
    } else {
        bar(todo as u64, "labels")
    };
    let report = label_store(store, labeler, &RunOptions::default(), &mut |done, _| {
        pb.set_position(done as u64)
    })?;
    pb.finish();
    println!(
        "labels by {}: {} written, {} skipped{}",
        labeler.name(),
        report.labeled,
        report.skipped,
        if report.quit {
            " (quit early; run again to resume)"
        } else {
            ""
        }
    );
    Ok(())
}

fn summarize(store: &Store, labeler: &str) {
    let count = |v: Verdict| {
        store
            .iter()
            .filter(|s| s.label_by(labeler).is_some_and(|l| l.verdict == v))
            .count()
    };
    let (yes, no, unsure) = (
        count(Verdict::Injury),
        count(Verdict::NoInjury),
        count(Verdict::Unsure),
    );
    // Horvitz–Thompson estimate of the injury rate over uniformly drawn prompts.
    let labeled: Vec<&Snippet> = store
        .iter()
        .filter(|s| s.label_by(labeler).is_some())
        .collect();
    let weight = |s: &Snippet| s.selection.as_ref().map_or(1.0, |x| 1.0 / x.probability);
    let total = labeled.iter().map(|s| weight(s)).fold(0.0, |a, b| a + b);
    let injured = labeled
        .iter()
        .filter(|s| {
            s.label_by(labeler)
                .is_some_and(|l| l.verdict == Verdict::Injury)
        })
        .map(|s| weight(s))
        .fold(0.0, |a, b| a + b);
    println!(
        "{labeler}: {yes} injury, {no} no_injury, {unsure} unsure of {} snippets; reweighted injury rate {:.4}",
        store.len(),
        if total > 0.0 { injured / total } else { 0.0 }
    );
}

fn main() -> Result<()> {
    let args = Args::parse();
    let corpus = args.corpus.clone().unwrap_or_else(Corpus::default_path);
    let mut prompt_cfg = PromptConfig {
        sentences: args.sentences,
        stride: args.stride.unwrap_or(args.sentences),
        max_chars: args.max_chars,
        ..PromptConfig::default()
    };
    prompt_cfg.split.seed = args.seed;
    let select_cfg = SelectionConfig {
        target: args.prompts,
        strategy: if args.uniform {
            Strategy::Uniform
        } else {
            Strategy::Scored
        },
        seed: args.seed,
        ..SelectionConfig::default()
    };
    let (chosen, stats, population) = select_prompts(&corpus, &prompt_cfg, &select_cfg)?;
    println!(
        "corpus: {} documents, {} chapters, {} sentences → {} prompts; selected {}",
        stats.documents,
        stats.regions,
        stats.sentences,
        population,
        chosen.len()
    );

    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let completion_cfg = CompletionConfig {
        k: args.k,
        seed: args.seed,
        ..CompletionConfig::default()
    };
    match args.generator.as_str() {
        "none" => {
            let path = args.out.with_extension("prompts.jsonl");
            write_selected(&path, &chosen)?;
            println!(
                "wrote {} selected prompts to {}",
                chosen.len(),
                path.display()
            );
            return Ok(());
        }
        "reference" => {
            let mut store = Store::open(&args.out)?;
            run_generation(
                &chosen,
                &mut ReferenceSampler::new(&chosen),
                &completion_cfg,
                &mut store,
            )?;
        }
        model if model.starts_with("model:") => {
            let path = &model["model:".len()..];
            let lm =
                nines::runtime::LanguageModel::load(path, nines::runtime::LoadOptions::default())
                    .with_context(|| format!("loading generator {path}"))?;
            let cfg = nines::runtime::GenerateConfig {
                top_p: 0.95,
                max_new_tokens: 48,
                stop_at_sentence_end: true,
                seed: args.seed,
                ..Default::default()
            };
            let mut store = Store::open(&args.out)?;
            run_generation(
                &chosen,
                &mut nines::sampler::LmSampler::new(&lm, cfg),
                &completion_cfg,
                &mut store,
            )?;
        }
        other => bail!("unknown --generator {other:?}: use none, reference or model:PATH"),
    }

    let mut store = Store::open(&args.out)?;
    let mut labeler: Box<dyn Labeler> = match args.labeler.as_str() {
        "none" => return Ok(()),
        "oracle" => Box::new(OracleLabeler::new()),
        t if t.starts_with("terminal:") => {
            Box::new(TerminalLabeler::stdio(&t["terminal:".len()..]))
        }
        other => bail!("unknown --labeler {other:?}: use oracle, terminal:NAME or none"),
    };
    if let Some(p) = args.noise {
        labeler = Box::new(NoisyLabeler::new(labeler, Noise::Symmetric(p), args.seed)?);
    }
    let name = labeler.name().to_string();
    run_labeling(&mut store, labeler.as_mut())?;
    // One line per record again (label updates were appended as new versions).
    store.compact()?;
    summarize(&store, &name);
    println!("store: {}", store.path().display());
    Ok(())
}
