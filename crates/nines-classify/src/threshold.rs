//! Choosing the rejection threshold for a target false-negative rate, with an exact
//! (Clopper-Pearson) upper confidence bound on that rate, and the share of safe completions
//! the threshold rejects.
//!
//! A pair is accepted when `score <= threshold` and rejected when `score > threshold` — the
//! convention of the whole project (the filter accepts a completion whose P(injury) is at most
//! the threshold). A false negative is an injury that is accepted. On validation data with `P`
//! positives, [`select_for_fnr`] takes a threshold that accepts at most `k = ⌊target · P⌋` of
//! them: halfway between the `(k+1)`-th lowest positive score and the highest score of any pair
//! below it, so the choice has a margin on both sides. The empirical FNR is then at most the target; the upper bound says how
//! large the true FNR may still be, given only `P` positives.

use serde::{Deserialize, Serialize};

use crate::error::{ClassifyError, Result};

/// A threshold and what it does on the data it was chosen or evaluated on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdChoice {
    /// Reject when `score > threshold` (accept when `score <= threshold`).
    pub threshold: f64,
    /// The false-negative rate aimed for (NaN-free; 0 when evaluating a given threshold).
    pub target_fnr: f64,
    /// Positives (injuries) in the data.
    pub positives: usize,
    /// Positives scored at or below the threshold (let through).
    pub missed: usize,
    /// `missed / positives`.
    pub fnr: f64,
    /// One-sided Clopper-Pearson upper bound on the FNR at `confidence`.
    pub fnr_upper: f64,
    /// Confidence of `fnr_upper` (e.g. 0.95).
    pub confidence: f64,
    /// Negatives (safe completions) in the data.
    pub negatives: usize,
    /// Negatives scored above the threshold (rejected although safe).
    pub rejected_safe: usize,
    /// `rejected_safe / negatives`.
    pub safe_rejection_rate: f64,
}

fn counts(scores: &[f32], labels: &[bool]) -> Result<(usize, usize)> {
    if scores.len() != labels.len() {
        return Err(ClassifyError::data(
            "threshold",
            format!("{} scores but {} labels", scores.len(), labels.len()),
        ));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(ClassifyError::data(
            "threshold",
            format!("score {i} is {}", scores[i]),
        ));
    }
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return Err(ClassifyError::data(
            "threshold",
            format!("needs both classes; has {pos} positives and {neg} negatives"),
        ));
    }
    Ok((pos, neg))
}

fn check_confidence(confidence: f64) -> Result<()> {
    if !(confidence > 0.5 && confidence < 1.0) {
        return Err(ClassifyError::config(
            "confidence",
            format!("{confidence} must be in (0.5, 1)"),
        ));
    }
    Ok(())
}

/// One-sided Clopper-Pearson upper bound on a binomial proportion `k / n` at `confidence`
/// (the upper end of the two-sided interval at level `2·confidence − 1`); 1 when `k = n`.
///
/// ```
/// // No misses among 300 positives: the "rule of three" gives about 3/300.
/// let u = nines_classify::threshold::clopper_pearson_upper(0, 300, 0.95).unwrap();
/// assert!((u - 0.00994).abs() < 1e-4);
/// ```
pub fn clopper_pearson_upper(k: u64, n: u64, confidence: f64) -> Result<f64> {
    check_confidence(confidence)?;
    let e = nines_estimate::interval::clopper_pearson(k, n, 2.0 * confidence - 1.0)?;
    Ok(e.ci.1)
}

/// What `threshold` does on `scores` / `labels` (both classes needed).
pub fn evaluate_threshold(
    scores: &[f32],
    labels: &[bool],
    threshold: f64,
    confidence: f64,
) -> Result<ThresholdChoice> {
    let (pos, neg) = counts(scores, labels)?;
    check_confidence(confidence)?;
    if !threshold.is_finite() {
        return Err(ClassifyError::config(
            "threshold",
            format!("{threshold} is not finite"),
        ));
    }
    let mut missed = 0;
    let mut rejected_safe = 0;
    for (&s, &y) in scores.iter().zip(labels) {
        let rejected = f64::from(s) > threshold;
        match (y, rejected) {
            (true, false) => missed += 1,
            (false, true) => rejected_safe += 1,
            _ => {}
        }
    }
    Ok(ThresholdChoice {
        threshold,
        target_fnr: 0.0,
        positives: pos,
        missed,
        fnr: missed as f64 / pos as f64,
        fnr_upper: clopper_pearson_upper(missed as u64, pos as u64, confidence)?,
        confidence,
        negatives: neg,
        rejected_safe,
        safe_rejection_rate: rejected_safe as f64 / neg as f64,
    })
}

/// A threshold whose false-negative rate on `scores` / `labels` is at most `target_fnr`,
/// with the Clopper-Pearson upper bound on it at `confidence`: halfway between the lowest
/// positive score that must be rejected and the next lower score (0 when there is none).
///
/// ```
/// use nines_classify::threshold::select_for_fnr;
/// let scores = [0.9, 0.8, 0.3, 0.2, 0.1, 0.05];
/// let labels = [true, true, true, false, false, false];
/// let c = select_for_fnr(&scores, &labels, 0.0, 0.95).unwrap();
/// assert_eq!(c.threshold, (0.3f32 as f64 + 0.2f32 as f64) / 2.0);
/// assert_eq!((c.missed, c.rejected_safe), (0, 0));
/// ```
pub fn select_for_fnr(
    scores: &[f32],
    labels: &[bool],
    target_fnr: f64,
    confidence: f64,
) -> Result<ThresholdChoice> {
    let (pos, _) = counts(scores, labels)?;
    if !(0.0..=1.0).contains(&target_fnr) {
        return Err(ClassifyError::config(
            "target_fnr",
            format!("{target_fnr} is not a rate in [0, 1]"),
        ));
    }
    let mut positives: Vec<f32> = scores
        .iter()
        .zip(labels)
        .filter(|(_, l)| **l)
        .map(|(s, _)| *s)
        .collect();
    positives.sort_by(f32::total_cmp);
    let k = ((target_fnr * pos as f64).floor() as usize).min(pos - 1);
    // Reject the (k+1)-th lowest positive and everything above it.
    let must_reject = f64::from(positives[k]);
    let below = scores
        .iter()
        .map(|&s| f64::from(s))
        .filter(|&s| s < must_reject)
        .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
    let threshold = match below {
        Some(b) => (b + must_reject) / 2.0,
        None => (must_reject / 2.0).min(must_reject.next_down()),
    };
    let mut c = evaluate_threshold(scores, labels, threshold, confidence)?;
    c.target_fnr = target_fnr;
    Ok(c)
}
