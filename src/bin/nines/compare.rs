//! `nines compare`: a person judges a pipeline run's completions pairwise at the terminal —
//! the unfiltered completion against the filtered (or distilled) one, blind, in a seeded
//! order; `1`/`2` picks a side, `t` ties, `s` skips, `q` quits. Judgments are appended at once
//! to `RUN/judgments_<against>.jsonl`, and a later session resumes where this rater stopped.

use std::path::PathBuf;

use clap::Args;
use nines::compare::{Against, ComparisonSession, run_items};

/// Flags of `nines compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// A pipeline run folder (after its filter and distill stages).
    #[arg(long, default_value = "runs/default")]
    pub run_dir: PathBuf,
    /// The policy compared with the unfiltered one.
    #[arg(long, value_enum, default_value = "filtered")]
    pub against: Against,
    /// Your name (judgments are kept per rater).
    #[arg(long)]
    pub rater: String,
}

/// Runs `nines compare` on standard input and output.
pub fn run(args: CompareArgs) -> Result<(), Box<dyn std::error::Error>> {
    let items = run_items(&args.run_dir, args.against)?;
    let name = args.against.name();
    let path = args.run_dir.join(format!("judgments_{name}.jsonl"));
    let mut session = ComparisonSession::open(&path, &args.rater)?;
    let judged = session.run(&items, std::io::stdin().lock(), std::io::stdout())?;
    let mine: Vec<f64> = session
        .judgments()
        .iter()
        .filter(|j| j.rater == args.rater)
        .map(|j| j.candidate_score)
        .collect();
    eprintln!(
        "{judged} judged now, {} in all by {} → {}",
        mine.len(),
        args.rater,
        path.display()
    );
    if mine.len() >= 2 {
        let e = nines_estimate::win_rate::naive(&mine, 0.95)?;
        eprintln!(
            "your win rate of {name} vs unfiltered: {:.3} (95% CI {:.3}–{:.3}, n = {})",
            e.value, e.ci.0, e.ci.1, e.n
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<CompareArgs, clap::Error> {
        crate::parse_flags(args)
    }

    #[test]
    fn flags_are_checked() {
        assert!(parse(&[]).is_err(), "a rater is required");
        assert!(parse(&["--rater", "ana", "--against", "other"]).is_err());
        let a = parse(&["--rater", "ana", "--against", "distilled"]).unwrap();
        assert_eq!(a.against, Against::Distilled);
    }

    #[test]
    fn a_run_folder_without_stores_is_an_error_naming_the_file() {
        let a = parse(&["--rater", "ana", "--run-dir", "no/such/run"]).unwrap();
        let err = run(a).unwrap_err().to_string();
        assert!(err.contains("no/such/run"), "{err}");
    }
}
