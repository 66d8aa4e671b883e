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
use crate::interval::{ProportionInterval, effective_bounds, normal};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
}

impl PromptCounts {
    fn validate(&self, index: usize) -> Result<()> {
        let what = || format!("prompts[{index}]");
        if self.cheap_trials == 0 {
            return Err(EstimateError::Counts {
                what: what(),
                detail: "no cheap classifier-only draws; the acceptance rate is unknown".into(),
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

    /// `(K + 1)/(A + 1)`: estimate of `1/a` from `A` accepted of `K` cheap draws. Always
    /// finite; `E = (1 − (1 − a)^{K+1}) / a`, so the bias `−(1−a)^{K+1}/a` is exponentially
    /// small in `K` (≈ 1e−31 for a = 0.5, K = 100).
    pub fn inverse_acceptance(&self) -> f64 {
        (self.cheap_trials as f64 + 1.0) / (self.cheap_accepted as f64 + 1.0)
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
}

/// Sequential rejection sampling, from per-prompt counts (threshold fixed or per prompt: the
/// counts are taken at whatever threshold the prompt used). Needs at least 2 prompts.
///
/// ```
/// use nines_estimate::failure_rate::{sequential, FailureRateConfig, PromptCounts};
/// let p = |acc, fail| PromptCounts { cheap_trials: 99, cheap_accepted: acc,
///     labeled: 10, labeled_accepted: 9, labeled_accepted_failures: fail };
/// let est = sequential(&[p(89, 1), p(49, 0), p(99, 0)], &FailureRateConfig::default()).unwrap();
/// // Z = (1/10)(100/90), 0, 0 → F̂ = 1/27
/// assert!((est.estimate.value - 1.0 / 27.0).abs() < 1e-12);
/// ```
pub fn sequential(prompts: &[PromptCounts], cfg: &FailureRateConfig) -> Result<FailureRate> {
    cfg.validate()?;
    check::at_least("prompts", prompts, 2)?;
    let mut z = Vec::with_capacity(prompts.len());
    let (mut labeled, mut failures, mut acc, mut acc_w) = (0u64, 0u64, 0u64, 0.0);
    for (j, p) in prompts.iter().enumerate() {
        p.validate(j)?;
        let inv = p.inverse_acceptance();
        z.push(inv * p.labeled_accepted_failures as f64 / p.labeled as f64);
        labeled += p.labeled;
        failures += p.labeled_accepted_failures;
        acc += p.labeled_accepted;
        acc_w += inv * p.labeled_accepted as f64;
    }
    let mean_weight = if acc > 0 { acc_w / acc as f64 } else { 1.0 };
    finish(
        &z,
        labeled,
        failures,
        mean_weight,
        Estimator::FailureRateSequential,
        cfg,
    )
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
        if self.cheap.iter().map(|c| c.count).sum::<u64>() == 0 {
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
