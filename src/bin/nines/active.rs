//! `nines active`: which pairs to label so that each label finds classifier misses.
//!
//! ```text
//! # 1. Score one split of a labeled store with a saved classifier into a pool file
//! #    (and <out>.meta.json); unsure pairs are left out.
//! nines active score --store runs/default/dataset.jsonl --split test \
//!     --classifier runs/default/classifier-<fp> --out runs/active/pool_test.jsonl
//! # 2. Misses found per label for every strategy against random: exact expectations at
//! #    several budgets plus seeded draws; a Markdown table and SVG curves.
//! nines active study --pool runs/active/pool_test.jsonl --budgets 50,100,200
//! nines active study                # the same on a calibrated synthetic pool
//! # 3. The loop: select → oracle labels → retrain → re-score, resumable.
//! nines active loop --pool runs/active/pool.jsonl --classifier runs/classifier
//! ```

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use nines::active::acquisition::StrategyName;
use nines::active::budget_study::{
    BudgetStudy, BudgetStudyConfig, budget_markdown, curve_svg, run_budget_study,
};
use nines::active::driver::DriverConfig;
use nines::active::study::{
    StudyConfig, StudyRow, SyntheticConfig, markdown_table, run_study, svg_plot, synthetic,
};
use nines::active::{Design, Pool, SelectorConfig};
use nines::active_learning::{
    ChapterHalf, LabeledPool, LoopRequest, ScoreRequest, read_labeled_pool, run_loop, score_store,
};
use nines::data::split::Split;
use nines::runtime::DeviceSpec;

/// Flags of `nines active`.
#[derive(Args, Debug)]
pub struct ActiveArgs {
    #[command(subcommand)]
    command: ActiveCommand,
}

#[derive(Subcommand, Debug)]
enum ActiveCommand {
    /// Score one split of a labeled snippet store with a saved classifier into a pool file.
    Score(ScoreArgs),
    /// Misses found per label by every strategy against random, on a scored pool or a
    /// calibrated synthetic one.
    Study(StudyArgs),
    /// The active-learning loop with a saved classifier and the rule oracle as labeler.
    Loop(LoopArgs),
    /// Misses found per 100 labels at one budget, by simulation on the calibrated synthetic
    /// pool: every strategy against random, and the Horvitz–Thompson estimate of the pool's
    /// misses beside the true count.
    Simulate(SimulateArgs),
}

/// Flags of `nines active simulate`.
#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Sampling design: poisson, systematic, diverse or topk.
    #[arg(long, default_value = "systematic")]
    design: Design,
    /// Labels per draw.
    #[arg(long, default_value_t = 200)]
    budget: usize,
    /// Seeded draws per strategy.
    #[arg(long, default_value_t = 200)]
    reps: usize,
    /// Filter threshold.
    #[arg(long, default_value_t = 0.05)]
    threshold: f64,
    /// Bar chart to write (SVG).
    #[arg(long)]
    svg: Option<PathBuf>,
}

/// Which split of the store to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitArg {
    /// Training chapters.
    Train,
    /// Validation chapters.
    Validation,
    /// Test chapters.
    Test,
    /// Every pair.
    All,
}

impl SplitArg {
    fn split(self) -> Option<Split> {
        match self {
            SplitArg::Train => Some(Split::Train),
            SplitArg::Validation => Some(Split::Validation),
            SplitArg::Test => Some(Split::Test),
            SplitArg::All => None,
        }
    }
}

/// Flags of `nines active score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Snippet store (JSONL) with oracle labels; pairs without one are judged by the oracle.
    #[arg(long)]
    store: PathBuf,
    /// The split to score.
    #[arg(long, value_enum, default_value = "test")]
    split: SplitArg,
    /// Saved classifier folder (weights, tokenizer, temperature, threshold).
    #[arg(long)]
    classifier: PathBuf,
    /// Pool file to write (and `<out>.meta.json` beside it).
    #[arg(long, default_value = "runs/active/pool_test.jsonl")]
    out: PathBuf,
    /// Pairs per forward pass.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Where the classifier runs: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
    /// Keep only this half (0 or 1) of the split's chapters; the pipeline trains its
    /// classifier on half 0 of the training chapters and keeps half 1 as its pool.
    #[arg(long)]
    half: Option<u8>,
    /// Seed of the half cut (the pipeline's `seed`).
    #[arg(long, default_value_t = 7)]
    half_seed: u64,
}

/// Flags of `nines active study`.
#[derive(Args, Debug)]
pub struct StudyArgs {
    /// Scored pool file; without it, a calibrated synthetic pool. Truth: each line's
    /// `verdict`, else the oracle's judgment (unsure pairs left out).
    #[arg(long)]
    pool: Option<PathBuf>,
    /// Filter threshold (accept iff score ≤ threshold). Default: the one in
    /// `<pool>.meta.json`, or 0.05 for the synthetic pool.
    #[arg(long)]
    threshold: Option<f64>,
    /// Further thresholds to report too, each marked as not the saved one.
    #[arg(long, value_delimiter = ',')]
    also_thresholds: Vec<f64>,
    /// Label budgets (expected labels per draw).
    #[arg(long, value_delimiter = ',', default_value = "50,100,200")]
    budgets: Vec<usize>,
    /// Seeded draws per strategy and budget.
    #[arg(long, default_value_t = 1000)]
    reps: usize,
    /// Sampling design: poisson, systematic or diverse (top-k has no probabilities to take
    /// expectations over).
    #[arg(long, default_value = "systematic")]
    design: Design,
    /// Uniform share λ of the weights.
    #[arg(long, default_value_t = 0.05)]
    uniform_mix: f64,
    /// Markdown table to write.
    #[arg(long, default_value = "runs/active/study.md")]
    table: PathBuf,
    /// SVG of expected misses found against labels spent (at the first threshold); further
    /// thresholds and bar charts get files beside it.
    #[arg(long, default_value = "runs/active/study.svg")]
    svg: PathBuf,
    /// Largest budget on the curve (default: twice the largest budget).
    #[arg(long)]
    plot_max: Option<usize>,
}

/// Flags of `nines active loop`.
#[derive(Args, Debug)]
pub struct LoopArgs {
    /// Scored pool file (its scores are ignored: the classifier re-scores it).
    #[arg(long)]
    pool: PathBuf,
    /// Saved classifier folder with a threshold.
    #[arg(long)]
    classifier: PathBuf,
    /// Total labels.
    #[arg(long, default_value_t = 500)]
    budget: usize,
    /// Labels per round.
    #[arg(long, default_value_t = 100)]
    per_round: usize,
    /// Stop after this many rounds (0: when the budget runs out).
    #[arg(long, default_value_t = 0)]
    rounds: usize,
    /// Acquisition strategy: boundary, least_confidence, margin, entropy, vote_entropy,
    /// score_std, max_kl, many_rejections or random.
    #[arg(long, default_value = "boundary")]
    strategy: StrategyName,
    /// Epochs per retraining.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Output folder: state.json (resumable) and metrics.jsonl.
    #[arg(long, default_value = "runs/active/loop")]
    out: PathBuf,
    /// Where the classifier runs: auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: DeviceSpec,
}

/// Runs `nines active`.
pub fn run(args: ActiveArgs) -> Result<(), Box<dyn std::error::Error>> {
    match args.command {
        ActiveCommand::Score(a) => score(a),
        ActiveCommand::Study(a) => study(a),
        ActiveCommand::Loop(a) => run_active_loop(a),
        ActiveCommand::Simulate(a) => simulate(a),
    }
}

fn simulate(a: SimulateArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (pool, truth) = synthetic(&SyntheticConfig::default())?;
    let cfg = StudyConfig {
        reps: a.reps,
        budget: a.budget,
        threshold: a.threshold,
        design: a.design,
        ..StudyConfig::default()
    };
    let rows = run_study(&pool, &truth, &cfg)?;
    println!(
        "Synthetic calibrated pool of {} pairs, threshold {}, {} labels per draw, {} draws, \
         design {}.\n",
        pool.len(),
        cfg.threshold,
        cfg.budget,
        cfg.reps,
        a.design
    );
    println!("{}", markdown_table(&rows));
    if let Some(path) = &a.svg {
        let title = format!(
            "Misses found per 100 labels (synthetic, {}, {} labels)",
            a.design, cfg.budget
        );
        write(path, &svg_plot(&rows, &title))?;
    }
    Ok(())
}

fn score(a: ScoreArgs) -> Result<(), Box<dyn std::error::Error>> {
    let req = ScoreRequest {
        store: a.store,
        split: a.split.split(),
        half: a.half.map(|half| ChapterHalf {
            half,
            seed: a.half_seed,
        }),
        classifier: a.classifier,
        batch: a.batch,
        device: a.device,
    };
    let bar = nines::progress::bar(0, "scoring");
    let pool = score_store(&req, |done, n| {
        bar.set_length(n as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    pool.write(&a.out)?;
    let m = &pool.meta;
    eprintln!(
        "{} pairs of {} scored ({} injuries, {} unsure left out), threshold {:?}: wrote {}",
        m.pairs,
        m.split,
        m.injuries,
        m.unsure_left_out,
        m.threshold,
        a.out.display()
    );
    Ok(())
}

fn study(a: StudyArgs) -> Result<(), Box<dyn std::error::Error>> {
    let (pool, truth, source, threshold) = match &a.pool {
        Some(p) => {
            let LabeledPool {
                pool,
                truth,
                unsure,
                meta,
            } = read_labeled_pool(p)?;
            let threshold = a
                .threshold
                .or(meta.as_ref().and_then(|m| m.threshold))
                .ok_or_else(|| format!("no --threshold and none in {p:?}.meta.json"))?;
            let source = match &meta {
                Some(m) => format!(
                    "`{}` ({} of `{}`, scored by `{}`; {} unsure pairs left out when \
                     scoring, {unsure} here)",
                    p.display(),
                    m.split,
                    m.store.display(),
                    m.classifier.display(),
                    m.unsure_left_out
                ),
                None => format!("`{}` ({unsure} unsure pairs left out)", p.display()),
            };
            (pool, truth, source, threshold)
        }
        None => {
            let (pool, truth) = synthetic(&SyntheticConfig::default())?;
            let source = format!("synthetic calibrated pool ({} pairs)", pool.len());
            (pool, truth, source, a.threshold.unwrap_or(0.05))
        }
    };
    let cfg = BudgetStudyConfig {
        budgets: a.budgets.clone(),
        curve_max: a.plot_max.unwrap_or(0),
        reps: a.reps,
        design: a.design,
        uniform_mix: a.uniform_mix,
    };
    let mut md = format!(
        "Pool: {source}. {} pairs, {} injuries. Design {}, uniform share {}; budgets {:?}.\n\n",
        pool.len(),
        truth.iter().filter(|&&t| t).count(),
        a.design,
        a.uniform_mix,
        a.budgets
    );
    let saved = if a.pool.is_some() {
        "Saved classifier threshold"
    } else {
        "Threshold"
    };
    let thresholds = std::iter::once((threshold, saved)).chain(
        a.also_thresholds
            .iter()
            .map(|&t| (t, "Comparison only (not the saved threshold):")),
    );
    for (k, (t, label)) in thresholds.enumerate() {
        let study = run_budget_study(&pool, &truth, t, &cfg)?;
        if study.misses == 0 {
            md.push_str(&format!(
                "**{label} t = {t:.6}.** {} of {} pairs accepted; none of the {} injuries is \
                 accepted: no misses, nothing for any strategy to find.\n\n",
                study.accepted, study.pool_len, study.injuries
            ));
            continue;
        }
        md.push_str(&budget_markdown(&study, label, a.reps));
        md.push('\n');
        write_figures(&a, &study, k, &pool)?;
    }
    println!("{md}");
    write(&a.table, &md)
}

/// The curve SVG, the bar chart at the middle budget, and the study as JSON, for the `k`-th
/// threshold.
fn write_figures(
    a: &StudyArgs,
    study: &BudgetStudy,
    k: usize,
    pool: &Pool,
) -> Result<(), Box<dyn std::error::Error>> {
    let note = if k == 0 { "" } else { ", comparison only" };
    let t = study.threshold;
    let suffixed = |path: &Path, suffix: &str| {
        path.with_file_name(format!(
            "{}{suffix}.{}",
            path.file_stem().unwrap_or_default().to_string_lossy(),
            path.extension().unwrap_or_default().to_string_lossy()
        ))
    };
    let svg = if k == 0 {
        a.svg.clone()
    } else {
        suffixed(&a.svg, &format!("_t{k}"))
    };
    let title = format!(
        "Expected misses found vs labels ({} pairs, {} misses, t = {t:.4}{note})",
        pool.len(),
        study.misses
    );
    write(&svg, &curve_svg(&study.curves, study.misses, &title)?)?;
    write(
        &a.table.with_extension(format!("t{k}.json")),
        &serde_json::to_string_pretty(study)?,
    )?;
    let mid = a.budgets.len() / 2;
    let random_rate = 100.0 * study.misses as f64 / pool.len() as f64;
    let rows: Vec<StudyRow> = study
        .curves
        .iter()
        .filter(|c| c.skipped.is_none())
        .map(|c| {
            let cell = &c.cells[mid];
            StudyRow {
                strategy: c.name.clone(),
                labels: cell.exp_labels,
                misses_per_100: cell.per_100(),
                misses_per_100_se: f64::NAN,
                ratio_vs_random: cell.per_100() / random_rate,
                pool_misses_per_100: random_rate,
                ht_misses: Some(cell.ht_mean),
                ht_misses_se: None,
                true_misses: study.misses,
                skipped: None,
            }
        })
        .collect();
    let title = format!(
        "Expected misses per 100 labels, {} labels (t = {t:.4}{note})",
        a.budgets[mid]
    );
    write(&suffixed(&svg, "_bars"), &svg_plot(&rows, &title))
}

fn run_active_loop(a: LoopArgs) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let req = LoopRequest {
        pool: a.pool,
        classifier: a.classifier,
        epochs: a.epochs,
        device: a.device,
        driver: DriverConfig {
            budget: a.budget,
            per_round: a.per_round,
            rounds: a.rounds,
            strategy: a.strategy,
            selector: SelectorConfig::default(),
            state: Some(a.out.join("state.json")),
            metrics: Some(a.out.join("metrics.jsonl")),
            ..DriverConfig::default()
        },
    };
    let summary = run_loop(&req)?;
    eprintln!(
        "{} rounds run{}; {} labels in all; metrics in {}",
        summary.rounds_run,
        if summary.resumed { " (resumed)" } else { "" },
        summary.state.labels.len(),
        a.out.join("metrics.jsonl").display()
    );
    for m in &summary.state.metrics {
        println!("{}", serde_json::to_string(m)?);
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_flags;

    #[test]
    fn strategies_designs_and_splits_parse_into_their_types() {
        let a: ActiveArgs = parse_flags(&[
            "loop",
            "--pool",
            "p.jsonl",
            "--classifier",
            "c",
            "--strategy",
            "max_kl",
        ])
        .unwrap();
        match a.command {
            ActiveCommand::Loop(l) => assert_eq!(l.strategy, StrategyName::MaxKl),
            other => panic!("parsed as {other:?}"),
        }
        assert!(
            parse_flags::<ActiveArgs>(&[
                "loop",
                "--pool",
                "p",
                "--classifier",
                "c",
                "--strategy",
                "psychic"
            ])
            .is_err()
        );
        let a: ActiveArgs =
            parse_flags(&["study", "--design", "poisson", "--budgets", "10,20"]).unwrap();
        match a.command {
            ActiveCommand::Study(s) => {
                assert_eq!(s.design, Design::Poisson);
                assert_eq!(s.budgets, vec![10, 20]);
            }
            other => panic!("parsed as {other:?}"),
        }
        assert!(parse_flags::<ActiveArgs>(&["study", "--design", "greedy"]).is_err());
        assert!(
            parse_flags::<ActiveArgs>(&[
                "score",
                "--store",
                "s",
                "--classifier",
                "c",
                "--split",
                "dev"
            ])
            .is_err()
        );
        assert!(parse_flags::<ActiveArgs>(&["score", "--store", "s"]).is_err());
    }

    #[test]
    fn a_study_on_the_synthetic_pool_writes_its_table_and_figures() {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("study.md");
        let svg = dir.path().join("study.svg");
        let (t, s) = (table.to_str().unwrap(), svg.to_str().unwrap());
        let a: ActiveArgs = parse_flags(&[
            "study",
            "--budgets",
            "20,40",
            "--reps",
            "3",
            "--table",
            t,
            "--svg",
            s,
        ])
        .unwrap();
        run(a).unwrap();
        let md = std::fs::read_to_string(&table).unwrap();
        assert!(md.contains("| boundary |"), "{md}");
        assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
        assert!(dir.path().join("study_bars.svg").exists());
        assert!(dir.path().join("study.t0.json").exists());
    }
}
