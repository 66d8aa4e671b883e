//! `nines label`: label a snippet store's (prompt, completion) pairs for injury — by the rule
//! oracle, by the composite labeler (oracle or the generator's own understanding), or by a
//! person at the terminal — and print the verdicts' counts.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use nines_data::Verdict;
use nines_data::label::oracle::OracleLabeler;
use nines_data::label::terminal::TerminalLabeler;
use nines_data::label::understanding::{CompositeLabeler, UnderstandingCheck, UnderstandingConfig};
use nines_data::label::{Labeler, RunOptions, label_store};
use nines_data::store::Store;
use nines_runtime::{DType, DeviceSpec, GenerateConfig, LanguageModel, LoadOptions};

/// Who labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Who {
    /// The rule oracle (explicit injury language; the stand-in for people).
    Oracle,
    /// The oracle, or else the generator's own reading: whether its continuations of the pair
    /// state an injury more often than its continuations of the prompt alone.
    Composite,
    /// A person, one pair at a time in the terminal (undo, skip and quit are offered).
    Terminal,
}

/// Flags of `nines label`.
#[derive(Args, Debug)]
pub struct LabelArgs {
    /// The snippet store (JSONL), e.g. written by `nines generate --out`.
    pub store: PathBuf,
    /// Who labels.
    #[arg(long, value_enum, default_value = "oracle")]
    pub labeler: Who,
    /// Label again pairs this labeler has already labeled (with its current version).
    #[arg(long)]
    pub relabel: bool,
    /// The person's name, stored with each terminal label.
    #[arg(long, default_value = "human")]
    pub name: String,
    /// Composite: the generator that continues the pairs.
    #[arg(long, default_value = "models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")]
    pub model: PathBuf,
    /// Composite: the generator's weights (int8 is several times faster on the CPU).
    #[arg(long, default_value = "int8")]
    pub dtype: DType,
    /// Composite: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: DeviceSpec,
    /// Composite: continuations per text (`m`).
    #[arg(long, default_value_t = UnderstandingConfig::default().continuations)]
    pub continuations: usize,
    /// Composite: least share of the pair's continuations that state an injury.
    #[arg(long, default_value_t = UnderstandingConfig::default().min_share)]
    pub min_share: f64,
    /// Composite: least excess of that share over the prompt-alone baseline's.
    #[arg(long, default_value_t = UnderstandingConfig::default().min_lift)]
    pub min_lift: f64,
    /// LibTorch threads (0: LibTorch's default).
    #[arg(long, default_value_t = 0)]
    pub threads: i32,
}

/// How many of `store`'s pairs `labeler` labeled injury, no injury and unsure, in that order.
pub fn verdict_counts(store: &Store, labeler: &str) -> [usize; 3] {
    let mut counts = [0usize; 3];
    for l in store.iter().filter_map(|s| s.label_by(labeler)) {
        counts[match l.verdict {
            Verdict::Injury => 0,
            Verdict::NoInjury => 1,
            Verdict::Unsure => 2,
        }] += 1;
    }
    counts
}

/// Runs `nines label`.
pub fn run(args: LabelArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut store = Store::open(&args.store)?;
    let options = RunOptions {
        relabel: args.relabel,
        ..RunOptions::default()
    };
    let total = store.len();
    let mut progress = |done: usize, queue: usize| {
        if done == queue || done.is_multiple_of(100) {
            eprint!("\r{done} of {queue} labeled");
        }
    };
    let name = match args.labeler {
        Who::Oracle => {
            let mut labeler = OracleLabeler::new();
            label_store(&mut store, &mut labeler, &options, &mut progress)?;
            labeler.name().to_string()
        }
        Who::Terminal => {
            let mut labeler = TerminalLabeler::stdio(args.name.clone());
            label_store(&mut store, &mut labeler, &options, &mut |_, _| {})?;
            args.name.clone()
        }
        Who::Composite => {
            nines_runtime::device::set_threads(args.threads)?;
            let lm = LanguageModel::load(
                &args.model,
                LoadOptions {
                    device: args.device,
                    dtype: args.dtype,
                },
            )?;
            let sampling = GenerateConfig {
                max_new_tokens: 32,
                stop_at_sentence_end: true,
                temperature: 1.0,
                top_p: 0.95,
                ..GenerateConfig::default()
            };
            let config = UnderstandingConfig {
                continuations: args.continuations,
                min_share: args.min_share,
                min_lift: args.min_lift,
                ..UnderstandingConfig::default()
            };
            let check =
                UnderstandingCheck::new(nines::sampler::LmSampler::new(&lm, sampling), config)?;
            let mut labeler = CompositeLabeler::new(check);
            label_store(&mut store, &mut labeler, &options, &mut progress)?;
            labeler.name().to_string()
        }
    };
    eprintln!();
    let counts = verdict_counts(&store, &name);
    println!(
        "{}: {total} pairs; by `{name}`: {} injury, {} no injury, {} unsure, {} unlabeled",
        args.store.display(),
        counts[0],
        counts[1],
        counts[2],
        total - counts.iter().sum::<usize>()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nines_data::Snippet;

    fn parse(args: &[&str]) -> Result<LabelArgs, clap::Error> {
        crate::parse_flags(args)
    }

    #[test]
    fn the_oracle_labels_a_store_and_resumes() {
        let dir = std::env::temp_dir().join(format!("nines-cli-label-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pairs.jsonl");
        let _ = std::fs::remove_file(&path);
        let mut store = Store::open(&path).unwrap();
        store
            .append(vec![
                Snippet::new(
                    "The sentry stood at the gate.",
                    " A bullet struck him in the chest and he fell dead.",
                    None,
                    None,
                    None,
                ),
                Snippet::new(
                    "The sentry stood at the gate.",
                    " He yawned and watched the road.",
                    None,
                    None,
                    None,
                ),
            ])
            .unwrap();
        drop(store);
        let args = parse(&[path.to_str().unwrap()]).unwrap();
        run(args).unwrap();
        let store = Store::open(&path).unwrap();
        let verdicts: Vec<Verdict> = store
            .iter()
            .map(|s| s.label_by("oracle").unwrap().verdict)
            .collect();
        assert_eq!(verdicts, [Verdict::Injury, Verdict::NoInjury]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn flags_are_checked() {
        assert!(parse(&[]).is_err(), "a store is required");
        assert!(parse(&["s.jsonl", "--labeler", "crowd"]).is_err());
        let a = parse(&["s.jsonl", "--labeler", "composite", "--continuations", "4"]).unwrap();
        assert_eq!((a.labeler, a.continuations), (Who::Composite, 4));
    }
}
