//! Reweighting: Horvitz-Thompson, importance sampling (unnormalized and self-normalized),
//! effective sample size, weight clipping with its bias, and the repair of data collected under
//! a mistaken importance-sampling density.
//!
//! Conventions: `values[i]` is `f(x_i)`; `weights[i]` is the density ratio `p(x_i)/q(x_i)` of the
//! target `p` to the sampling density `q` that actually produced `x_i`.

use serde::{Deserialize, Serialize};

use crate::check;
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

/// A repaired estimate from data gathered under a mistaken importance-sampling attempt.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Repair {
    /// The estimate of `E_target[f]` with the corrected weights `p/q_used`.
    pub estimate: Estimate,
    /// Kish effective sample size of the corrected weights.
    pub ess: f64,
    /// Largest corrected weight's share of the total weight (near 1: one sample dominates and
    /// the interval is not to be trusted).
    pub max_weight_share: f64,
}

/// Repairs data drawn from a density `q_used` that differed from the one the weights were
/// computed for (wrong temperature, a sampler bug, a stale proposal): reweights every sample
/// by `p(x_i)/q_used(x_i)`, the target density over the density *actually* used, given as log
/// densities (`log_target[i] = −∞` is allowed and gives weight 0; `log_used` must be finite,
/// since `x_i` was drawn from it). With [`Normalization::SelfNormalized`] the densities may be
/// unnormalized. Valid only if `q_used > 0` wherever `p·f ≠ 0`, which no sample can check.
pub fn repair_mistaken(
    values: &[f64],
    log_target: &[f64],
    log_used: &[f64],
    normalization: Normalization,
    level: f64,
) -> Result<Repair> {
    check::at_least("values", values, 2)?;
    check::same_len("values", values, "log_target", log_target)?;
    check::same_len("values", values, "log_used", log_used)?;
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
    let shift = match normalization {
        Normalization::Exact => 0.0,
        Normalization::SelfNormalized => log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    };
    if shift == f64::NEG_INFINITY {
        return Err(EstimateError::ZeroWeights {
            field: "log_target",
            n: values.len(),
        });
    }
    let w: Vec<f64> = log_w.iter().map(|l| (l - shift).exp()).collect();
    check::finite("weights (exp(log_target - log_used))", &w)?;
    let estimate = match normalization {
        Normalization::Exact => importance(values, &w, level)?,
        Normalization::SelfNormalized => self_normalized(values, &w, level)?,
    };
    let total: f64 = w.iter().sum();
    let max = w.iter().copied().fold(0.0, f64::max);
    Ok(Repair {
        estimate,
        ess: if total > 0.0 { ess(&w)? } else { 0.0 },
        max_weight_share: if total > 0.0 { max / total } else { 0.0 },
    })
}
