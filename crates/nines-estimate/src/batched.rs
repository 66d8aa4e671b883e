//! Exact output distributions of rejection-sampling filters for one prompt whose unfiltered
//! completions take finitely many (score, label) outcomes.
//!
//! * *Sequential*: draw until the classifier accepts (`score ≤ threshold`), emit that draw.
//!   The output is the unfiltered distribution conditioned on acceptance.
//! * *Batched-safest*: draw a batch of `k`, emit the accepted draw with the lowest score (ties
//!   broken uniformly at random); if none is accepted either draw a new batch
//!   ([`OnEmpty::Retry`]) or emit the lowest-scored draw anyway ([`OnEmpty::EmitSafest`]).
//!
//! For an outcome with score `v`, write `S≥(v) = P(score ≥ v)` and `S>(v) = P(score > v)`.
//! The lowest score in a batch equals `v` with probability `S≥(v)^k − S>(v)^k`, and given
//! that, each outcome with score `v` is emitted in proportion to its probability. So the
//! batched filter emits outcome `i` with probability `p_i · r(v_i) / Z`, where
//! `r(v) = Σ_{j<k} S≥(v)^j S>(v)^{k−1−j}` (equal to `(S≥^k − S>^k)/(S≥ − S>)`, and to
//! `k S^{k−1}` for an atom-free score) and `Z = 1 − S>(t)^k` (retry) or 1 (emit safest).
//! `r(v)/Z` is also the importance weight of an unfiltered draw with score `v`, which is how
//! [`crate::failure_rate::from_scores`] estimates the batched filter's failure rate from labeled
//! unfiltered samples.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{EstimateError, Result};

/// Whether the classifier accepts a completion: `score ≤ threshold` (scores are the
/// classifier's probability of a failure; lower is safer).
pub fn accepts(score: f64, threshold: f64) -> bool {
    score <= threshold
}

/// One outcome of the unfiltered policy on a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Classifier score (lower is safer).
    pub score: f64,
    /// Whether this outcome is a failure (e.g. describes an injury).
    pub failure: bool,
    /// Its probability under the unfiltered policy.
    pub probability: f64,
}

/// A validated finite distribution of outcomes (probabilities sum to 1 within 1e-9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeDistribution {
    outcomes: Vec<Outcome>,
}

impl OutcomeDistribution {
    /// Validates scores (finite), probabilities (in [0, 1], summing to 1 within 1e-9).
    pub fn new(outcomes: Vec<Outcome>) -> Result<Self> {
        check::nonempty("outcomes", &outcomes)?;
        let scores: Vec<f64> = outcomes.iter().map(|o| o.score).collect();
        check::finite("outcomes.score", &scores)?;
        let probs: Vec<f64> = outcomes.iter().map(|o| o.probability).collect();
        check::closed_unit("outcomes.probability", &probs)?;
        let total: f64 = probs.iter().sum();
        if (total - 1.0).abs() > 1e-9 {
            return Err(EstimateError::Parameter {
                name: "outcomes.probability",
                value: total.to_string(),
                reason: "outcome probabilities must sum to 1",
            });
        }
        Ok(Self { outcomes })
    }

    /// The outcomes.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// The unfiltered failure probability.
    pub fn failure_probability(&self) -> f64 {
        self.outcomes
            .iter()
            .filter(|o| o.failure)
            .map(|o| o.probability)
            .sum()
    }

    /// Probability that one unfiltered draw is accepted at `threshold`.
    pub fn acceptance(&self, threshold: f64) -> f64 {
        self.outcomes
            .iter()
            .filter(|o| accepts(o.score, threshold))
            .map(|o| o.probability)
            .sum()
    }

    /// `(S≥(v), S>(v))` for score `v`.
    pub fn survival(&self, v: f64) -> (f64, f64) {
        let mut ge = 0.0;
        let mut gt = 0.0;
        for o in &self.outcomes {
            if o.score >= v {
                ge += o.probability;
            }
            if o.score > v {
                gt += o.probability;
            }
        }
        (ge.min(1.0), gt.min(1.0))
    }
}

/// What the batched-safest filter does when no draw in a batch is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnEmpty {
    /// Draw a new batch (output conditioned on acceptance).
    #[default]
    Retry,
    /// Emit the lowest-scored draw even though it was rejected (bounded cost, `k` draws).
    EmitSafest,
}

/// A rejection-sampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Selection {
    /// Draw until accepted.
    Sequential {
        /// Acceptance threshold on the score.
        threshold: f64,
    },
    /// Batches of `batch`, emit the safest accepted draw.
    BatchedSafest {
        /// Batch size `k ≥ 1` (`k = 1` with retry is sequential).
        batch: usize,
        /// Acceptance threshold on the score.
        threshold: f64,
        /// Behaviour when a batch has no accepted draw.
        on_empty: OnEmpty,
    },
}

impl Selection {
    /// Checks a finite threshold and `batch ≥ 1`.
    pub fn validate(&self) -> Result<()> {
        let (t, k) = match *self {
            Self::Sequential { threshold } => (threshold, 1),
            Self::BatchedSafest {
                batch, threshold, ..
            } => (threshold, batch),
        };
        check::finite_scalar("threshold", t)?;
        if k == 0 {
            return Err(EstimateError::Parameter {
                name: "batch",
                value: "0".into(),
                reason: "a batch needs at least one draw",
            });
        }
        Ok(())
    }

    /// The acceptance threshold.
    pub fn threshold(&self) -> f64 {
        match *self {
            Self::Sequential { threshold } | Self::BatchedSafest { threshold, .. } => threshold,
        }
    }

    /// Importance weight `P_filtered(score = v) / P_unfiltered(score = v)` of an unfiltered
    /// draw with score `v`, given `(S≥(v), S>(v))` at `v` and the single-draw acceptance
    /// probability. Returns `None` when the filter can never emit (acceptance 0 with retry).
    pub(crate) fn weight(&self, v: f64, survival: (f64, f64), acceptance: f64) -> Option<f64> {
        match *self {
            Self::Sequential { threshold } => {
                if acceptance <= 0.0 {
                    None
                } else if accepts(v, threshold) {
                    Some(1.0 / acceptance)
                } else {
                    Some(0.0)
                }
            }
            Self::BatchedSafest {
                batch,
                threshold,
                on_empty,
            } => {
                let r = safest_ratio(survival.0, survival.1, batch);
                match on_empty {
                    OnEmpty::EmitSafest => Some(r),
                    OnEmpty::Retry => {
                        let z = 1.0 - (1.0 - acceptance).powi(batch as i32);
                        if z <= 0.0 {
                            None
                        } else if accepts(v, threshold) {
                            Some(r / z)
                        } else {
                            Some(0.0)
                        }
                    }
                }
            }
        }
    }
}

/// `Σ_{j<k} a^j b^{k−1−j}` for `a ≥ b ≥ 0`, summed from the largest term down so nothing
/// overflows or underflows needlessly.
fn safest_ratio(a: f64, b: f64, k: usize) -> f64 {
    if a <= 0.0 {
        return if k == 1 { 1.0 } else { 0.0 };
    }
    let q = (b / a).min(1.0);
    let mut term = a.powi(k as i32 - 1);
    let mut sum = 0.0;
    for _ in 0..k {
        sum += term;
        term *= q;
    }
    sum
}

/// The exact output of a filter on one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Emission {
    /// Probability that each outcome (same order as the distribution) is emitted.
    pub probabilities: Vec<f64>,
    /// Probability that the emitted completion is a failure.
    pub failure_probability: f64,
    /// Probability that one unfiltered draw is accepted.
    pub acceptance: f64,
    /// Expected number of unfiltered draws (classifier calls) per emitted completion:
    /// `1/α` sequential, `k/(1 − (1−α)^k)` batched with retry, `k` batched emit-safest.
    pub expected_draws: f64,
    /// Probability that the emitted completion was itself rejected (only with
    /// [`OnEmpty::EmitSafest`]: `(1−α)^k`).
    pub emits_rejected: f64,
}

/// The exact emission distribution of `selection` on `dist`.
///
/// ```
/// use nines_estimate::batched::*;
/// let d = OutcomeDistribution::new(vec![
///     Outcome { score: 0.1, failure: false, probability: 0.5 },
///     Outcome { score: 0.2, failure: true, probability: 0.3 },
///     Outcome { score: 0.9, failure: true, probability: 0.2 },
/// ]).unwrap();
/// let seq = emission(&d, &Selection::Sequential { threshold: 0.5 }).unwrap();
/// assert!((seq.failure_probability - 0.3 / 0.8).abs() < 1e-12);
/// let bat = emission(&d, &Selection::BatchedSafest {
///     batch: 4, threshold: 0.5, on_empty: OnEmpty::Retry }).unwrap();
/// assert!(bat.failure_probability < seq.failure_probability);
/// ```
pub fn emission(dist: &OutcomeDistribution, selection: &Selection) -> Result<Emission> {
    selection.validate()?;
    let t = selection.threshold();
    let acceptance = dist.acceptance(t);
    let mut probabilities = Vec::with_capacity(dist.outcomes.len());
    for o in &dist.outcomes {
        let w = selection
            .weight(o.score, dist.survival(o.score), acceptance)
            .ok_or_else(|| no_acceptance(t))?;
        probabilities.push(o.probability * w);
    }
    let failure_probability = dist
        .outcomes
        .iter()
        .zip(&probabilities)
        .filter(|(o, _)| o.failure)
        .map(|(_, p)| p)
        .sum();
    let (expected_draws, emits_rejected) = match *selection {
        Selection::Sequential { .. } => (1.0 / acceptance, 0.0),
        Selection::BatchedSafest {
            batch, on_empty, ..
        } => {
            let none = (1.0 - acceptance).powi(batch as i32);
            match on_empty {
                OnEmpty::Retry => (batch as f64 / (1.0 - none), 0.0),
                OnEmpty::EmitSafest => (batch as f64, none),
            }
        }
    };
    Ok(Emission {
        probabilities,
        failure_probability,
        acceptance,
        expected_draws,
        emits_rejected,
    })
}

fn no_acceptance(threshold: f64) -> EstimateError {
    EstimateError::Degenerate(format!(
        "no outcome is accepted at threshold {threshold}; a filter that retries never emits"
    ))
}

/// Runs the filter once with `rng` and returns the emitted outcome's index and the number of
/// draws it took. Errors if nothing is accepted within `max_draws` draws.
pub fn sample_emitted<R: Rng + ?Sized>(
    dist: &OutcomeDistribution,
    selection: &Selection,
    rng: &mut R,
    max_draws: u64,
) -> Result<(usize, u64)> {
    selection.validate()?;
    let cdf: Vec<f64> = dist
        .outcomes
        .iter()
        .scan(0.0, |acc, o| {
            *acc += o.probability;
            Some(*acc)
        })
        .collect();
    let last = cdf.len() - 1;
    let draw = |rng: &mut R| {
        let u: f64 = rng.random::<f64>() * cdf[last];
        cdf.partition_point(|c| *c <= u).min(last)
    };
    let t = selection.threshold();
    let mut draws = 0u64;
    match *selection {
        Selection::Sequential { .. } => {
            while draws < max_draws {
                let i = draw(rng);
                draws += 1;
                if accepts(dist.outcomes[i].score, t) {
                    return Ok((i, draws));
                }
            }
        }
        Selection::BatchedSafest {
            batch, on_empty, ..
        } => {
            let mut cand: Vec<usize> = Vec::with_capacity(batch);
            while draws + batch as u64 <= max_draws {
                cand.clear();
                for _ in 0..batch {
                    cand.push(draw(rng));
                }
                draws += batch as u64;
                let any_accepted = cand.iter().any(|&i| accepts(dist.outcomes[i].score, t));
                if !any_accepted && on_empty == OnEmpty::Retry {
                    continue;
                }
                let pool: Vec<usize> = if any_accepted {
                    cand.iter()
                        .copied()
                        .filter(|&i| accepts(dist.outcomes[i].score, t))
                        .collect()
                } else {
                    cand.clone()
                };
                let best = pool
                    .iter()
                    .map(|&i| dist.outcomes[i].score)
                    .fold(f64::INFINITY, f64::min);
                let tied: Vec<usize> = pool
                    .into_iter()
                    .filter(|&i| dist.outcomes[i].score == best)
                    .collect();
                let pick = tied[rng.random_range(0..tied.len())];
                return Ok((pick, draws));
            }
        }
    }
    Err(EstimateError::Degenerate(format!(
        "nothing accepted within {max_draws} draws at threshold {t}"
    )))
}
