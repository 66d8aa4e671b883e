//! Active learning: which pairs to label so that each label finds classifier misses.
//!
//! A pair is accepted iff `score <= threshold`; a *miss* is an injury the filter accepts.
//!
//! ```text
//! # 1. Score a split of a labeled nines-data store once with a saved classifier; writes a
//! #    scored pool file (docs/active.md format, plus each pair's oracle `verdict`) and
//! #    <out>.meta.json (threshold, counts). Unsure pairs are left out.
//! cargo run --release --example active_learning -- score --store runs/data/reference_s1.jsonl \
//!     --split test --classifier runs/classifier-ref --out runs/active/pool_test.jsonl
//! # 2. Misses found per 100 labels for every strategy vs random: exact expectations
//! #    (Σ π over the misses) at several budgets plus seeded draws; Markdown table and SVG.
//! cargo run --release --example active_learning -- study --pool runs/active/pool_test.jsonl \
//!     --budgets 50,100,200 --svg docs/img/active_real.svg
//! #    The same on the calibrated synthetic pool (no --pool), threshold 0.05 by default.
//! cargo run --release --example active_learning -- study
//! # 3. The loop: select → oracle labels → retrain → re-score, with a saved classifier.
//! cargo run --release --example active_learning -- loop --pool runs/active/pool.jsonl \
//!     --classifier runs/classifier --budget 500 --per-round 100 --out runs/active/loop
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use nines::active::acquisition::{Acquisition, Boundary, by_name};
use nines::active::driver::{self, DriverConfig, LabeledPair, Pair, PoolModel, Retrainer};
use nines::active::study::{StudyRow, SyntheticConfig, svg_plot, synthetic};
use nines::active::{ActiveError, Design, Pool, PoolItem, SelectorConfig, select};
use nines::classify::{Classifier, Example, TrainConfig, Trainer};
use nines::data::PairScorer;
use nines::data::label::oracle::OracleLabeler;
use nines::data::split::chapter_half;
use nines::data::store::StoreOptions;
use nines::data::{Store, Verdict};
use nines::runtime::DeviceSpec;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Parser, Debug)]
#[command(about = "Active learning: score a pool, study strategies, run the loop")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

/// `score`: which pairs to score, with what, and where the pool goes.
#[derive(clap::Args, Debug)]
struct ScoreArgs {
    /// nines-data store (JSONL) with oracle labels.
    #[arg(long, default_value = "runs/data/reference_s1.jsonl")]
    store: PathBuf,
    /// `train`, `validation`, `test` or `all`.
    #[arg(long, default_value = "test")]
    split: String,
    /// Saved classifier folder.
    #[arg(long)]
    classifier: PathBuf,
    /// Scored pool file to write (and `<out>.meta.json`).
    #[arg(long, default_value = "runs/active/pool_test.jsonl")]
    out: PathBuf,
    /// Pairs per forward pass.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// `auto`, `cpu`, `cuda`.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Keep only the chapters of this half (0 or 1) of the split, as cut by
    /// `nines_data::split::chapter_half`; the pipeline trains its classifier on half 0 of the
    /// training chapters and keeps half 1 as its active-learning pool.
    #[arg(long)]
    half: Option<u8>,
    /// Seed of the half cut (the pipeline's `seed`, default 7).
    #[arg(long, default_value_t = 7)]
    half_seed: u64,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Scores one split of a labeled store with a saved classifier into a scored pool file.
    Score(ScoreArgs),
    /// Misses found per 100 labels for every strategy vs random.
    Study {
        /// Scored pool file; without it, a calibrated synthetic pool. Truth: each line's
        /// `verdict` if present, else the oracle's judgment (unsure pairs left out).
        #[arg(long)]
        pool: Option<PathBuf>,
        /// Filter threshold (accept iff score <= threshold). Default: the `threshold` of
        /// `<pool>.meta.json`, or 0.05 for the synthetic pool.
        #[arg(long)]
        threshold: Option<f64>,
        /// Further thresholds to report as well, each clearly labeled as not the saved one.
        #[arg(long, value_delimiter = ',')]
        also_thresholds: Vec<f64>,
        /// Label budgets (expected labels per draw).
        #[arg(long, value_delimiter = ',', default_value = "50,100,200")]
        budgets: Vec<usize>,
        /// Seeded draws per strategy and budget.
        #[arg(long, default_value_t = 1000)]
        reps: usize,
        /// `poisson`, `systematic` or `diverse` (top-k has no probabilities to take
        /// expectations over).
        #[arg(long, default_value = "systematic")]
        design: String,
        /// Uniform share λ of the weights.
        #[arg(long, default_value_t = 0.05)]
        uniform_mix: f64,
        /// Markdown table output.
        #[arg(long, default_value = "runs/active/study.md")]
        table: PathBuf,
        /// SVG plot output (expected misses found against labels spent; saved threshold).
        #[arg(long, default_value = "runs/active/study.svg")]
        svg: PathBuf,
        /// Largest budget on the plot's curve (default: twice the largest budget).
        #[arg(long)]
        plot_max: Option<usize>,
    },
    /// The active-learning loop with a saved classifier and the oracle as labeler.
    Loop {
        /// Scored pool file (its scores are ignored: the classifier re-scores it).
        #[arg(long)]
        pool: PathBuf,
        /// Saved classifier folder (weights, tokenizer, temperature, threshold).
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
        /// Strategy name.
        #[arg(long, default_value = "boundary")]
        strategy: String,
        /// Epochs per retraining.
        #[arg(long, default_value_t = 1)]
        epochs: usize,
        /// Output folder: state.json, metrics.jsonl.
        #[arg(long, default_value = "runs/active/loop")]
        out: PathBuf,
        /// `auto`, `cpu`, `cuda`.
        #[arg(long, default_value = "auto")]
        device: String,
    },
}

fn design(s: &str) -> Result<Design> {
    Ok(match s {
        "poisson" => Design::Poisson,
        "systematic" => Design::Systematic,
        "diverse" => Design::Diverse,
        "topk" => Design::TopK,
        _ => bail!("--design: `{s}` is not poisson, systematic, diverse or topk"),
    })
}

fn device(s: &str) -> Result<DeviceSpec> {
    Ok(match s {
        "auto" => DeviceSpec::Auto,
        "cpu" => DeviceSpec::Cpu,
        "cuda" => DeviceSpec::Cuda(0),
        _ => bail!("--device: `{s}` is not auto, cpu or cuda"),
    })
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// score

/// One line of the scored pool file: the docs/active.md format plus the oracle verdict.
#[derive(Debug, Serialize, Deserialize)]
struct PoolLine {
    id: String,
    prompt: String,
    completion: String,
    score: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    verdict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    split: Option<String>,
}

/// `<pool>.meta.json`: how a scored pool file was made.
#[derive(Debug, Serialize, Deserialize)]
struct PoolMeta {
    store: String,
    split: String,
    classifier: String,
    /// The classifier's saved threshold (accept iff score <= threshold).
    threshold: Option<f64>,
    pairs: usize,
    injuries: usize,
    unsure_left_out: usize,
    unlabeled_judged: usize,
    seconds: f64,
}

fn meta_path(pool: &Path) -> PathBuf {
    let mut s = pool.as_os_str().to_owned();
    s.push(".meta.json");
    PathBuf::from(s)
}

fn score_cmd(args: &ScoreArgs) -> Result<()> {
    let ScoreArgs {
        store,
        split,
        classifier,
        out,
        batch,
        device: dev,
        half,
        half_seed,
    } = args;
    let (store, split, classifier, out, batch) = (
        store.as_path(),
        split.as_str(),
        classifier.as_path(),
        out.as_path(),
        *batch,
    );
    if batch == 0 {
        bail!("--batch must be positive");
    }
    if half.is_some_and(|h| h > 1) {
        bail!("--half must be 0 or 1, not {}", half.unwrap_or_default());
    }
    let store_data = Store::open_read_only(store, StoreOptions::default())
        .with_context(|| format!("reading {}", store.display()))?;
    let oracle = OracleLabeler::new();
    let (mut unsure, mut judged) = (0, 0);
    let mut lines: Vec<PoolLine> = Vec::new();
    for sn in store_data.iter() {
        let sn_split = sn.source.as_ref().map(|s| s.split.as_str());
        if split != "all" && sn_split != Some(split) {
            continue;
        }
        if let Some(h) = half {
            let in_half = sn
                .source
                .as_ref()
                .is_some_and(|s| chapter_half(&s.document, s.region, *half_seed) == *h);
            if !in_half {
                continue;
            }
        }
        let verdict = match sn.label_by("oracle") {
            Some(l) => l.verdict,
            None => {
                judged += 1;
                oracle.judge(&sn.prompt, &sn.completion).verdict
            }
        };
        if verdict == Verdict::Unsure {
            unsure += 1;
            continue;
        }
        lines.push(PoolLine {
            id: sn.id.clone(),
            prompt: sn.prompt.clone(),
            completion: sn.completion.clone(),
            score: f64::NAN,
            verdict: Some(verdict.as_str().to_string()),
            split: sn_split.map(str::to_string),
        });
    }
    if lines.is_empty() {
        bail!(
            "no labeled pairs of split `{split}`{} in {}",
            half.map(|h| format!(" half {h}")).unwrap_or_default(),
            store.display()
        );
    }
    let split_name = match half {
        Some(h) => format!("{split} (half {h}, seed {half_seed})"),
        None => split.to_string(),
    };
    let model = Classifier::load(classifier, device(dev)?)
        .with_context(|| format!("loading {}", classifier.display()))?;
    let threshold = model.threshold();
    eprintln!(
        "scoring {} pairs of split `{split}` ({} unsure left out) with {} (threshold {:?})",
        lines.len(),
        unsure,
        classifier.display(),
        threshold
    );
    let start = std::time::Instant::now();
    let n = lines.len();
    for (k, chunk) in lines.chunks_mut(batch).enumerate() {
        let pairs: Vec<(&str, &str)> = chunk
            .iter()
            .map(|l| (l.prompt.as_str(), l.completion.as_str()))
            .collect();
        let scores = model.score(&pairs)?;
        drop(pairs);
        for (l, s) in chunk.iter_mut().zip(scores) {
            l.score = f64::from(s);
        }
        let done = ((k + 1) * batch).min(n);
        if k % 10 == 9 || done == n {
            eprintln!(
                "  {done}/{n} scored, {:.1} pairs/s",
                done as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    let text: String = lines
        .iter()
        .map(|l| serde_json::to_string(l).map(|s| s + "\n"))
        .collect::<std::result::Result<_, _>>()?;
    write_file(out, &text)?;
    let meta = PoolMeta {
        store: store.display().to_string(),
        split: split_name,
        classifier: classifier.display().to_string(),
        threshold,
        pairs: n,
        injuries: lines
            .iter()
            .filter(|l| l.verdict.as_deref() == Some("injury"))
            .count(),
        unsure_left_out: unsure,
        unlabeled_judged: judged,
        seconds: start.elapsed().as_secs_f64(),
    };
    write_file(&meta_path(out), &serde_json::to_string_pretty(&meta)?)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// study

/// Reads a scored pool file and its truth (`verdict` field, else the oracle; unsure pairs
/// are left out).
fn read_pool_with_truth(path: &Path) -> Result<(Pool, Vec<bool>, usize)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let oracle = OracleLabeler::new();
    let (mut items, mut truth, mut unsure) = (Vec::new(), Vec::new(), 0);
    for (k, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut v: serde_json::Value =
            serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), k + 1))?;
        let verdict = match v.get("verdict").and_then(|x| x.as_str()) {
            Some(s) => Verdict::parse_at(s, &format!("{}:{}", path.display(), k + 1))?,
            None => {
                let p = v["prompt"].as_str().unwrap_or_default();
                let c = v["completion"].as_str().unwrap_or_default();
                oracle.judge(p, c).verdict
            }
        };
        if verdict == Verdict::Unsure {
            unsure += 1;
            continue;
        }
        if v.get("id").is_none() {
            let id = nines::active::pool::default_id(
                v["prompt"].as_str().unwrap_or_default(),
                v["completion"].as_str().unwrap_or_default(),
            );
            v["id"] = serde_json::Value::String(id);
        }
        let item: PoolItem = serde_json::from_value(v)
            .with_context(|| format!("{}:{}: not a pool line", path.display(), k + 1))?;
        items.push(item);
        truth.push(verdict == Verdict::Injury);
    }
    Ok((Pool::new(items)?, truth, unsure))
}

/// The strategies of the study: every named one plus the boundary band `[t/10, t]`
/// ("boundary ≥ t/10").
fn strategies() -> Vec<(String, Box<dyn Acquisition>)> {
    let mut v: Vec<(String, Box<dyn Acquisition>)> =
        vec![("random".into(), by_name("random").unwrap())];
    for name in nines::active::acquisition::NAMES {
        if name == "random" {
            continue;
        }
        v.push((name.to_string(), by_name(name).unwrap()));
        if name == "boundary" {
            v.push(("boundary ≥ t/10".into(), Box::new(Boundary { lower: 0.1 })));
        }
    }
    v
}

/// One strategy at one budget.
#[derive(Debug, Clone, Serialize)]
struct Cell {
    budget: usize,
    /// Exact expected labels `Σ π_i`.
    exp_labels: f64,
    /// Exact expected misses found `Σ_{misses} π_i`.
    exp_misses: f64,
    /// Seeded draws: mean and standard deviation of misses found per draw.
    draw_mean: f64,
    draw_sd: f64,
    /// Mean labels per draw.
    draw_labels: f64,
    /// Share of draws that found at least one miss.
    p_any: f64,
    /// Mean and standard deviation over draws of the Horvitz–Thompson estimate of the pool's
    /// misses.
    ht_mean: f64,
    ht_sd: f64,
}

impl Cell {
    fn per_100(&self) -> f64 {
        100.0 * self.exp_misses / self.exp_labels
    }
}

#[derive(Debug, Clone, Serialize)]
struct StrategyResult {
    name: String,
    skipped: Option<String>,
    cells: Vec<Cell>,
    /// (labels, expected misses found) along the plot's budgets.
    curve: Vec<(f64, f64)>,
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = if x.len() > 1 {
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, v.sqrt())
}

#[allow(clippy::too_many_arguments)]
fn study_at(
    pool: &Pool,
    miss: &[bool],
    threshold: f64,
    budgets: &[usize],
    curve_budgets: &[usize],
    reps: usize,
    design: Design,
    uniform_mix: f64,
) -> Result<Vec<StrategyResult>> {
    let mut out = Vec::new();
    let y: Vec<f64> = miss.iter().map(|&m| f64::from(u8::from(m))).collect();
    for (name, strategy) in strategies() {
        let sel = |budget: usize, seed: u64| SelectorConfig {
            budget,
            design,
            uniform_mix,
            clusters: 0,
            seed,
        };
        let exact = |budget: usize| -> nines::active::Result<(f64, f64)> {
            let b = select(pool, strategy.as_ref(), threshold, &sel(budget, 0))?;
            let labels: f64 = b.probabilities.iter().sum();
            let found: f64 = b
                .probabilities
                .iter()
                .zip(miss)
                .filter(|(_, m)| **m)
                .map(|(p, _)| p)
                .sum();
            Ok((labels, found))
        };
        match exact(budgets[0]) {
            Err(e @ (ActiveError::MissingData { .. } | ActiveError::DegenerateUtility { .. })) => {
                let why = match e {
                    ActiveError::MissingData { .. } => {
                        "needs ensemble member scores; this pool has one classifier's".to_string()
                    }
                    ActiveError::DegenerateUtility { reason, .. } => reason,
                    _ => unreachable!(),
                };
                out.push(StrategyResult {
                    name,
                    skipped: Some(why),
                    cells: vec![],
                    curve: vec![],
                });
                continue;
            }
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let mut cells = Vec::new();
        for &budget in budgets {
            let (exp_labels, exp_misses) = exact(budget)?;
            let (mut found, mut labels, mut ht, mut any) = (vec![], vec![], vec![], 0usize);
            for r in 0..reps {
                let b = select(
                    pool,
                    strategy.as_ref(),
                    threshold,
                    &sel(budget, 1 + r as u64),
                )?;
                let yb: Vec<f64> = b.picks.iter().map(|p| y[p.index]).collect();
                let f: f64 = yb.iter().sum();
                any += usize::from(f > 0.0);
                found.push(f);
                labels.push(b.picks.len() as f64);
                ht.push(b.ht_total(&yb)?);
            }
            let (draw_mean, draw_sd) = mean_sd(&found);
            let (ht_mean, ht_sd) = mean_sd(&ht);
            cells.push(Cell {
                budget,
                exp_labels,
                exp_misses,
                draw_mean,
                draw_sd,
                draw_labels: mean_sd(&labels).0,
                p_any: any as f64 / reps as f64,
                ht_mean,
                ht_sd,
            });
        }
        let mut curve = vec![(0.0, 0.0)];
        for &b in curve_budgets {
            let (l, f) = exact(b)?;
            curve.push((l, f));
        }
        out.push(StrategyResult {
            name,
            skipped: None,
            cells,
            curve,
        });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn study_markdown(
    results: &[StrategyResult],
    pool_len: usize,
    accepted: usize,
    injuries: usize,
    misses: usize,
    threshold: f64,
    label: &str,
    reps: usize,
) -> String {
    let random_rate = 100.0 * misses as f64 / pool_len as f64;
    let shown: Vec<&StrategyResult> = results.iter().filter(|r| r.skipped.is_none()).collect();
    let budgets: Vec<usize> = shown
        .first()
        .map(|r| r.cells.iter().map(|c| c.budget).collect())
        .unwrap_or_default();
    let mut s = format!(
        "**{label} t = {threshold:.6}.** {accepted} of {pool_len} pairs accepted (score ≤ t); \
         {misses} of {injuries} injuries accepted (**misses in the pool: {misses}**). Random \
         labeling finds {random_rate:.3} misses per 100 labels in expectation.\n\n\
         Misses found per 100 labels (exact expectation; × random in brackets):\n\n| strategy |"
    );
    for b in &budgets {
        s.push_str(&format!(" {b} labels |"));
    }
    s.push_str("\n|---|");
    s.push_str(&"---:|".repeat(budgets.len()));
    s.push('\n');
    for r in &shown {
        s.push_str(&format!("| {} |", r.name));
        for c in &r.cells {
            s.push_str(&format!(
                " {:.3} ({:.2}×) |",
                c.per_100(),
                c.per_100() / random_rate
            ));
        }
        s.push('\n');
    }
    s.push_str(
        "\nDetails per budget (E[·] exact: `Σ π_i` over the pool and over its misses; draw \
         columns over seeded draws):\n\n\
         | strategy @ budget | E[labels] | E[misses found] | draws: misses found (mean ± sd) | draws finding ≥ 1 | HT est. of pool misses (mean ± sd) |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (k, &b) in budgets.iter().enumerate() {
        for r in &shown {
            let c = &r.cells[k];
            s.push_str(&format!(
                "| {} @{b} | {:.1} | {:.3} | {:.3} ± {:.3} | {:.1} % | {:.1} ± {:.1} |\n",
                r.name,
                c.exp_labels,
                c.exp_misses,
                c.draw_mean,
                c.draw_sd,
                100.0 * c.p_any,
                c.ht_mean,
                c.ht_sd,
            ));
        }
    }
    let skipped: Vec<String> = results
        .iter()
        .filter_map(|r| r.skipped.as_ref().map(|w| format!("`{}` ({w})", r.name)))
        .collect();
    if !skipped.is_empty() {
        s.push_str(&format!(
            "\nNot applicable to this pool: {}.\n",
            skipped.join("; ")
        ));
    }
    s.push_str(&format!("\n{reps} seeded draws per strategy and budget.\n"));
    s
}

fn plot_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("plot: {e}")
}

/// Expected misses found against labels spent, one line per strategy.
fn study_svg(results: &[StrategyResult], misses: usize, title: &str) -> Result<String> {
    const COLORS: [RGBColor; 8] = [
        RGBColor(120, 120, 120),
        RGBColor(214, 39, 40),
        RGBColor(255, 127, 14),
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(23, 190, 207),
    ];
    let shown: Vec<&StrategyResult> = results.iter().filter(|r| r.skipped.is_none()).collect();
    let x_max = shown
        .iter()
        .flat_map(|r| r.curve.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let y_max = (misses as f64).max(
        shown
            .iter()
            .flat_map(|r| r.curve.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    ) * 1.05
        + 1e-9;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("labels spent (expected, Σ π)")
            .y_desc("misses found (expected, Σ π over misses)")
            .draw()
            .map_err(plot_err)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, misses as f64), (x_max, misses as f64)],
                BLACK.mix(0.35),
            ))
            .map_err(plot_err)?
            .label(format!("all {misses} misses in the pool"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], BLACK.mix(0.35)));
        for (i, r) in shown.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let width = if r.name == "boundary" || r.name == "random" {
                3
            } else {
                2
            };
            chart
                .draw_series(LineSeries::new(
                    r.curve.iter().copied(),
                    color.stroke_width(width),
                ))
                .map_err(plot_err)?
                .label(r.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(width))
                });
            let marks: Vec<(f64, f64)> = r
                .cells
                .iter()
                .map(|c| (c.exp_labels, c.exp_misses))
                .collect();
            chart
                .draw_series(marks.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(plot_err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

#[allow(clippy::too_many_arguments)]
fn study_cmd(
    pool_path: Option<&Path>,
    threshold: Option<f64>,
    also: &[f64],
    budgets: &[usize],
    reps: usize,
    d: &str,
    uniform_mix: f64,
    table: &Path,
    svg: &Path,
    plot_max: Option<usize>,
) -> Result<()> {
    let design = design(d)?;
    if !design.reweightable() {
        bail!("--design topk has no inclusion probabilities to take expectations over");
    }
    if budgets.is_empty() || budgets.contains(&0) || reps == 0 {
        bail!("--budgets must be positive and --reps at least 1");
    }
    let (pool, truth, source, threshold) = match pool_path {
        Some(p) => {
            let (pool, truth, unsure) = read_pool_with_truth(p)?;
            let meta: Option<PoolMeta> = std::fs::read_to_string(meta_path(p))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            let threshold = match (threshold, meta.as_ref().and_then(|m| m.threshold)) {
                (Some(t), _) => t,
                (None, Some(t)) => t,
                (None, None) => bail!(
                    "no --threshold and no threshold in {}",
                    meta_path(p).display()
                ),
            };
            let source = match &meta {
                Some(m) => format!(
                    "`{}` (split `{}` of `{}`, scored by `{}`; {} unsure pairs left out when \
                     scoring, {unsure} here)",
                    p.display(),
                    m.split,
                    m.store,
                    m.classifier,
                    m.unsure_left_out
                ),
                None => format!("`{}` ({unsure} unsure pairs left out)", p.display()),
            };
            (pool, truth, source, threshold)
        }
        None => {
            let cfg = SyntheticConfig::default();
            let (pool, truth) = synthetic(&cfg)?;
            let n = pool.len();
            (
                pool,
                truth,
                format!("synthetic calibrated pool ({n} pairs)"),
                threshold.unwrap_or(0.05),
            )
        }
    };
    let injuries = truth.iter().filter(|&&t| t).count();
    let max_budget = *budgets.iter().max().unwrap_or(&1);
    let plot_max = plot_max.unwrap_or(2 * max_budget).min(pool.len());
    let step = (plot_max / 40).max(1);
    let curve_budgets: Vec<usize> = (1..=plot_max / step).map(|k| k * step).collect();
    let mut md = format!(
        "Pool: {source}. {} pairs, {injuries} injuries (oracle). Design {d}, uniform share \
         {uniform_mix}; budgets {budgets:?}.\n\n",
        pool.len()
    );
    let mut list: Vec<(f64, String)> = vec![(
        threshold,
        if pool_path.is_some() {
            "Saved classifier threshold".to_string()
        } else {
            "Threshold".to_string()
        },
    )];
    list.extend(
        also.iter()
            .map(|&t| (t, "Comparison only (not the saved threshold):".to_string())),
    );
    for (k, (t, label)) in list.iter().enumerate() {
        let miss: Vec<bool> = pool
            .items()
            .iter()
            .zip(&truth)
            .map(|(it, &y)| y && it.score <= *t)
            .collect();
        let misses = miss.iter().filter(|&&m| m).count();
        let accepted = pool.items().iter().filter(|it| it.score <= *t).count();
        eprintln!("threshold {t}: {accepted} accepted, {misses} misses of {injuries} injuries");
        if misses == 0 {
            md.push_str(&format!(
                "**{label} t = {t:.6}.** {accepted} of {} pairs accepted; none of the \
                 {injuries} injuries is accepted: no misses, nothing for any strategy to find.\n\n",
                pool.len()
            ));
            continue;
        }
        let results = study_at(
            &pool,
            &miss,
            *t,
            budgets,
            &curve_budgets,
            reps,
            design,
            uniform_mix,
        )?;
        md.push_str(&study_markdown(
            &results,
            pool.len(),
            accepted,
            injuries,
            misses,
            *t,
            label,
            reps,
        ));
        md.push('\n');
        let json_path = table.with_extension(format!("t{k}.json"));
        write_file(
            &json_path,
            &serde_json::to_string_pretty(&serde_json::json!({
                "threshold": t, "label": label, "pairs": pool.len(), "injuries": injuries,
                "misses": misses, "accepted": accepted, "results": results,
            }))?,
        )?;
        let svg_path = if k == 0 {
            svg.to_path_buf()
        } else {
            svg.with_file_name(format!(
                "{}_t{k}.svg",
                svg.file_stem().unwrap_or_default().to_string_lossy()
            ))
        };
        let title = format!(
            "Expected misses found vs labels ({} pairs, {misses} misses, t = {t:.4}{})",
            pool.len(),
            if k == 0 { "" } else { ", comparison only" }
        );
        write_file(&svg_path, &study_svg(&results, misses, &title)?)?;
        // Bars: exact misses per 100 labels at the middle budget, with the crate's plot.
        let mid = budgets.len() / 2;
        let random_rate = 100.0 * misses as f64 / pool.len() as f64;
        let rows: Vec<StudyRow> = results
            .iter()
            .filter(|r| r.skipped.is_none())
            .map(|r| {
                let c = &r.cells[mid];
                StudyRow {
                    strategy: r.name.clone(),
                    labels: c.exp_labels,
                    misses_per_100: c.per_100(),
                    misses_per_100_se: f64::NAN,
                    ratio_vs_random: c.per_100() / random_rate,
                    pool_misses_per_100: random_rate,
                    ht_misses: Some(c.ht_mean),
                    ht_misses_se: None,
                    true_misses: misses,
                    skipped: None,
                }
            })
            .collect();
        let bars_path = svg_path.with_file_name(format!(
            "{}_bars.svg",
            svg_path.file_stem().unwrap_or_default().to_string_lossy()
        ));
        write_file(
            &bars_path,
            &svg_plot(
                &rows,
                &format!(
                    "Expected misses per 100 labels, {} labels (t = {t:.4}{})",
                    budgets[mid],
                    if k == 0 { "" } else { ", comparison only" }
                ),
            ),
        )?;
    }
    println!("{md}");
    write_file(table, &md)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// loop

/// A classifier (or ensemble) as the loop's scorer.
struct ClassifierScorer(Box<dyn PairScorer>, f64);

impl PairScorer for ClassifierScorer {
    fn score(&self, pairs: &[(&str, &str)]) -> nines::data::Result<Vec<f32>> {
        let mut scores = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(64) {
            scores.extend(self.0.score(chunk)?);
        }
        Ok(scores)
    }
}

impl PoolModel for ClassifierScorer {
    fn threshold(&self) -> f64 {
        self.1
    }
}

/// Retrains the saved classifier (reloaded fresh each round) on every label so far; every
/// fifth label validates. The threshold stays the saved one so rounds are comparable.
struct Retrain {
    dir: PathBuf,
    device: DeviceSpec,
    epochs: usize,
    threshold: f64,
}

impl Retrain {
    fn load(&self) -> nines::active::Result<Classifier> {
        Classifier::load(&self.dir, self.device).map_err(|e| ActiveError::model("retraining", e))
    }
}

impl Retrainer for Retrain {
    fn retrain(&mut self, labeled: &[LabeledPair]) -> nines::active::Result<Box<dyn PoolModel>> {
        let mut model = self.load()?;
        let examples: Vec<(usize, Example)> = labeled
            .iter()
            .filter(|l| l.verdict != Verdict::Unsure)
            .map(|l| {
                Example::new(
                    l.pair.prompt.clone(),
                    l.pair.completion.clone(),
                    l.verdict == Verdict::Injury,
                )
            })
            .enumerate()
            .collect();
        let (valid, train): (Vec<_>, Vec<_>) = examples.into_iter().partition(|(i, _)| i % 5 == 4);
        let train: Vec<Example> = train.into_iter().map(|(_, e)| e).collect();
        let valid: Vec<Example> = valid.into_iter().map(|(_, e)| e).collect();
        let cfg = TrainConfig {
            epochs: self.epochs,
            progress: false,
            ..TrainConfig::default()
        };
        let result = Trainer::new(&mut model, cfg).and_then(|t| t.train(&train, &valid));
        match result {
            Ok(report) => eprintln!(
                "retrained on {} labels ({} steps)",
                train.len(),
                report.steps
            ),
            // Too few labels of one class so far: keep the saved model this round.
            Err(e) => {
                eprintln!("not retrained ({e}); keeping the saved classifier");
                model = self.load()?;
            }
        }
        Ok(Box::new(ClassifierScorer(Box::new(model), self.threshold)))
    }
}

#[allow(clippy::too_many_arguments)]
fn loop_cmd(
    pool: &Path,
    classifier: PathBuf,
    budget: usize,
    per_round: usize,
    rounds: usize,
    strategy: String,
    epochs: usize,
    out: &Path,
    dev: &str,
) -> Result<()> {
    let pool = Pool::read_jsonl(pool).with_context(|| format!("reading {}", pool.display()))?;
    let candidates: Vec<Pair> = pool
        .items()
        .iter()
        .map(|it| Pair {
            id: it.id.clone(),
            prompt: it.prompt.clone(),
            completion: it.completion.clone(),
        })
        .collect();
    let dev = device(dev)?;
    let model = Classifier::load(&classifier, dev)
        .with_context(|| format!("loading {}", classifier.display()))?;
    let Some(threshold) = model.threshold() else {
        bail!(
            "{} has no threshold; train it with train_classifier first",
            classifier.display()
        );
    };
    std::fs::create_dir_all(out)?;
    let cfg = DriverConfig {
        budget,
        per_round,
        rounds,
        strategy,
        selector: SelectorConfig::default(),
        state: Some(out.join("state.json")),
        metrics: Some(out.join("metrics.jsonl")),
        ..DriverConfig::default()
    };
    let mut retrainer = Retrain {
        dir: classifier,
        device: dev,
        epochs,
        threshold,
    };
    let mut oracle = OracleLabeler::new();
    let summary = driver::run(
        &cfg,
        &candidates,
        Box::new(ClassifierScorer(Box::new(model), threshold)),
        &mut retrainer,
        &mut oracle,
    )?;
    eprintln!(
        "{} rounds run{}; {} labels in all",
        summary.rounds_run,
        if summary.resumed { " (resumed)" } else { "" },
        summary.state.labels.len()
    );
    for m in &summary.state.metrics {
        println!("{}", serde_json::to_string(m)?);
    }
    Ok(())
}

fn main() -> Result<()> {
    match Args::parse().command {
        Command::Score(args) => score_cmd(&args),
        Command::Study {
            pool,
            threshold,
            also_thresholds,
            budgets,
            reps,
            design: d,
            uniform_mix,
            table,
            svg,
            plot_max,
        } => study_cmd(
            pool.as_deref(),
            threshold,
            &also_thresholds,
            &budgets,
            reps,
            &d,
            uniform_mix,
            &table,
            &svg,
            plot_max,
        ),
        Command::Loop {
            pool,
            classifier,
            budget,
            per_round,
            rounds,
            strategy,
            epochs,
            out,
            device: dev,
        } => loop_cmd(
            &pool, classifier, budget, per_round, rounds, strategy, epochs, &out, &dev,
        ),
    }
}
