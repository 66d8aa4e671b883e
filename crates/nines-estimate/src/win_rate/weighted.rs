//! Prompts drawn with unequal probability and known weights, and a budget spread over
//! strata.

use super::*;

/// One pair from a prompt drawn with unequal probability, for [`weighted`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightedPair {
    /// Weight ∝ (target prompt probability) / (probability the prompt was drawn with), e.g.
    /// 1/4 for prompts oversampled four-fold. For prompts drawn *without* replacement use
    /// (target share) / (inclusion probability) instead (see
    /// [`weighting::inclusion_weighted`]).
    pub weight: f64,
    /// Whether the unfiltered completion was accepted.
    pub unfiltered_accepted: bool,
    /// Whether the filtered policy refused the prompt (the pair is worth 0). Default false.
    #[serde(default)]
    pub filtered_refused: bool,
    /// The judgment, required when the unfiltered completion was rejected and the prompt
    /// answered.
    pub judgment: Option<f64>,
    /// The prompt the pair came from (pairs sharing one get a cluster-robust variance).
    /// Default `None`: a prompt of its own.
    #[serde(default)]
    pub prompt: Option<u64>,
}

/// Settings for [`weighted_with`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WeightedOptions {
    /// Two-sided confidence level. Default 0.95.
    pub level: f64,
    /// Whether the weights are exact ratios of normalized prompt distributions (then their
    /// mean is checked against 1). Default: arbitrary scale.
    pub scale: WeightScale,
    /// What a normalized mean weight far from 1 does. Default: an error.
    pub on_mean_weight: OnMeanWeight,
}

impl Default for WeightedOptions {
    fn default() -> Self {
        Self {
            level: 0.95,
            scale: WeightScale::Arbitrary,
            on_mean_weight: OnMeanWeight::Error,
        }
    }
}

/// A weighted win rate with the diagnostics of its weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightedWinRate {
    /// The estimate and its bookkeeping.
    pub win_rate: WinRate,
    /// Mean weight, Kish ESS, largest weight's share and warnings.
    pub diagnostics: WeightDiagnostics,
}

/// Efficient win rate over prompts drawn with unequal probabilities (e.g. low-acceptance
/// prompts oversampled): `Y_i = 0` for refused prompts, `1/2` for accepted pairs, `J_i`
/// otherwise, combined by self-normalized weighting (delta-method interval, cluster-robust
/// when prompts repeat, clipped to [0, 1]). `n` = pairs. [`weighted_with`] also returns the
/// weights' diagnostics.
pub fn weighted(pairs: &[WeightedPair], level: f64) -> Result<WinRate> {
    Ok(weighted_with(
        pairs,
        &WeightedOptions {
            level,
            ..WeightedOptions::default()
        },
    )?
    .win_rate)
}

/// [`weighted`] with its weight diagnostics (mean weight, Kish ESS, largest share): with
/// [`WeightScale::Normalized`] weights a mean weight far from 1 fails (or warns), since the
/// sampled prompts then miss part of the target distribution.
///
/// ```
/// use nines_estimate::win_rate::{weighted_with, WeightedOptions, WeightedPair};
/// let p = |weight, j| WeightedPair { weight, unfiltered_accepted: false,
///     filtered_refused: false, judgment: Some(j), prompt: None };
/// let w = weighted_with(&[p(1.0, 1.0), p(3.0, 0.0)], &WeightedOptions::default()).unwrap();
/// assert!((w.win_rate.estimate.value - 0.25).abs() < 1e-12);
/// assert!((w.diagnostics.max_weight_share - 0.75).abs() < 1e-12);
/// ```
pub fn weighted_with(pairs: &[WeightedPair], options: &WeightedOptions) -> Result<WeightedWinRate> {
    check::at_least("pairs", pairs, 2)?;
    check::level(options.level)?;
    let mut ys = Vec::with_capacity(pairs.len());
    let mut ws = Vec::with_capacity(pairs.len());
    let (mut accepted, mut refused) = (0u64, 0u64);
    for (i, p) in pairs.iter().enumerate() {
        ws.push(p.weight);
        if p.filtered_refused {
            refused += 1;
            ys.push(0.0);
        } else if p.unfiltered_accepted {
            accepted += 1;
            ys.push(0.5);
        } else {
            let j = p.judgment.ok_or_else(|| EstimateError::Counts {
                what: format!("pairs[{i}]"),
                detail: "the unfiltered completion was rejected but the pair has no judgment"
                    .into(),
            })?;
            if !(j.is_finite() && (0.0..=1.0).contains(&j)) {
                return Err(EstimateError::Probability {
                    field: "pairs.judgment",
                    index: i,
                    value: j,
                    range: "[0, 1]",
                });
            }
            ys.push(j);
        }
    }
    check::weights("pairs.weight", &ws, true)?;
    let diagnostics = weighting::diagnose(&ws, options.scale)?;
    if diagnostics.mean_weight_far_from_one() && options.on_mean_weight == OnMeanWeight::Error {
        return Err(EstimateError::MeanWeight {
            field: "pairs.weight",
            mean: diagnostics.mean_weight,
            std_error: diagnostics.mean_weight_std_error,
            n: ws.len(),
        });
    }
    let ids: Vec<Option<u64>> = pairs.iter().map(|p| p.prompt).collect();
    let clusters = Clusters::from_optional_ids(&ids);
    let mut e = weighting::self_normalized(&ys, &ws, options.level)?;
    if clusters.all_singletons() {
        e.method = Method::new(Estimator::WinRateWeighted, IntervalKind::Normal);
    } else {
        let wy: Vec<f64> = ys.iter().zip(&ws).map(|(y, w)| y * w).collect();
        let se = cluster::cluster_count_variance(&wy, &ws, &clusters).sqrt();
        e.std_error = se;
        e.ci = normal(e.value, se, options.level)?;
        e.method = Method::new(Estimator::WinRateWeighted, IntervalKind::ClusterNormal);
    }
    e.ci = (e.ci.0.max(0.0), e.ci.1.min(1.0));
    let n = pairs.len() as u64;
    Ok(WeightedWinRate {
        win_rate: WinRate {
            estimate: e,
            pairs: n,
            accepted,
            refused,
            comparisons: n - accepted - refused,
            comparisons_saved: accepted + refused,
            unjudged: 0,
            prompts: clusters.count() as u64,
        },
        diagnostics,
    })
}

/// Neyman allocation of `total` units over strata: `n_h ∝ ω_h σ_h`, rounded by largest
/// remainder so the parts sum to `total`. For the efficient protocol with plenty of cheap
/// pairs, allocating *comparisons* use `σ_h = (1 − α_h) · sd(J | rejected, h)`. If every
/// `ω_h σ_h` is 0 the allocation is proportional to `ω_h`.
///
/// ```
/// let n = nines_estimate::win_rate::neyman_allocation(&[0.5, 0.5], &[1.0, 3.0], 100).unwrap();
/// assert_eq!(n, vec![25, 75]);
/// ```
pub fn neyman_allocation(weights: &[f64], std_devs: &[f64], total: u64) -> Result<Vec<u64>> {
    check::same_len("weights", weights, "std_devs", std_devs)?;
    check::weights("weights", weights, true)?;
    check::weights("std_devs", std_devs, false)?;
    let mut shares: Vec<f64> = weights.iter().zip(std_devs).map(|(w, s)| w * s).collect();
    if shares.iter().all(|s| *s == 0.0) {
        shares = weights.to_vec();
    }
    let sum: f64 = shares.iter().sum();
    let exact: Vec<f64> = shares.iter().map(|s| s / sum * total as f64).collect();
    let mut out: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut left = total - out.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by(|&i, &j| (exact[j] - exact[j].floor()).total_cmp(&(exact[i] - exact[i].floor())));
    for i in order {
        if left == 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    Ok(out)
}
