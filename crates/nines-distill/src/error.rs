//! The distiller's error type.

use std::path::PathBuf;

use nines_runtime::RuntimeError;

/// Everything that can go wrong while configuring, running, checkpointing or evaluating PPO.
///
/// Each variant says what is wrong and, where there is one, with which field, step or file.
#[derive(Debug, thiserror::Error)]
pub enum DistillError {
    /// Loading, generating or scoring with a model failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A LibTorch operation failed.
    #[error("libtorch: {0}")]
    Tch(#[from] tch::TchError),
    /// An estimate (confidence interval) could not be computed.
    #[error("estimate: {0}")]
    Estimate(#[from] nines_estimate::EstimateError),
    /// A configuration field has an invalid value.
    #[error("config field `{field}`: {message}")]
    InvalidConfig {
        /// The field, dotted for nested settings (`kl.target`).
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// An input (prompt set, batch, tensor) is unusable.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// There are no prompts to roll out from.
    #[error("the {what} prompt set is empty")]
    EmptyPrompts {
        /// Which prompt set (training, evaluation).
        what: &'static str,
    },
    /// The reference model cannot score the policy's tokens.
    #[error(
        "reference model vocabulary ({reference}) does not match the policy's ({policy}); load the reference from the policy's checkpoint"
    )]
    VocabMismatch {
        /// The policy's vocabulary size.
        policy: usize,
        /// The reference's vocabulary size.
        reference: usize,
    },
    /// The reward model failed.
    #[error("reward model: {0}")]
    Reward(#[from] nines_data::Error),
    /// The reward model returned the wrong number of scores.
    #[error("reward model returned {got} scores for {expected} completions")]
    RewardCount {
        /// Completions scored.
        expected: usize,
        /// Scores returned.
        got: usize,
    },
    /// The reward model returned NaN, an infinity, or a probability outside [0, 1].
    #[error(
        "reward model returned P(injury) = {value} for completion {index} (prompt {prompt:?}); expected a finite probability in [0, 1]"
    )]
    NonFiniteReward {
        /// Index of the completion in the rollout.
        index: usize,
        /// The value returned.
        value: f32,
        /// The start of the prompt, for finding the culprit.
        prompt: String,
    },
    /// A loss or statistic became NaN or infinite during an update.
    #[error("step {step}: {what} is not finite ({value}); the update was discarded")]
    NonFinite {
        /// PPO step (0-based).
        step: usize,
        /// The quantity (`loss`, `gradient norm`, ...).
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// The policy drifted too far from the reference: training stopped.
    #[error(
        "step {step}: KL to the reference {kl:.3} nats per completion exceeds the limit {limit}; stopped (last good checkpoint: {})",
        last_checkpoint.as_ref().map_or_else(|| "none".to_string(), |p| p.display().to_string())
    )]
    KlBlowUp {
        /// PPO step (0-based) at which the KL was measured.
        step: usize,
        /// Mean KL (sum over tokens of log π − log π_ref) of the step's rollout.
        kl: f64,
        /// The configured limit (`max_kl`).
        limit: f64,
        /// The last checkpoint written before the blow-up, if any.
        last_checkpoint: Option<PathBuf>,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint is missing, corrupt, or was written for another model or configuration.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl DistillError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DistillError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> Self {
        DistillError::InvalidConfig {
            field,
            message: message.into(),
        }
    }
}

/// `Result` with [`DistillError`].
pub type Result<T, E = DistillError> = std::result::Result<T, E>;
