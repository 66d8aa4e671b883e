//! Cluster-robust variances: several pairs or completions from one prompt are correlated, so
//! the variance of a mean over them is estimated from per-prompt totals, not per-unit values.
//!
//! For a ratio `R = Σ y_i / Σ x_i` over units grouped into `C` clusters (prompts) with totals
//! `Y_c = Σ_{i∈c} y_i`, `X_c = Σ_{i∈c} x_i`, the linearization (sandwich) estimator is
//! `Var̂(R) = C/(C−1) · Σ_c (Y_c − R X_c)² / (Σ_c X_c)²`. With one unit per cluster it is the
//! ordinary delta-method variance; a plain mean is the case `x_i = 1`. Treating correlated units
//! as independent understates the variance: with 40 prompts × 10 pairs the efficient win rate's
//! 95% interval covers only about 83% of the time (`tests/clustered.rs`).

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{EstimateError, Result};
use crate::estimate::{Estimate, Estimator, IntervalKind, Method};
use crate::interval::{ProportionInterval, effective_bounds, normal};

/// Which cluster (prompt) each unit belongs to, as dense indices `0..count`.
///
/// ```
/// use nines_estimate::cluster::Clusters;
/// let c = Clusters::from_ids(&["a", "b", "a", "c"]);
/// assert_eq!(c.count(), 3);
/// assert_eq!(c.largest(), 2);
/// assert!(!c.all_singletons());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clusters {
    index: Vec<usize>,
    count: usize,
}

impl Clusters {
    /// Groups units by equal ids (any hashable key: a prompt's index, its text, a document
    /// offset), numbering clusters in order of first appearance.
    pub fn from_ids<K: Hash + Eq>(ids: &[K]) -> Self {
        let mut seen: HashMap<&K, usize> = HashMap::with_capacity(ids.len());
        let index = ids
            .iter()
            .map(|k| {
                let next = seen.len();
                *seen.entry(k).or_insert(next)
            })
            .collect();
        Self {
            index,
            count: seen.len(),
        }
    }

    /// Every unit in its own cluster.
    pub fn singletons(units: usize) -> Self {
        Self {
            index: (0..units).collect(),
            count: units,
        }
    }

    /// From optional ids: units with `Some(id)` are grouped by id, each `None` is a cluster of
    /// its own.
    pub fn from_optional_ids(ids: &[Option<u64>]) -> Self {
        let mut seen: HashMap<u64, usize> = HashMap::new();
        let mut count = 0usize;
        let index = ids
            .iter()
            .map(|id| match id {
                Some(k) => *seen.entry(*k).or_insert_with(|| {
                    count += 1;
                    count - 1
                }),
                None => {
                    count += 1;
                    count - 1
                }
            })
            .collect();
        Self { index, count }
    }

    /// Number of units.
    pub fn units(&self) -> usize {
        self.index.len()
    }

    /// Number of clusters.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The cluster of unit `i`.
    pub fn of(&self, i: usize) -> usize {
        self.index[i]
    }

    /// Size of the largest cluster (0 when there are no units).
    pub fn largest(&self) -> usize {
        let mut sizes = vec![0usize; self.count];
        for &c in &self.index {
            sizes[c] += 1;
        }
        sizes.into_iter().max().unwrap_or(0)
    }

    /// Whether no two units share a cluster (then cluster-robust and i.i.d. variances agree).
    pub fn all_singletons(&self) -> bool {
        self.count == self.index.len()
    }

    /// Per-cluster sums of `values` (which must have one entry per unit).
    pub(crate) fn totals(&self, values: &[f64]) -> Vec<f64> {
        let mut t = vec![0.0; self.count];
        for (i, v) in values.iter().enumerate() {
            t[self.index[i]] += v;
        }
        t
    }
}

/// `Var̂(Σy/Σx)` by linearization over clusters: `C/(C−1) Σ_c (Y_c − R X_c)² / (Σ X)²`, with `C`
/// the clusters that hold at least one unit with `x ≠ 0` or `y ≠ 0`. Returns 0 with fewer than
/// two such clusters. The caller checks lengths and that `Σx ≠ 0`.
pub(crate) fn ratio_variance(y: &[f64], x: &[f64], clusters: &Clusters) -> f64 {
    let yt = clusters.totals(y);
    let xt = clusters.totals(x);
    let sx: f64 = xt.iter().sum();
    let r = yt.iter().sum::<f64>() / sx;
    let mut ss = 0.0;
    let mut c = 0usize;
    for (yc, xc) in yt.iter().zip(&xt) {
        if *yc != 0.0 || *xc != 0.0 {
            c += 1;
            ss += (yc - r * xc).powi(2);
        }
    }
    if c < 2 {
        return 0.0;
    }
    let c = c as f64;
    c / (c - 1.0) * ss / (sx * sx)
}

/// Mean of per-unit `values` with a cluster-robust standard error and a normal interval:
/// `n` = clusters. With every unit in its own cluster this is [`crate::interval::mean`].
///
/// ```
/// use nines_estimate::cluster::{Clusters, mean};
/// let e = mean(&[1.0, 1.0, 0.0, 0.0], &Clusters::from_ids(&[1, 1, 2, 2]), 0.95).unwrap();
/// assert_eq!(e.value, 0.5);
/// assert_eq!(e.n, 2);
/// ```
pub fn mean(values: &[f64], clusters: &Clusters, level: f64) -> Result<Estimate> {
    check::nonempty("values", values)?;
    check::finite("values", values)?;
    check::level(level)?;
    same_units("values", values.len(), clusters)?;
    if clusters.count() < 2 {
        return Err(EstimateError::TooFew {
            field: "clusters",
            need: 2,
            got: clusters.count(),
        });
    }
    let ones = vec![1.0; values.len()];
    let value = values.iter().sum::<f64>() / values.len() as f64;
    let se = cluster_count_variance(values, &ones, clusters).sqrt();
    Ok(Estimate {
        value,
        std_error: se,
        ci: normal(value, se, level)?,
        level,
        n: clusters.count(),
        method: Method::new(Estimator::SampleMean, IntervalKind::ClusterNormal),
    })
}

/// Like [`ratio_variance`] but with `C` = every cluster (a mean over units, where a cluster of
/// zeros still counts).
pub(crate) fn cluster_count_variance(y: &[f64], x: &[f64], clusters: &Clusters) -> f64 {
    let yt = clusters.totals(y);
    let xt = clusters.totals(x);
    let sx: f64 = xt.iter().sum();
    let r = yt.iter().sum::<f64>() / sx;
    let c = clusters.count() as f64;
    if c < 2.0 {
        return 0.0;
    }
    let ss: f64 = yt.iter().zip(&xt).map(|(a, b)| (a - r * b).powi(2)).sum();
    c / (c - 1.0) * ss / (sx * sx)
}

/// One prompt's completions for [`proportion`]: how many were labeled and how many of those
/// are events (failures, injuries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClusterCount {
    /// Events among the prompt's labeled completions.
    pub events: u64,
    /// The prompt's labeled completions.
    pub trials: u64,
}

/// The share of events over all completions, `Σ events / Σ trials`, when each prompt
/// contributes several correlated completions: Wilson (or Clopper-Pearson) interval at the
/// cluster-robust effective sample size `n* = min(p̂(1−p̂)/Var̂(p̂), Σ trials)` (Korn-Graubard),
/// `Var̂` from per-prompt totals. `n` = completions. With one completion per prompt this is
/// the ordinary binomial interval.
///
/// ```
/// use nines_estimate::cluster::{ClusterCount, proportion};
/// use nines_estimate::interval::ProportionInterval;
/// let prompts = [ClusterCount { events: 3, trials: 4 }, ClusterCount { events: 0, trials: 4 },
///                ClusterCount { events: 1, trials: 4 }];
/// let e = proportion(&prompts, ProportionInterval::Wilson, 0.95).unwrap();
/// assert!((e.value - 4.0 / 12.0).abs() < 1e-12);
/// ```
pub fn proportion(
    prompts: &[ClusterCount],
    kind: ProportionInterval,
    level: f64,
) -> Result<Estimate> {
    check::nonempty("prompts", prompts)?;
    check::level(level)?;
    for (i, c) in prompts.iter().enumerate() {
        if c.events > c.trials {
            return Err(EstimateError::Counts {
                what: format!("prompts[{i}]"),
                detail: format!("{} events out of {} trials", c.events, c.trials),
            });
        }
    }
    let total: u64 = prompts.iter().map(|c| c.trials).sum();
    if total == 0 {
        return Err(EstimateError::Empty {
            field: "prompts.trials",
        });
    }
    let y: Vec<f64> = prompts.iter().map(|c| c.events as f64).collect();
    let x: Vec<f64> = prompts.iter().map(|c| c.trials as f64).collect();
    let singles = Clusters::singletons(prompts.len());
    let var = cluster_count_variance(&y, &x, &singles);
    let n = total as f64;
    let p = y.iter().sum::<f64>() / n;
    let n_eff = if var > 0.0 && p > 0.0 && p < 1.0 {
        (p * (1.0 - p) / var).min(n)
    } else {
        n
    };
    let ci = match kind {
        ProportionInterval::Wald => {
            let ci = normal(p, var.sqrt(), level)?;
            (ci.0.max(0.0), ci.1.min(1.0))
        }
        _ => effective_bounds(p, n_eff, kind, level)?,
    };
    Ok(Estimate {
        value: p,
        std_error: var.sqrt(),
        ci,
        level,
        n: total as usize,
        method: Method::new(Estimator::Proportion, kind.kind()),
    })
}

/// One prompt of a weighted sample for [`weighted_proportion`]: its labeled completions and
/// its design weight (`1 / inclusion probability`, on any scale).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightedCount {
    /// The prompt's completions and events.
    pub count: ClusterCount,
    /// The prompt's weight: positive and finite.
    pub weight: f64,
}

/// A share estimated by [`weighted_proportion`], with its effective sample sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightedProportion {
    /// The estimate (Hájek form); `n` = completions.
    pub estimate: Estimate,
    /// Prompts with at least one completion.
    pub prompts: usize,
    /// Kish's effective sample size of the completions' weights (`w_i / trials_i` each):
    /// `(Σ w)² / Σ w²`. Equal to the completions when every prompt has equal weight and
    /// count.
    pub ess: f64,
    /// The sample size the interval was computed at: `min(p̂(1−p̂)/Var̂, completions)`
    /// (Korn-Graubard), or `ess` when no event (or only events) was seen.
    pub n_eff: f64,
}

/// The weighted mean over prompts of each prompt's share of events, `Σ w_i p̂_i / Σ w_i`
/// with `p̂_i = events_i / trials_i`: the rate of a policy over a prompt distribution when
/// prompts were sampled with unequal probabilities (`w_i = 1/π_i`) and may have different
/// numbers of completions (a prompt's completions count once in total, so prompts with many
/// accepted samples do not dominate). The variance is the linearized ratio variance with
/// prompts as independent units, `K/(K−1) Σ w_i²(p̂_i − p̂)² / (Σ w_i)²` (with-replacement,
/// so conservative for samples without replacement; it keeps the variance of the
/// completions themselves, which a finite-population correction would drop). Wilson (or
/// Clopper-Pearson) interval at the effective sample size `n_eff`, which keeps rare-event
/// intervals honest when nothing was seen. With equal weights and counts it is
/// [`proportion`].
///
/// ```
/// use nines_estimate::cluster::{ClusterCount, WeightedCount, weighted_proportion};
/// use nines_estimate::interval::ProportionInterval;
/// // Prompt 1 (weight 3) fails in 1 of 2 completions, prompt 2 (weight 1) in 0 of 4.
/// let prompts = [
///     WeightedCount { count: ClusterCount { events: 1, trials: 2 }, weight: 3.0 },
///     WeightedCount { count: ClusterCount { events: 0, trials: 4 }, weight: 1.0 },
/// ];
/// let r = weighted_proportion(&prompts, ProportionInterval::Wilson, 0.95).unwrap();
/// assert!((r.estimate.value - 0.375).abs() < 1e-12);
/// ```
pub fn weighted_proportion(
    prompts: &[WeightedCount],
    kind: ProportionInterval,
    level: f64,
) -> Result<WeightedProportion> {
    check::nonempty("prompts", prompts)?;
    check::level(level)?;
    for (i, c) in prompts.iter().enumerate() {
        if c.count.events > c.count.trials {
            return Err(EstimateError::Counts {
                what: format!("prompts[{i}]"),
                detail: format!("{} events out of {} trials", c.count.events, c.count.trials),
            });
        }
        if !(c.weight.is_finite() && c.weight > 0.0) {
            return Err(EstimateError::Counts {
                what: format!("prompts[{i}].weight"),
                detail: format!("{} is not positive and finite", c.weight),
            });
        }
    }
    let used: Vec<&WeightedCount> = prompts.iter().filter(|c| c.count.trials > 0).collect();
    if used.is_empty() {
        return Err(EstimateError::Empty {
            field: "prompts.trials",
        });
    }
    let share = |c: &WeightedCount| c.count.events as f64 / c.count.trials as f64;
    let sw: f64 = used.iter().map(|c| c.weight).sum();
    let p = used.iter().map(|c| c.weight * share(c)).sum::<f64>() / sw;
    let k = used.len() as f64;
    let var = if k >= 2.0 {
        k / (k - 1.0)
            * used
                .iter()
                .map(|c| (c.weight * (share(c) - p)).powi(2))
                .sum::<f64>()
            / (sw * sw)
    } else {
        0.0
    };
    let ess = sw * sw
        / used
            .iter()
            .map(|c| c.weight * c.weight / c.count.trials as f64)
            .sum::<f64>();
    let completions: u64 = used.iter().map(|c| c.count.trials).sum();
    let n_eff = if var > 0.0 && p > 0.0 && p < 1.0 {
        (p * (1.0 - p) / var).min(completions as f64)
    } else {
        ess
    };
    let ci = match kind {
        ProportionInterval::Wald => {
            let ci = normal(p, var.sqrt(), level)?;
            (ci.0.max(0.0), ci.1.min(1.0))
        }
        _ => effective_bounds(p, n_eff, kind, level)?,
    };
    Ok(WeightedProportion {
        estimate: Estimate {
            value: p,
            std_error: var.sqrt(),
            ci,
            level,
            n: completions as usize,
            method: Method::new(Estimator::Hajek, kind.kind()),
        },
        prompts: used.len(),
        ess,
        n_eff,
    })
}

pub(crate) fn same_units(field: &'static str, len: usize, clusters: &Clusters) -> Result<()> {
    if len != clusters.units() {
        Err(EstimateError::LengthMismatch {
            left: field,
            left_len: len,
            right: "prompts",
            right_len: clusters.units(),
        })
    } else {
        Ok(())
    }
}
