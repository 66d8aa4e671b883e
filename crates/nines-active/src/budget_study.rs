//! What a label budget buys: for every strategy, the misses (injuries the filter accepts) a
//! selection of each size finds, as exact expectations over the design's inclusion
//! probabilities (`Σ π` over the pool and over its misses) and over seeded draws, with the
//! Horvitz–Thompson estimate of the pool's misses from each draw.
//!
//! Where [`crate::study::run_study`] compares strategies at one budget by simulation, this
//! traces each strategy's curve of expected misses found against labels spent on a pool
//! whose truth is known (a scored pool labeled by the oracle, or [`crate::study::synthetic`]).
//! `nines active study` renders it with [`budget_markdown`] and [`curve_svg`].
//!
//! ```
//! use nines_active::budget_study::{BudgetStudyConfig, run_budget_study};
//! use nines_active::study::{SyntheticConfig, synthetic};
//! let (pool, truth) = synthetic(&SyntheticConfig { prompts: 200, ..Default::default() }).unwrap();
//! let cfg = BudgetStudyConfig { budgets: vec![20, 40], reps: 5, ..Default::default() };
//! let study = run_budget_study(&pool, &truth, 0.05, &cfg).unwrap();
//! let random = study.curve("random").unwrap();
//! // Random sampling's expected misses per label is the pool's miss rate.
//! let rate = study.misses as f64 / study.pool_len as f64;
//! assert!((random.cells[0].exp_misses / random.cells[0].exp_labels - rate).abs() < 1e-9);
//! ```

use plotters::prelude::*;
use serde::Serialize;

use crate::acquisition::{Acquisition, Boundary, StrategyName};
use crate::config::{Design, SelectorConfig};
use crate::error::{ActiveError, Result};
use crate::pool::Pool;
use crate::select::select;

/// Settings of a budget study.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetStudyConfig {
    /// Label budgets (expected labels per draw) to report. Default 50, 100, 200.
    pub budgets: Vec<usize>,
    /// Largest budget on the curve (0: twice the largest budget), at most the pool's size.
    /// The curve has about 40 points. Default 0.
    pub curve_max: usize,
    /// Seeded draws per strategy and budget. Default 1000.
    pub reps: usize,
    /// Sampling design; must carry inclusion probabilities (not top-k). Default systematic.
    pub design: Design,
    /// Uniform share of the weights. Default 0.05.
    pub uniform_mix: f64,
}

impl Default for BudgetStudyConfig {
    fn default() -> Self {
        BudgetStudyConfig {
            budgets: vec![50, 100, 200],
            curve_max: 0,
            reps: 1000,
            design: Design::Systematic,
            uniform_mix: 0.05,
        }
    }
}

/// One strategy at one budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetCell {
    /// The budget asked for.
    pub budget: usize,
    /// Exact expected labels `Σ π_i`.
    pub exp_labels: f64,
    /// Exact expected misses found `Σ_{misses} π_i`.
    pub exp_misses: f64,
    /// Seeded draws: mean misses found per draw.
    pub draw_mean: f64,
    /// Seeded draws: standard deviation of misses found per draw.
    pub draw_sd: f64,
    /// Mean labels per draw.
    pub draw_labels: f64,
    /// Share of draws that found at least one miss.
    pub p_any: f64,
    /// Mean over draws of the Horvitz–Thompson estimate of the pool's misses.
    pub ht_mean: f64,
    /// Standard deviation over draws of that estimate.
    pub ht_sd: f64,
}

impl BudgetCell {
    /// Expected misses found per 100 labels.
    pub fn per_100(&self) -> f64 {
        100.0 * self.exp_misses / self.exp_labels
    }
}

/// One strategy's cells and curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetCurve {
    /// The strategy's label (its name, or a variant such as `boundary ≥ t/10`).
    pub name: String,
    /// Why the strategy cannot run on this pool (no ensemble members, ...), if it cannot.
    pub skipped: Option<String>,
    /// One cell per budget of the configuration.
    pub cells: Vec<BudgetCell>,
    /// (expected labels, expected misses found) along the curve's budgets, from (0, 0).
    pub curve: Vec<(f64, f64)>,
}

/// The study at one threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetStudy {
    /// One curve per strategy, random first.
    pub curves: Vec<BudgetCurve>,
    /// Pairs in the pool.
    pub pool_len: usize,
    /// Pairs the filter accepts (score ≤ threshold).
    pub accepted: usize,
    /// Injuries in the pool.
    pub injuries: usize,
    /// Injuries the filter accepts: what the strategies look for.
    pub misses: usize,
    /// The filter's threshold.
    pub threshold: f64,
}

impl BudgetStudy {
    /// The curve of the strategy labeled `name`.
    pub fn curve(&self, name: &str) -> Option<&BudgetCurve> {
        self.curves.iter().find(|c| c.name == name)
    }
}

/// The strategies a budget study compares: random first, then every other named one, plus
/// the boundary band `[t/10, t]` (labeled `boundary ≥ t/10`) after `boundary`.
pub fn study_strategies() -> Vec<(String, Box<dyn Acquisition>)> {
    let mut v: Vec<(String, Box<dyn Acquisition>)> =
        vec![("random".into(), StrategyName::Random.build())];
    for name in StrategyName::ALL {
        if name == StrategyName::Random {
            continue;
        }
        v.push((name.to_string(), name.build()));
        if name == StrategyName::Boundary {
            v.push(("boundary ≥ t/10".into(), Box::new(Boundary { lower: 0.1 })));
        }
    }
    v
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

/// Runs the study: `truth[i]` says pair `i` is an injury; a miss is an injury scored at or
/// under `threshold`. Strategies that cannot run on the pool get a curve with `skipped`.
///
/// # Errors
/// [`ActiveError::Config`] for no budgets, a zero budget, zero draws, a top-k design or a
/// truth of the wrong length; selection errors otherwise.
pub fn run_budget_study(
    pool: &Pool,
    truth: &[bool],
    threshold: f64,
    cfg: &BudgetStudyConfig,
) -> Result<BudgetStudy> {
    if cfg.budgets.is_empty() || cfg.budgets.contains(&0) {
        return Err(ActiveError::config(
            "BudgetStudyConfig.budgets",
            "at least one budget, each positive",
        ));
    }
    if cfg.reps == 0 {
        return Err(ActiveError::config(
            "BudgetStudyConfig.reps",
            "must be positive",
        ));
    }
    if !cfg.design.reweightable() {
        return Err(ActiveError::config(
            "BudgetStudyConfig.design",
            "top-k has no inclusion probabilities to take expectations over",
        ));
    }
    if truth.len() != pool.len() {
        return Err(ActiveError::config(
            "truth",
            format!("{} truths for {} pairs", truth.len(), pool.len()),
        ));
    }
    let miss: Vec<bool> = pool
        .items()
        .iter()
        .zip(truth)
        .map(|(it, &y)| y && it.score <= threshold)
        .collect();
    let max_budget = cfg.budgets.iter().copied().max().unwrap_or(1);
    let curve_max = match cfg.curve_max {
        0 => 2 * max_budget,
        m => m,
    }
    .min(pool.len());
    let step = (curve_max / 40).max(1);
    let curve_budgets: Vec<usize> = (1..=curve_max / step).map(|k| k * step).collect();
    let y: Vec<f64> = miss.iter().map(|&m| f64::from(u8::from(m))).collect();
    let mut curves = Vec::new();
    for (name, strategy) in study_strategies() {
        let sel = |budget: usize, seed: u64| SelectorConfig {
            budget,
            design: cfg.design,
            uniform_mix: cfg.uniform_mix,
            clusters: 0,
            seed,
        };
        let exact = |budget: usize| -> Result<(f64, f64)> {
            let b = select(pool, strategy.as_ref(), threshold, &sel(budget, 0))?;
            let labels: f64 = b.probabilities.iter().sum();
            let found: f64 = b
                .probabilities
                .iter()
                .zip(&miss)
                .filter(|(_, m)| **m)
                .map(|(p, _)| p)
                .sum();
            Ok((labels, found))
        };
        match exact(cfg.budgets[0]) {
            Err(ActiveError::MissingData { .. }) => {
                curves.push(BudgetCurve {
                    name,
                    skipped: Some(
                        "needs ensemble member scores; this pool has one classifier's".into(),
                    ),
                    cells: vec![],
                    curve: vec![],
                });
                continue;
            }
            Err(ActiveError::DegenerateUtility { reason, .. }) => {
                curves.push(BudgetCurve {
                    name,
                    skipped: Some(reason),
                    cells: vec![],
                    curve: vec![],
                });
                continue;
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        let mut cells = Vec::new();
        for &budget in &cfg.budgets {
            let (exp_labels, exp_misses) = exact(budget)?;
            let (mut found, mut labels, mut ht, mut any) = (vec![], vec![], vec![], 0usize);
            for r in 0..cfg.reps {
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
            cells.push(BudgetCell {
                budget,
                exp_labels,
                exp_misses,
                draw_mean,
                draw_sd,
                draw_labels: mean_sd(&labels).0,
                p_any: any as f64 / cfg.reps as f64,
                ht_mean,
                ht_sd,
            });
        }
        let mut curve = vec![(0.0, 0.0)];
        for &b in &curve_budgets {
            curve.push(exact(b)?);
        }
        curves.push(BudgetCurve {
            name,
            skipped: None,
            cells,
            curve,
        });
    }
    Ok(BudgetStudy {
        curves,
        pool_len: pool.len(),
        accepted: pool
            .items()
            .iter()
            .filter(|it| it.score <= threshold)
            .count(),
        injuries: truth.iter().filter(|&&t| t).count(),
        misses: miss.iter().filter(|&&m| m).count(),
        threshold,
    })
}

/// The study at one threshold as Markdown: misses per 100 labels at each budget (exact
/// expectations, × random), then per-budget details; `label` introduces the threshold
/// (e.g. "Saved classifier threshold").
pub fn budget_markdown(study: &BudgetStudy, label: &str, reps: usize) -> String {
    let BudgetStudy {
        curves: results,
        pool_len,
        accepted,
        injuries,
        misses,
        threshold,
    } = study;
    let (pool_len, accepted, injuries, misses, threshold) =
        (*pool_len, *accepted, *injuries, *misses, *threshold);
    let random_rate = 100.0 * misses as f64 / pool_len as f64;
    let shown: Vec<&BudgetCurve> = results.iter().filter(|r| r.skipped.is_none()).collect();
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

fn plot_error(e: impl std::fmt::Display) -> ActiveError {
    ActiveError::Plot(e.to_string())
}

/// Expected misses found against labels spent, one line per strategy.
pub fn curve_svg(results: &[BudgetCurve], misses: usize, title: &str) -> Result<String> {
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
    let shown: Vec<&BudgetCurve> = results.iter().filter(|r| r.skipped.is_none()).collect();
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
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("labels spent (expected, Σ π)")
            .y_desc("misses found (expected, Σ π over misses)")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, misses as f64), (x_max, misses as f64)],
                BLACK.mix(0.35),
            ))
            .map_err(plot_error)?
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
                .map_err(plot_error)?
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
                .map_err(plot_error)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}
