//! Prompts in strata (e.g. acceptance-rate buckets), each estimated and combined by its
//! share.

use super::*;

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
/// bound as a pseudo-variance; refused pairs count 0. Each stratum's interval is the efficient
/// estimator's (Wilson-type below 50 judgments), and they are combined by MOVER:
/// `Ŵ − √(Σ_h ω_h² (Ŵ_h − ℓ_h)²)` to `Ŵ + √(Σ_h ω_h² (u_h − Ŵ_h)²)`, which is
/// `Ŵ ± z √Var` when every stratum's interval is normal. `n` = pairs.
pub fn stratified(strata: &[Stratum], level: f64) -> Result<WinRate> {
    check::nonempty("strata", strata)?;
    let options = EfficientOptions::at_level(level);
    check::level(level)?;
    let mut parts = Vec::with_capacity(strata.len());
    for s in strata {
        let counts = PairCounts {
            refused: s.refused,
            accepted: s.accepted,
            rejected: s.rejected,
        };
        let p = core(
            counts,
            &s.rejected_judgments,
            "strata.rejected_judgments",
            &options,
        )?;
        parts.push((s.weight, counts, s.rejected_judgments.len() as u64, p));
    }
    combine_strata(&parts, level)
}

/// One stratum given as per-pair records, for [`stratified_records`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StratumRecords {
    /// The stratum's share of the prompt distribution (any positive scale; normalized).
    pub weight: f64,
    /// Its pairs (with prompts, for a cluster-robust variance within the stratum).
    pub records: Vec<PairRecord>,
}

/// Stratified efficient estimator from per-pair records: each stratum is estimated by
/// [`efficient_with`] (cluster-robust where its prompts have several pairs; a prompt belongs
/// to one stratum), and the strata are combined as in [`stratified`].
///
/// ```
/// use nines_estimate::win_rate::{stratified_records, EfficientOptions, PairRecord, StratumRecords};
/// let a = PairRecord::accepted();
/// let r = |j| PairRecord::rejected(Some(j));
/// let strata = [StratumRecords { weight: 0.5, records: vec![a, a, r(1.0), r(0.0)] },
///               StratumRecords { weight: 0.5, records: vec![a, r(1.0), r(1.0), r(0.5)] }];
/// let w = stratified_records(&strata, &EfficientOptions::default()).unwrap();
/// assert!((w.estimate.value - 0.5 * (0.5 + 0.75)).abs() < 1e-12);
/// ```
pub fn stratified_records(
    strata: &[StratumRecords],
    options: &EfficientOptions,
) -> Result<WinRate> {
    check::nonempty("strata", strata)?;
    check::level(options.level)?;
    let mut parts = Vec::with_capacity(strata.len());
    for s in strata {
        let (counts, judged, _, part) = records_part(&s.records, "strata.records", options)?;
        parts.push((s.weight, counts, judged, part));
    }
    combine_strata(&parts, options.level)
}

fn combine_strata(parts: &[(f64, PairCounts, u64, Part)], level: f64) -> Result<WinRate> {
    let ws: Vec<f64> = parts.iter().map(|p| p.0).collect();
    check::weights("strata.weight", &ws, true)?;
    let total_w: f64 = ws.iter().sum();
    let z = z_value(level)?;
    let (mut value, mut var, mut below, mut above) = (0.0, 0.0, 0.0, 0.0);
    let mut all_normal = true;
    let mut sum = PairCounts::default();
    let mut comparisons = 0u64;
    for (weight, counts, judged, p) in parts {
        let w = weight / total_w;
        value += w * p.value;
        var += w * w * p.var;
        if p.kind == IntervalKind::WilsonMover {
            all_normal = false;
            below += (w * p.below).powi(2);
            above += (w * p.above).powi(2);
        } else {
            // Normal and bound strata enter through their (pseudo-)variance.
            below += w * w * z * z * p.var;
            above += w * w * z * z * p.var;
        }
        sum.refused += counts.refused;
        sum.accepted += counts.accepted;
        sum.rejected += counts.rejected;
        comparisons += judged;
    }
    let part = Part {
        value,
        var,
        se_reported: var.sqrt(),
        below: below.sqrt(),
        above: above.sqrt(),
        kind: if all_normal {
            IntervalKind::Normal
        } else {
            IntervalKind::WilsonMover
        },
    };
    let pairs = sum.pairs();
    Ok(finish_win_rate(
        part,
        sum,
        comparisons,
        pairs,
        Estimator::WinRateStratified,
        level,
    ))
}
