//! What a fine-tuning run records: where in the data it is, each step's metrics, the
//! validation figures and the final report.

use super::*;

/// Where the data order stands: epoch and position in that epoch's permutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct DataPosition {
    /// Passes over the training sequences completed.
    pub epoch: u64,
    /// Sequences of the current epoch's permutation already used.
    pub cursor: usize,
}

/// What one optimizer step did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepMetrics {
    /// Optimizer steps completed (1 after the first).
    pub step: usize,
    /// Mean next-token loss (nats) over the step's micro-batches.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Training tokens per second in this step.
    pub tokens_per_s: f64,
    /// Training tokens seen since the start of the run (across resumes).
    pub tokens_seen: u64,
    /// Seconds of training since the start of the run (across resumes).
    pub elapsed_s: f64,
    /// Epoch of the data order.
    pub epoch: u64,
}

/// Validation result.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    /// Mean next-token loss (nats).
    pub loss: f64,
    /// `exp(loss)`.
    pub perplexity: f64,
    /// Tokens predicted.
    pub tokens: usize,
}

/// The outcome of [`Finetuner::run`].
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FinetuneReport {
    /// Optimizer steps completed (including those before a resume).
    pub steps: usize,
    /// Training tokens seen.
    pub tokens_seen: u64,
    /// Training seconds (including those before a resume).
    pub elapsed_s: f64,
    /// Mean training tokens per second over this invocation.
    pub tokens_per_s: f64,
    /// Validation before training (absent when resuming past step 0 or without data).
    pub initial: Option<Evaluation>,
    /// Validation after training.
    pub last: Option<Evaluation>,
    /// Validation perplexity before.
    pub initial_ppl: Option<f64>,
    /// Validation perplexity after.
    pub final_ppl: Option<f64>,
    /// Loss of the last step.
    pub final_loss: Option<f64>,
    /// Why training stopped: `max_steps` or `time budget`.
    pub stopped: String,
    /// The newest checkpoint.
    pub checkpoint: Option<PathBuf>,
    /// Parameters (elements) trained.
    pub trainable_parameters: i64,
}
