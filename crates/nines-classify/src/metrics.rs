//! Evaluation of scores against labels: AUROC, AUPRC (average precision), log-loss, Brier
//! score, expected calibration error with reliability-diagram data, and temperature scaling.
//!
//! All functions take probabilities or logits as `f32` and labels as `bool` (true =
//! injury), check that the lengths match and that the values are finite, and never panic.

use serde::{Deserialize, Serialize};

use crate::error::{ClassifyError, Result};

fn check(scores: &[f32], labels: &[bool], what: &str) -> Result<()> {
    if scores.len() != labels.len() {
        return Err(ClassifyError::data(
            what,
            format!("{} scores but {} labels", scores.len(), labels.len()),
        ));
    }
    if scores.is_empty() {
        return Err(ClassifyError::data(what, "no examples"));
    }
    if let Some(i) = scores.iter().position(|s| !s.is_finite()) {
        return Err(ClassifyError::data(
            what,
            format!("score {i} is {}", scores[i]),
        ));
    }
    Ok(())
}

fn check_both_classes(labels: &[bool], what: &str) -> Result<(usize, usize)> {
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return Err(ClassifyError::data(
            what,
            format!("needs both classes; has {pos} positives and {neg} negatives"),
        ));
    }
    Ok((pos, neg))
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative, ties counting one half (Mann-Whitney U with average ranks).
///
/// ```
/// let auc = nines_classify::metrics::auroc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
/// assert!((auc - 0.75).abs() < 1e-12);
/// ```
pub fn auroc(scores: &[f32], labels: &[bool]) -> Result<f64> {
    check(scores, labels, "auroc")?;
    let (pos, neg) = check_both_classes(labels, "auroc")?;
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += idx[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let (p, n) = (pos as f64, neg as f64);
    Ok((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// A confidence interval for an AUROC from the counts alone (Hanley & McNeil, 1982): standard
/// error `√((A(1−A) + (n₊−1)(Q₁−A²) + (n₋−1)(Q₂−A²)) / (n₊n₋))` with `Q₁ = A/(2−A)` and
/// `Q₂ = 2A²/(1+A)`, and a normal interval clipped to [0, 1]. It assumes the exponential-score
/// model of its authors; with few positives it is an approximation (DeLong's interval needs the
/// scores).
///
/// ```
/// let (lo, hi) = nines_classify::metrics::auroc_interval(0.9, 50, 2000, 0.95).unwrap();
/// assert!(lo < 0.9 && 0.9 < hi && hi - lo < 0.15);
/// ```
pub fn auroc_interval(
    auroc: f64,
    positives: usize,
    negatives: usize,
    level: f64,
) -> Result<(f64, f64)> {
    if !(0.0..=1.0).contains(&auroc) {
        return Err(ClassifyError::data(
            "auroc_interval",
            format!("AUROC {auroc} is not in [0, 1]"),
        ));
    }
    if positives == 0 || negatives == 0 {
        return Err(ClassifyError::data(
            "auroc_interval",
            format!("needs both classes; has {positives} positives and {negatives} negatives"),
        ));
    }
    let a = auroc;
    let (p, n) = (positives as f64, negatives as f64);
    let q1 = a / (2.0 - a);
    let q2 = 2.0 * a * a / (1.0 + a);
    let var = (a * (1.0 - a) + (p - 1.0) * (q1 - a * a) + (n - 1.0) * (q2 - a * a)) / (p * n);
    let (lo, hi) = nines_estimate::interval::normal(a, var.max(0.0).sqrt(), level)
        .map_err(|e| ClassifyError::data("auroc_interval", e.to_string()))?;
    Ok((lo.max(0.0), hi.min(1.0)))
}

/// Area under the precision-recall curve as average precision: `Σ (R_k − R_{k−1}) P_k` over
/// the distinct score thresholds, highest first (tied scores enter together).
///
/// ```
/// let ap = nines_classify::metrics::auprc(&[0.9, 0.8, 0.7], &[true, false, true]).unwrap();
/// assert!((ap - (0.5 * 1.0 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
/// ```
pub fn auprc(scores: &[f32], labels: &[bool]) -> Result<f64> {
    check(scores, labels, "auprc")?;
    let (pos, _) = check_both_classes(labels, "auprc")?;
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            if labels[k] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        let recall = tp as f64 / pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - last_recall) * precision;
        last_recall = recall;
        i = j + 1;
    }
    Ok(ap)
}

const EPS: f64 = 1e-7;

/// Mean negative log-likelihood of the labels under probabilities (clamped to [1e-7, 1−1e-7]).
pub fn log_loss(probs: &[f32], labels: &[bool]) -> Result<f64> {
    check(probs, labels, "log_loss")?;
    let s: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = f64::from(p).clamp(EPS, 1.0 - EPS);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum();
    Ok(s / probs.len() as f64)
}

/// Mean squared error of probabilities against 0/1 labels.
pub fn brier(probs: &[f32], labels: &[bool]) -> Result<f64> {
    check(probs, labels, "brier")?;
    let s: f64 = probs
        .iter()
        .zip(labels)
        .map(|(&p, &y)| (f64::from(p) - f64::from(u8::from(y))).powi(2))
        .sum();
    Ok(s / probs.len() as f64)
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Lower edge of the probability bin (inclusive).
    pub lower: f64,
    /// Upper edge (exclusive, except 1 for the last bin).
    pub upper: f64,
    /// Examples in the bin.
    pub count: usize,
    /// Mean predicted probability in the bin (0 when empty).
    pub mean_probability: f64,
    /// Fraction of positives in the bin (0 when empty).
    pub positive_rate: f64,
}

/// Calibration: expected calibration error and the reliability-diagram bins it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// `Σ_b (n_b / n) |positive_rate_b − mean_probability_b|` over equal-width bins.
    pub ece: f64,
    /// Largest per-bin gap over non-empty bins.
    pub mce: f64,
    /// The bins, lowest first.
    pub bins: Vec<ReliabilityBin>,
}

/// Expected calibration error over `bins` equal-width probability bins, with the bins.
pub fn calibration(probs: &[f32], labels: &[bool], bins: usize) -> Result<Calibration> {
    check(probs, labels, "calibration")?;
    if bins == 0 {
        return Err(ClassifyError::config("bins", "must be at least 1"));
    }
    let mut count = vec![0usize; bins];
    let mut sum_p = vec![0f64; bins];
    let mut sum_y = vec![0f64; bins];
    for (&p, &y) in probs.iter().zip(labels) {
        let p = f64::from(p).clamp(0.0, 1.0);
        let b = ((p * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        sum_p[b] += p;
        sum_y[b] += f64::from(u8::from(y));
    }
    let n = probs.len() as f64;
    let (mut ece, mut mce) = (0.0, 0.0f64);
    let out = (0..bins)
        .map(|b| {
            let c = count[b];
            let (mp, pr) = if c > 0 {
                (sum_p[b] / c as f64, sum_y[b] / c as f64)
            } else {
                (0.0, 0.0)
            };
            if c > 0 {
                ece += c as f64 / n * (pr - mp).abs();
                mce = mce.max((pr - mp).abs());
            }
            ReliabilityBin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                count: c,
                mean_probability: mp,
                positive_rate: pr,
            }
        })
        .collect();
    Ok(Calibration {
        ece,
        mce,
        bins: out,
    })
}

/// The usual figures for one set of scored examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Examples.
    pub n: usize,
    /// Positives among them.
    pub positives: usize,
    /// Area under the ROC curve.
    pub auroc: f64,
    /// Average precision.
    pub auprc: f64,
    /// Log-loss.
    pub log_loss: f64,
    /// Brier score.
    pub brier: f64,
    /// Expected calibration error over 10 bins.
    pub ece: f64,
}

impl Metrics {
    /// Computes every figure; needs both classes.
    pub fn compute(probs: &[f32], labels: &[bool]) -> Result<Metrics> {
        Ok(Metrics {
            n: probs.len(),
            positives: labels.iter().filter(|&&l| l).count(),
            auroc: auroc(probs, labels)?,
            auprc: auprc(probs, labels)?,
            log_loss: log_loss(probs, labels)?,
            brier: brier(probs, labels)?,
            ece: calibration(probs, labels, 10)?.ece,
        })
    }
}

fn nll_at(logits: &[f32], labels: &[bool], t: f64) -> f64 {
    logits
        .iter()
        .zip(labels)
        .map(|(&z, &y)| {
            let z = f64::from(z) / t;
            // log(1 + e^{-|z|}) + max(z, 0) − y z  (stable BCE with logits)
            let softplus = (-z.abs()).exp().ln_1p() + z.max(0.0);
            softplus - if y { z } else { 0.0 }
        })
        .sum::<f64>()
        / logits.len() as f64
}

/// Temperature scaling: the `T` in [0.05, 20] minimizing the log-loss of `sigmoid(z / T)`
/// on held-out logits (golden-section search on `ln T`; the loss is unimodal in `1/T`).
///
/// ```
/// // Overconfident logits: the true probabilities are sigmoid(z / 2).
/// let z: Vec<f32> = (0..2000).map(|i| (i as f32 / 2000.0 - 0.5) * 16.0).collect();
/// let y: Vec<bool> = z.iter().enumerate().map(|(i, &z)| {
///     let p = 1.0 / (1.0 + (-(z as f64) / 2.0).exp());
///     ((i * 7919) % 1000) as f64 / 1000.0 < p
/// }).collect();
/// let t = nines_classify::metrics::fit_temperature(&z, &y).unwrap();
/// assert!((t - 2.0).abs() < 0.4, "{t}");
/// ```
pub fn fit_temperature(logits: &[f32], labels: &[bool]) -> Result<f64> {
    check(logits, labels, "temperature")?;
    check_both_classes(labels, "temperature")?;
    let (mut a, mut b) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let f = |x: f64| nll_at(logits, labels, x.exp());
    let (mut c, mut d) = (b - g * (b - a), a + g * (b - a));
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..80 {
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - g * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + g * (b - a);
            fd = f(d);
        }
    }
    Ok(((a + b) / 2.0).exp())
}
