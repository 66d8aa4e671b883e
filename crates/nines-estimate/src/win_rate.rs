//! How often people prefer the filtered policy's completion to the unfiltered one.
//!
//! One *pair* is a prompt with one unfiltered and one filtered completion; a *judgment* is a
//! person's verdict in [0, 1]: 1 = filtered preferred, 0 = unfiltered preferred, 1/2 = tie
//! (averages of several raters are fine). The win rate is `W = E[J]`.
//!
//! * [`naive`]: every pair is judged; `Ŵ = mean(J)`.
//! * [`efficient`]: when the unfiltered completion passes the classifier it is itself a draw
//!   from the filtered policy, so by symmetry the pair is worth exactly 1/2 and nobody looks;
//!   only pairs whose unfiltered completion was rejected are judged (or a random subsample of
//!   them). Unbiased, never noisier per pair, and it saves every accepted pair's comparison.
//! * [`stratified`] and [`weighted`]: the same with prompts stratified (e.g. by acceptance
//!   bucket) or oversampled with known weights; [`neyman_allocation`] spreads a budget.
//! * [`plan`]: comparisons needed for a target half-width, naive vs efficient.
//!
//! The symmetry needs the filtered policy to be *sequential* rejection sampling (the
//! unfiltered policy conditioned on acceptance) and a judge that cannot tell which side is
//! which (randomized left/right order). It does not hold for the batched-safest filter.
//!
//! A filter that gives up on a prompt (no candidate accepted within its budget) answers with
//! a *refusal*, which loses: such a pair is worth 0 whatever the unfiltered completion was.
//! The symmetry argument covers only pairs where the filtered policy produced a completion, so
//! the efficient estimators take each pair's refusal explicitly ([`PairRecord::refused`],
//! [`PairCounts::refused`]).

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{EstimateError, Result};
use crate::estimate::{Estimate, Estimator, IntervalKind, Method};
use crate::interval::{self, ProportionInterval, normal, z_value};
use crate::stats;
use crate::weighting;

/// Naive protocol: every pair judged; `Ŵ = mean(J)`, CLT interval clipped to [0, 1].
/// `n` = pairs (= comparisons).
///
/// ```
/// let e = nines_estimate::win_rate::naive(&[1.0, 0.5, 0.0, 1.0], 0.95).unwrap();
/// assert_eq!(e.value, 0.625);
/// ```
pub fn naive(judgments: &[f64], level: f64) -> Result<Estimate> {
    check::at_least("judgments", judgments, 2)?;
    check::closed_unit("judgments", judgments)?;
    let mut e = interval::mean(judgments, level)?;
    e.ci = (e.ci.0.max(0.0), e.ci.1.min(1.0));
    e.method = Method::new(Estimator::WinRateNaive, IntervalKind::Normal);
    Ok(e)
}

/// One pair under the efficient protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairRecord {
    /// Whether the classifier accepted the pair's *unfiltered* completion.
    pub unfiltered_accepted: bool,
    /// Whether the filtered policy refused the prompt (its filter accepted no candidate). A
    /// refusal loses: the pair is worth 0 whatever the unfiltered completion was, and needs no
    /// judgment (one given is ignored). Default false.
    #[serde(default)]
    pub filtered_refused: bool,
    /// The person's judgment in [0, 1] (1 = filtered preferred), if the pair was judged.
    /// Accepted pairs need none (a judgment there is ignored: the pair counts 1/2). Rejected
    /// pairs may be left unjudged only if the judged ones are a random subsample.
    pub judgment: Option<f64>,
}

impl PairRecord {
    /// The filtered policy answered and the classifier accepted the unfiltered completion:
    /// worth 1/2, not judged.
    pub fn accepted() -> Self {
        PairRecord {
            unfiltered_accepted: true,
            filtered_refused: false,
            judgment: None,
        }
    }

    /// The filtered policy answered, the classifier rejected the unfiltered completion, and a
    /// person judged the pair (`None`: left out of a random subsample).
    pub fn rejected(judgment: Option<f64>) -> Self {
        PairRecord {
            unfiltered_accepted: false,
            filtered_refused: false,
            judgment,
        }
    }

    /// The filtered policy refused the prompt: worth 0, not judged. `unfiltered_accepted`
    /// records the classifier's verdict on the unfiltered completion (it does not change the
    /// pair's value).
    pub fn refused(unfiltered_accepted: bool) -> Self {
        PairRecord {
            unfiltered_accepted,
            filtered_refused: true,
            judgment: None,
        }
    }
}

/// How the pairs of the efficient protocol fell: the three cells are disjoint and together
/// hold every pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairCounts {
    /// Pairs whose prompt the filtered policy refused (worth 0).
    pub refused: u64,
    /// Pairs with a filtered completion whose unfiltered completion the classifier accepted
    /// (worth 1/2).
    pub accepted: u64,
    /// Pairs with a filtered completion whose unfiltered completion the classifier rejected
    /// (judged, all or a random subsample).
    pub rejected: u64,
}

impl PairCounts {
    /// Every pair.
    pub fn pairs(&self) -> u64 {
        self.refused + self.accepted + self.rejected
    }
}

/// An efficient win-rate estimate and its bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WinRate {
    /// The estimate; `n` = pairs.
    pub estimate: Estimate,
    /// Pairs generated (classifier run on every unfiltered completion).
    pub pairs: u64,
    /// Pairs whose unfiltered completion was accepted and whose prompt the filtered policy
    /// answered (worth 1/2, not judged).
    pub accepted: u64,
    /// Pairs whose prompt the filtered policy refused (worth 0, not judged).
    #[serde(default)]
    pub refused: u64,
    /// Human comparisons used.
    pub comparisons: u64,
    /// Comparisons the naive protocol would have needed on the same pairs, minus those used.
    pub comparisons_saved: u64,
}

/// Efficient protocol from per-pair records. See [`efficient_from_pair_counts`].
pub fn efficient(records: &[PairRecord], level: f64) -> Result<WinRate> {
    check::nonempty("records", records)?;
    let mut counts = PairCounts::default();
    let mut judged = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if r.filtered_refused {
            counts.refused += 1;
        } else if r.unfiltered_accepted {
            counts.accepted += 1;
        } else {
            counts.rejected += 1;
            if let Some(j) = r.judgment {
                if !(j.is_finite() && (0.0..=1.0).contains(&j)) {
                    return Err(EstimateError::Probability {
                        field: "records.judgment",
                        index: i,
                        value: j,
                        range: "[0, 1]",
                    });
                }
                judged.push(j);
            }
        }
    }
    efficient_from_pair_counts(counts, &judged, level)
}

/// Efficient protocol from counts when the filtered policy never refuses: `accepted` pairs
/// worth 1/2 each, `rejected` pairs of which a random subsample (or all) were judged with
/// `rejected_judgments`. The same as [`efficient_from_pair_counts`] with no refused pair.
///
/// ```
/// use nines_estimate::win_rate::efficient_from_counts;
/// // 900 accepted pairs (not judged), 100 rejected pairs all judged, filtered preferred in 70.
/// let mut judgments = vec![1.0; 70];
/// judgments.extend([0.0; 30]);
/// let w = efficient_from_counts(900, 100, &judgments, 0.95).unwrap();
/// assert!((w.estimate.value - (0.9 * 0.5 + 0.1 * 0.7)).abs() < 1e-12);
/// assert_eq!(w.comparisons_saved, 900);
/// ```
pub fn efficient_from_counts(
    accepted: u64,
    rejected: u64,
    rejected_judgments: &[f64],
    level: f64,
) -> Result<WinRate> {
    efficient_from_pair_counts(
        PairCounts {
            refused: 0,
            accepted,
            rejected,
        },
        rejected_judgments,
        level,
    )
}

/// Efficient protocol from counts: `counts.refused` pairs worth 0 (the filtered policy
/// refused), `counts.accepted` pairs worth 1/2 (unfiltered completion accepted, filtered
/// completion produced), and `counts.rejected` pairs of which a random subsample (or all)
/// were judged with `rejected_judgments`.
///
/// `Ŵ = ρ̂_a/2 + ρ̂_r m̂`, with `ρ̂_a`, `ρ̂_r` the accepted and rejected shares of all pairs and
/// `m̂` the mean judgment on rejected pairs; unbiased (given the counts,
/// `E[m̂] = E[J | rejected, answered]`). Variance: the multinomial part
/// `(ρ̂_a/4 + ρ̂_r m̂² − (ρ̂_a/2 + ρ̂_r m̂)²)/N` plus the judging part `ρ̂_r² v̂/n_r`, with `v̂` the
/// judgments' sample variance over the `n_r` judged pairs (`v̂ = 1/4`, the largest possible,
/// if `n_r = 1`); without refusals the first part is `(1/2 − m̂)² α̂(1−α̂)/N`. If no pair was
/// rejected, the unjudged share is bounded: without refusals `Ŵ = 1/2` and the interval is
/// the bound `1/2 ± u/2` with `u` the Clopper-Pearson upper bound on the rejection rate
/// ([`IntervalKind::Bound`]); with refusals the bound's half-width `u/2` is added to the
/// multinomial variance as a pseudo-variance. The normal interval needs a few dozen judged
/// rejected pairs.
///
/// ```
/// use nines_estimate::win_rate::{PairCounts, efficient_from_pair_counts};
/// // 100 prompts: the filter refused 10, answered 80 whose unfiltered completion passed, and
/// // 10 whose unfiltered completion was rejected; people preferred the filtered one in 6.
/// let judgments = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
/// let counts = PairCounts { refused: 10, accepted: 80, rejected: 10 };
/// let w = efficient_from_pair_counts(counts, &judgments, 0.95).unwrap();
/// assert!((w.estimate.value - (0.10 * 0.0 + 0.80 * 0.5 + 0.10 * 0.6)).abs() < 1e-12);
/// ```
pub fn efficient_from_pair_counts(
    counts: PairCounts,
    rejected_judgments: &[f64],
    level: f64,
) -> Result<WinRate> {
    check::level(level)?;
    let core = core(counts, rejected_judgments, "rejected_judgments", level)?;
    let (ci, kind) = if counts.rejected == 0 && counts.refused == 0 {
        (core.bound, IntervalKind::Bound)
    } else {
        let ci = normal(core.value, core.var.sqrt(), level)?;
        ((ci.0.max(0.0), ci.1.min(1.0)), IntervalKind::Normal)
    };
    let pairs = counts.pairs();
    Ok(WinRate {
        estimate: Estimate {
            value: core.value,
            std_error: core.se_reported,
            ci,
            level,
            n: pairs as usize,
            method: Method::new(Estimator::WinRateEfficient, kind),
        },
        pairs,
        accepted: counts.accepted,
        refused: counts.refused,
        comparisons: rejected_judgments.len() as u64,
        comparisons_saved: pairs - rejected_judgments.len() as u64,
    })
}

/// Per-stratum pieces of the efficient estimator.
struct Core {
    value: f64,
    /// Variance used for intervals (for `rejected = 0`, the bound's half-width as a
    /// pseudo-variance `(u/2z)²`).
    var: f64,
    /// Standard error reported (0 when nothing is random in the estimate).
    se_reported: f64,
    /// Deterministic bound used when nothing was rejected.
    bound: (f64, f64),
}

fn core(counts: PairCounts, judgments: &[f64], field: &'static str, level: f64) -> Result<Core> {
    let PairCounts {
        accepted, rejected, ..
    } = counts;
    let pairs = counts.pairs();
    if pairs == 0 {
        return Err(EstimateError::Empty { field: "pairs" });
    }
    check::closed_unit(field, judgments)?;
    if judgments.len() as u64 > rejected {
        return Err(EstimateError::Counts {
            what: field.into(),
            detail: format!(
                "{} judgments but only {rejected} rejected pairs",
                judgments.len()
            ),
        });
    }
    let n = pairs as f64;
    let a = accepted as f64 / n;
    if rejected == 0 {
        // The rejected-and-answered share, 0 here, is bounded by u; each such pair is worth
        // at most 1 and at least 0, so it moves W by at most u/2 from Ŵ's centre.
        let u = interval::effective_bounds(0.0, n, ProportionInterval::ClopperPearson, level)?.1;
        let z = z_value(level)?;
        let value = 0.5 * a;
        let multinomial = 0.25 * a * (1.0 - a) / n;
        return Ok(Core {
            value,
            var: multinomial + (0.5 * u / z).powi(2),
            se_reported: multinomial.sqrt(),
            bound: (value - 0.5 * u, value + 0.5 * u),
        });
    }
    if judgments.is_empty() {
        return Err(EstimateError::TooFew {
            field,
            need: 1,
            got: 0,
        });
    }
    let r = rejected as f64 / n;
    let m = stats::mean(judgments);
    let v = if judgments.len() >= 2 {
        stats::variance(judgments)
    } else {
        0.25
    };
    let value = 0.5 * a + r * m;
    let second_moment = 0.25 * a + r * m * m;
    let multinomial = (second_moment - value * value).max(0.0) / n;
    let var = multinomial + r * r * v / judgments.len() as f64;
    Ok(Core {
        value,
        var,
        se_reported: var.sqrt(),
        bound: (0.0, 1.0),
    })
}

/// One stratum of prompts (e.g. an acceptance-rate bucket) for [`stratified`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stratum {
    /// The stratum's share of the prompt distribution (any positive scale; normalized).
    pub weight: f64,
    /// Pairs in this stratum whose unfiltered completion was accepted.
    pub accepted: u64,
    /// Pairs whose unfiltered completion was rejected (and whose prompt was answered).
    pub rejected: u64,
    /// Judgments on all or a random subsample of the rejected pairs.
    pub rejected_judgments: Vec<f64>,
    /// Pairs whose prompt the filtered policy refused (worth 0). Default 0.
    #[serde(default)]
    pub refused: u64,
}

/// Stratified efficient estimator: `Ŵ = Σ_h ω_h Ŵ_h` with `Ŵ_h` the efficient estimator in
/// stratum `h` and `ω_h` the normalized stratum weights; `Var = Σ_h ω_h² Var_h`. Sampling
/// within strata may be arbitrary (oversample low-acceptance prompts freely): the weights undo
/// it. A stratum with no rejected pair contributes its accepted share's 1/2 with its binomial
/// bound as a pseudo-variance; refused pairs count 0. `n` = pairs.
pub fn stratified(strata: &[Stratum], level: f64) -> Result<WinRate> {
    check::nonempty("strata", strata)?;
    check::level(level)?;
    let ws: Vec<f64> = strata.iter().map(|s| s.weight).collect();
    check::weights("strata.weight", &ws, true)?;
    let total_w: f64 = ws.iter().sum();
    let (mut value, mut var) = (0.0, 0.0);
    let (mut pairs, mut accepted, mut refused, mut comparisons) = (0u64, 0u64, 0u64, 0u64);
    for s in strata {
        let counts = PairCounts {
            refused: s.refused,
            accepted: s.accepted,
            rejected: s.rejected,
        };
        let c = core(
            counts,
            &s.rejected_judgments,
            "strata.rejected_judgments",
            level,
        )?;
        let w = s.weight / total_w;
        value += w * c.value;
        var += w * w * c.var;
        pairs += counts.pairs();
        accepted += s.accepted;
        refused += s.refused;
        comparisons += s.rejected_judgments.len() as u64;
    }
    let se = var.sqrt();
    let ci = normal(value, se, level)?;
    Ok(WinRate {
        estimate: Estimate {
            value,
            std_error: se,
            ci: (ci.0.max(0.0), ci.1.min(1.0)),
            level,
            n: pairs as usize,
            method: Method::new(Estimator::WinRateStratified, IntervalKind::Normal),
        },
        pairs,
        accepted,
        refused,
        comparisons,
        comparisons_saved: pairs - comparisons,
    })
}

/// One pair from a prompt drawn with unequal probability, for [`weighted`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WeightedPair {
    /// Weight ∝ (target prompt probability) / (probability the prompt was drawn with), e.g.
    /// 1/4 for prompts oversampled four-fold.
    pub weight: f64,
    /// Whether the unfiltered completion was accepted.
    pub unfiltered_accepted: bool,
    /// Whether the filtered policy refused the prompt (the pair is worth 0). Default false.
    #[serde(default)]
    pub filtered_refused: bool,
    /// The judgment, required when the unfiltered completion was rejected and the prompt
    /// answered.
    pub judgment: Option<f64>,
}

/// Efficient win rate over prompts drawn with unequal probabilities (e.g. low-acceptance
/// prompts oversampled): `Y_i = 0` for refused prompts, `1/2` for accepted pairs, `J_i`
/// otherwise, combined by
/// self-normalized weighting (delta-method interval, clipped to [0, 1]). `n` = pairs.
pub fn weighted(pairs: &[WeightedPair], level: f64) -> Result<WinRate> {
    check::at_least("pairs", pairs, 2)?;
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
    let mut e = weighting::self_normalized(&ys, &ws, level)?;
    e.ci = (e.ci.0.max(0.0), e.ci.1.min(1.0));
    e.method = Method::new(Estimator::WinRateWeighted, IntervalKind::Normal);
    let n = pairs.len() as u64;
    Ok(WinRate {
        estimate: e,
        pairs: n,
        accepted,
        refused,
        comparisons: n - accepted - refused,
        comparisons_saved: accepted + refused,
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

/// A model of judgments for planning: acceptance rate and judgment distributions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scenario {
    /// Probability α that the classifier accepts an unfiltered completion, in (0, 1).
    pub acceptance: f64,
    /// P(filtered preferred | unfiltered rejected). Default 0.6.
    pub win_given_rejected: f64,
    /// P(tie | unfiltered rejected). Default 0.1.
    pub tie_given_rejected: f64,
    /// P(tie | unfiltered accepted); wins and losses are then equally likely. Default 0.1.
    pub tie_given_accepted: f64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            acceptance: 0.9,
            win_given_rejected: 0.6,
            tie_given_rejected: 0.1,
            tie_given_accepted: 0.1,
        }
    }
}

impl Scenario {
    /// Checks every probability and that win + tie ≤ 1.
    pub fn validate(&self) -> Result<()> {
        let fields = [
            ("acceptance", self.acceptance),
            ("win_given_rejected", self.win_given_rejected),
            ("tie_given_rejected", self.tie_given_rejected),
            ("tie_given_accepted", self.tie_given_accepted),
        ];
        for (name, v) in fields {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(EstimateError::Parameter {
                    name,
                    value: v.to_string(),
                    reason: "a probability must lie in [0, 1]",
                });
            }
        }
        if !(self.acceptance > 0.0 && self.acceptance < 1.0) {
            return Err(EstimateError::Parameter {
                name: "acceptance",
                value: self.acceptance.to_string(),
                reason: "the acceptance rate must lie in (0, 1)",
            });
        }
        if self.win_given_rejected + self.tie_given_rejected > 1.0 + 1e-12 {
            return Err(EstimateError::Parameter {
                name: "win_given_rejected",
                value: self.win_given_rejected.to_string(),
                reason: "win + tie probability given rejection exceeds 1",
            });
        }
        Ok(())
    }

    /// `E[J | rejected]` and `Var(J | rejected)`.
    pub fn rejected_moments(&self) -> (f64, f64) {
        let m = self.win_given_rejected + 0.5 * self.tie_given_rejected;
        let second = self.win_given_rejected + 0.25 * self.tie_given_rejected;
        (m, second - m * m)
    }

    /// The true win rate `α/2 + (1 − α) E[J | rejected]`.
    pub fn win_rate(&self) -> f64 {
        let (m, _) = self.rejected_moments();
        0.5 * self.acceptance + (1.0 - self.acceptance) * m
    }
}

/// Human comparisons needed for a confidence interval of half-width `half_width`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LabelPlan {
    /// The scenario's true win rate.
    pub win_rate: f64,
    /// Naive protocol: `z² Var(J) / h²` comparisons (one per pair).
    pub naive_comparisons: f64,
    /// Efficient protocol, every rejected pair judged: pairs `z² Var(Y) / h²` …
    pub efficient_pairs: f64,
    /// … of which `(1 − α)` need a comparison.
    pub efficient_comparisons: f64,
    /// Efficient protocol with so many cheap (classifier-only) pairs that `α` is known, judging
    /// a random subsample of rejected pairs: `z² (1−α)² Var(J | rejected) / h²`. Below a few
    /// dozen the CLT interval is not to be trusted; if `(1−α)/2 ≤ h` the bound
    /// `|W − 1/2| ≤ (1−α)/2` alone already meets the target.
    pub subsampled_comparisons: f64,
}

/// Comparisons needed for a `level` interval of half-width `half_width` under `scenario`
/// (CLT sample-size formulas; the crate's Monte Carlo tests check them).
pub fn plan(scenario: &Scenario, half_width: f64, level: f64) -> Result<LabelPlan> {
    scenario.validate()?;
    if !(half_width.is_finite() && half_width > 0.0) {
        return Err(EstimateError::Parameter {
            name: "half_width",
            value: half_width.to_string(),
            reason: "the target half-width must be finite and > 0",
        });
    }
    let z = z_value(level)?;
    let a = scenario.acceptance;
    let (m, v) = scenario.rejected_moments();
    let v_acc = 0.25 * (1.0 - scenario.tie_given_accepted);
    let between = a * (1.0 - a) * (m - 0.5).powi(2);
    let var_j = a * v_acc + (1.0 - a) * v + between;
    let var_y = (1.0 - a) * v + between;
    let k = z * z / (half_width * half_width);
    let efficient_pairs = k * var_y;
    Ok(LabelPlan {
        win_rate: scenario.win_rate(),
        naive_comparisons: k * var_j,
        efficient_pairs,
        efficient_comparisons: (1.0 - a) * efficient_pairs,
        subsampled_comparisons: k * (1.0 - a).powi(2) * v,
    })
}
