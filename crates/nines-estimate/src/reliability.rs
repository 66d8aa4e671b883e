//! Reliability in "nines": how many leading nines a success rate has, read off a one-sided
//! upper bound on the failure rate, and how many trials would show one more.
//!
//! A failure rate at most `u` (one-sided, at `level`) is a success rate of at least `1 − u`:
//! `−log₁₀ u` nines (`u = 10⁻³` is three nines, 99.9%). Quoting the bound, not the point
//! estimate, is what makes the claim a claim: zero failures in 300 trials is a 95% bound of
//! 0.0099, about two nines, not infinitely many.
//!
//! ```
//! use nines_estimate::reliability::{nines_line, trials_for_bound};
//! // 0 failures in 3,000 trials: at 95% the rate is below ~1e-3, about three nines.
//! let line = nines_line(0, 3_000, 0.95).unwrap();
//! assert!((line.nines - 3.0).abs() < 0.01);
//! // Showing four nines with no failure takes ~30,000 trials.
//! let n = trials_for_bound(0.0, 1e-4, 0.95).unwrap().unwrap();
//! assert!((29_000..31_000).contains(&n));
//! ```

use serde::{Deserialize, Serialize};

use crate::cluster::{WeightedCount, WeightedProportion, weighted_proportion};
use crate::error::{EstimateError, Result};
use crate::interval::{ProportionInterval, clopper_pearson_upper};

/// The nines line of a failure count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NinesLine {
    /// Failures observed.
    pub failures: u64,
    /// Trials (completions) observed.
    pub trials: u64,
    /// Failures per 10,000 trials (point estimate).
    pub per_10k: f64,
    /// One-sided upper bound on failures per 10,000 trials at `level`.
    pub upper_per_10k: f64,
    /// `−log₁₀` of the upper bound on the failure rate.
    pub nines: f64,
    /// One-sided confidence level.
    pub level: f64,
    /// Trials that would show one more whole nine (the bound below `10^−(⌊nines⌋+1)`) if
    /// failures kept occurring at the observed rate; `None` when the observed rate is itself
    /// above that bound (more trials would not get there).
    pub trials_for_next_nine: Option<u64>,
}

/// `−log₁₀ u` for a failure-rate bound `u` in (0, 1]; +∞ for 0.
pub fn nines(upper: f64) -> f64 {
    if upper <= 0.0 {
        f64::INFINITY
    } else {
        -upper.log10()
    }
}

/// The nines line of `failures` in `trials` at one-sided `level` (Clopper-Pearson).
///
/// # Errors
/// [`EstimateError::Counts`] for no trials or more failures than trials; an invalid `level`.
pub fn nines_line(failures: u64, trials: u64, level: f64) -> Result<NinesLine> {
    if trials == 0 || failures > trials {
        return Err(EstimateError::Counts {
            what: "nines_line".into(),
            detail: format!("{failures} failures in {trials} trials"),
        });
    }
    let rate = failures as f64 / trials as f64;
    let upper = clopper_pearson_upper(rate, trials as f64, level)?;
    let n = nines(upper);
    let next = 10f64.powf(-(n.floor() + 1.0));
    Ok(NinesLine {
        failures,
        trials,
        per_10k: rate * 1e4,
        upper_per_10k: upper * 1e4,
        nines: n,
        level,
        trials_for_next_nine: trials_for_bound(rate, next, level)?,
    })
}

/// A failure rate over a prompt distribution from weighted, clustered counts: the Hájek
/// estimate with its two-sided Wilson interval at `level`, the one-sided Clopper-Pearson upper
/// bound at `level` at the effective sample size, and the nines line of the effective counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightedFailureRate {
    /// The weighted share of failures, its interval and effective sample sizes.
    pub rate: WeightedProportion,
    /// One-sided upper bound on the failure rate at `level`.
    pub upper: f64,
    /// The nines line of the estimate and its bound (`failures` and `trials` are the effective
    /// counts, `rate × n_eff` and `n_eff`, rounded).
    pub nines: NinesLine,
}

/// [`WeightedFailureRate`] of per-prompt counts with design weights (`1 / inclusion
/// probability`; equal weights give the plain clustered rate).
///
/// ```
/// use nines_estimate::cluster::{ClusterCount, WeightedCount};
/// use nines_estimate::reliability::weighted_failure_rate;
/// let prompt = |events, weight| WeightedCount { count: ClusterCount { events, trials: 4 }, weight };
/// let counts: Vec<_> = (0..100).map(|i| prompt(u64::from(i == 0), 1.0)).collect();
/// let r = weighted_failure_rate(&counts, 0.95).unwrap();
/// assert!((r.rate.estimate.value - 1.0 / 400.0).abs() < 1e-12);
/// assert!(r.upper > r.rate.estimate.value && r.nines.nines > 1.0);
/// ```
///
/// # Errors
/// As [`weighted_proportion`]: no counts, more events than trials, a weight that is not
/// positive and finite; an invalid `level`.
pub fn weighted_failure_rate(counts: &[WeightedCount], level: f64) -> Result<WeightedFailureRate> {
    let rate = weighted_proportion(counts, ProportionInterval::Wilson, level)?;
    let p = rate.estimate.value;
    let upper = clopper_pearson_upper(p, rate.n_eff, level)?;
    let trials = rate.n_eff.round().max(1.0) as u64;
    let n = nines(upper);
    // The line reads the weighted estimate and its bound, not the rounded effective counts
    // (which would disagree with the rate at small effective sizes).
    let nines = NinesLine {
        failures: ((p * rate.n_eff).round() as u64).min(trials),
        trials,
        per_10k: p * 1e4,
        upper_per_10k: upper * 1e4,
        nines: n,
        level,
        trials_for_next_nine: if p < 1.0 {
            trials_for_bound(p, 10f64.powf(-(n.floor() + 1.0)), level)?
        } else {
            None
        },
    };
    Ok(WeightedFailureRate { rate, upper, nines })
}

/// The fewest trials whose one-sided Clopper-Pearson bound at `level` falls to `target` or
/// below, if failures occur at `rate` (rounded to whole failures); `None` when `rate` is not
/// below `target`.
///
/// # Errors
/// [`EstimateError::Parameter`] for a rate outside [0, 1) or a target outside (0, 1).
pub fn trials_for_bound(rate: f64, target: f64, level: f64) -> Result<Option<u64>> {
    if !(0.0..1.0).contains(&rate) {
        return Err(EstimateError::Parameter {
            name: "rate",
            value: rate.to_string(),
            reason: "must be in [0, 1)",
        });
    }
    if !(target > 0.0 && target < 1.0) {
        return Err(EstimateError::Parameter {
            name: "target",
            value: target.to_string(),
            reason: "must be in (0, 1)",
        });
    }
    if rate >= target {
        return Ok(None);
    }
    let bound = |n: u64| -> Result<f64> {
        let k = (rate * n as f64).round();
        clopper_pearson_upper(k / n as f64, n as f64, level)
    };
    // The bound falls as trials grow; double, then bisect.
    let mut hi = 1u64;
    while bound(hi)? > target {
        if hi > 1 << 50 {
            return Ok(None);
        }
        hi *= 2;
    }
    let mut lo = hi / 2;
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if bound(mid)? > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_failures_follow_the_rule_of_three() {
        // One-sided 95% with no failure: u = 1 − 0.05^(1/n) ≈ 3/n.
        let line = nines_line(0, 30_000, 0.95).unwrap();
        assert!((line.upper_per_10k - 1e4 * (1.0 - 0.05f64.powf(1.0 / 30_000.0))).abs() < 1e-9);
        assert!((line.nines - 4.0).abs() < 0.01);
        let next = line.trials_for_next_nine.unwrap();
        assert!((290_000..310_000).contains(&next), "{next}");
        // The trial count it names does reach the bound, one fewer does not.
        assert!(clopper_pearson_upper(0.0, next as f64, 0.95).unwrap() <= 1e-5);
        assert!(clopper_pearson_upper(0.0, (next - 1) as f64, 0.95).unwrap() > 1e-5);
    }

    #[test]
    fn a_rate_above_the_next_nine_cannot_reach_it() {
        // 30 failures in 10,000: the rate itself (3e-3) is above 1e-3.
        let line = nines_line(30, 10_000, 0.95).unwrap();
        assert!(line.nines > 2.0 && line.nines < 3.0);
        assert_eq!(line.trials_for_next_nine, None);
        assert_eq!(trials_for_bound(0.01, 0.001, 0.95).unwrap(), None);
    }

    #[test]
    fn bad_input_names_the_field() {
        assert!(nines_line(0, 0, 0.95).is_err());
        assert!(nines_line(5, 4, 0.95).is_err());
        assert!(trials_for_bound(1.0, 0.1, 0.95).is_err());
        assert!(trials_for_bound(0.0, 0.0, 0.95).is_err());
        assert_eq!(nines(0.0), f64::INFINITY);
    }
}
