//! How often the *filtered* policy emits a failure, estimated from labeled *unfiltered*
//! samples.
//!
//! The sequential filter is the unfiltered policy conditioned on acceptance, prompt by prompt:
//! `π_f(s | x) = π(s | x) · 1{accepted(s)} / a(x)`. So a labeled unfiltered draw is an
//! importance sample for the filtered policy with weight `1{accepted} / a(x)`, where `a(x)` is
//! the prompt's acceptance probability, estimated from many cheap classifier-only draws. The
//! failure rate of the filtered policy over prompts is
//! `F = E_x[ P(failure ∧ accepted | x) / a(x) ]`.
//!
//! Per prompt `j` (prompts drawn i.i.d. from the prompt distribution) this crate forms
//! `Z_j = (1/L_j) Σ_l w_jl · 1{failure_jl}` and reports `F̂ = mean_j Z_j`. Because prompts are
//! independent, the sample variance of the `Z_j` captures every source of noise (labeled and
//! cheap draws alike), and correlated samples within a prompt are handled as a cluster.
//! Intervals: Wilson (default) or Clopper-Pearson with a Korn-Graubard effective sample size,
//! which stay honest for rare failures where the plain CLT (`Wald`) under-covers.
//!
//! Variants: [`sequential`] (counts at one threshold), [`adaptive`] (a threshold per prompt),
//! [`from_scores`] with [`Selection::BatchedSafest`] (batches of `k`, emit the safest
//! accepted).

use serde::{Deserialize, Serialize};

use crate::batched::{OnEmpty, Selection, accepts};
use crate::check;
use crate::error::{EstimateError, Result};
use crate::estimate::{Estimate, Estimator, Method};
use crate::interval::{ProportionInterval, clopper_pearson_upper, effective_bounds, normal};
use crate::stats;

/// Settings for the failure-rate estimators.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailureRateConfig {
    /// Two-sided confidence level in (0, 1). Default 0.95.
    pub level: f64,
    /// Interval construction. Default Wilson with effective sample size.
    pub interval: ProportionInterval,
}

impl Default for FailureRateConfig {
    fn default() -> Self {
        Self {
            level: 0.95,
            interval: ProportionInterval::Wilson,
        }
    }
}

impl FailureRateConfig {
    /// Checks the level.
    pub fn validate(&self) -> Result<()> {
        check::level(self.level)
    }
}

/// Per-prompt counts for the sequential filter (one JSONL line of filter statistics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PromptCounts {
    /// Cheap classifier-only draws from the unfiltered policy, independent of the labeled ones.
    pub cheap_trials: u64,
    /// How many of them the filter accepted (at this prompt's threshold).
    pub cheap_accepted: u64,
    /// Labeled unfiltered draws for this prompt (at least 1).
    pub labeled: u64,
    /// Labeled draws the filter would accept.
    pub labeled_accepted: u64,
    /// Labeled draws the filter would accept *and* that are failures.
    pub labeled_accepted_failures: u64,
    /// Candidates the filter itself drew on this prompt, over all its runs, counting each run
    /// up to and including the accepted candidate (a refused run counts its whole budget).
    /// Default 0: not logged.
    #[serde(default)]
    pub filter_attempts: u64,
    /// The filter's runs on this prompt behind `filter_attempts`; 0 (the default) when none
    /// were logged. With runs logged, `filter_attempts / filter_runs` replaces
    /// `(K + 1)/(A + 1)` as the estimate of `1/a`: attempts until acceptance are geometric,
    /// so their mean is an exactly unbiased estimate of `1/a(x)` (for a filter with a budget,
    /// of `(1 − (1−a)^budget)/a`, which is what its failure rate needs, refusals not being
    /// failures). These runs must be independent of the labeled draws.
    #[serde(default)]
    pub filter_runs: u64,
}

impl PromptCounts {
    fn validate(&self, index: usize) -> Result<()> {
        let what = || format!("prompts[{index}]");
        if self.filter_attempts < self.filter_runs {
            return Err(EstimateError::Counts {
                what: what(),
                detail: format!(
                    "filter_attempts {} < filter_runs {}: every run draws at least once",
                    self.filter_attempts, self.filter_runs
                ),
            });
        }
        if self.cheap_trials == 0 && self.filter_runs == 0 {
            return Err(EstimateError::Counts {
                what: what(),
                detail: "no cheap classifier-only draws and no logged filter runs; the \
                         acceptance rate is unknown"
                    .into(),
            });
        }
        if self.cheap_accepted > self.cheap_trials {
            return Err(EstimateError::Counts {
                what: what(),
                detail: format!(
                    "cheap_accepted {} > cheap_trials {}",
                    self.cheap_accepted, self.cheap_trials
                ),
            });
        }
        if self.labeled == 0 {
            return Err(EstimateError::Counts {
                what: what(),
                detail: "no labeled draws".into(),
            });
        }
        if self.labeled_accepted > self.labeled
            || self.labeled_accepted_failures > self.labeled_accepted
        {
            return Err(EstimateError::Counts {
                what: what(),
                detail: format!(
                    "need labeled_accepted_failures {} <= labeled_accepted {} <= labeled {}",
                    self.labeled_accepted_failures, self.labeled_accepted, self.labeled
                ),
            });
        }
        Ok(())
    }

    /// The estimate of `1/a`: `filter_attempts / filter_runs` when runs are logged (exactly
    /// unbiased), otherwise `(K + 1)/(A + 1)` from `A` accepted of `K` cheap draws. The latter
    /// is always finite but `E = (1 − (1 − a)^{K+1}) / a`: its relative bias `−(1−a)^{K+1}`
    /// is negligible only when `K·a` is large (1e−31 at a = 0.5, K = 100) and is −90% at
    /// a = 0.005, K = 20 — it understates the failures of exactly the prompts the filter
    /// struggles with. See [`FailureRate::warnings`].
    pub fn inverse_acceptance(&self) -> f64 {
        if self.filter_runs > 0 {
            self.filter_attempts as f64 / self.filter_runs as f64
        } else {
            (self.cheap_trials as f64 + 1.0) / (self.cheap_accepted as f64 + 1.0)
        }
    }

    /// Whether `1/a` comes from logged filter attempts.
    pub fn has_attempts(&self) -> bool {
        self.filter_runs > 0
    }
}

/// A failure-rate estimate with its bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FailureRate {
    /// The estimate; `n` = prompts.
    pub estimate: Estimate,
    /// Labeled unfiltered draws used.
    pub labeled: u64,
    /// Labeled draws that are failures the filter could emit (weight > 0).
    pub weighted_failures: u64,
    /// Mean importance weight of labeled draws the filter could emit.
    pub mean_weight: f64,
    /// Effective number of binomial trials behind the interval (Korn-Graubard).
    pub effective_n: f64,
    /// How `1/a` was estimated, and where that may be biased.
    #[serde(default)]
    pub diagnostics: FailureDiagnostics,
}

/// Below this many accepted cheap draws, a prompt's `(K + 1)/(A + 1)` may understate `1/a` by
/// more than about 1% (its relative bias is `−(1−a)^{K+1} ≈ −e^{−K a}`).
pub const MIN_CHEAP_ACCEPTED: u64 = 5;

/// How the acceptance rates behind a failure-rate estimate were obtained.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDiagnostics {
    /// Prompts whose `1/a` came from logged filter attempts (unbiased).
    pub prompts_with_attempts: u64,
    /// Prompts without attempts whose cheap draws hold fewer than [`MIN_CHEAP_ACCEPTED`]
    /// accepted ones: `K` is small against `1/a`, and `(K + 1)/(A + 1)` underestimates their
    /// weight (and so the failure rate).
    pub prompts_few_accepted: u64,
    /// The fewest accepted cheap draws of any prompt without attempts (`u64::MAX` if none).
    pub min_cheap_accepted: u64,
}

/// A warning attached to a failure-rate estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FailureRateWarning {
    /// Some prompts' acceptance rates rest on too few accepted cheap draws: the estimate may be
    /// biased low. Log the filter's attempt counts ([`PromptCounts::filter_attempts`]) or draw
    /// more cheap samples for low-acceptance prompts.
    FewAcceptedCheapDraws {
        /// How many prompts.
        prompts: u64,
        /// The fewest accepted cheap draws among them.
        min_cheap_accepted: u64,
    },
}

impl FailureRate {
    /// Everything that makes this estimate suspect (empty when nothing does).
    pub fn warnings(&self) -> Vec<FailureRateWarning> {
        let d = self.diagnostics;
        let mut out = Vec::new();
        if d.prompts_few_accepted > 0 {
            out.push(FailureRateWarning::FewAcceptedCheapDraws {
                prompts: d.prompts_few_accepted,
                min_cheap_accepted: d.min_cheap_accepted,
            });
        }
        out
    }
}

/// A one-sided upper confidence bound on a failure rate: the number to quote in a safety claim.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SafetyBound {
    /// The point estimate.
    pub value: f64,
    /// The upper bound: `P(F ≤ upper) ≥ level` (for a binomial count; Korn-Graubard otherwise).
    pub upper: f64,
    /// One-sided confidence level, e.g. 0.95.
    pub level: f64,
    /// Effective number of binomial trials behind the bound.
    pub effective_n: f64,
}

/// The one-sided Clopper-Pearson upper bound at `level` (e.g. 0.95) on the failure rate
/// estimated by `rate`, at its effective sample size: `B⁻¹(level; k* + 1, n* − k*)` with
/// `k* = F̂ n*`. Quote this, not the upper end of a two-sided interval, for "fails at most
/// …": the Wilson upper end is not a guaranteed bound for rare events, and a two-sided 95%
/// Clopper-Pearson upper end is a 97.5% one-sided bound.
///
/// ```
/// use nines_estimate::failure_rate::{sequential, upper_bound, FailureRateConfig, PromptCounts};
/// let p = PromptCounts { cheap_trials: 99, cheap_accepted: 99, labeled: 100,
///     labeled_accepted: 100, ..PromptCounts::default() };
/// let rate = sequential(&[p; 10], &FailureRateConfig::default()).unwrap();
/// let b = upper_bound(&rate, 0.95).unwrap();
/// assert_eq!(b.value, 0.0);
/// assert!(b.upper > 0.0 && b.upper < 3.1 / 1000.0);
/// ```
pub fn upper_bound(rate: &FailureRate, level: f64) -> Result<SafetyBound> {
    let p = rate.estimate.value.clamp(0.0, 1.0);
    let n = rate.effective_n.max(f64::MIN_POSITIVE);
    Ok(SafetyBound {
        value: rate.estimate.value,
        upper: clopper_pearson_upper(p, n, level)?,
        level,
        effective_n: rate.effective_n,
    })
}

/// Sequential rejection sampling, from per-prompt counts (threshold fixed or per prompt: the
/// counts are taken at whatever threshold the prompt used). Needs at least 2 prompts.
///
/// ```
/// use nines_estimate::failure_rate::{sequential, FailureRateConfig, PromptCounts};
/// let p = |acc, fail| PromptCounts { cheap_trials: 99, cheap_accepted: acc,
///     labeled: 10, labeled_accepted: 9, labeled_accepted_failures: fail,
///     ..PromptCounts::default() };
/// let est = sequential(&[p(89, 1), p(49, 0), p(99, 0)], &FailureRateConfig::default()).unwrap();
/// // Z = (1/10)(100/90), 0, 0 → F̂ = 1/27
/// assert!((est.estimate.value - 1.0 / 27.0).abs() < 1e-12);
/// ```
pub fn sequential(prompts: &[PromptCounts], cfg: &FailureRateConfig) -> Result<FailureRate> {
    cfg.validate()?;
    check::at_least("prompts", prompts, 2)?;
    let mut z = Vec::with_capacity(prompts.len());
    let (mut labeled, mut failures, mut acc, mut acc_w) = (0u64, 0u64, 0u64, 0.0);
    let mut diagnostics = FailureDiagnostics {
        min_cheap_accepted: u64::MAX,
        ..FailureDiagnostics::default()
    };
    for (j, p) in prompts.iter().enumerate() {
        p.validate(j)?;
        if p.has_attempts() {
            diagnostics.prompts_with_attempts += 1;
        } else {
            diagnostics.min_cheap_accepted = diagnostics.min_cheap_accepted.min(p.cheap_accepted);
            if p.cheap_accepted < MIN_CHEAP_ACCEPTED {
                diagnostics.prompts_few_accepted += 1;
            }
        }
        let inv = p.inverse_acceptance();
        z.push(inv * p.labeled_accepted_failures as f64 / p.labeled as f64);
        labeled += p.labeled;
        failures += p.labeled_accepted_failures;
        acc += p.labeled_accepted;
        acc_w += inv * p.labeled_accepted as f64;
    }
    let mean_weight = if acc > 0 { acc_w / acc as f64 } else { 1.0 };
    let mut rate = finish(
        &z,
        labeled,
        failures,
        mean_weight,
        Estimator::FailureRateSequential,
        cfg,
    )?;
    rate.diagnostics = diagnostics;
    Ok(rate)
}

/// `F̂ = mean(Z)`, its variance over prompts, and the interval.
fn finish(
    z: &[f64],
    labeled: u64,
    weighted_failures: u64,
    mean_weight: f64,
    estimator: Estimator,
    cfg: &FailureRateConfig,
) -> Result<FailureRate> {
    let m = z.len() as f64;
    let value = stats::mean(z);
    let var = stats::variance(z) / m;
    let se = var.sqrt();
    // Korn-Graubard: n_eff = p̂(1−p̂)/v̂, capped at the labeled count scaled by the typical
    // weight (a binomial count k from n draws weighted by w behaves like k out of n/w).
    let cap = labeled as f64 / mean_weight.max(f64::MIN_POSITIVE);
    let p = value.clamp(0.0, 1.0);
    let n_eff = if p > 0.0 && var > 0.0 {
        (p * (1.0 - p) / var).min(cap)
    } else {
        cap
    };
    let ci = match cfg.interval {
        ProportionInterval::Wald => {
            let ci = normal(value, se, cfg.level)?;
            (ci.0.max(0.0), ci.1.min(1.0))
        }
        kind => effective_bounds(p, n_eff.max(f64::MIN_POSITIVE), kind, cfg.level)?,
    };
    Ok(FailureRate {
        estimate: Estimate {
            value,
            std_error: se,
            ci,
            level: cfg.level,
            n: z.len(),
            method: Method::new(estimator, cfg.interval.kind()),
        },
        labeled,
        weighted_failures,
        mean_weight,
        effective_n: n_eff,
        diagnostics: FailureDiagnostics::default(),
    })
}

/// A classifier score with a multiplicity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreCount {
    /// Classifier score (lower is safer).
    pub score: f64,
    /// How many draws had it.
    pub count: u64,
}

/// A labeled score with a multiplicity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LabeledCount {
    /// Classifier score.
    pub score: f64,
    /// Whether these draws are failures.
    pub failure: bool,
    /// How many draws.
    pub count: u64,
}

/// One prompt's scored draws from the unfiltered policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptScores {
    /// This prompt's own threshold (adaptive filters); `None` uses the filter's threshold.
    pub threshold: Option<f64>,
    /// Cheap classifier-only draws (scores only), independent of the labeled draws.
    pub cheap: Vec<ScoreCount>,
    /// Labeled draws.
    pub labeled: Vec<LabeledCount>,
    /// Candidates the filter drew on this prompt over `filter_runs` runs (see
    /// [`PromptCounts::filter_attempts`]); used by the sequential estimators in place of the
    /// cheap draws' `(K + 1)/(A + 1)`. Default 0.
    #[serde(default)]
    pub filter_attempts: u64,
    /// The filter's logged runs on this prompt. Default 0: none.
    #[serde(default)]
    pub filter_runs: u64,
}

impl PromptScores {
    /// From raw scores: `cheap_scores` (classifier only) and `labeled` `(score, failure)`.
    pub fn from_samples(
        threshold: Option<f64>,
        cheap_scores: &[f64],
        labeled: &[(f64, bool)],
    ) -> Self {
        Self {
            threshold,
            cheap: cheap_scores
                .iter()
                .map(|&score| ScoreCount { score, count: 1 })
                .collect(),
            labeled: labeled
                .iter()
                .map(|&(score, failure)| LabeledCount {
                    score,
                    failure,
                    count: 1,
                })
                .collect(),
            filter_attempts: 0,
            filter_runs: 0,
        }
    }

    fn validate(&self, index: usize) -> Result<()> {
        let what = || format!("prompts[{index}]");
        if let Some(t) = self.threshold {
            check::finite_scalar("prompts.threshold", t)?;
        }
        let cs: Vec<f64> = self.cheap.iter().map(|c| c.score).collect();
        check::finite("prompts.cheap.score", &cs)?;
        let ls: Vec<f64> = self.labeled.iter().map(|c| c.score).collect();
        check::finite("prompts.labeled.score", &ls)?;
        if self.cheap.iter().map(|c| c.count).sum::<u64>() == 0 && self.filter_runs == 0 {
            return Err(EstimateError::Counts {
                what: what(),
                detail: "no cheap classifier-only draws".into(),
            });
        }
        if self.labeled.iter().map(|c| c.count).sum::<u64>() == 0 {
            return Err(EstimateError::Counts {
                what: what(),
                detail: "no labeled draws".into(),
            });
        }
        Ok(())
    }

    /// Counts at `threshold` for [`sequential`].
    pub fn counts(&self, threshold: f64) -> PromptCounts {
        let sum = |it: &mut dyn Iterator<Item = u64>| it.sum::<u64>();
        PromptCounts {
            cheap_trials: sum(&mut self.cheap.iter().map(|c| c.count)),
            cheap_accepted: sum(&mut self
                .cheap
                .iter()
                .filter(|c| accepts(c.score, threshold))
                .map(|c| c.count)),
            labeled: sum(&mut self.labeled.iter().map(|c| c.count)),
            labeled_accepted: sum(&mut self
                .labeled
                .iter()
                .filter(|c| accepts(c.score, threshold))
                .map(|c| c.count)),
            labeled_accepted_failures: sum(&mut self
                .labeled
                .iter()
                .filter(|c| c.failure && accepts(c.score, threshold))
                .map(|c| c.count)),
            filter_attempts: self.filter_attempts,
            filter_runs: self.filter_runs,
        }
    }
}

/// Adaptive-threshold sequential filter: every prompt carries the threshold the filter used
/// for it (`threshold` must be `Some`). The estimator conditions on the recorded thresholds; if
/// the filter chose them from the same cheap draws, use fresh cheap draws here.
pub fn adaptive(prompts: &[PromptScores], cfg: &FailureRateConfig) -> Result<FailureRate> {
    check::at_least("prompts", prompts, 2)?;
    let mut counts = Vec::with_capacity(prompts.len());
    for (j, p) in prompts.iter().enumerate() {
        p.validate(j)?;
        let t = p.threshold.ok_or_else(|| EstimateError::Counts {
            what: format!("prompts[{j}]"),
            detail: "an adaptive filter needs the prompt's threshold".into(),
        })?;
        counts.push(p.counts(t));
    }
    sequential(&counts, cfg)
}

/// The failure rate of `selection` (sequential or batched-safest; a prompt's own threshold
/// overrides the selection's) from scored draws. Needs at least 2 prompts.
///
/// For the batched-safest filter the weight of a labeled draw with score `v` is
/// `k · P(it would be the one emitted from a batch made of it and k−1 of the prompt's cheap
/// draws)`, averaged over all such batches (a U-statistic over the cheap draws:
/// `k Σ_e C(E,e) C(G,k−1−e) / ((e+1) C(K,k−1))` with `G` cheap draws scoring above `v`, `E`
/// tied with it, `K` in all), divided under [`OnEmpty::Retry`] by the unbiased estimate
/// `1 − C(K−A, k)/C(K, k)` of the chance that a batch holds an accepted draw. With
/// [`OnEmpty::EmitSafest`] this is exactly unbiased; with retry the division leaves a bias of
/// order `Var(Ẑ)/Z²`, negligible unless acceptance is tiny. Needs `K ≥ k` cheap draws.
pub fn from_scores(
    prompts: &[PromptScores],
    selection: &Selection,
    cfg: &FailureRateConfig,
) -> Result<FailureRate> {
    selection.validate()?;
    cfg.validate()?;
    check::at_least("prompts", prompts, 2)?;
    let (batch, on_empty) = match *selection {
        Selection::Sequential { threshold } => {
            let mut counts = Vec::with_capacity(prompts.len());
            for (j, p) in prompts.iter().enumerate() {
                p.validate(j)?;
                counts.push(p.counts(p.threshold.unwrap_or(threshold)));
            }
            return sequential(&counts, cfg);
        }
        Selection::BatchedSafest {
            batch, on_empty, ..
        } => (batch, on_empty),
    };
    let mut z = Vec::with_capacity(prompts.len());
    let (mut labeled, mut failures, mut acc, mut acc_w) = (0u64, 0u64, 0u64, 0.0);
    for (j, p) in prompts.iter().enumerate() {
        p.validate(j)?;
        let t = p.threshold.unwrap_or(selection.threshold());
        let mut cheap: Vec<ScoreCount> = p.cheap.iter().copied().filter(|c| c.count > 0).collect();
        cheap.sort_by(|a, b| a.score.total_cmp(&b.score));
        let total: u64 = cheap.iter().map(|c| c.count).sum();
        if total < batch as u64 {
            return Err(EstimateError::Counts {
                what: format!("prompts[{j}]"),
                detail: format!(
                    "{total} cheap draws; the batched estimator needs at least k = {batch}"
                ),
            });
        }
        // Suffix sums: above[i] = count of cheap draws with index >= i (sorted ascending).
        let mut above = vec![0u64; cheap.len() + 1];
        for i in (0..cheap.len()).rev() {
            above[i] = above[i + 1] + cheap[i].count;
        }
        let greater = |v: f64| above[cheap.partition_point(|c| c.score <= v)];
        let ge = |v: f64| above[cheap.partition_point(|c| c.score < v)];
        let z_hat = match on_empty {
            OnEmpty::EmitSafest => 1.0,
            OnEmpty::Retry => 1.0 - choose_ratio(greater(t), total, batch),
        };
        let l_total: u64 = p.labeled.iter().map(|c| c.count).sum();
        let mut sum = 0.0;
        for c in &p.labeled {
            let emit_possible = on_empty == OnEmpty::EmitSafest || accepts(c.score, t);
            if !emit_possible || c.count == 0 {
                continue;
            }
            let g = greater(c.score);
            let e = ge(c.score) - g;
            let r = safest_weight(g, e, total, batch);
            if on_empty == OnEmpty::Retry && z_hat <= 0.0 {
                if c.failure && r > 0.0 {
                    return Err(EstimateError::Counts {
                        what: format!("prompts[{j}]"),
                        detail: format!(
                            "none of {total} cheap draws is accepted at threshold {t}, but a \
                             labeled failure is; draw more cheap samples for this prompt"
                        ),
                    });
                }
                continue;
            }
            let w = r / z_hat;
            acc += c.count;
            acc_w += w * c.count as f64;
            if c.failure {
                sum += w * c.count as f64;
                if w > 0.0 {
                    failures += c.count;
                }
            }
        }
        labeled += l_total;
        z.push(sum / l_total as f64);
    }
    let mean_weight = if acc > 0 && acc_w > 0.0 {
        acc_w / acc as f64
    } else {
        1.0
    };
    finish(
        &z,
        labeled,
        failures,
        mean_weight,
        Estimator::FailureRateBatched,
        cfg,
    )
}

/// `C(g, k) / C(n, k)`: probability that `k` draws without replacement from `n` all fall in a
/// set of `g`.
fn choose_ratio(g: u64, n: u64, k: usize) -> f64 {
    let k = k as u64;
    if g < k {
        return 0.0;
    }
    let mut r = 1.0;
    for i in 0..k {
        r *= (g - i) as f64 / (n - i) as f64;
    }
    r
}

/// `k Σ_e C(E,e) C(G,k−1−e) / ((e+1) C(K,k−1))`: `k` times the probability that a draw with
/// `G` cheap draws above it, `E` tied and `K` in all wins a batch made of it and `k − 1` cheap
/// draws picked without replacement (ties broken uniformly).
fn safest_weight(g: u64, e: u64, total: u64, k: usize) -> f64 {
    let r = (k - 1) as u64;
    let mut sum = 0.0;
    // C(r, ties), updated as ties grows.
    let mut c_r = 1.0;
    for ties in 0..=e.min(r) {
        if ties > 0 {
            c_r *= (r - ties + 1) as f64 / ties as f64;
        }
        let rest = r - ties;
        if rest > g {
            continue;
        }
        // C(E,ties) C(G,rest) / C(K,r) = C(r,ties) Π_{i<ties} (E−i)/(K−i)
        //                                 · Π_{i<rest} (G−i)/(K−ties−i); every factor ≤ 1.
        let mut t = c_r;
        for i in 0..ties {
            t *= (e - i) as f64 / (total - i) as f64;
        }
        for i in 0..rest {
            t *= (g - i) as f64 / (total - ties - i) as f64;
        }
        sum += t / (ties as f64 + 1.0);
    }
    k as f64 * sum
}
