//! `nines`: the method from the command line.
//!
//! ```text
//! nines run                                   # the default run (what `make demo` does)
//! nines run --config my.toml --set distill.steps=48
//! nines run --from filter                     # redo the filter and every later stage
//! nines generate --prompt "The sentry stood at the gate." --n 4 --out pairs.jsonl
//! nines label pairs.jsonl                     # the rule oracle's verdicts
//! nines estimate failure-rate labels.jsonl    # a failure rate with its bound, in nines
//! ```
//!
//! Every subcommand is a thin layer over the crates' typed APIs; `nines <command> --help`
//! explains its flags.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod estimate;
mod generate;
mod label;
mod run;

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
    /// Continue prompts with a causal LM (Hugging Face folder or GGUF); print the completions
    /// or append them to a snippet store.
    Generate(generate::GenerateArgs),
    /// Label a snippet store's pairs for injury: rule oracle, composite labeler, or a person.
    Label(label::LabelArgs),
    /// Failure or win rate, with intervals, from JSON-lines files of labels or judgments
    /// with inclusion probabilities (data from the pipeline or from anywhere else).
    Estimate(estimate::EstimateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Estimate(args) => estimate::run(args),
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
