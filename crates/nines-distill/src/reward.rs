//! Rewards: the classifier's P(injury) for each completion, turned into a sequence score.
//!
//! The distiller does not depend on the classifier crate: any [`nines_data::PairScorer`]
//! gives the P(injury) (the facade wires the classifier in; tests use rules through
//! [`nines_data::FnScorer`]), and a [`Shaping`] turns it into the score PPO maximizes.

use crate::error::{DistillError, Result};

/// How P(injury) `p` becomes the sequence score PPO maximizes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Shaping {
    /// `ln(max(1 − p, floor))`: the log-probability that the completion is safe, floored so a
    /// certain flag costs `ln(floor)` rather than −∞.
    LogSafe {
        /// Smallest P(safe) used. Default 1e-4.
        floor: f64,
    },
    /// `safe` when `p <= threshold` (the filter accepts), `flagged` when `p > threshold`
    /// (rejected): what the filter sees.
    Threshold {
        /// Rejection threshold on P(injury) (the classifier's: `p > threshold` is rejected).
        threshold: f64,
        /// Score of a completion the filter accepts. Default 1.
        safe: f64,
        /// Score of a completion the filter rejects. Default −1.
        flagged: f64,
    },
    /// `1 − 2p`: linear in P(injury), from 1 (surely safe) to −1 (surely flagged).
    Linear,
    /// `ln(max(1 − p, floor)) − penalty · [p > threshold]`: the smooth log-safe score plus
    /// a step at the filter's threshold, so completions the filter would reject stand out
    /// even when the threshold is far below 0.5 (where `ln(1 − p)` is nearly flat).
    LogSafeThreshold {
        /// Smallest P(safe) used.
        floor: f64,
        /// Rejection threshold on P(injury) (`p > threshold` is rejected).
        threshold: f64,
        /// Subtracted from the score of a rejected completion.
        penalty: f64,
    },
    /// `min(clamp(logit(threshold) − logit(p), −clip, clip), cap)`: the classifier's margin below its
    /// threshold in log-odds, the scale the classifier itself works in. Unlike `ln(1 − p)`,
    /// which is nearly flat below a small threshold, every completion is pushed away from the
    /// threshold, those just under it (one small shift from being rejected) as much as those
    /// just over it; `clip` bounds what a single certain or hopeless completion can weigh.
    LogitMargin {
        /// Rejection threshold on P(injury) (`p > threshold` is rejected), in (0, 1).
        threshold: f64,
        /// Largest absolute score, > 0.
        clip: f64,
        /// Largest score, when lower than `clip` (≥ 0; `None`: `clip`). A hinge: every
        /// completion at least `cap` logits under the threshold scores the same, so what the
        /// policy gains (and the KL it spends) goes to completions near or over the threshold
        /// rather than to pushing already-safe ones further down.
        #[serde(default)]
        cap: Option<f64>,
    },
}

impl Default for Shaping {
    fn default() -> Self {
        Shaping::LogSafe { floor: 1e-4 }
    }
}

impl Shaping {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`DistillError::InvalidConfig`] for a floor outside (0, 1), a threshold outside [0, 1]
    /// or non-finite scores.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Shaping::LogSafe { floor } if !(floor > 0.0 && floor < 1.0) => Err(
                DistillError::config("reward.floor", format!("{floor} is not in (0, 1)")),
            ),
            Shaping::LogSafeThreshold {
                floor,
                threshold,
                penalty,
            } => {
                if !(floor > 0.0 && floor < 1.0) {
                    return Err(DistillError::config(
                        "reward.floor",
                        format!("{floor} is not in (0, 1)"),
                    ));
                }
                if !(0.0..=1.0).contains(&threshold) {
                    return Err(DistillError::config(
                        "reward.threshold",
                        format!("{threshold} is not in [0, 1]"),
                    ));
                }
                if !penalty.is_finite() {
                    return Err(DistillError::config("reward.penalty", "must be finite"));
                }
                Ok(())
            }
            Shaping::Threshold {
                threshold,
                safe,
                flagged,
            } => {
                if !(0.0..=1.0).contains(&threshold) {
                    return Err(DistillError::config(
                        "reward.threshold",
                        format!("{threshold} is not in [0, 1]"),
                    ));
                }
                if !(safe.is_finite() && flagged.is_finite()) {
                    return Err(DistillError::config(
                        "reward.safe/flagged",
                        "scores must be finite",
                    ));
                }
                Ok(())
            }
            Shaping::LogitMargin {
                threshold,
                clip,
                cap,
            } => {
                if let Some(cap) = cap.filter(|c| !(c.is_finite() && *c >= 0.0)) {
                    return Err(DistillError::config(
                        "reward.cap",
                        format!("{cap} is not a finite number ≥ 0"),
                    ));
                }
                if !(threshold > 0.0 && threshold < 1.0) {
                    return Err(DistillError::config(
                        "reward.threshold",
                        format!("{threshold} is not in (0, 1)"),
                    ));
                }
                if !(clip.is_finite() && clip > 0.0) {
                    return Err(DistillError::config(
                        "reward.clip",
                        format!("{clip} is not a finite positive number"),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The score of a completion with P(injury) `p` (assumed checked to lie in [0, 1]).
    pub fn score(&self, p: f64) -> f64 {
        match *self {
            Shaping::LogSafe { floor } => (1.0 - p).max(floor).ln(),
            Shaping::Threshold {
                threshold,
                safe,
                flagged,
            } => {
                if p <= threshold {
                    safe
                } else {
                    flagged
                }
            }
            Shaping::Linear => 1.0 - 2.0 * p,
            Shaping::LogSafeThreshold {
                floor,
                threshold,
                penalty,
            } => (1.0 - p).max(floor).ln() - if p > threshold { penalty } else { 0.0 },
            Shaping::LogitMargin {
                threshold,
                clip,
                cap,
            } => {
                let logit = |q: f64| {
                    let q = q.clamp(1e-12, 1.0 - 1e-12);
                    (q / (1.0 - q)).ln()
                };
                (logit(threshold) - logit(p))
                    .clamp(-clip, clip)
                    .min(cap.unwrap_or(clip))
            }
        }
    }
}

/// Checks the reward model's output: one finite probability in [0, 1] per completion.
///
/// # Errors
/// [`DistillError::RewardCount`] or [`DistillError::NonFiniteReward`] naming the completion.
pub fn check_probabilities(pairs: &[(&str, &str)], p: &[f32]) -> Result<()> {
    if p.len() != pairs.len() {
        return Err(DistillError::RewardCount {
            expected: pairs.len(),
            got: p.len(),
        });
    }
    if let Some((index, &value)) = p
        .iter()
        .enumerate()
        .find(|(_, v)| !(v.is_finite() && (0.0..=1.0).contains(*v)))
    {
        return Err(DistillError::NonFiniteReward {
            index,
            value,
            prompt: pairs[index].0.chars().take(60).collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapings() {
        let l = Shaping::LogSafe { floor: 1e-4 };
        assert!((l.score(0.5) - 0.5f64.ln()).abs() < 1e-12);
        assert!((l.score(1.0) - 1e-4f64.ln()).abs() < 1e-12);
        let t = Shaping::Threshold {
            threshold: 0.5,
            safe: 1.0,
            flagged: -1.0,
        };
        assert_eq!(t.score(0.49), 1.0);
        assert_eq!(t.score(0.5), 1.0, "accepted iff p <= threshold");
        assert_eq!(t.score(0.51), -1.0);
        assert_eq!(Shaping::Linear.score(0.25), 0.5);
        let m = Shaping::LogitMargin {
            threshold: 0.2,
            clip: 3.0,
            cap: None,
        };
        // logit(0.2) = ln 0.25; logit(0.5) = 0: margin ln 0.25 ≈ −1.386.
        assert!((m.score(0.5) - 0.25f64.ln()).abs() < 1e-12);
        assert!(m.score(0.2).abs() < 1e-12);
        assert_eq!(m.score(1.0), -3.0);
        assert_eq!(m.score(0.0), 3.0);
        assert!(
            Shaping::LogitMargin {
                threshold: 0.0,
                clip: 1.0,
                cap: None,
            }
            .validate()
            .is_err()
        );
        assert!(
            Shaping::LogitMargin {
                threshold: 0.1,
                clip: 0.0,
                cap: None,
            }
            .validate()
            .is_err()
        );
        // The hinge: completions at least `cap` logits under the threshold score `cap`.
        let h = Shaping::LogitMargin {
            threshold: 0.2,
            clip: 3.0,
            cap: Some(0.5),
        };
        assert_eq!(h.score(0.0), 0.5);
        assert_eq!(h.score(0.05), 0.5, "margin ln 4.75 ≈ 1.56 > cap");
        assert!(
            (h.score(0.5) - 0.25f64.ln()).abs() < 1e-12,
            "below the cap: unchanged"
        );
        assert_eq!(h.score(1.0), -3.0);
        for bad in [-0.1, f64::NAN, f64::INFINITY] {
            assert!(
                Shaping::LogitMargin {
                    threshold: 0.2,
                    clip: 3.0,
                    cap: Some(bad),
                }
                .validate()
                .is_err()
            );
        }
        let lt = Shaping::LogSafeThreshold {
            floor: 1e-3,
            threshold: 0.1,
            penalty: 1.0,
        };
        assert!((lt.score(0.1) - 0.9f64.ln()).abs() < 1e-12);
        assert!((lt.score(0.2) - (0.8f64.ln() - 1.0)).abs() < 1e-12);
        assert!(Shaping::LogSafe { floor: 0.0 }.validate().is_err());
        assert!(
            Shaping::Threshold {
                threshold: 2.0,
                safe: 1.0,
                flagged: -1.0
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn bad_reward_outputs_are_typed_errors() {
        let pairs = [("a", "b"), ("c", "d")];
        assert!(check_probabilities(&pairs, &[0.1, 0.9]).is_ok());
        assert!(matches!(
            check_probabilities(&pairs, &[0.1]),
            Err(DistillError::RewardCount {
                expected: 2,
                got: 1
            })
        ));
        for bad in [f32::NAN, f32::INFINITY, -0.5, 1.5] {
            match check_probabilities(&pairs, &[0.1, bad]) {
                Err(DistillError::NonFiniteReward {
                    index: 1, prompt, ..
                }) => {
                    assert_eq!(prompt, "c")
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
