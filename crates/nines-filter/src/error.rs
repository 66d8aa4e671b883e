//! The crate's one error type and its `Result` alias.
//!
//! Every variant names what is wrong: the setting and its value, the prompt and candidate
//! whose score is unusable, or the component (policy, scorer) that failed.

use thiserror::Error;

/// Everything that can go wrong in `nines-filter`. Bad input never panics: it lands here.
#[derive(Debug, Error)]
pub enum FilterError {
    /// A setting is outside its allowed range.
    #[error("invalid setting `{field}`: {message}")]
    InvalidSetting {
        /// The setting (e.g. `schedule.start`, `strategy.k`, `max_attempts`).
        field: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// The scorer returned a score that is not a probability (NaN, infinite, or outside [0, 1]).
    #[error(
        "scorer returned {value} for prompt {prompt} candidate {candidate}; a probability in [0, 1] is required"
    )]
    BadScore {
        /// Index of the prompt in the run.
        prompt: usize,
        /// Index of the candidate among that prompt's candidates.
        candidate: usize,
        /// The offending score.
        value: f32,
    },
    /// A component returned the wrong number of items.
    #[error("{component} returned {got} item(s) where {expected} were asked for")]
    Count {
        /// `"policy"` or `"scorer"`.
        component: &'static str,
        /// How many were asked for.
        expected: usize,
        /// How many came back.
        got: usize,
    },
    /// The ids passed with the prompts do not match them one to one.
    #[error("{ids} prompt id(s) for {prompts} prompt(s); they must match")]
    IdMismatch {
        /// Number of ids.
        ids: usize,
        /// Number of prompts.
        prompts: usize,
    },
    /// The language model failed (bad prompt, prompt too long, LibTorch error).
    #[error("policy (language model): {0}")]
    Runtime(#[from] nines_runtime::RuntimeError),
    /// A policy implemented outside this crate failed.
    #[error("policy: {0}")]
    Policy(Box<dyn std::error::Error + Send + Sync>),
    /// The pair scorer (e.g. the classifier) failed.
    #[error(transparent)]
    Scorer(#[from] nines_data::Error),
    /// Writing or reading statistics failed.
    #[error("statistics I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A statistics line could not be (de)serialized.
    #[error("statistics JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Converting statistics for the estimators failed.
    #[error("estimator input: {0}")]
    Estimate(#[from] nines_estimate::EstimateError),
}

/// `Result` with [`FilterError`].
pub type Result<T> = std::result::Result<T, FilterError>;

/// Shorthand for an [`FilterError::InvalidSetting`].
pub(crate) fn invalid<T>(field: &'static str, message: impl Into<String>) -> Result<T> {
    Err(FilterError::InvalidSetting {
        field,
        message: message.into(),
    })
}
