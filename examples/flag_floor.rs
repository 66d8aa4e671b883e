//! Which held-out prompts does the classifier flag whatever follows them?
//!
//! The distiller's goal is a lower classifier-flagged rate, but the classifier reads the
//! prompt with the completion: after a prompt that itself describes an injury it may score
//! every continuation above its threshold. No policy can then avoid the flag on that prompt,
//! and the share of such prompts bounds the flagged rate of every policy from below.
//!
//! This reads the per-completion records of a distill evaluation (`RUN/eval_samples.jsonl`),
//! takes the prompts on which every sampled completion was flagged, and scores each against a
//! pool of candidate continuations: the `--pool` completions, over all prompts and policies,
//! that the classifier found safest on their own prompt. A prompt none of them passes on is
//! *locked* (for this pool). It prints each candidate prompt's lowest P(injury) and writes
//! `RUN/flag_floor.json`. `--policy distilled --prompts 46,51,91` asks the same of named
//! prompts, with one policy's completions as the pool: do continuations that policy writes
//! elsewhere pass after them?
//!
//! ```text
//! cargo run --release --example flag_floor -- --classifier runs/classifier-ref2 \
//!     --records runs/distill-done7/eval_samples.jsonl
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Parser;
use nines::classify::Classifier;
use nines::distill::EvalRecord;
use nines::runtime::DeviceSpec;

/// Find the prompts the classifier flags whatever the continuation.
#[derive(Parser, Debug)]
struct Args {
    /// Trained classifier folder (the distiller's reward model).
    #[arg(long)]
    classifier: PathBuf,
    /// Per-completion records of an evaluation (`eval_samples.jsonl`).
    #[arg(long)]
    records: PathBuf,
    /// Candidate continuations: this many of the records' distinct completions, those with the
    /// lowest P(injury) on their own prompt.
    #[arg(long, default_value_t = 500)]
    pool: usize,
    /// Use only the records of this policy (`original` or `distilled`), for the candidates and
    /// the pool.
    #[arg(long)]
    policy: Option<String>,
    /// Score these prompts (indices, comma-separated) instead of those flagged on every
    /// sampled completion.
    #[arg(long, value_delimiter = ',')]
    prompts: Vec<usize>,
    /// Where to write the report; default `flag_floor.json` beside the records.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Flag threshold; default: the classifier's.
    #[arg(long)]
    threshold: Option<f64>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.records)
        .with_context(|| format!("reading {}", args.records.display()))?;
    let mut records = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: EvalRecord = serde_json::from_str(line)
            .with_context(|| format!("{} line {}", args.records.display(), n + 1))?;
        if args.policy.as_ref().is_none_or(|p| *p == r.policy) {
            records.push(r);
        }
    }
    if records.is_empty() {
        bail!(
            "{}: no records{}",
            args.records.display(),
            args.policy
                .as_ref()
                .map_or(String::new(), |p| format!(" of policy `{p}`"))
        );
    }
    let classifier = Classifier::load(&args.classifier, args.device)
        .with_context(|| format!("loading {}", args.classifier.display()))?;
    let threshold = match (args.threshold, classifier.threshold()) {
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => bail!("the classifier has no threshold: pass --threshold"),
    };

    // Per prompt: its text and whether any record passed.
    let mut prompts: BTreeMap<usize, (&str, bool)> = BTreeMap::new();
    for r in &records {
        let e = prompts.entry(r.prompt_index).or_insert((&r.prompt, false));
        e.1 |= !r.flagged;
    }
    if let Some(i) = args.prompts.iter().find(|i| !prompts.contains_key(i)) {
        bail!(
            "--prompts: {}: no record of prompt {i}",
            args.records.display()
        );
    }
    let candidates: Vec<(usize, &str)> = prompts
        .iter()
        .filter(|(i, (_, passed))| {
            if args.prompts.is_empty() {
                !passed
            } else {
                args.prompts.contains(i)
            }
        })
        .map(|(&i, &(p, _))| (i, p))
        .collect();
    let mut pool: Vec<(&str, f32)> = records
        .iter()
        .map(|r| (r.completion.as_str(), r.p_injury))
        .collect();
    pool.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
    pool.dedup_by(|a, b| a.0 == b.0);
    pool.truncate(args.pool);
    println!(
        "{} prompts, {} {}; pool of {} continuations",
        prompts.len(),
        candidates.len(),
        if args.prompts.is_empty() {
            "with every sampled completion flagged"
        } else {
            "named by --prompts"
        },
        pool.len()
    );

    let original: Vec<&EvalRecord> = records.iter().filter(|r| r.policy == "original").collect();
    let original_flagged = (!original.is_empty())
        .then(|| original.iter().filter(|r| r.flagged).count() as f64 / original.len() as f64);
    let mut rows = Vec::new();
    let mut locked = 0usize;
    for &(i, prompt) in &candidates {
        let pairs: Vec<(&str, &str)> = pool.iter().map(|&(c, _)| (prompt, c)).collect();
        let p = classifier.score(&pairs)?;
        let passing = p.iter().filter(|&&p| f64::from(p) <= threshold).count();
        let (best, &lowest) = p
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .context("empty pool")?;
        if passing == 0 {
            locked += 1;
        }
        println!(
            "prompt {i:>4}: lowest P(injury) {lowest:.4} ({:?}), {passing} of {} pass",
            pool[best].0,
            pool.len()
        );
        rows.push(serde_json::json!({
            "prompt_index": i,
            "lowest_p_injury": lowest,
            "safest_continuation": pool[best].0,
            "passing": passing,
        }));
    }
    let n = prompts.len() as f64;
    let floor = locked as f64 / n;
    println!(
        "locked prompts: {locked} of {} → every policy that continues with these pool \
         continuations flags at least {floor:.4} of completions (prompts weighted equally)",
        prompts.len()
    );
    if let Some(orig) = original_flagged
        && locked > 0
    {
        println!(
            "original flagged {orig:.4}: the largest reduction consistent with this floor is {:.1}×",
            orig / floor
        );
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.records.with_file_name("flag_floor.json"));
    let report = serde_json::json!({
        "records": args.records,
        "policy": args.policy,
        "named_prompts": args.prompts,
        "threshold": threshold,
        "prompts": prompts.len(),
        "pool": pool.len(),
        "locked": locked,
        "floor": floor,
        "original_flagged": original_flagged,
        "candidates": rows,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("report: {}", out.display());
    Ok(())
}
