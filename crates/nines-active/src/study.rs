//! Simulation study: classifier misses found per 100 labels, each strategy against random.
//!
//! [`synthetic`] builds a pool whose truth is known and whose scores are calibrated by
//! construction (each pair is an injury with probability exactly its score), with prompts
//! that share a latent violence level, ensemble members and embeddings. [`run_study`] runs
//! every strategy on a pool with known truth (synthetic, or a real pool labeled by the
//! oracle) for several seeded draws and reports misses per 100 labels, the ratio to random,
//! and the Horvitz–Thompson estimate of the pool's total misses beside the true total — the
//! check that the strategies' labels stay usable for unbiased estimates. [`markdown_table`]
//! and [`svg_plot`] render the result for `docs/active.md`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::acquisition::{StrategyName, check_threshold};
use crate::config::{Design, SelectorConfig};
use crate::error::{ActiveError, Result};
use crate::pool::{Pool, PoolItem};
use crate::select::select;

/// Settings of a synthetic pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticConfig {
    /// Prompts. Default 4000.
    pub prompts: usize,
    /// Completions per prompt. Default 5.
    pub per_prompt: usize,
    /// Mean of the prompts' latent logit. Default −8 (about 0.5% injuries, like the corpus).
    pub prompt_logit_mean: f64,
    /// Standard deviation of the prompts' latent logit. Default 2.
    pub prompt_logit_sd: f64,
    /// Standard deviation of a completion's logit around its prompt's. Default 1.5.
    pub completion_logit_sd: f64,
    /// Ensemble members (0: none). Default 5.
    pub members: usize,
    /// Standard deviation of a member's logit around the pair's. Default 0.5.
    pub member_logit_sd: f64,
    /// Embedding dimensions (0: none). Default 8.
    pub dim: usize,
    /// Seed. Default 0.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            prompts: 4000,
            per_prompt: 5,
            prompt_logit_mean: -8.0,
            prompt_logit_sd: 2.0,
            completion_logit_sd: 1.5,
            members: 5,
            member_logit_sd: 0.5,
            dim: 8,
            seed: 0,
        }
    }
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut impl Rng) -> f64 {
    let u: f64 = 1.0 - rng.random::<f64>();
    let v: f64 = rng.random();
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A calibrated synthetic pool and its truth (`true` = injury).
///
/// Prompt `j` has a latent logit `a_j ~ N(μ, σ_p)`; its completion `k` has score
/// `s = sigmoid(a_j + N(0, σ_c))` and is an injury with probability exactly `s`. Member `m`
/// scores `sigmoid(logit(s) + N(0, σ_m))`. The embedding is the prompt's random position
/// (first coordinate: `a_j`) plus small noise.
pub fn synthetic(cfg: &SyntheticConfig) -> Result<(Pool, Vec<bool>)> {
    if cfg.prompts == 0 || cfg.per_prompt == 0 {
        return Err(ActiveError::EmptyPool);
    }
    for (field, v) in [
        ("SyntheticConfig.prompt_logit_sd", cfg.prompt_logit_sd),
        (
            "SyntheticConfig.completion_logit_sd",
            cfg.completion_logit_sd,
        ),
        ("SyntheticConfig.member_logit_sd", cfg.member_logit_sd),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(ActiveError::config(
                field,
                format!("{v} is not a finite sd"),
            ));
        }
    }
    if !cfg.prompt_logit_mean.is_finite() {
        return Err(ActiveError::config(
            "SyntheticConfig.prompt_logit_mean",
            "must be finite",
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut items = Vec::with_capacity(cfg.prompts * cfg.per_prompt);
    let mut truth = Vec::with_capacity(items.capacity());
    for j in 0..cfg.prompts {
        let a = cfg.prompt_logit_mean + cfg.prompt_logit_sd * normal(&mut rng);
        let mut position: Vec<f64> = (0..cfg.dim).map(|_| normal(&mut rng)).collect();
        if let Some(first) = position.first_mut() {
            *first = a;
        }
        for k in 0..cfg.per_prompt {
            let logit = a + cfg.completion_logit_sd * normal(&mut rng);
            let score = sigmoid(logit);
            truth.push(rng.random::<f64>() < score);
            let members = (cfg.members > 0).then(|| {
                (0..cfg.members)
                    .map(|_| sigmoid(logit + cfg.member_logit_sd * normal(&mut rng)))
                    .collect()
            });
            let embedding = (cfg.dim > 0).then(|| {
                position
                    .iter()
                    .map(|x| (x + 0.1 * normal(&mut rng)) as f32)
                    .collect()
            });
            items.push(PoolItem {
                id: format!("syn-{j}-{k}"),
                prompt: format!("synthetic prompt {j}"),
                completion: format!("synthetic completion {j}.{k}"),
                score,
                members,
                embedding,
            });
        }
    }
    Ok((Pool::new(items)?, truth))
}

/// Settings of a study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StudyConfig {
    /// Strategies to compare; `random` is always run as the reference. Default: all.
    pub strategies: Vec<StrategyName>,
    /// Filter threshold. Default 0.05.
    pub threshold: f64,
    /// Labels per draw. Default 200.
    pub budget: usize,
    /// Seeded draws per strategy. Default 50.
    pub reps: usize,
    /// Design. Default systematic.
    pub design: Design,
    /// Uniform share. Default 0.05.
    pub uniform_mix: f64,
    /// Base seed. Default 0.
    pub seed: u64,
}

impl Default for StudyConfig {
    fn default() -> Self {
        StudyConfig {
            strategies: StrategyName::ALL.to_vec(),
            threshold: 0.05,
            budget: 200,
            reps: 50,
            design: Design::Systematic,
            uniform_mix: 0.05,
            seed: 0,
        }
    }
}

/// One strategy's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyRow {
    /// Strategy name.
    pub strategy: String,
    /// Mean labels per draw.
    pub labels: f64,
    /// Misses found per 100 labels (pooled over draws).
    pub misses_per_100: f64,
    /// Its standard error over draws.
    pub misses_per_100_se: f64,
    /// `misses_per_100` divided by `pool_misses_per_100`, random sampling's expected rate.
    pub ratio_vs_random: f64,
    /// Misses per 100 pairs of the whole pool: what uniform random sampling finds per 100
    /// labels in expectation (exact, from the truth).
    pub pool_misses_per_100: f64,
    /// Mean over draws of the Horvitz–Thompson estimate of the pool's misses (none for
    /// top-k).
    pub ht_misses: Option<f64>,
    /// Standard error of that mean.
    pub ht_misses_se: Option<f64>,
    /// The pool's true number of misses.
    pub true_misses: usize,
    /// Why the strategy could not run on this pool, if it could not.
    pub skipped: Option<String>,
}

/// Runs the study (see the module docs). `truth[i]`: pair `i` is an injury. Ratios are
/// taken against random sampling's exact expected rate (the pool's miss rate); the random
/// strategy's own measured row shows the draws agree with it. Strategies that
/// cannot run on the pool (no ensemble members, no shared prompts) get a row with `skipped`.
pub fn run_study(pool: &Pool, truth: &[bool], cfg: &StudyConfig) -> Result<Vec<StudyRow>> {
    check_threshold(cfg.threshold)?;
    if truth.len() != pool.len() {
        return Err(ActiveError::config(
            "truth",
            format!("{} truths for {} pairs", truth.len(), pool.len()),
        ));
    }
    if cfg.reps == 0 {
        return Err(ActiveError::config("StudyConfig.reps", "must be positive"));
    }
    let miss: Vec<bool> = pool
        .items()
        .iter()
        .zip(truth)
        .map(|(it, &y)| y && it.score <= cfg.threshold)
        .collect();
    let true_misses = miss.iter().filter(|&&m| m).count();
    let pool_rate = 100.0 * true_misses as f64 / pool.len() as f64;
    let mut names = vec![StrategyName::Random];
    names.extend(
        cfg.strategies
            .iter()
            .filter(|s| **s != StrategyName::Random),
    );
    let mut rows: Vec<StudyRow> = Vec::new();
    for name in names {
        let strategy = name.build();
        let mut found = Vec::with_capacity(cfg.reps);
        let mut labels = Vec::with_capacity(cfg.reps);
        let mut ht = Vec::with_capacity(cfg.reps);
        let mut skipped = None;
        for r in 0..cfg.reps {
            let sel = SelectorConfig {
                budget: cfg.budget,
                design: cfg.design,
                uniform_mix: cfg.uniform_mix,
                clusters: 0,
                seed: cfg.seed.wrapping_add(r as u64),
            };
            let batch = match select(pool, strategy.as_ref(), cfg.threshold, &sel) {
                Ok(b) => b,
                Err(
                    e @ (ActiveError::MissingData { .. } | ActiveError::DegenerateUtility { .. }),
                ) => {
                    skipped = Some(e.to_string());
                    break;
                }
                Err(e) => return Err(e),
            };
            let y: Vec<f64> = batch
                .picks
                .iter()
                .map(|p| f64::from(u8::from(miss[p.index])))
                .collect();
            found.push(y.iter().sum::<f64>());
            labels.push(batch.picks.len() as f64);
            if cfg.design.reweightable() {
                ht.push(batch.ht_total(&y)?);
            }
        }
        let total_labels: f64 = labels.iter().sum();
        let rate = if total_labels > 0.0 {
            100.0 * found.iter().sum::<f64>() / total_labels
        } else {
            0.0
        };
        let per_draw: Vec<f64> = found
            .iter()
            .zip(&labels)
            .map(|(f, l)| if *l > 0.0 { 100.0 * f / l } else { 0.0 })
            .collect();
        let (ht_mean, ht_se) = if ht.is_empty() {
            (None, None)
        } else {
            let (m, s) = mean_se(&ht);
            (Some(m), Some(s))
        };
        rows.push(StudyRow {
            strategy: name.to_string(),
            labels: if labels.is_empty() {
                0.0
            } else {
                total_labels / labels.len() as f64
            },
            misses_per_100: rate,
            misses_per_100_se: mean_se(&per_draw).1,
            ratio_vs_random: if true_misses > 0 {
                rate / pool_rate
            } else {
                f64::NAN
            },
            pool_misses_per_100: pool_rate,
            ht_misses: ht_mean,
            ht_misses_se: ht_se,
            true_misses,
            skipped,
        });
    }
    Ok(rows)
}

fn mean_se(x: &[f64]) -> (f64, f64) {
    if x.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    if x.len() < 2 {
        return (m, f64::NAN);
    }
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, (v / n).sqrt())
}

/// The rows as a Markdown table.
pub fn markdown_table(rows: &[StudyRow]) -> String {
    let mut s = String::from(
        "| strategy | labels/draw | misses per 100 labels | × random | HT est. of pool misses | true pool misses |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    if let Some(r) = rows.first() {
        s.push_str(&format!(
            "| (random, expected) | – | {:.3} | 1.00 | – | {} |\n",
            r.pool_misses_per_100, r.true_misses
        ));
    }
    for r in rows {
        if let Some(why) = &r.skipped {
            s.push_str(&format!(
                "| {} | – | – | – | – | {} (skipped: {why}) |\n",
                r.strategy, r.true_misses
            ));
            continue;
        }
        let ht = match (r.ht_misses, r.ht_misses_se) {
            (Some(m), Some(se)) => format!("{m:.1} ± {se:.1}"),
            _ => "not reweightable".into(),
        };
        s.push_str(&format!(
            "| {} | {:.1} | {:.2} ± {:.2} | {:.2} | {} | {} |\n",
            r.strategy,
            r.labels,
            r.misses_per_100,
            r.misses_per_100_se,
            r.ratio_vs_random,
            ht,
            r.true_misses
        ));
    }
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A horizontal bar chart (SVG) of misses per 100 labels per strategy, with ±2 standard
/// errors and a dashed line at random's rate.
pub fn svg_plot(rows: &[StudyRow], title: &str) -> String {
    let shown: Vec<&StudyRow> = rows.iter().filter(|r| r.skipped.is_none()).collect();
    let (left, top, bar_h, gap, width) = (150.0, 50.0, 22.0, 8.0, 420.0);
    let height = top + shown.len() as f64 * (bar_h + gap) + 50.0;
    let max = shown
        .iter()
        .map(|r| r.misses_per_100 + 2.0 * r.misses_per_100_se.max(0.0))
        .filter(|v| v.is_finite())
        .fold(1e-9, f64::max)
        * 1.1;
    let x = |v: f64| left + width * v / max;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{cx}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{t}</text>\n",
        w = left + width + 90.0,
        cx = (left + width + 90.0) / 2.0,
        t = escape(title)
    );
    for (k, r) in shown.iter().enumerate() {
        let y = top + k as f64 * (bar_h + gap);
        let fill = match r.strategy.as_str() {
            "random" => "#999999",
            "boundary" => "#d62728",
            _ => "#1f77b4",
        };
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n\
             <rect x=\"{left}\" y=\"{y}\" width=\"{}\" height=\"{bar_h}\" fill=\"{fill}\"/>\n",
            left - 6.0,
            y + bar_h * 0.7,
            escape(&r.strategy),
            (x(r.misses_per_100) - left).max(0.0)
        ));
        if r.misses_per_100_se.is_finite() {
            let (a, b) = (
                x((r.misses_per_100 - 2.0 * r.misses_per_100_se).max(0.0)),
                x(r.misses_per_100 + 2.0 * r.misses_per_100_se),
            );
            s.push_str(&format!(
                "<line x1=\"{a}\" x2=\"{b}\" y1=\"{m}\" y2=\"{m}\" stroke=\"black\"/>\n",
                m = y + bar_h / 2.0
            ));
        }
        s.push_str(&format!(
            "<text x=\"{}\" y=\"{}\">{:.2} ({:.1}×)</text>\n",
            x(r.misses_per_100 + 2.0 * r.misses_per_100_se.max(0.0)) + 4.0,
            y + bar_h * 0.7,
            r.misses_per_100,
            r.ratio_vs_random
        ));
    }
    if let Some(random) = shown.iter().find(|r| r.strategy == "random") {
        let xr = x(random.misses_per_100);
        s.push_str(&format!(
            "<line x1=\"{xr}\" x2=\"{xr}\" y1=\"{}\" y2=\"{}\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n",
            top - 6.0,
            height - 40.0
        ));
    }
    s.push_str(&format!(
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{b}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">classifier misses found per 100 labels (bars ± 2 s.e.)</text>\n</svg>\n",
        left + width,
        left + width / 2.0,
        height - 14.0,
        b = height - 40.0
    ));
    s
}
