//! `nines`: the method from the command line.
//!
//! ```text
//! nines run                                   # the default run (what `make demo` does)
//! nines run --config my.toml --set distill.ppo.total_steps=48
//! nines run --from filter                     # redo the filter and every later stage
//! nines generate --prompt "The sentry stood at the gate." --n 4 --out pairs.jsonl
//! nines label pairs.jsonl                     # the rule oracle's verdicts
//! nines estimate failure-rate labels.jsonl    # a failure rate with its bound, in nines
//! nines attack run --seeds 10                 # the classifier's failures, found on purpose
//! ```
//!
//! Every subcommand is a thin layer over the crates' typed APIs; `nines <command> --help`
//! explains its flags.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod active;
mod attack;
mod compare;
mod dataset;
mod distill;
mod estimate;
mod eval;
mod filter;
mod finetune;
mod generate;
mod label;
mod run;
mod train_classifier;

/// Make a language model that almost never does the one thing it must not, and measure how
/// rarely it does.
#[derive(Parser, Debug)]
#[command(name = "nines", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the whole pipeline (prompts → classifier → filter and distilled policies →
    /// estimates → report), stage by stage, cached in a run folder.
    Run(run::RunArgs),
    /// Build a labeled dataset: corpus → prompts with inclusion probabilities → completions
    /// (the book's, or a model's) → labels → a JSONL snippet store.
    Dataset(dataset::DatasetArgs),
    /// Continue prompts with a causal LM (Hugging Face folder or GGUF); print the completions
    /// or append them to a snippet store.
    Generate(generate::GenerateArgs),
    /// Label a snippet store's pairs for injury: rule oracle, composite labeler, or a person.
    Label(label::LabelArgs),
    /// PPO-train the generator against the classifier, then compare it with the original on
    /// held-out prompts.
    Distill(distill::DistillArgs),
    /// Fine-tune a causal LM on the corpus's training chapters; validation perplexity before
    /// and after; export a Hugging Face folder.
    Finetune(finetune::FinetuneArgs),
    /// Train an injury classifier on a labeled snippet store; threshold for a target FNR on
    /// validation, figures on test; optional hyperparameter search or label noise.
    TrainClassifier(train_classifier::TrainClassifierArgs),
    /// Rejection sampling: continue prompts until the classifier accepts a completion; every
    /// candidate with its score on request.
    Filter(filter::FilterArgs),
    /// Active learning: score a pool, compare strategies on it, run the select → label →
    /// retrain loop.
    Active(active::ActiveArgs),
    /// Judge a run's completions pairwise at the terminal, blind: unfiltered against filtered
    /// or distilled; judgments kept per rater, resumable.
    Compare(compare::CompareArgs),
    /// The stand-ins against hand-written data (oracle, understanding check, judges), the
    /// label-noise study and the flag floor: the checks behind the figures in docs/.
    Eval(eval::EvalArgs),
    /// The web server where people label pairs and compare completions (SQLite or
    /// PostgreSQL); see docs/web.md.
    Serve(nines_web::ServeArgs),
    /// Find the classifier's failures on purpose (saliency, token substitution, paraphrase,
    /// prompt search) and train them away; success per 1,000 queries before and after.
    Attack(attack::AttackArgs),
    /// Failure or win rate, with intervals, from JSON-lines files of labels or judgments
    /// with inclusion probabilities (data from the pipeline or from anywhere else).
    Estimate(estimate::EstimateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Dataset(args) => dataset::run(args),
        Command::Active(args) => active::run(args),
        Command::Attack(args) => attack::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Filter(args) => filter::run(args),
        Command::TrainClassifier(args) => train_classifier::run(args),
        Command::Finetune(args) => finetune::run(args),
        Command::Distill(args) => distill::run(args),
        Command::Estimate(args) => estimate::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Serve(args) => nines_web::serve_blocking(args).map_err(Into::into),
        Command::Generate(args) => generate::run(args),
        Command::Label(args) => label::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nines: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Test helper: one subcommand's flags parsed from `args` (without the program name).
#[cfg(test)]
fn parse_flags<T: clap::Args>(args: &[&str]) -> Result<T, clap::Error> {
    #[derive(Parser)]
    struct Flags<T: clap::Args> {
        #[command(flatten)]
        inner: T,
    }
    Flags::<T>::try_parse_from(std::iter::once("nines").chain(args.iter().copied()))
        .map(|f| f.inner)
}
