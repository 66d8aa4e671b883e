//! How many comparisons a target half-width needs, naive against efficient, under a model of
//! judgments.

use super::*;

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
