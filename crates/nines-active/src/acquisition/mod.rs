//! Acquisition strategies: how much a label of each pool pair is worth.
//!
//! Every strategy implements [`Acquisition`]: given the pool and the filter's threshold, it
//! returns one non-negative utility per pair. A sampling design ([`crate::design`]) then turns
//! utilities into inclusion probabilities — never a bare ranking — so labeled pairs stay
//! usable for unbiased estimates.
//!
//! One strategy per module:
//! - [`boundary::Boundary`]: accepted pairs just under the threshold, utility = the score,
//!   i.e. the probability that an accepted pair is a miss when the classifier is calibrated;
//! - [`uncertainty::Uncertainty`]: least confidence, margin or entropy of the score;
//! - [`disagreement::Disagreement`]: ensemble vote entropy, score standard deviation or
//!   maximum KL divergence from the consensus;
//! - [`rejections::ManyRejections`]: accepted completions of prompts whose other
//!   completions were rejected;
//! - [`random::Random`]: every pair alike (the baseline).

pub mod boundary;
pub mod disagreement;
pub mod random;
pub mod rejections;
pub mod uncertainty;

use serde::{Deserialize, Serialize};

use crate::error::{ActiveError, Result};
use crate::pool::Pool;

pub use boundary::Boundary;
pub use disagreement::{Disagreement, DisagreementMeasure};
pub use random::Random;
pub use rejections::ManyRejections;
pub use uncertainty::{Uncertainty, UncertaintyMeasure};

/// A strategy that values labels.
pub trait Acquisition {
    /// Short stable name, recorded in each pick's `strategy` (e.g. `boundary`).
    fn name(&self) -> String;

    /// One finite, non-negative utility per pool pair, in pool order. `threshold` is the
    /// filter's: pairs scored at or above it are rejected. Errors when the pool lacks data
    /// the strategy needs, or when every utility is zero ([`ActiveError::DegenerateUtility`]).
    fn utility(&self, pool: &Pool, threshold: f64) -> Result<Vec<f64>>;
}

impl<A: Acquisition + ?Sized> Acquisition for Box<A> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn utility(&self, pool: &Pool, threshold: f64) -> Result<Vec<f64>> {
        (**self).utility(pool, threshold)
    }
}

/// Checks a threshold: finite, in (0, 1].
pub fn check_threshold(threshold: f64) -> Result<()> {
    if threshold.is_finite() && threshold > 0.0 && threshold <= 1.0 {
        Ok(())
    } else {
        Err(ActiveError::config(
            "threshold",
            format!("{threshold} is not in (0, 1]"),
        ))
    }
}

/// Checks utilities: finite, non-negative, not all zero (`reason` says why they would be).
pub(crate) fn checked(strategy: String, u: Vec<f64>, reason: &str) -> Result<Vec<f64>> {
    if let Some((i, v)) = u
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && **v >= 0.0))
    {
        return Err(ActiveError::DegenerateUtility {
            strategy,
            reason: format!("utility of pair {i} is {v}"),
        });
    }
    if u.iter().all(|&v| v == 0.0) {
        return Err(ActiveError::DegenerateUtility {
            strategy,
            reason: reason.to_string(),
        });
    }
    Ok(u)
}

/// Binary entropy in nats, 0 at 0 and 1.
pub(crate) fn binary_entropy(p: f64) -> f64 {
    let term = |q: f64| if q > 0.0 { -q * q.ln() } else { 0.0 };
    term(p) + term(1.0 - p)
}

/// Every acquisition strategy by name: what a configuration file, a command-line flag or a
/// pick's record names, turned into an [`Acquisition`] by [`StrategyName::build`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyName {
    /// [`Boundary`] with its default band.
    Boundary,
    /// [`Uncertainty`], least confidence.
    LeastConfidence,
    /// [`Uncertainty`], margin.
    Margin,
    /// [`Uncertainty`], entropy.
    Entropy,
    /// [`Disagreement`], vote entropy of the ensemble.
    VoteEntropy,
    /// [`Disagreement`], standard deviation of the members' scores.
    ScoreStd,
    /// [`Disagreement`], largest KL divergence from the consensus.
    MaxKl,
    /// [`ManyRejections`].
    ManyRejections,
    /// [`Random`], the baseline.
    Random,
}

impl StrategyName {
    /// Every strategy, in a fixed order.
    pub const ALL: [StrategyName; 9] = [
        StrategyName::Boundary,
        StrategyName::LeastConfidence,
        StrategyName::Margin,
        StrategyName::Entropy,
        StrategyName::VoteEntropy,
        StrategyName::ScoreStd,
        StrategyName::MaxKl,
        StrategyName::ManyRejections,
        StrategyName::Random,
    ];

    /// The stable name: `boundary`, `least_confidence`, `margin`, `entropy`,
    /// `vote_entropy`, `score_std`, `max_kl`, `many_rejections`, `random`.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyName::Boundary => "boundary",
            StrategyName::LeastConfidence => "least_confidence",
            StrategyName::Margin => "margin",
            StrategyName::Entropy => "entropy",
            StrategyName::VoteEntropy => "vote_entropy",
            StrategyName::ScoreStd => "score_std",
            StrategyName::MaxKl => "max_kl",
            StrategyName::ManyRejections => "many_rejections",
            StrategyName::Random => "random",
        }
    }

    /// The strategy itself, with its default settings.
    pub fn build(self) -> Box<dyn Acquisition> {
        match self {
            StrategyName::Boundary => Box::new(Boundary::default()),
            StrategyName::LeastConfidence => {
                Box::new(Uncertainty::new(UncertaintyMeasure::LeastConfidence))
            }
            StrategyName::Margin => Box::new(Uncertainty::new(UncertaintyMeasure::Margin)),
            StrategyName::Entropy => Box::new(Uncertainty::new(UncertaintyMeasure::Entropy)),
            StrategyName::VoteEntropy => {
                Box::new(Disagreement::new(DisagreementMeasure::VoteEntropy))
            }
            StrategyName::ScoreStd => Box::new(Disagreement::new(DisagreementMeasure::ScoreStd)),
            StrategyName::MaxKl => Box::new(Disagreement::new(DisagreementMeasure::MaxKl)),
            StrategyName::ManyRejections => Box::new(ManyRejections),
            StrategyName::Random => Box::new(Random),
        }
    }
}

impl std::fmt::Display for StrategyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for StrategyName {
    type Err = ActiveError;

    /// Parses a stable name; anything else is a [`ActiveError::Config`] listing the names.
    fn from_str(name: &str) -> Result<StrategyName> {
        StrategyName::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = StrategyName::ALL.iter().map(|s| s.as_str()).collect();
                ActiveError::config(
                    "strategy",
                    format!("`{name}` is not one of {}", names.join(", ")),
                )
            })
    }
}
