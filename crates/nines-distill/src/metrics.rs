//! Per-step statistics and their JSONL log.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use crate::advantage::masked_var;
use crate::error::{DistillError, Result};

/// What one PPO step measured. One JSON object per line in `metrics.jsonl`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepMetrics {
    /// PPO step (0-based).
    pub step: usize,
    /// Mean sequence score (shaped reward from the classifier, before the KL penalty).
    pub score_mean: f64,
    /// Mean P(injury) of the rollout's completions.
    pub p_injury_mean: f64,
    /// Fraction of completions with P(injury) > `PpoConfig::flag_threshold`.
    pub flagged_fraction: f64,
    /// Mean total reward per completion (score + KL penalty).
    pub reward_mean: f64,
    /// Mean KL to the reference, nats per completion (Σ over tokens of log π − log π_ref).
    pub kl: f64,
    /// KL coefficient β used for this step's rewards.
    pub kl_coef: f64,
    /// Mean next-token entropy of the policy over completion tokens (last epoch), nats.
    pub entropy: f64,
    /// Mean clipped surrogate loss over minibatches.
    pub policy_loss: f64,
    /// Mean value loss over minibatches.
    pub value_loss: f64,
    /// Mean fraction of tokens whose ratio was clipped.
    pub clip_fraction: f64,
    /// Mean fraction of tokens whose value was clipped.
    pub value_clip_fraction: f64,
    /// Mean approximate KL of the updates (½ E[(log π − log π_old)²]).
    pub approx_kl: f64,
    /// Explained variance of the returns by the rollout's values (`None` when the returns
    /// do not vary).
    pub explained_variance: Option<f64>,
    /// Mean gradient norm before clipping.
    pub grad_norm: f64,
    /// Mean completion length, tokens.
    pub completion_tokens: f64,
    /// Seconds spent generating.
    pub rollout_seconds: f64,
    /// Seconds spent scoring (reward model, old log-probs, values, reference).
    pub score_seconds: f64,
    /// Seconds spent in the PPO epochs.
    pub update_seconds: f64,
    /// Rollout tokens generated per second.
    pub rollout_tokens_per_second: f64,
    /// Prompts of this step taken from the replay queue (`PpoConfig::replay_share`).
    #[serde(default)]
    pub replayed_prompts: usize,
    /// Minibatch updates made this step: `ppo_epochs × batch / mini_batch_size`, fewer when
    /// `PpoConfig::target_kl` stopped the step early.
    #[serde(default)]
    pub updates: usize,
}

/// `1 − Var(returns − values) / Var(returns)` over the masked positions (`None` when the
/// returns do not vary).
pub fn explained_variance(values: &Tensor, returns: &Tensor, mask: &Tensor) -> Option<f64> {
    let var_r = masked_var(returns, mask).double_value(&[]);
    let var_e = masked_var(&(returns - values), mask).double_value(&[]);
    (var_r > 0.0).then(|| 1.0 - var_e / var_r)
}

/// Mean over rows of a `(batch, completion)` tensor summed along the completion.
pub(crate) fn mean_row_sum(x: &Tensor) -> f64 {
    x.sum_dim_intlist(1, false, Kind::Float)
        .mean(Kind::Float)
        .double_value(&[])
}

/// Appends [`StepMetrics`] as JSON lines.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens (creating) `path` for appending, first dropping any lines for steps at or after
    /// `from_step` (left by a run that stopped after its last checkpoint), so a resumed run
    /// writes each step once.
    ///
    /// # Errors
    /// [`DistillError::Io`] when the file cannot be read or written.
    pub fn open(path: impl AsRef<Path>, from_step: usize) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if path.exists() {
            let f = File::open(&path).map_err(|e| DistillError::io(&path, e))?;
            let mut kept = String::new();
            for line in BufReader::new(f).lines() {
                let line = line.map_err(|e| DistillError::io(&path, e))?;
                let step = serde_json::from_str::<StepMetrics>(&line).map(|m| m.step);
                if matches!(step, Ok(s) if s < from_step) {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
            std::fs::write(&path, kept).map_err(|e| DistillError::io(&path, e))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| DistillError::io(&path, e))?;
        Ok(MetricsLog { path, file })
    }

    /// Appends one step's metrics and flushes.
    ///
    /// # Errors
    /// [`DistillError::Io`] when the write fails.
    pub fn write(&mut self, m: &StepMetrics) -> Result<()> {
        let mut line = serde_json::to_string(m)
            .map_err(|e| DistillError::io(&self.path, std::io::Error::other(e.to_string())))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| DistillError::io(&self.path, e))
    }

    /// Reads every step of a metrics file.
    ///
    /// # Errors
    /// [`DistillError::Io`] when the file cannot be read or a line is not [`StepMetrics`].
    pub fn read(path: impl AsRef<Path>) -> Result<Vec<StepMetrics>> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| DistillError::io(path, e))?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| {
                    DistillError::io(
                        path,
                        std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explained_variance_by_hand() {
        let ret = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 50.0]).view([1, 4]);
        let val = Tensor::from_slice(&[1.0f32, 2.0, 2.0, 0.0]).view([1, 4]);
        let mask = Tensor::from_slice(&[true, true, true, false]).view([1, 4]);
        // residuals 0, 0, 1: var 1/3; returns var 1 → 1 − 1/3
        assert!((explained_variance(&val, &ret, &mask).unwrap() - 2.0 / 3.0).abs() < 1e-6);
        assert!((explained_variance(&ret, &ret, &mask).unwrap() - 1.0).abs() < 1e-9);
        let flat = Tensor::ones([1, 4], (Kind::Float, tch::Device::Cpu));
        assert_eq!(explained_variance(&val, &flat, &mask), None);
    }

    #[test]
    fn resume_drops_steps_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, 0).unwrap();
        for step in 0..5 {
            log.write(&StepMetrics {
                step,
                ..Default::default()
            })
            .unwrap();
        }
        drop(log);
        let mut log = MetricsLog::open(&path, 3).unwrap();
        log.write(&StepMetrics {
            step: 3,
            kl: 1.5,
            ..Default::default()
        })
        .unwrap();
        let steps = MetricsLog::read(&path).unwrap();
        assert_eq!(
            steps.iter().map(|m| m.step).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(steps[3].kl, 1.5);
    }
}
