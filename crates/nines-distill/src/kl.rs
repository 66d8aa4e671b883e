//! The KL penalty that keeps the policy near the reference: its coefficient β (fixed, or
//! adapted toward a target KL as in Ziegler et al. 2019) and the per-token rewards it shapes.

use tch::{Kind, Tensor};

use crate::error::{DistillError, Result};

/// How the KL coefficient β is set.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum KlConfig {
    /// β stays at `coef`.
    Fixed {
        /// The coefficient.
        coef: f64,
    },
    /// β starts at `init` and moves toward the value that keeps the rollout KL at `target`:
    /// after each step, `β ← β · (1 + clip(KL / target − 1, −0.2, 0.2) · n / horizon)` where
    /// `n` is the number of completions in the step.
    Adaptive {
        /// Initial β.
        init: f64,
        /// Target KL, nats per completion.
        target: f64,
        /// Completions over which β may change by a factor of about e^0.2.
        horizon: f64,
    },
}

impl Default for KlConfig {
    fn default() -> Self {
        KlConfig::Adaptive {
            init: 0.2,
            target: 6.0,
            horizon: 10_000.0,
        }
    }
}

impl KlConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// [`DistillError::InvalidConfig`] for a negative or non-finite coefficient, or a
    /// non-positive target or horizon.
    pub fn validate(&self) -> Result<()> {
        let nonneg = |field, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(DistillError::config(
                    field,
                    format!("{v} is not a finite number ≥ 0"),
                ))
            }
        };
        let pos = |field, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(DistillError::config(
                    field,
                    format!("{v} is not a finite positive number"),
                ))
            }
        };
        match *self {
            KlConfig::Fixed { coef } => nonneg("kl.coef", coef),
            KlConfig::Adaptive {
                init,
                target,
                horizon,
            } => {
                nonneg("kl.init", init)?;
                pos("kl.target", target)?;
                pos("kl.horizon", horizon)
            }
        }
    }
}

/// The KL coefficient and its update rule.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KlController {
    config: KlConfig,
    value: f64,
}

impl KlController {
    /// A controller at its initial coefficient.
    pub fn new(config: KlConfig) -> Self {
        let value = match config {
            KlConfig::Fixed { coef } => coef,
            KlConfig::Adaptive { init, .. } => init,
        };
        KlController { config, value }
    }

    /// The current coefficient β.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Restores a coefficient saved in a checkpoint.
    pub fn set_value(&mut self, value: f64) {
        self.value = value;
    }

    /// Updates β after a step whose rollout had mean KL `current` (nats per completion) over
    /// `n_samples` completions. Fixed controllers do not change; a non-finite KL leaves β as is.
    pub fn update(&mut self, current: f64, n_samples: usize) {
        if let KlConfig::Adaptive {
            target, horizon, ..
        } = self.config
            && current.is_finite()
        {
            let error = (current / target - 1.0).clamp(-0.2, 0.2);
            self.value *= 1.0 + error * n_samples as f64 / horizon;
        }
    }
}

/// Per-token rewards with the KL penalty, and the penalty alone.
#[derive(Debug)]
pub struct PenalizedRewards {
    /// `(batch, completion)`: `−β (log π − log π_ref)` at every real token, plus the
    /// sequence score at the last real token; zero on padding.
    pub rewards: Tensor,
    /// `(batch, completion)`: the KL term alone, `−β (log π − log π_ref)`, zero on padding.
    pub non_score: Tensor,
    /// `(batch, completion)`: the per-token KL estimate `log π − log π_ref`, zero on padding.
    pub kl: Tensor,
}

/// Builds per-token rewards: each real token pays `β (log π − log π_ref)`, and the last real
/// token of each row also receives that row's `scores` entry.
///
/// Shapes: `logprobs`, `ref_logprobs`, `mask` `(batch, completion)` (mask bool or float, right
/// padded, every row with at least one real token); `scores` `(batch,)`.
///
/// # Errors
/// [`DistillError::InvalidInput`] when shapes disagree or a row has no real token.
pub fn penalized_rewards(
    scores: &Tensor,
    logprobs: &Tensor,
    ref_logprobs: &Tensor,
    mask: &Tensor,
    beta: f64,
) -> Result<PenalizedRewards> {
    let shape = logprobs.size();
    if shape.len() != 2 || ref_logprobs.size() != shape || mask.size() != shape {
        return Err(DistillError::InvalidInput(format!(
            "log-prob shapes {:?} / {:?} / mask {:?} disagree",
            shape,
            ref_logprobs.size(),
            mask.size()
        )));
    }
    if scores.size() != [shape[0]] {
        return Err(DistillError::InvalidInput(format!(
            "{} scores for a batch of {}",
            scores.numel(),
            shape[0]
        )));
    }
    let m = mask.to_kind(Kind::Float);
    let lengths = m.sum_dim_intlist(1, false, Kind::Int64);
    if lengths.min().int64_value(&[]) < 1 {
        return Err(DistillError::InvalidInput(
            "a completion has no tokens".into(),
        ));
    }
    let kl = (logprobs.to_kind(Kind::Float) - ref_logprobs.to_kind(Kind::Float)) * &m;
    let non_score = &kl * (-beta);
    let last = (lengths - 1).unsqueeze(1);
    let bonus =
        Tensor::zeros_like(&non_score).scatter(1, &last, &scores.to_kind(Kind::Float).unsqueeze(1));
    let rewards = &non_score + bonus;
    Ok(PenalizedRewards {
        rewards,
        non_score,
        kl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f32], r: i64, c: i64) -> Tensor {
        Tensor::from_slice(v).view([r, c])
    }

    #[test]
    fn adaptive_controller_matches_hand_computation() {
        let mut c = KlController::new(KlConfig::Adaptive {
            init: 0.2,
            target: 6.0,
            horizon: 10_000.0,
        });
        // KL 9 → error clipped to 0.2; 256 samples → β · (1 + 0.2 · 0.0256)
        c.update(9.0, 256);
        assert!((c.value() - 0.2 * (1.0 + 0.2 * 0.0256)).abs() < 1e-15);
        // KL 5.4 → error −0.1
        let before = c.value();
        c.update(5.4, 1000);
        assert!((c.value() - before * (1.0 - 0.1 * 0.1)).abs() < 1e-15);
        // KL far below target → clipped to −0.2
        let before = c.value();
        c.update(0.0, 5000);
        assert!((c.value() - before * 0.9).abs() < 1e-15);
        let before = c.value();
        c.update(f64::NAN, 5000);
        assert_eq!(c.value(), before);
    }

    #[test]
    fn fixed_controller_does_not_move() {
        let mut c = KlController::new(KlConfig::Fixed { coef: 0.05 });
        c.update(100.0, 10_000);
        assert_eq!(c.value(), 0.05);
    }

    #[test]
    fn per_token_rewards_by_hand() {
        // Row 0: 3 tokens; row 1: 2 tokens + padding.
        let lp = t(&[-1.0, -2.0, -0.5, -1.0, -3.0, 0.0], 2, 3);
        let rf = t(&[-1.5, -1.0, -0.5, -2.0, -2.0, 0.0], 2, 3);
        let mask = Tensor::from_slice(&[true, true, true, true, true, false]).view([2, 3]);
        let scores = Tensor::from_slice(&[2.0f32, -1.0]);
        let r = penalized_rewards(&scores, &lp, &rf, &mask, 0.1).unwrap();
        let got = Vec::<f32>::try_from(r.rewards.flatten(0, -1)).unwrap();
        // kl = [0.5, -1, 0 | 1, -1, 0]; -0.1·kl, score at last real token.
        let want = [-0.05, 0.1, 2.0, -0.1, 0.1 - 1.0, 0.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?}");
        }
        let kl = Vec::<f32>::try_from(r.kl.flatten(0, -1)).unwrap();
        assert_eq!(kl, vec![0.5, -1.0, 0.0, 1.0, -1.0, 0.0]);
    }

    #[test]
    fn bad_shapes_and_empty_rows_are_errors() {
        let lp = t(&[-1.0, -2.0], 1, 2);
        let mask = Tensor::from_slice(&[false, false]).view([1, 2]);
        let s = Tensor::from_slice(&[1.0f32]);
        assert!(penalized_rewards(&s, &lp, &lp, &mask, 0.1).is_err());
        let mask = Tensor::from_slice(&[true, true]).view([1, 2]);
        assert!(
            penalized_rewards(&Tensor::from_slice(&[1.0f32, 2.0]), &lp, &lp, &mask, 0.1).is_err()
        );
        assert!(penalized_rewards(&s, &lp, &t(&[0.0], 1, 1), &mask, 0.1).is_err());
    }
}
