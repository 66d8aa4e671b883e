//! Classic uncertainty sampling on the classifier's score.

use serde::{Deserialize, Serialize};

use super::{Acquisition, binary_entropy, check_threshold, checked};
use crate::error::Result;
use crate::pool::Pool;

/// How uncertainty is measured from `p = P(injury)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UncertaintyMeasure {
    /// `1 − max(p, 1 − p)`: how far the likelier class is from certainty.
    LeastConfidence,
    /// `1 − |p − (1 − p)|`: one minus the gap between the two classes.
    Margin,
    /// Binary entropy `−p ln p − (1−p) ln(1−p)`, in nats.
    Entropy,
}

/// Uncertainty sampling: pairs the classifier is least sure about (scores near 1/2).
///
/// For two classes the three measures rank pairs alike but weigh them differently, which
/// matters because the design samples proportionally to the utility. They look at 1/2, not
/// at the filter's threshold; [`super::Boundary`] is the strategy aimed at misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uncertainty {
    /// The measure.
    pub measure: UncertaintyMeasure,
}

impl Uncertainty {
    /// Uncertainty sampling with `measure`.
    pub fn new(measure: UncertaintyMeasure) -> Self {
        Uncertainty { measure }
    }
}

impl Acquisition for Uncertainty {
    fn name(&self) -> String {
        match self.measure {
            UncertaintyMeasure::LeastConfidence => "least_confidence",
            UncertaintyMeasure::Margin => "margin",
            UncertaintyMeasure::Entropy => "entropy",
        }
        .into()
    }

    fn utility(&self, pool: &Pool, threshold: f64) -> Result<Vec<f64>> {
        check_threshold(threshold)?;
        let u = pool
            .items()
            .iter()
            .map(|it| {
                let p = it.score;
                match self.measure {
                    UncertaintyMeasure::LeastConfidence => 1.0 - p.max(1.0 - p),
                    UncertaintyMeasure::Margin => 1.0 - (2.0 * p - 1.0).abs(),
                    UncertaintyMeasure::Entropy => binary_entropy(p),
                }
            })
            .collect();
        checked(self.name(), u, "every score is exactly 0 or 1")
    }
}
