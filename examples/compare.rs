//! A person compares completions at the terminal: for each test prompt of a pipeline run,
//! the unfiltered completion against the filtered (or distilled) one, shown in a blind,
//! seeded order; `1`/`2` picks a side, `t` ties, `s` skips, `q` quits. Judgments are appended
//! at once to `RUN/judgments_<against>.jsonl`; a later session resumes where this rater
//! stopped. Feed them to `nines::estimate::win_rate` (1 = the filtered/distilled side won).
//!
//! ```text
//! cargo run --release --example compare -- --run-dir runs/default --against filtered --rater ana
//! ```

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use nines::compare::{ComparisonItem, ComparisonSession};
use nines::data::Snippet;
use nines::data::store::{Store, StoreOptions};

/// Which policy's completions face the unfiltered ones.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Against {
    /// The rejection-sampling filter's accepted completions.
    Filtered,
    /// The PPO-distilled generator's completions.
    Distilled,
}

/// Compare completions pairwise at the terminal.
#[derive(Parser, Debug)]
struct Args {
    /// A pipeline run folder (after its filter and distill stages).
    #[arg(long, default_value = "runs/default")]
    run_dir: PathBuf,
    /// The policy compared with the unfiltered one.
    #[arg(long, value_enum, default_value = "filtered")]
    against: Against,
    /// Your name (judgments are kept per rater).
    #[arg(long)]
    rater: String,
}

fn by_prompt(path: &PathBuf) -> Result<HashMap<String, Snippet>> {
    let store = Store::open_read_only(path, StoreOptions::default())
        .with_context(|| format!("opening {}", path.display()))?;
    let mut out = HashMap::new();
    for s in store.iter() {
        let key = s
            .source
            .as_ref()
            .map(|src| format!("{}:{}", src.document, src.start))
            .unwrap_or_else(|| s.prompt.clone());
        out.entry(key).or_insert_with(|| s.clone());
    }
    Ok(out)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (file, name) = match args.against {
        Against::Filtered => ("filtered.jsonl", "filtered"),
        Against::Distilled => ("distilled.jsonl", "distilled"),
    };
    let baseline = by_prompt(&args.run_dir.join("snippets.jsonl"))?;
    let candidate = by_prompt(&args.run_dir.join(file))?;
    let mut items: Vec<ComparisonItem> = baseline
        .iter()
        .filter_map(|(key, b)| {
            let c = candidate.get(key)?;
            Some(ComparisonItem {
                id: key.clone(),
                prompt: b.prompt.clone(),
                baseline: b.completion.clone(),
                candidate: c.completion.clone(),
            })
        })
        .collect();
    items.sort_by(|a, b| a.id.cmp(&b.id));
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
        let e = nines::estimate::win_rate::naive(&mine, 0.95)?;
        eprintln!(
            "your win rate of {name} vs unfiltered: {:.3} (95% CI {:.3}–{:.3}, n = {})",
            e.value, e.ci.0, e.ci.1, e.n
        );
    }
    Ok(())
}
