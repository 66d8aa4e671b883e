//! Ensemble disagreement (query by committee).

use serde::{Deserialize, Serialize};

use super::{Acquisition, binary_entropy, check_threshold, checked};
use crate::error::Result;
use crate::pool::Pool;

/// How disagreement among the members' scores `p_1 … p_M` is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisagreementMeasure {
    /// Entropy (nats) of the vote share `v`: a member votes *reject* when `p_m > threshold`.
    VoteEntropy,
    /// Population standard deviation of the members' scores.
    ScoreStd,
    /// `max_m KL(Bern(p_m) ‖ Bern(p̄))` with `p̄` the members' mean: how far the most
    /// dissenting member is from the consensus.
    MaxKl,
}

/// Query by committee over ensemble member scores (the pool's `members`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disagreement {
    /// The measure.
    pub measure: DisagreementMeasure,
}

impl Disagreement {
    /// Disagreement sampling with `measure`.
    pub fn new(measure: DisagreementMeasure) -> Self {
        Disagreement { measure }
    }
}

/// `KL(Bern(p) ‖ Bern(q))` in nats, with probabilities clamped away from 0 and 1.
fn bernoulli_kl(p: f64, q: f64) -> f64 {
    const E: f64 = 1e-12;
    let p = p.clamp(E, 1.0 - E);
    let q = q.clamp(E, 1.0 - E);
    (p * (p / q).ln() + (1.0 - p) * ((1.0 - p) / (1.0 - q)).ln()).max(0.0)
}

impl Acquisition for Disagreement {
    fn name(&self) -> String {
        match self.measure {
            DisagreementMeasure::VoteEntropy => "vote_entropy",
            DisagreementMeasure::ScoreStd => "score_std",
            DisagreementMeasure::MaxKl => "max_kl",
        }
        .into()
    }

    fn utility(&self, pool: &Pool, threshold: f64) -> Result<Vec<f64>> {
        check_threshold(threshold)?;
        let name = self.name();
        let mut u = Vec::with_capacity(pool.len());
        for i in 0..pool.len() {
            let m = pool.members_of(i, &name)?;
            let n = m.len() as f64;
            let mean = m.iter().sum::<f64>() / n;
            u.push(match self.measure {
                DisagreementMeasure::VoteEntropy => {
                    let rejects = m.iter().filter(|&&p| p > threshold).count() as f64;
                    binary_entropy(rejects / n)
                }
                DisagreementMeasure::ScoreStd => {
                    (m.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n).sqrt()
                }
                DisagreementMeasure::MaxKl => {
                    m.iter().map(|&p| bernoulli_kl(p, mean)).fold(0.0, f64::max)
                }
            });
        }
        checked(name, u, "the ensemble members agree on every pair")
    }
}
