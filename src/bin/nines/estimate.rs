//! `nines estimate`: failure and win rates, with intervals, from JSON-lines files of labels or
//! judgments gathered anywhere (`nines_estimate::records`).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use nines_estimate::records::{self, FailureRecord, JudgmentRecord};

/// Flags of `nines estimate`.
#[derive(Args, Debug)]
pub struct EstimateArgs {
    #[command(subcommand)]
    pub what: EstimateCommand,
    /// Two-sided confidence level of the intervals (the failure rate's upper bound is
    /// one-sided at this level).
    #[arg(long, default_value_t = 0.95, global = true)]
    pub level: f64,
    /// Print the estimate as JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// What to estimate.
#[derive(Subcommand, Debug)]
pub enum EstimateCommand {
    /// Failure rate over the prompt distribution, from one labeled completion per line:
    /// `{"prompt": "p17", "failure": false, "inclusion_probability": 0.02}`
    /// (`inclusion_probability` defaults to 1). Prints the rate with its interval, the
    /// one-sided upper bound, the nines it shows and the completions one more nine needs.
    FailureRate {
        /// The JSON-lines file.
        file: PathBuf,
    },
    /// Win rate of a policy against a baseline, from one compared pair per line:
    /// `{"prompt": "p17", "judgment": 1.0, "inclusion_probability": 0.02}`; `judgment` is 1
    /// when the policy's completion is preferred, 0 when the baseline's, ½ for a tie, and may
    /// be left out when `"unfiltered_accepted": true` (worth ½) or `"filtered_refused": true`
    /// (worth 0).
    WinRate {
        /// The JSON-lines file.
        file: PathBuf,
    },
    /// How many human comparisons a ±2% (95%) win-rate interval needs, naive against
    /// efficient, by the classifier's acceptance rate: table, Monte Carlo check and figure.
    LabelEfficiency {
        /// Write `DIR/label_efficiency.md` and `DIR/img/label_efficiency.svg` (default: print
        /// the table only).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Simulated experiments per Monte Carlo row.
        #[arg(long, default_value_t = 2000)]
        reps: usize,
    },
}

/// Runs `nines estimate`.
pub fn run(args: EstimateArgs) -> Result<(), Box<dyn std::error::Error>> {
    match &args.what {
        EstimateCommand::LabelEfficiency { out, reps } => {
            use nines_estimate::label_efficiency::{GRID, check_rows, markdown, plan_rows, svg};
            let md = markdown(&plan_rows(&GRID)?, &check_rows(*reps)?, *reps);
            print!("{md}");
            if let Some(dir) = out {
                let img = dir.join("img");
                std::fs::create_dir_all(&img).map_err(|e| format!("{}: {e}", img.display()))?;
                for (path, text) in [
                    (dir.join("label_efficiency.md"), md),
                    (img.join("label_efficiency.svg"), svg()?),
                ] {
                    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                    eprintln!("wrote {}", path.display());
                }
            }
        }
        EstimateCommand::FailureRate { file } => {
            let rows: Vec<FailureRecord> = records::read_jsonl(file)?;
            let r = records::failure_rate(&rows, args.level)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
                return Ok(());
            }
            let e = &r.rate.estimate;
            let pct = |x: f64| format!("{:.3}%", 100.0 * x);
            println!("completions        {} from {} prompts", e.n, r.rate.prompts);
            println!(
                "failure rate       {} [{}, {}] ({:.0}% interval)",
                pct(e.value),
                pct(e.ci.0),
                pct(e.ci.1),
                100.0 * args.level
            );
            println!(
                "upper bound        {} ({:.0}% one-sided, at effective size {:.1}; Kish ESS {:.1})",
                pct(r.upper),
                100.0 * args.level,
                r.rate.n_eff,
                r.rate.ess
            );
            println!(
                "per 10,000         {:.1} (at most {:.1})",
                r.nines.per_10k, r.nines.upper_per_10k
            );
            println!("nines shown        {:.2}", r.nines.nines);
            match r.nines.trials_for_next_nine {
                Some(n) => println!("one more nine      ~{n} completions at the observed rate"),
                None => println!("one more nine      not reachable at the observed rate"),
            }
        }
        EstimateCommand::WinRate { file } => {
            let rows: Vec<JudgmentRecord> = records::read_jsonl(file)?;
            let w = records::win_rate(&rows, args.level)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&w)?);
                return Ok(());
            }
            let e = &w.win_rate.estimate;
            println!(
                "pairs              {} from {} prompts ({} judged, {} worth ½ unjudged, {} refused)",
                w.win_rate.pairs,
                w.win_rate.prompts,
                w.win_rate.comparisons,
                w.win_rate.accepted,
                w.win_rate.refused
            );
            println!(
                "win rate           {:.3} [{:.3}, {:.3}] ({:.0}% interval)",
                e.value,
                e.ci.0,
                e.ci.1,
                100.0 * args.level
            );
            println!(
                "weights            Kish ESS {:.1}, largest weight's share {:.3}",
                w.diagnostics.ess, w.diagnostics.max_weight_share
            );
            for warning in &w.diagnostics.warnings {
                println!("warning            {warning:?}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<EstimateArgs, clap::Error> {
        crate::parse_flags(args)
    }

    fn file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nines-cli-estimate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn run_with(args: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
        run(parse(args)?)
    }

    #[test]
    fn reads_both_kinds_of_records() {
        let labels = file(
            "labels.jsonl",
            "{\"prompt\": \"a\", \"failure\": true, \"inclusion_probability\": 0.5}\n\
             {\"prompt\": \"b\", \"failure\": false, \"inclusion_probability\": 0.1}\n\
             {\"prompt\": \"c\", \"failure\": false}\n",
        );
        run_with(&["failure-rate", labels.to_str().unwrap()]).unwrap();
        run_with(&[
            "failure-rate",
            labels.to_str().unwrap(),
            "--json",
            "--level",
            "0.9",
        ])
        .unwrap();
        let pairs = file(
            "pairs.jsonl",
            "{\"prompt\": \"a\", \"judgment\": 1.0}\n{\"prompt\": \"b\", \"unfiltered_accepted\": true}\n",
        );
        run_with(&["win-rate", pairs.to_str().unwrap()]).unwrap();
    }

    #[test]
    fn bad_input_is_an_error_naming_the_line() {
        let bad = file(
            "bad.jsonl",
            "{\"prompt\": \"a\", \"failure\": true}\n{\"prompt\": 3}\n",
        );
        let err = run_with(&["failure-rate", bad.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.jsonl:2"), "{err}");
        let labels = file("l.jsonl", "{\"prompt\": \"a\", \"failure\": true}\n");
        assert!(run_with(&["failure-rate", labels.to_str().unwrap(), "--level", "1.5"]).is_err());
        assert!(run_with(&["rate-of-something", "x"]).is_err());
        assert!(run_with(&["label-efficiency", "--reps", "0"]).is_err());
    }
}
