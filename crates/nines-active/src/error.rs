//! The crate's one error type, [`ActiveError`], and its [`Result`] alias.

use std::path::PathBuf;

/// Everything that can go wrong while selecting, labeling, retraining or resuming.
#[derive(Debug, thiserror::Error)]
pub enum ActiveError {
    /// A figure could not be drawn.
    #[error("plot: {0}")]
    Plot(String),
    /// The pool holds no pairs (or no unlabeled pairs are left).
    #[error("the pool is empty: there is nothing to select from")]
    EmptyPool,
    /// A label budget of zero was asked for.
    #[error("{what} is zero: at least one label must be affordable")]
    ZeroBudget {
        /// Which budget (`SelectorConfig.budget`, `DriverConfig.budget`, ...).
        what: &'static str,
    },
    /// A score is NaN, infinite or outside [0, 1].
    #[error("pair {index} ({id}): {field} is {value}, not a probability in [0, 1]")]
    BadScore {
        /// Position in the pool.
        index: usize,
        /// The pair's id.
        id: String,
        /// `score`, `members[k]`, ...
        field: String,
        /// The offending value.
        value: f64,
    },
    /// Every score in the pool is exactly zero: the scorer is broken or was never run.
    #[error("all {n} scores are zero: the pool was not scored (or the scorer is broken)")]
    AllZeroScores {
        /// Pool size.
        n: usize,
    },
    /// An inclusion probability outside (0, 1].
    #[error("inclusion probability {value} of {what} is not in (0, 1]")]
    BadProbability {
        /// Which unit or record.
        what: String,
        /// The offending value.
        value: f64,
    },
    /// A strategy gave every pair zero utility, so it ranks nothing.
    #[error("strategy {strategy} gives every pair zero utility ({reason})")]
    DegenerateUtility {
        /// The acquisition strategy.
        strategy: String,
        /// Why, in words.
        reason: String,
    },
    /// A strategy needs pool data the pool lacks (ensemble member scores, embeddings).
    #[error("strategy {strategy} needs {needs}, which pair {index} ({id}) lacks")]
    MissingData {
        /// The strategy or design.
        strategy: String,
        /// What is missing.
        needs: &'static str,
        /// Position of the first pair lacking it.
        index: usize,
        /// That pair's id.
        id: String,
    },
    /// Two pairs disagree on a shape (number of ensemble members, embedding length).
    #[error("pair {index} ({id}) has {got} {what}, pair 0 has {expected}")]
    Ragged {
        /// `ensemble member scores` or `embedding dimensions`.
        what: &'static str,
        /// Position of the offending pair.
        index: usize,
        /// Its id.
        id: String,
        /// The count of pair 0.
        expected: usize,
        /// The offending count.
        got: usize,
    },
    /// A configuration value is out of range.
    #[error("{field}: {reason}")]
    Config {
        /// The field, as `Struct.field`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A top-k selection has no inclusion probabilities to reweight by.
    #[error("pick {id} came from a top-k selection and carries no inclusion probability")]
    NotReweightable {
        /// The pair's id.
        id: String,
    },
    /// Two pool pairs share an id.
    #[error("pair id {id} occurs twice in the pool (positions {first} and {second})")]
    DuplicateId {
        /// The id.
        id: String,
        /// Its first position.
        first: usize,
        /// Its second position.
        second: usize,
    },
    /// A resume state that does not fit the pool or configuration it is resumed with.
    #[error("state {path}: {reason}")]
    BadState {
        /// The state file.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// A line of a JSONL file that does not parse.
    #[error("{path}:{line}: {reason}")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's complaint.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The scorer or retrainer behind the loop driver failed.
    #[error("{stage} failed: {source}")]
    Model {
        /// `scoring` or `retraining`.
        stage: &'static str,
        /// The model's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A nines-data operation (labeler, sampling design) failed.
    #[error(transparent)]
    Data(#[from] nines_data::Error),
    /// A nines-estimate estimator rejected its input.
    #[error(transparent)]
    Estimate(#[from] nines_estimate::EstimateError),
}

impl ActiveError {
    /// A [`ActiveError::Config`] error.
    pub fn config(field: &'static str, reason: impl Into<String>) -> Self {
        ActiveError::Config {
            field,
            reason: reason.into(),
        }
    }

    /// An [`ActiveError::Io`] error for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ActiveError::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a scorer's or retrainer's error.
    pub fn model(
        stage: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ActiveError::Model {
            stage,
            source: source.into(),
        }
    }
}

/// Result with [`ActiveError`].
pub type Result<T> = std::result::Result<T, ActiveError>;
