//! Thresholds that tighten as a prompt's completions keep getting rejected.
//!
//! A prompt whose completions are often rejected is a prompt that often leads the policy to
//! the forbidden kind of text, so the completion that finally passes deserves more suspicion:
//! the acceptance threshold is a non-increasing function `t(n)` of the number `n` of this
//! prompt's completions already rejected. A completion is accepted when its score (the
//! scorer's P(injury)) is `≤ t(n)`.

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};

/// A threshold as a function of the number of completions already rejected for the prompt.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ThresholdSchedule {
    /// `t(n) = threshold` (no growing conservatism).
    Constant {
        /// The threshold, in [0, 1].
        threshold: f64,
    },
    /// `t(n) = max(floor, start − step · n)`.
    Linear {
        /// Threshold before any rejection, in [0, 1].
        start: f64,
        /// Decrease per rejected completion, ≥ 0.
        step: f64,
        /// Lowest threshold, in [0, start].
        floor: f64,
    },
    /// `t(n) = max(floor, start · ratio^n)`.
    Geometric {
        /// Threshold before any rejection, in [0, 1].
        start: f64,
        /// Factor per rejected completion, in (0, 1].
        ratio: f64,
        /// Lowest threshold, in [0, start].
        floor: f64,
    },
}

impl Default for ThresholdSchedule {
    /// `Geometric { start: 0.5, ratio: 0.9, floor: 0.1 }`: accept below P(injury) = 0.5 at
    /// first, 10% stricter per rejection, never stricter than 0.1.
    fn default() -> Self {
        Self::Geometric {
            start: 0.5,
            ratio: 0.9,
            floor: 0.1,
        }
    }
}

fn unit(field: &'static str, v: f64) -> Result<()> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        invalid(field, format!("{v} is not in [0, 1]"))
    }
}

impl ThresholdSchedule {
    /// Checks that every threshold lies in [0, 1] and that the schedule never loosens.
    ///
    /// # Errors
    /// [`crate::FilterError::InvalidSetting`] naming the field.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Self::Constant { threshold } => unit("schedule.threshold", threshold),
            Self::Linear { start, step, floor } => {
                unit("schedule.start", start)?;
                unit("schedule.floor", floor)?;
                if !(step.is_finite() && step >= 0.0) {
                    return invalid(
                        "schedule.step",
                        format!("{step} is not a finite number ≥ 0"),
                    );
                }
                if floor > start {
                    return invalid("schedule.floor", format!("{floor} exceeds start {start}"));
                }
                Ok(())
            }
            Self::Geometric {
                start,
                ratio,
                floor,
            } => {
                unit("schedule.start", start)?;
                unit("schedule.floor", floor)?;
                if !(ratio > 0.0 && ratio <= 1.0) {
                    return invalid("schedule.ratio", format!("{ratio} is not in (0, 1]"));
                }
                if floor > start {
                    return invalid("schedule.floor", format!("{floor} exceeds start {start}"));
                }
                Ok(())
            }
        }
    }

    /// The threshold after `rejected` rejected completions for the prompt.
    pub fn threshold(&self, rejected: usize) -> f64 {
        match *self {
            Self::Constant { threshold } => threshold,
            Self::Linear { start, step, floor } => (start - step * rejected as f64).max(floor),
            Self::Geometric {
                start,
                ratio,
                floor,
            } => {
                let n = i32::try_from(rejected).unwrap_or(i32::MAX);
                (start * ratio.powi(n)).max(floor)
            }
        }
    }

    /// The threshold before any rejection (the loosest one).
    pub fn start(&self) -> f64 {
        self.threshold(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometric_tightens_to_its_floor() {
        let s = ThresholdSchedule::default();
        assert_eq!(s.threshold(0), 0.5);
        assert!((s.threshold(1) - 0.45).abs() < 1e-12);
        assert!((s.threshold(2) - 0.405).abs() < 1e-12);
        assert_eq!(s.threshold(1000), 0.1);
        assert_eq!(s.threshold(usize::MAX), 0.1);
    }

    #[test]
    fn linear_tightens_to_its_floor() {
        let s = ThresholdSchedule::Linear {
            start: 0.4,
            step: 0.1,
            floor: 0.15,
        };
        assert!((s.threshold(1) - 0.3).abs() < 1e-12);
        assert_eq!(s.threshold(3), 0.15);
    }

    #[test]
    fn bad_schedules_are_named() {
        let cases = [
            (
                ThresholdSchedule::Constant { threshold: 1.5 },
                "schedule.threshold",
            ),
            (
                ThresholdSchedule::Constant {
                    threshold: f64::NAN,
                },
                "schedule.threshold",
            ),
            (
                ThresholdSchedule::Linear {
                    start: 0.5,
                    step: -0.1,
                    floor: 0.0,
                },
                "schedule.step",
            ),
            (
                ThresholdSchedule::Geometric {
                    start: 0.3,
                    ratio: 0.9,
                    floor: 0.4,
                },
                "schedule.floor",
            ),
            (
                ThresholdSchedule::Geometric {
                    start: 0.3,
                    ratio: 1.2,
                    floor: 0.1,
                },
                "schedule.ratio",
            ),
            (
                ThresholdSchedule::Geometric {
                    start: -0.1,
                    ratio: 0.9,
                    floor: 0.0,
                },
                "schedule.start",
            ),
        ];
        for (s, field) in cases {
            match s.validate() {
                Err(crate::FilterError::InvalidSetting { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{s:?}: expected InvalidSetting({field}), got {other:?}"),
            }
        }
    }
}
