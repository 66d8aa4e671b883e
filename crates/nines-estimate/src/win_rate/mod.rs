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

use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::cluster::{self, Clusters};
use crate::error::{EstimateError, Result};
use crate::estimate::{Estimate, Estimator, IntervalKind, Method};
use crate::interval::{self, ProportionInterval, normal, z_value};
use crate::stats;
use crate::weighting::{self, OnMeanWeight, WeightDiagnostics, WeightScale};

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

/// Naive protocol when several pairs share a prompt: `Ŵ = mean(J)` with a cluster-robust
/// standard error from per-prompt totals (`prompts[i]` is pair `i`'s prompt, any hashable
/// id). When every prompt has one pair this is [`naive`]. `n` = prompts.
///
/// ```
/// use nines_estimate::win_rate::naive_by_prompt;
/// let e = naive_by_prompt(&[1.0, 1.0, 0.0, 0.5], &["a", "a", "b", "c"], 0.95).unwrap();
/// assert_eq!(e.value, 0.625);
/// assert_eq!(e.n, 3);
/// ```
pub fn naive_by_prompt<K: Hash + Eq>(
    judgments: &[f64],
    prompts: &[K],
    level: f64,
) -> Result<Estimate> {
    check::at_least("judgments", judgments, 2)?;
    check::same_len("judgments", judgments, "prompts", prompts)?;
    check::closed_unit("judgments", judgments)?;
    let clusters = Clusters::from_ids(prompts);
    if clusters.all_singletons() {
        return naive(judgments, level);
    }
    let mut e = cluster::mean(judgments, &clusters, level)?;
    e.ci = (e.ci.0.max(0.0), e.ci.1.min(1.0));
    e.method = Method::new(Estimator::WinRateNaive, IntervalKind::ClusterNormal);
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
    /// Accepted pairs need none (a judgment there is ignored: the pair counts 1/2). A rejected
    /// pair without one is an error unless the estimator is told the judged pairs are a random
    /// subsample ([`MissingJudgments::RandomSubsample`]).
    pub judgment: Option<f64>,
    /// The prompt the pair came from. Pairs sharing a prompt are correlated; when any prompt
    /// has more than one pair the variance is estimated from per-prompt totals. `None`: a
    /// prompt of its own. Default `None`.
    #[serde(default)]
    pub prompt: Option<u64>,
    /// For a judged rejected pair: the probability, in (0, 1], with which it was chosen for
    /// judging, when rejected pairs were subsampled with unequal probabilities (the judged mean
    /// is then weighted by its inverse, Hájek). `None`: every rejected pair had the same chance.
    #[serde(default)]
    pub judge_probability: Option<f64>,
}

impl PairRecord {
    /// The filtered policy answered and the classifier accepted the unfiltered completion:
    /// worth 1/2, not judged.
    pub fn accepted() -> Self {
        PairRecord {
            unfiltered_accepted: true,
            filtered_refused: false,
            judgment: None,
            prompt: None,
            judge_probability: None,
        }
    }

    /// The filtered policy answered, the classifier rejected the unfiltered completion, and a
    /// person judged the pair (`None`: not judged, allowed only for a declared random
    /// subsample).
    pub fn rejected(judgment: Option<f64>) -> Self {
        PairRecord {
            unfiltered_accepted: false,
            filtered_refused: false,
            judgment,
            prompt: None,
            judge_probability: None,
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
            prompt: None,
            judge_probability: None,
        }
    }

    /// The same pair, recorded as coming from prompt `prompt`.
    ///
    /// ```
    /// use nines_estimate::win_rate::PairRecord;
    /// assert_eq!(PairRecord::accepted().for_prompt(7).prompt, Some(7));
    /// ```
    pub fn for_prompt(self, prompt: u64) -> Self {
        Self {
            prompt: Some(prompt),
            ..self
        }
    }

    /// The same pair, chosen for judging with probability `probability`.
    pub fn judged_with_probability(self, probability: f64) -> Self {
        Self {
            judge_probability: Some(probability),
            ..self
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
    /// Rejected (answered) pairs left unjudged, treated as outside a random subsample.
    #[serde(default)]
    pub unjudged: u64,
    /// Distinct prompts (clusters) behind the pairs; equal to `pairs` when every pair has a
    /// prompt of its own (then the variance is the i.i.d. one).
    #[serde(default)]
    pub prompts: u64,
}

/// What to do with rejected pairs that carry no judgment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingJudgments {
    /// Fail with [`EstimateError::MissingJudgments`]: a judgment lost for a reason related to
    /// the pair (an unpleasant completion, a crashed session) would bias the estimate.
    #[default]
    Error,
    /// The judged rejected pairs are a random subsample, chosen independently of the
    /// judgments, with equal probability or with each pair's recorded
    /// [`PairRecord::judge_probability`].
    RandomSubsample,
}

/// How the interval treats the mean judgment on rejected pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JudgedMeanInterval {
    /// Normal interval for the whole estimate: needs a few dozen judgments, and collapses when
    /// every judgment agrees (10 judgments with mean ≈ 0.93 cover about 66%).
    Normal,
    /// Wilson interval for the judged mean (at its effective sample size) combined with the
    /// counts' normal interval by MOVER ([`IntervalKind::WilsonMover`]).
    Wilson,
    /// Wilson below [`SMALL_SAMPLE_JUDGMENTS`] judgments, normal from there on.
    #[default]
    Auto,
}

/// Below this many judged pairs [`JudgedMeanInterval::Auto`] uses the Wilson-type interval.
pub const SMALL_SAMPLE_JUDGMENTS: usize = 50;

/// Settings for the efficient estimators.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EfficientOptions {
    /// Two-sided confidence level. Default 0.95.
    pub level: f64,
    /// Rejected pairs without a judgment. Default: an error.
    pub missing: MissingJudgments,
    /// Interval for the judged mean. Default: Wilson below 50 judgments.
    pub judged_mean: JudgedMeanInterval,
}

impl Default for EfficientOptions {
    fn default() -> Self {
        Self {
            level: 0.95,
            missing: MissingJudgments::Error,
            judged_mean: JudgedMeanInterval::Auto,
        }
    }
}

impl EfficientOptions {
    /// The defaults at confidence level `level`.
    pub fn at_level(level: f64) -> Self {
        Self {
            level,
            ..Self::default()
        }
    }
}

/// Efficient protocol from per-pair records with the default options at `level`: every
/// rejected pair must be judged, the judged mean gets a Wilson-type interval below 50
/// judgments, and pairs sharing a prompt ([`PairRecord::prompt`]) get a cluster-robust
/// variance. See [`efficient_with`].
pub fn efficient(records: &[PairRecord], level: f64) -> Result<WinRate> {
    efficient_with(records, &EfficientOptions::at_level(level))
}

/// Efficient protocol from per-pair records.
///
/// `Ŵ = ρ̂_a/2 + ρ̂_r m̂` with `ρ̂_a`, `ρ̂_r` the accepted and rejected shares of the pairs and
/// `m̂` the (Hájek-weighted, when pairs carry [`PairRecord::judge_probability`]) mean judgment
/// on rejected pairs. When every pair has a prompt of its own and judging probabilities are
/// equal this is [`efficient_from_pair_counts`]. Otherwise the variance is the linearization
/// over prompts: each pair contributes `u_i = A_i/2 + R_i (m̂ + S_i w_i (N_r/Σ_S w)(J_i − m̂))`
/// (`S_i` judged, `w_i = 1/π_i`), and `Var̂ = C/(C−1) Σ_c (U_c − Ŵ M_c)²/N²` over the `C`
/// prompts' totals `U_c` of `M_c` pairs. Pairs of one prompt share its acceptance rate and
/// judge-relevant content, so treating them as independent understates the variance
/// (40 prompts × 10 pairs: 83% coverage; `tests/clustered.rs`).
///
/// ```
/// use nines_estimate::win_rate::{efficient_with, EfficientOptions, MissingJudgments, PairRecord};
/// let recs = [PairRecord::accepted(), PairRecord::rejected(Some(1.0)),
///             PairRecord::rejected(None), PairRecord::rejected(Some(0.0))];
/// // A missing judgment is an error unless the judged pairs are declared a random subsample.
/// assert!(efficient_with(&recs, &EfficientOptions::default()).is_err());
/// let opts = EfficientOptions { missing: MissingJudgments::RandomSubsample,
///                               ..EfficientOptions::default() };
/// let w = efficient_with(&recs, &opts).unwrap();
/// assert!((w.estimate.value - (0.25 * 0.5 + 0.75 * 0.5)).abs() < 1e-12);
/// assert_eq!(w.unjudged, 1);
/// ```
pub fn efficient_with(records: &[PairRecord], options: &EfficientOptions) -> Result<WinRate> {
    let (counts, judged, prompts, part) = records_part(records, "records", options)?;
    Ok(finish_win_rate(
        part,
        counts,
        judged,
        prompts,
        Estimator::WinRateEfficient,
        options.level,
    ))
}

/// The efficient estimator's pieces from per-pair records: counts, judged pairs, prompts and
/// the estimate with its interval distances.
fn records_part(
    records: &[PairRecord],
    field: &'static str,
    options: &EfficientOptions,
) -> Result<(PairCounts, u64, u64, Part)> {
    check::nonempty(field, records)?;
    check::level(options.level)?;
    let mut counts = PairCounts::default();
    let mut judged = Vec::new();
    let mut missing = (0usize, None);
    let mut any_probability = false;
    for (i, r) in records.iter().enumerate() {
        if r.filtered_refused {
            counts.refused += 1;
        } else if r.unfiltered_accepted {
            counts.accepted += 1;
        } else {
            counts.rejected += 1;
            match r.judgment {
                Some(j) => {
                    if !(j.is_finite() && (0.0..=1.0).contains(&j)) {
                        return Err(EstimateError::Probability {
                            field: "records.judgment",
                            index: i,
                            value: j,
                            range: "[0, 1]",
                        });
                    }
                    if let Some(p) = r.judge_probability {
                        if !(p.is_finite() && p > 0.0 && p <= 1.0) {
                            return Err(EstimateError::Probability {
                                field: "records.judge_probability",
                                index: i,
                                value: p,
                                range: "(0, 1]",
                            });
                        }
                        any_probability = true;
                    }
                    judged.push(j);
                }
                None => {
                    missing.0 += 1;
                    missing.1.get_or_insert(i);
                }
            }
        }
    }
    if let (n, Some(first)) = missing
        && options.missing == MissingJudgments::Error
    {
        return Err(EstimateError::MissingJudgments {
            field,
            missing: n,
            rejected: counts.rejected as usize,
            first,
        });
    }
    let ids: Vec<Option<u64>> = records.iter().map(|r| r.prompt).collect();
    let clusters = Clusters::from_optional_ids(&ids);
    let part = if clusters.all_singletons() && !any_probability || counts.rejected == 0 {
        core(counts, &judged, "records.judgment", options)?
    } else {
        linearized(records, &clusters, counts, options)?
    };
    Ok((counts, judged.len() as u64, clusters.count() as u64, part))
}

/// Efficient protocol with every pair's prompt given as any hashable id (`prompts[i]` for
/// `records[i]`, overriding [`PairRecord::prompt`]). See [`efficient_with`].
///
/// ```
/// use nines_estimate::win_rate::{efficient_by_prompt, EfficientOptions, PairRecord};
/// let recs = [PairRecord::accepted(), PairRecord::rejected(Some(1.0)),
///             PairRecord::accepted(), PairRecord::rejected(Some(0.0))];
/// let w = efficient_by_prompt(&recs, &["p1", "p1", "p2", "p2"], &EfficientOptions::default())
///     .unwrap();
/// assert_eq!(w.prompts, 2);
/// ```
pub fn efficient_by_prompt<K: Hash + Eq>(
    records: &[PairRecord],
    prompts: &[K],
    options: &EfficientOptions,
) -> Result<WinRate> {
    check::same_len("records", records, "prompts", prompts)?;
    let clusters = Clusters::from_ids(prompts);
    let mut recs = records.to_vec();
    for (i, r) in recs.iter_mut().enumerate() {
        r.prompt = Some(clusters.of(i) as u64);
    }
    efficient_with(&recs, options)
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
/// were judged with `rejected_judgments` (fewer judgments than rejected pairs *is* the
/// declaration that they are a random subsample; [`WinRate::unjudged`] records how many were
/// left out).
///
/// `Ŵ = ρ̂_a/2 + ρ̂_r m̂`, with `ρ̂_a`, `ρ̂_r` the accepted and rejected shares of all pairs and
/// `m̂` the mean judgment on rejected pairs; unbiased (given the counts,
/// `E[m̂] = E[J | rejected, answered]`). Variance: the multinomial part
/// `(ρ̂_a/4 + ρ̂_r m̂² − (ρ̂_a/2 + ρ̂_r m̂)²)/N` plus the judging part `ρ̂_r² v̂/n_r`, with `v̂` the
/// judgments' sample variance over the `n_r` judged pairs (`v̂ = 1/4`, the largest possible,
/// if `n_r = 1`); without refusals the first part is `(1/2 − m̂)² α̂(1−α̂)/N`. Below
/// [`SMALL_SAMPLE_JUDGMENTS`] judgments the interval is [`IntervalKind::WilsonMover`]: a Wilson
/// interval for `m̂` at `n_r` trials, scaled by `ρ̂_r` and combined with the multinomial part,
/// `Ŵ − √((ρ̂_r(m̂ − ℓ))² + z² V_mult)` to `Ŵ + √((ρ̂_r(u − m̂))² + z² V_mult)`: the normal
/// interval collapses when the few judgments agree. If no pair was rejected, the unjudged
/// share is bounded: without refusals `Ŵ = 1/2` and the interval is the bound `1/2 ± u/2` with
/// `u` the Clopper-Pearson upper bound on the rejection rate ([`IntervalKind::Bound`]); with
/// refusals the bound's half-width `u/2` is added to the multinomial variance as a
/// pseudo-variance.
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
    efficient_from_pair_counts_with(
        counts,
        rejected_judgments,
        &EfficientOptions {
            level,
            missing: MissingJudgments::RandomSubsample,
            ..EfficientOptions::default()
        },
    )
}

/// [`efficient_from_pair_counts`] with explicit options (the judged-mean interval;
/// `options.missing` is ignored: passing fewer judgments than rejected pairs declares them a
/// random subsample).
pub fn efficient_from_pair_counts_with(
    counts: PairCounts,
    rejected_judgments: &[f64],
    options: &EfficientOptions,
) -> Result<WinRate> {
    check::level(options.level)?;
    let part = core(counts, rejected_judgments, "rejected_judgments", options)?;
    let pairs = counts.pairs();
    Ok(finish_win_rate(
        part,
        counts,
        rejected_judgments.len() as u64,
        pairs,
        Estimator::WinRateEfficient,
        options.level,
    ))
}

/// One efficient estimate's value, variance and interval distances (unclipped).
#[derive(Debug, Clone, Copy)]
struct Part {
    value: f64,
    /// Variance used for intervals (for `rejected = 0`, the bound's half-width as a
    /// pseudo-variance `(u/2z)²`).
    var: f64,
    /// Standard error reported (0 when nothing is random in the estimate).
    se_reported: f64,
    /// `value − lower end` and `upper end − value`.
    below: f64,
    above: f64,
    kind: IntervalKind,
}

fn finish_win_rate(
    part: Part,
    counts: PairCounts,
    comparisons: u64,
    prompts: u64,
    estimator: Estimator,
    level: f64,
) -> WinRate {
    let pairs = counts.pairs();
    let ci = if part.kind == IntervalKind::Bound {
        (part.value - part.below, part.value + part.above)
    } else {
        (
            (part.value - part.below).max(0.0),
            (part.value + part.above).min(1.0),
        )
    };
    WinRate {
        estimate: Estimate {
            value: part.value,
            std_error: part.se_reported,
            ci,
            level,
            n: pairs as usize,
            method: Method::new(estimator, part.kind),
        },
        pairs,
        accepted: counts.accepted,
        refused: counts.refused,
        comparisons,
        comparisons_saved: pairs - comparisons,
        unjudged: counts.rejected - comparisons,
        prompts,
    }
}

/// Whether `judged` judgments get the Wilson-type interval under `choice`.
fn use_wilson(choice: JudgedMeanInterval, judged: usize) -> bool {
    match choice {
        JudgedMeanInterval::Normal => false,
        JudgedMeanInterval::Wilson => true,
        JudgedMeanInterval::Auto => judged < SMALL_SAMPLE_JUDGMENTS,
    }
}

/// The interval around `value = (rest) + rho · m̂`: normal from `var_total`, or Wilson for `m̂`
/// at `n_eff` trials combined with the normal remainder `var_total − rho² var_m` (MOVER).
#[allow(clippy::too_many_arguments)]
fn judged_interval(
    value: f64,
    var_total: f64,
    rho: f64,
    m: f64,
    var_m: f64,
    n_eff: f64,
    wilson: bool,
    level: f64,
) -> Result<Part> {
    let z = z_value(level)?;
    if !wilson {
        let h = z * var_total.sqrt();
        return Ok(Part {
            value,
            var: var_total,
            se_reported: var_total.sqrt(),
            below: h,
            above: h,
            kind: IntervalKind::Normal,
        });
    }
    let rest = (var_total - rho * rho * var_m).max(0.0);
    let (lo, hi) = interval::effective_bounds(
        m.clamp(0.0, 1.0),
        n_eff.max(1.0),
        ProportionInterval::Wilson,
        level,
    )?;
    let z2r = z * z * rest;
    Ok(Part {
        value,
        var: var_total,
        se_reported: var_total.sqrt(),
        below: ((rho * (m - lo)).powi(2) + z2r).sqrt(),
        above: ((rho * (hi - m)).powi(2) + z2r).sqrt(),
        kind: IntervalKind::WilsonMover,
    })
}

/// The efficient estimator from counts and an equal-probability sample of judgments.
fn core(
    counts: PairCounts,
    judgments: &[f64],
    field: &'static str,
    options: &EfficientOptions,
) -> Result<Part> {
    let PairCounts {
        accepted, rejected, ..
    } = counts;
    let level = options.level;
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
        let var = multinomial + (0.5 * u / z).powi(2);
        let (below, above, kind) = if counts.refused == 0 {
            (0.5 * u, 0.5 * u, IntervalKind::Bound)
        } else {
            (z * var.sqrt(), z * var.sqrt(), IntervalKind::Normal)
        };
        return Ok(Part {
            value,
            var,
            se_reported: multinomial.sqrt(),
            below,
            above,
            kind,
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
    let nj = judgments.len() as f64;
    let var_m = v / nj;
    let var = multinomial + r * r * var_m;
    judged_interval(
        value,
        var,
        r,
        m,
        var_m,
        effective_n(m, var_m, nj),
        use_wilson(options.judged_mean, judgments.len()),
        level,
    )
}

/// Korn-Graubard effective sample size `m(1−m)/Var̂(m̂)` of a mean in [0, 1], at least `n`
/// (judgments with ties vary less than a proportion, so they are worth at least their
/// number); `n` when the judgments do not vary.
fn effective_n(m: f64, var_m: f64, n: f64) -> f64 {
    if var_m > 0.0 && m > 0.0 && m < 1.0 {
        (m * (1.0 - m) / var_m).max(n)
    } else {
        n
    }
}

/// The efficient estimator from per-pair records, linearized over prompts (clusters) and with
/// Hájek weights for unequal judging probabilities. Needs at least one rejected pair.
fn linearized(
    records: &[PairRecord],
    clusters: &Clusters,
    counts: PairCounts,
    options: &EfficientOptions,
) -> Result<Part> {
    let n = records.len() as f64;
    let mut sw = 0.0;
    let mut swj = 0.0;
    let mut sw2 = 0.0;
    let mut nj = 0usize;
    for r in records {
        if !r.filtered_refused
            && !r.unfiltered_accepted
            && let Some(j) = r.judgment
        {
            let w = 1.0 / r.judge_probability.unwrap_or(1.0);
            sw += w;
            sw2 += w * w;
            swj += w * j;
            nj += 1;
        }
    }
    if nj == 0 {
        return Err(EstimateError::TooFew {
            field: "records.judgment",
            need: 1,
            got: 0,
        });
    }
    let m = swj / sw;
    let nr = counts.rejected as f64;
    let value = (0.5 * counts.accepted as f64 + nr * m) / n;
    let mut u = Vec::with_capacity(records.len());
    let mut jy = Vec::with_capacity(records.len());
    let mut jx = Vec::with_capacity(records.len());
    for r in records {
        let (ui, y, x) = if r.filtered_refused {
            (0.0, 0.0, 0.0)
        } else if r.unfiltered_accepted {
            (0.5, 0.0, 0.0)
        } else if let Some(j) = r.judgment {
            let w = 1.0 / r.judge_probability.unwrap_or(1.0);
            (m + w * (nr / sw) * (j - m), w * j, w)
        } else {
            (m, 0.0, 0.0)
        };
        u.push(ui);
        jy.push(y);
        jx.push(x);
    }
    let ones = vec![1.0; u.len()];
    let mut var = cluster::cluster_count_variance(&u, &ones, clusters);
    let mut var_m = cluster::ratio_variance(&jy, &jx, clusters);
    let rho = nr / n;
    if var_m == 0.0 && judged_clusters(&jx, clusters) < 2 {
        // One judged prompt: no spread to estimate; use the largest possible variance.
        var_m = 0.25 / nj as f64;
        var += rho * rho * var_m;
    }
    let kish = sw * sw / sw2;
    judged_interval(
        value,
        var,
        rho,
        m,
        var_m,
        effective_n(m, var_m, kish),
        use_wilson(options.judged_mean, nj),
        options.level,
    )
}

fn judged_clusters(x: &[f64], clusters: &Clusters) -> usize {
    clusters.totals(x).iter().filter(|t| **t != 0.0).count()
}

mod planning;
mod stratified;
mod weighted;

pub use planning::*;
pub use stratified::*;
pub use weighted::*;
