//! `nines dataset`: build a labeled dataset — corpus → prompts (selected with recorded
//! inclusion probabilities) → completions → labels → a JSONL snippet store. Every step appends
//! to the store, so a run can be stopped and started again: re-importing the same snippets
//! changes nothing and labeling resumes with the unlabeled ones.

use std::path::{Path, PathBuf};

use clap::Args;
use indicatif::ProgressBar;
use nines::progress::bar;
use nines_data::Verdict;
use nines_data::complete::{
    CompletionConfig, CompletionSampler, ReferenceSampler, build_completions,
};
use nines_data::corpus::Corpus;
use nines_data::label::noise::{Noise, NoisyLabeler};
use nines_data::label::oracle::OracleLabeler;
use nines_data::label::terminal::TerminalLabeler;
use nines_data::label::{Labeler, RunOptions, label_store};
use nines_data::prompt::{PromptConfig, PromptStats, document_prompts};
use nines_data::select::{
    LexiconScorer, SelectedPrompt, SelectionConfig, Strategy, select, write_selected,
};
use nines_data::store::Store;
use nines_estimate::records::{FailureRecord, failure_rate};
use nines_runtime::{GenerateConfig, LanguageModel, LoadOptions};

/// What writes the completions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completions {
    /// None: write the selected prompts only.
    None,
    /// The book's own next sentence (one per prompt).
    Reference,
    /// One-sentence samples from a causal LM (Hugging Face folder or GGUF file).
    Model(PathBuf),
}

/// Who labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Labels {
    /// Nobody.
    None,
    /// The rule oracle.
    Oracle,
    /// A person at the terminal, under this name.
    Terminal(String),
}

fn parse_completions(s: &str) -> Result<Completions, String> {
    match s {
        "none" => Ok(Completions::None),
        "reference" => Ok(Completions::Reference),
        _ => s
            .strip_prefix("model:")
            .filter(|p| !p.is_empty())
            .map(|p| Completions::Model(PathBuf::from(p)))
            .ok_or_else(|| format!("`{s}` is not none, reference or model:PATH")),
    }
}

fn parse_labels(s: &str) -> Result<Labels, String> {
    match s {
        "none" => Ok(Labels::None),
        "oracle" => Ok(Labels::Oracle),
        _ => s
            .strip_prefix("terminal:")
            .filter(|n| !n.is_empty())
            .map(|n| Labels::Terminal(n.to_string()))
            .ok_or_else(|| format!("`{s}` is not oracle, terminal:NAME or none")),
    }
}

/// Flags of `nines dataset`.
#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// Corpus: a UTF-8 text file or a folder of them (default: the shipped corpus).
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Output store (JSONL); created if missing, appended to otherwise.
    #[arg(long, default_value = "runs/data/snippets.jsonl")]
    pub out: PathBuf,
    /// Sentences per prompt.
    #[arg(long, default_value_t = 3)]
    pub sentences: usize,
    /// Sentences between the starts of consecutive prompts (default: --sentences, so prompts
    /// do not overlap; 1 makes every sentence a completion of its preceding sentences).
    #[arg(long)]
    pub stride: Option<usize>,
    /// Longest prompt in characters.
    #[arg(long, default_value_t = 600)]
    pub max_chars: usize,
    /// Expected number of prompts to select.
    #[arg(long, default_value_t = 1000)]
    pub prompts: usize,
    /// Select uniformly instead of oversampling violent-sounding prompts.
    #[arg(long)]
    pub uniform: bool,
    /// Completions per prompt.
    #[arg(long, default_value_t = 4)]
    pub k: usize,
    /// Seed for splits, selection and sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Completions: `none` (write the selected prompts only), `reference` (the book's next
    /// sentence; needs --k 1) or `model:PATH` (one-sentence samples).
    #[arg(long, default_value = "none", value_parser = parse_completions)]
    pub generator: Completions,
    /// Labeler: `oracle`, `terminal:NAME` or `none`.
    #[arg(long, default_value = "oracle", value_parser = parse_labels)]
    pub labeler: Labels,
    /// Flip the labeler's verdicts with this probability (to study noisy labels).
    #[arg(long)]
    pub noise: Option<f64>,
}

/// Corpus → prompts → selection. Needs no model.
fn select_prompts(
    corpus_path: &Path,
    prompt_cfg: &PromptConfig,
    select_cfg: &SelectionConfig,
) -> Result<(Vec<SelectedPrompt>, PromptStats, usize), Box<dyn std::error::Error>> {
    prompt_cfg.validate()?;
    let corpus = Corpus::load(corpus_path)?;
    let mut stats = PromptStats::default();
    let mut prompts = Vec::new();
    for doc in corpus.documents() {
        prompts.extend(document_prompts(doc, prompt_cfg, &mut stats));
    }
    let chosen = select(&prompts, &LexiconScorer::default(), select_cfg)?;
    Ok((chosen, stats, prompts.len()))
}

/// Prompts → completions with `sampler` → store.
fn complete(
    prompts: &[SelectedPrompt],
    sampler: &mut dyn CompletionSampler,
    cfg: &CompletionConfig,
    store: &mut Store,
) -> Result<(), Box<dyn std::error::Error>> {
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

/// The labeler's verdicts, and its injury rate over the prompt population (weights
/// `1 / inclusion probability`, clustered by prompt), with a 95% interval.
fn summarize(store: &Store, labeler: &str) -> Result<(), Box<dyn std::error::Error>> {
    let counts = crate::label::verdict_counts(store, labeler);
    let records: Vec<FailureRecord> = store
        .iter()
        .filter_map(|s| {
            let label = s.label_by(labeler)?;
            (label.verdict != Verdict::Unsure).then(|| FailureRecord {
                prompt: s
                    .source
                    .as_ref()
                    .map_or_else(|| s.prompt.clone(), |src| src.prompt_key()),
                failure: label.verdict == Verdict::Injury,
                inclusion_probability: s.selection.as_ref().map_or(1.0, |x| x.probability),
            })
        })
        .collect();
    println!(
        "{labeler}: {} injury, {} no_injury, {} unsure of {} snippets",
        counts[0],
        counts[1],
        counts[2],
        store.len()
    );
    if !records.is_empty() {
        let r = failure_rate(&records, 0.95)?;
        let e = &r.rate.estimate;
        println!(
            "injury rate over the prompt population (1/π weights, clustered by prompt): {:.4} [{:.4}, {:.4}], Kish ESS {:.0}",
            e.value, e.ci.0, e.ci.1, r.rate.ess
        );
    }
    Ok(())
}

/// Runs `nines dataset`.
pub fn run(args: DatasetArgs) -> Result<(), Box<dyn std::error::Error>> {
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
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let completion_cfg = CompletionConfig {
        k: args.k,
        seed: args.seed,
        ..CompletionConfig::default()
    };
    match &args.generator {
        Completions::None => {
            let path = args.out.with_extension("prompts.jsonl");
            write_selected(&path, &chosen)?;
            println!(
                "wrote {} selected prompts to {}",
                chosen.len(),
                path.display()
            );
            return Ok(());
        }
        Completions::Reference => {
            let mut store = Store::open(&args.out)?;
            complete(
                &chosen,
                &mut ReferenceSampler::new(&chosen),
                &completion_cfg,
                &mut store,
            )?;
        }
        Completions::Model(path) => {
            let lm = LanguageModel::load(path, LoadOptions::default())?;
            let cfg = GenerateConfig {
                top_p: 0.95,
                max_new_tokens: 48,
                stop_at_sentence_end: true,
                seed: args.seed,
                ..Default::default()
            };
            let mut store = Store::open(&args.out)?;
            complete(
                &chosen,
                &mut nines::sampler::LmSampler::new(&lm, cfg),
                &completion_cfg,
                &mut store,
            )?;
        }
    }
    let mut labeler: Box<dyn Labeler> = match &args.labeler {
        Labels::None => return Ok(()),
        Labels::Oracle => Box::new(OracleLabeler::new()),
        Labels::Terminal(name) => Box::new(TerminalLabeler::stdio(name.as_str())),
    };
    if let Some(p) = args.noise {
        labeler = Box::new(NoisyLabeler::new(labeler, Noise::Symmetric(p), args.seed)?);
    }
    let mut store = Store::open(&args.out)?;
    let name = labeler.name().to_string();
    let pb = if labeler.is_interactive() {
        ProgressBar::hidden()
    } else {
        bar(store.len() as u64, "labels")
    };
    let report = label_store(
        &mut store,
        labeler.as_mut(),
        &RunOptions::default(),
        &mut |done, _| pb.set_position(done as u64),
    )?;
    pb.finish();
    println!(
        "labels by {name}: {} written, {} skipped{}",
        report.labeled,
        report.skipped,
        if report.quit {
            " (quit early; run again to resume)"
        } else {
            ""
        }
    );
    // One line per record again (label updates were appended as new versions).
    store.compact()?;
    summarize(&store, &name)?;
    println!("store: {}", store.path().display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<DatasetArgs, clap::Error> {
        crate::parse_flags(args)
    }

    #[test]
    fn typed_flags_parse_and_bad_ones_are_refused() {
        let a = parse(&[
            "--generator",
            "model:models/x.gguf",
            "--labeler",
            "terminal:ana",
        ])
        .unwrap();
        assert_eq!(
            a.generator,
            Completions::Model(PathBuf::from("models/x.gguf"))
        );
        assert_eq!(a.labeler, Labels::Terminal("ana".into()));
        for bad in [
            &["--generator", "model:"][..],
            &["--generator", "gpt"],
            &["--labeler", "terminal:"],
            &["--labeler", "crowd"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_books_sentences_are_labeled_and_summarized() {
        let dir = std::env::temp_dir().join(format!("nines-cli-dataset-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = dir.join("snippets.jsonl");
        let a = parse(&[
            "--generator",
            "reference",
            "--k",
            "1",
            "--prompts",
            "40",
            "--uniform",
            "--out",
            out.to_str().unwrap(),
        ])
        .unwrap();
        run(a).unwrap();
        let store = Store::open(&out).unwrap();
        assert!(store.len() >= 10, "{}", store.len());
        assert!(store.iter().all(|s| s.label_by("oracle").is_some()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
