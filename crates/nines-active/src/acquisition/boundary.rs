//! Boundary band: accepted pairs just under the threshold.

use serde::{Deserialize, Serialize};

use super::{Acquisition, check_threshold, checked};
use crate::error::{ActiveError, Result};
use crate::pool::Pool;

/// Values accepted pairs (score below the threshold) by their score, rejected ones at zero.
///
/// Only accepted pairs can be misses of the filter, and for a calibrated classifier an
/// accepted pair scored `s` is an injury with probability `s`: a pair at 0.9% is nine times
/// likelier to be a miss than one at 0.1%. Sampling proportional to this utility therefore
/// samples proportional to the probability of finding a miss. `lower` narrows the band to
/// `[lower · threshold, threshold)`; 0 (the default) keeps every accepted pair.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Boundary {
    /// Lower end of the band as a fraction of the threshold, in [0, 1). Default 0.
    pub lower: f64,
}

impl Acquisition for Boundary {
    fn name(&self) -> String {
        "boundary".into()
    }

    fn utility(&self, pool: &Pool, threshold: f64) -> Result<Vec<f64>> {
        check_threshold(threshold)?;
        if !(self.lower.is_finite() && (0.0..1.0).contains(&self.lower)) {
            return Err(ActiveError::config(
                "Boundary.lower",
                format!("{} is not in [0, 1)", self.lower),
            ));
        }
        let lo = self.lower * threshold;
        let u = pool
            .items()
            .iter()
            .map(|it| {
                if it.score >= lo && it.score <= threshold {
                    it.score
                } else {
                    0.0
                }
            })
            .collect();
        checked(
            self.name(),
            u,
            "no accepted pair has a positive score inside the band",
        )
    }
}
