//! Reweighting: Horvitz-Thompson and Hájek means under sampling without replacement,
//! importance sampling (unnormalized and self-normalized), effective sample size, weight
//! clipping with its bias, diagnostics that flag weights no estimator can be trusted with, and
//! the repair of data collected under a mistaken importance-sampling density.
//!
//! Conventions: `values[i]` is `f(x_i)`; `weights[i]` is the density ratio `p(x_i)/q(x_i)` of the
//! target `p` to the sampling density `q` that actually produced `x_i`.

use serde::{Deserialize, Serialize};

use crate::check;
use crate::cluster::Clusters;
use crate::error::{EstimateError, Result};
use crate::estimate::{Estimate, Estimator, IntervalKind, Method};
use crate::interval::{self, normal};
use crate::stats;

/// Horvitz-Thompson estimate of a finite population's mean `(1/N) Σ_{i∈U} y_i` from a Poisson
/// sample: each of the `population` units was included independently with known probability
/// `π_i` (for example active-learning records carrying their inclusion probability).
///
/// `μ̂ = (1/N) Σ_{i∈s} y_i/π_i` is unbiased; `Var̂ = (1/N²) Σ_{i∈s} (1−π_i) y_i²/π_i²` is the
/// unbiased variance estimator for Poisson sampling. `n` = sample size.
///
/// ```
/// use nines_estimate::weighting::horvitz_thompson;
/// // Census (π = 1): the HT mean is the plain mean with zero variance.
/// let e = horvitz_thompson(&[1.0, 0.0, 1.0, 1.0], &[1.0; 4], 4, 0.95).unwrap();
/// assert_eq!(e.value, 0.75);
/// assert_eq!(e.std_error, 0.0);
/// ```
pub fn horvitz_thompson(
    values: &[f64],
    inclusion: &[f64],
    population: usize,
    level: f64,
) -> Result<Estimate> {
    check::nonempty("values", values)?;
    check::same_len("values", values, "inclusion", inclusion)?;
    check::finite("values", values)?;
    check::open_closed_unit("inclusion", inclusion)?;
    check::level(level)?;
    if population < values.len() {
        return Err(EstimateError::Parameter {
            name: "population",
            value: population.to_string(),
            reason: "the population cannot be smaller than the sample",
        });
    }
    let big_n = population as f64;
    let mut total = 0.0;
    let mut var = 0.0;
    for (y, p) in values.iter().zip(inclusion) {
        total += y / p;
        var += (1.0 - p) * y * y / (p * p);
    }
    let value = total / big_n;
    let se = var.sqrt() / big_n;
    Ok(Estimate {
        value,
        std_error: se,
        ci: normal(value, se, level)?,
        level,
        n: values.len(),
        method: Method::new(Estimator::HorvitzThompson, IntervalKind::Normal),
    })
}

/// Unnormalized importance sampling: `μ̂ = (1/n) Σ w_i f(x_i)` with `x_i ~ q` i.i.d. and
/// `w_i = p(x_i)/q(x_i)` known exactly (both densities normalized). Unbiased for `E_p[f]`
/// whenever `q > 0` wherever `p·f ≠ 0`; standard error `sd(w f)/√n`. `n` = samples.
///
/// ```
/// use nines_estimate::weighting::importance;
/// let e = importance(&[1.0, 0.0, 1.0], &[0.5, 2.0, 1.5], 0.95).unwrap();
/// assert!((e.value - 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn importance(values: &[f64], weights: &[f64], level: f64) -> Result<Estimate> {
    check::at_least("values", values, 2)?;
    check::same_len("values", values, "weights", weights)?;
    check::finite("values", values)?;
    check::weights("weights", weights, false)?;
    let wf: Vec<f64> = values.iter().zip(weights).map(|(f, w)| w * f).collect();
    let mut e = interval::mean(&wf, level)?;
    e.method = Method::new(Estimator::Importance, IntervalKind::Normal);
    Ok(e)
}

/// Self-normalized importance sampling: `μ̂ = Σ w_i f_i / Σ w_i`. Needs the weights only up to a
/// constant (unnormalized densities, e.g. a language model's sequence probabilities under two
/// temperatures). Consistent with bias O(1/n); delta-method standard error
/// `√(n/(n−1) · Σ w_i²(f_i − μ̂)²) / Σ w_i`. `n` = samples.
pub fn self_normalized(values: &[f64], weights: &[f64], level: f64) -> Result<Estimate> {
    check::at_least("values", values, 2)?;
    check::same_len("values", values, "weights", weights)?;
    check::finite("values", values)?;
    check::weights("weights", weights, true)?;
    let wf: Vec<f64> = values.iter().zip(weights).map(|(f, w)| w * f).collect();
    let mut e = interval::ratio(&wf, weights, level)?;
    e.method = Method::new(Estimator::SelfNormalized, IntervalKind::Normal);
    Ok(e)
}

/// Kish's effective sample size `(Σw)²/Σw²`, in `[1, n]`: the number of equally weighted
/// samples that would give the same variance for a bounded `f`. Scale-invariant.
///
/// ```
/// use nines_estimate::weighting::ess;
/// assert_eq!(ess(&[1.0, 1.0, 1.0, 1.0]).unwrap(), 4.0);
/// assert_eq!(ess(&[1.0, 0.0, 0.0, 0.0]).unwrap(), 1.0);
/// ```
pub fn ess(weights: &[f64]) -> Result<f64> {
    check::weights("weights", weights, true)?;
    let s: f64 = weights.iter().sum();
    let s2: f64 = weights.iter().map(|w| w * w).sum();
    Ok(s * s / s2)
}

/// Ionides' (2008) truncation point `w̄ √n`: clipping there keeps the variance finite while
/// the clipping bias vanishes as `n` grows.
pub fn ionides_cap(weights: &[f64]) -> Result<f64> {
    check::weights("weights", weights, true)?;
    Ok(stats::mean(weights) * (weights.len() as f64).sqrt())
}

/// `min(w_i, cap)` for every weight.
pub fn clip_weights(weights: &[f64], cap: f64) -> Result<Vec<f64>> {
    check::weights("weights", weights, false)?;
    check_cap(cap)?;
    Ok(weights.iter().map(|w| w.min(cap)).collect())
}

fn check_cap(cap: f64) -> Result<()> {
    if cap.is_finite() && cap > 0.0 {
        Ok(())
    } else {
        Err(EstimateError::Parameter {
            name: "cap",
            value: cap.to_string(),
            reason: "a clipping cap must be finite and > 0",
        })
    }
}

/// Whether weights are exact density ratios or known only up to a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// Exact ratios of normalized densities: unnormalized IS ([`importance`]), unbiased.
    Exact,
    /// Ratios known up to a constant: self-normalized IS ([`self_normalized`]).
    #[default]
    SelfNormalized,
}

/// A clipped importance-sampling estimate together with what the clipping cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Clipped {
    /// The estimate with clipped weights. Its interval covers the *clipped* target
    /// `E_q[min(w, c) f]` (or its self-normalized analogue), not `E_p[f]`: see `excess_mass`.
    pub estimate: Estimate,
    /// The cap `c`.
    pub cap: f64,
    /// How many weights exceeded the cap.
    pub clipped: usize,
    /// Estimated target mass above the cap, `δ = E_q[(w−c)₊] / E_q[w]`. The clipping bias
    /// obeys `|bias| ≤ δ · sup|f|` (exact weights) and `|bias| ≤ δ · (sup f − inf f)`
    /// (self-normalized); for `f` in [0, 1] both are at most `δ`.
    pub excess_mass: f64,
    /// A sample estimate of the bias itself: clipped minus unclipped estimate
    /// (`−mean((w−c)₊ f)` for exact weights). Noisy: it carries the very variance clipping
    /// removed, so use it as a diagnostic, not a correction.
    pub bias_estimate: f64,
}

/// Importance sampling with weights clipped at `cap`. Clipping trades bias for variance:
/// with exact weights `E[μ̂_c] − E_p[f] = −E_q[(w−c)₊ f]`. `n` = samples.
pub fn clipped(
    values: &[f64],
    weights: &[f64],
    cap: f64,
    normalization: Normalization,
    level: f64,
) -> Result<Clipped> {
    check::at_least("values", values, 2)?;
    check::same_len("values", values, "weights", weights)?;
    check::finite("values", values)?;
    check::weights(
        "weights",
        weights,
        normalization == Normalization::SelfNormalized,
    )?;
    check_cap(cap)?;
    let wc: Vec<f64> = weights.iter().map(|w| w.min(cap)).collect();
    let clipped = weights.iter().filter(|w| **w > cap).count();
    let excess: Vec<f64> = weights.iter().map(|w| (w - cap).max(0.0)).collect();
    let n = values.len() as f64;
    Ok(match normalization {
        Normalization::Exact => {
            let mut estimate = importance(values, &wc, level)?;
            estimate.method = Method::new(Estimator::ClippedImportance, IntervalKind::Normal);
            let bias_estimate = -excess.iter().zip(values).map(|(e, f)| e * f).sum::<f64>() / n;
            Clipped {
                estimate,
                cap,
                clipped,
                excess_mass: excess.iter().sum::<f64>() / n,
                bias_estimate,
            }
        }
        Normalization::SelfNormalized => {
            let mut estimate = self_normalized(values, &wc, level)?;
            estimate.method = Method::new(Estimator::ClippedSelfNormalized, IntervalKind::Normal);
            let full = self_normalized(values, weights, level)?;
            Clipped {
                estimate,
                cap,
                clipped,
                excess_mass: excess.iter().sum::<f64>() / weights.iter().sum::<f64>(),
                bias_estimate: estimate.value - full.value,
            }
        }
    })
}

/// Whether weights are ratios of normalized densities (so they average 1 under the sampling
/// density) or known only up to a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightScale {
    /// `p/q` with both densities normalized: `E_q[w] = 1` whenever `q > 0` wherever `p > 0`, so
    /// a mean weight far from 1 reveals a support gap or a normalization mistake.
    #[default]
    Normalized,
    /// Known up to a constant: the mean weight says nothing.
    Arbitrary,
}

/// A warning about a set of weights, from [`diagnose`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeightWarning {
    /// Normalized weights whose mean is more than [`MEAN_WEIGHT_Z`] standard errors (and more
    /// than [`MEAN_WEIGHT_TOLERANCE`]) from 1: a support gap or unnormalized densities. Any
    /// weighted estimate is then biased.
    MeanWeightFarFromOne {
        /// The mean weight.
        mean: f64,
        /// Its standard error.
        std_error: f64,
    },
    /// Kish's effective sample size is below [`MIN_ESS`]: normal intervals are not to be
    /// trusted.
    LowEffectiveSampleSize {
        /// The effective sample size.
        ess: f64,
        /// The number of weights.
        n: usize,
    },
    /// One weight holds more than [`MAX_WEIGHT_SHARE`] of the total: one sample dominates.
    DominantWeight {
        /// The largest weight's share of the total.
        share: f64,
    },
    /// Some weights are exactly zero (samples the target never produces).
    ZeroWeights {
        /// How many.
        count: usize,
    },
}

/// A normalized mean weight this many standard errors from 1 is flagged.
pub const MEAN_WEIGHT_Z: f64 = 4.0;
/// … provided it is also at least this far from 1 (guards rounding in huge samples).
pub const MEAN_WEIGHT_TOLERANCE: f64 = 0.01;
/// Effective sample sizes below this are flagged.
pub const MIN_ESS: f64 = 30.0;
/// A largest-weight share above this is flagged.
pub const MAX_WEIGHT_SHARE: f64 = 0.1;

/// What a set of weights says about the estimate built on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightDiagnostics {
    /// Number of weights.
    pub n: usize,
    /// Mean weight (1 in expectation for normalized weights and full support).
    pub mean_weight: f64,
    /// Standard error of the mean weight, `sd(w)/√n`.
    pub mean_weight_std_error: f64,
    /// Kish effective sample size `(Σw)²/Σw²`.
    pub ess: f64,
    /// The largest weight's share of the total.
    pub max_weight_share: f64,
    /// Everything that looks wrong, in the order of [`WeightWarning`]'s variants.
    pub warnings: Vec<WeightWarning>,
}

impl WeightDiagnostics {
    /// Whether the mean weight is far from 1 (only ever set for [`WeightScale::Normalized`]).
    pub fn mean_weight_far_from_one(&self) -> bool {
        self.warnings
            .iter()
            .any(|w| matches!(w, WeightWarning::MeanWeightFarFromOne { .. }))
    }
}

/// Mean weight, Kish ESS, largest weight's share and the warnings they raise. Fails on an
/// empty, non-finite, negative or all-zero set of weights.
///
/// ```
/// use nines_estimate::weighting::{diagnose, WeightScale, WeightWarning};
/// let d = diagnose(&[0.8; 100], WeightScale::Normalized).unwrap();
/// assert!((d.ess - 100.0).abs() < 1e-9);
/// assert!(matches!(d.warnings[0], WeightWarning::MeanWeightFarFromOne { .. }));
/// assert!(diagnose(&[0.8; 100], WeightScale::Arbitrary).unwrap().warnings.is_empty());
/// ```
pub fn diagnose(weights: &[f64], scale: WeightScale) -> Result<WeightDiagnostics> {
    check::weights("weights", weights, true)?;
    let n = weights.len();
    let mean_weight = stats::mean(weights);
    let mean_weight_std_error = if n >= 2 {
        (stats::variance(weights) / n as f64).sqrt()
    } else {
        0.0
    };
    let total: f64 = weights.iter().sum();
    let max = weights.iter().copied().fold(0.0, f64::max);
    let ess = ess(weights)?;
    let max_weight_share = max / total;
    let zero = weights.iter().filter(|w| **w == 0.0).count();
    let mut warnings = Vec::new();
    let off = (mean_weight - 1.0).abs();
    if scale == WeightScale::Normalized
        && off > MEAN_WEIGHT_TOLERANCE
        && off > MEAN_WEIGHT_Z * mean_weight_std_error
    {
        warnings.push(WeightWarning::MeanWeightFarFromOne {
            mean: mean_weight,
            std_error: mean_weight_std_error,
        });
    }
    if ess < MIN_ESS {
        warnings.push(WeightWarning::LowEffectiveSampleSize { ess, n });
    }
    if max_weight_share > MAX_WEIGHT_SHARE {
        warnings.push(WeightWarning::DominantWeight {
            share: max_weight_share,
        });
    }
    if zero > 0 {
        warnings.push(WeightWarning::ZeroWeights { count: zero });
    }
    Ok(WeightDiagnostics {
        n,
        mean_weight,
        mean_weight_std_error,
        ess,
        max_weight_share,
        warnings,
    })
}

/// What to do when normalized weights average far from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMeanWeight {
    /// Fail with [`EstimateError::MeanWeight`].
    #[default]
    Error,
    /// Return the estimate with [`WeightWarning::MeanWeightFarFromOne`] in its diagnostics.
    Warn,
}

/// Settings for [`repair_mistaken`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RepairOptions {
    /// Two-sided confidence level. Default 0.95.
    pub level: f64,
    /// Estimator form. Default self-normalized: even with exact density ratios its interval
    /// covers 94–95% where the unnormalized form's covers 83–90% (`tests/weight_diagnostics.rs`).
    pub form: Normalization,
    /// Whether both log densities are normalized. Default yes, which lets the mean weight
    /// reveal a support gap.
    pub densities: WeightScale,
    /// What a mean weight far from 1 does. Default: an error.
    pub on_mean_weight: OnMeanWeight,
}

impl Default for RepairOptions {
    fn default() -> Self {
        Self {
            level: 0.95,
            form: Normalization::SelfNormalized,
            densities: WeightScale::Normalized,
            on_mean_weight: OnMeanWeight::Error,
        }
    }
}

/// A repaired estimate from data gathered under a mistaken importance-sampling attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repair {
    /// The estimate of `E_target[f]` with the corrected weights `p/q_used`.
    pub estimate: Estimate,
    /// Kish effective sample size of the corrected weights.
    pub ess: f64,
    /// Largest corrected weight's share of the total weight (near 1: one sample dominates and
    /// the interval is not to be trusted).
    pub max_weight_share: f64,
    /// Mean weight, ESS, largest share and warnings of the corrected weights (for
    /// self-normalized log densities shifted by their maximum, the mean weight is of the
    /// shifted weights and is not checked).
    pub diagnostics: WeightDiagnostics,
}

/// Repairs data drawn from a density `q_used` that differed from the one the weights were
/// computed for (wrong temperature, a sampler bug, a stale proposal): reweights every sample
/// by `p(x_i)/q_used(x_i)`, the target density over the density *actually* used, given as log
/// densities (`log_target[i] = −∞` is allowed and gives weight 0; `log_used` must be finite,
/// since `x_i` was drawn from it).
///
/// By default the estimate is self-normalized (smaller variance and honest coverage even when
/// the densities are exact) and, the densities being normalized, the mean weight is checked:
/// if it is far from 1 (see [`diagnose`]) part of the target is never sampled and every
/// estimate from these draws is biased, so this fails with [`EstimateError::MeanWeight`]
/// (or warns, with [`OnMeanWeight::Warn`]). Valid only if `q_used > 0` wherever `p·f ≠ 0`;
/// the mean-weight check detects a gap once its target mass exceeds about four standard errors
/// of the mean weight.
///
/// ```
/// use nines_estimate::weighting::{repair_mistaken, RepairOptions};
/// // Draws from q_used = (0.5, 0.5) on two outcomes, target p = (0.25, 0.75).
/// let values = [0.0, 1.0, 0.0, 1.0];
/// let lp = [0.25f64.ln(), 0.75f64.ln(), 0.25f64.ln(), 0.75f64.ln()];
/// let lq = [0.5f64.ln(); 4];
/// let r = repair_mistaken(&values, &lp, &lq, &RepairOptions::default()).unwrap();
/// assert!((r.estimate.value - 0.75).abs() < 1e-12);
/// assert!((r.diagnostics.mean_weight - 1.0).abs() < 1e-12);
/// ```
pub fn repair_mistaken(
    values: &[f64],
    log_target: &[f64],
    log_used: &[f64],
    options: &RepairOptions,
) -> Result<Repair> {
    check::at_least("values", values, 2)?;
    check::same_len("values", values, "log_target", log_target)?;
    check::same_len("values", values, "log_used", log_used)?;
    check::level(options.level)?;
    if let Some(index) = log_target
        .iter()
        .position(|l| l.is_nan() || *l == f64::INFINITY)
    {
        return Err(EstimateError::NonFinite {
            field: "log_target",
            index,
            value: log_target[index],
        });
    }
    check::finite("log_used", log_used)?;
    let log_w: Vec<f64> = log_target
        .iter()
        .zip(log_used)
        .map(|(p, q)| p - q)
        .collect();
    let max_log_w = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max_log_w == f64::NEG_INFINITY {
        return Err(EstimateError::ZeroWeights {
            field: "log_target",
            n: values.len(),
        });
    }
    // Normalized densities keep their scale (the mean weight is checked); others are shifted
    // by the largest log weight so nothing overflows.
    let shift = match options.densities {
        WeightScale::Normalized => 0.0,
        WeightScale::Arbitrary => max_log_w,
    };
    let w: Vec<f64> = log_w.iter().map(|l| (l - shift).exp()).collect();
    check::finite("weights (exp(log_target - log_used))", &w)?;
    let diagnostics = diagnose(&w, options.densities)?;
    if diagnostics.mean_weight_far_from_one() && options.on_mean_weight == OnMeanWeight::Error {
        return Err(EstimateError::MeanWeight {
            field: "log_target - log_used",
            mean: diagnostics.mean_weight,
            std_error: diagnostics.mean_weight_std_error,
            n: w.len(),
        });
    }
    let estimate = match options.form {
        Normalization::Exact => importance(values, &w, options.level)?,
        Normalization::SelfNormalized => self_normalized(values, &w, options.level)?,
    };
    Ok(Repair {
        estimate,
        ess: diagnostics.ess,
        max_weight_share: diagnostics.max_weight_share,
        diagnostics,
    })
}

/// How a sample drawn without replacement is weighted by its inclusion probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InclusionForm {
    /// Horvitz-Thompson: `Σ_s (p_i/π_i) y_i / Σ_U p_i`; needs the target shares to sum to 1
    /// over the whole population (`Σ_U p_i = 1`).
    HorvitzThompson,
    /// Hájek: `Σ_s (p_i/π_i) y_i / Σ_s (p_i/π_i)`; target shares on any scale, smaller
    /// variance, bias O(1/n).
    #[default]
    Hajek,
}

/// A mean over a finite population of prompts estimated from a sample drawn *without
/// replacement*, with its weight diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InclusionWeighted {
    /// The estimate; `n` = sampled units.
    pub estimate: Estimate,
    /// Diagnostics of the weights `p_i/π_i` (scale not checked).
    pub diagnostics: WeightDiagnostics,
}

/// The target mean `Σ_U p_i y_i / Σ_U p_i` of a finite population `U` (prompts with target
/// shares `p_i`) from a sample drawn without replacement in which unit `i` had inclusion
/// probability `π_i = P(i ∈ sample)`, e.g. `n` prompts drawn one by one ∝ `q` without
/// replacement. Weighting by `p/q` is wrong there: once the sampling fraction is not small,
/// `π_i` is not proportional to `q_i` (heavy units saturate at 1), so the weights must be
/// `p_i/π_i`.
///
/// Variance (Poisson approximation with the finite-population factor): with weights
/// `w_i = p_i/π_i` and residuals `e_i = w_i (y_i − μ̂)` (Hájek) or `e_i = w_i y_i` (HT),
/// `Var̂ = c Σ_s (1 − π_i) e_i² / D²`, `D = Σ_s w_i` and `c = n/(n−1)` (Hájek) or `D = Σ_U p_i
/// = 1` and `c = 1` (HT).
/// Units of one prompt sampled together are handled by `prompts` (cluster-robust residual
/// totals); pass `None` for one unit per prompt. Normal interval.
///
/// ```
/// use nines_estimate::weighting::{inclusion_weighted, InclusionForm};
/// // Census of three units: the estimate is exact and its variance 0.
/// let r = inclusion_weighted(&[1.0, 0.0, 1.0], &[1.0; 3], &[1.0; 3], InclusionForm::Hajek,
///                            None, 0.95).unwrap();
/// assert!((r.estimate.value - 2.0 / 3.0).abs() < 1e-12);
/// assert_eq!(r.estimate.std_error, 0.0);
/// ```
pub fn inclusion_weighted(
    values: &[f64],
    target_shares: &[f64],
    inclusion: &[f64],
    form: InclusionForm,
    prompts: Option<&Clusters>,
    level: f64,
) -> Result<InclusionWeighted> {
    check::at_least("values", values, 2)?;
    check::same_len("values", values, "target_shares", target_shares)?;
    check::same_len("values", values, "inclusion", inclusion)?;
    check::finite("values", values)?;
    check::weights("target_shares", target_shares, true)?;
    check::open_closed_unit("inclusion", inclusion)?;
    check::level(level)?;
    if let Some(c) = prompts {
        crate::cluster::same_units("values", values.len(), c)?;
    }
    let w: Vec<f64> = target_shares
        .iter()
        .zip(inclusion)
        .map(|(p, pi)| p / pi)
        .collect();
    let diagnostics = diagnose(&w, WeightScale::Arbitrary)?;
    let wy: f64 = w.iter().zip(values).map(|(w, y)| w * y).sum();
    let sw: f64 = w.iter().sum();
    let (value, denom, estimator) = match form {
        InclusionForm::HorvitzThompson => (wy, 1.0, Estimator::HorvitzThompson),
        InclusionForm::Hajek => (wy / sw, sw, Estimator::Hajek),
    };
    let centre = match form {
        InclusionForm::HorvitzThompson => 0.0,
        InclusionForm::Hajek => value,
    };
    // Residuals scaled by √(1 − π) carry the finite-population factor.
    let e: Vec<f64> = w
        .iter()
        .zip(values)
        .zip(inclusion)
        .map(|((w, y), pi)| w * (y - centre) * (1.0 - pi).sqrt())
        .collect();
    let totals = match prompts {
        Some(c) => c.totals(&e),
        None => e,
    };
    let k = totals.len() as f64;
    let small_sample = match form {
        InclusionForm::HorvitzThompson => 1.0,
        InclusionForm::Hajek if k >= 2.0 => k / (k - 1.0),
        InclusionForm::Hajek => 0.0,
    };
    let var = small_sample * totals.iter().map(|x| x * x).sum::<f64>() / (denom * denom);
    let se = var.sqrt();
    Ok(InclusionWeighted {
        estimate: Estimate {
            value,
            std_error: se,
            ci: normal(value, se, level)?,
            level,
            n: values.len(),
            method: Method::new(estimator, IntervalKind::Normal),
        },
        diagnostics,
    })
}
