//! The attack crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while attacking a classifier or training it adversarially.
#[derive(Debug, thiserror::Error)]
pub enum AttackError {
    /// A text to attack, score or rewrite is empty (or only whitespace).
    #[error("{what} is empty")]
    EmptyText {
        /// Which text: `prompt`, `completion`, `seed 3 completion`...
        what: String,
    },
    /// A pair has more tokens than the classifier reads; it would be truncated, so scores
    /// and saliency would not be about the whole text.
    #[error("{what} has {tokens} tokens; the classifier reads at most {max}")]
    TooLong {
        /// Which pair.
        what: String,
        /// Its length in classifier tokens.
        tokens: usize,
        /// The classifier's limit.
        max: usize,
    },
    /// The classifier has no saved threshold, so "accepted" has no meaning.
    #[error(
        "the classifier has no saved threshold; train it with a validation set or set one before attacking"
    )]
    NoThreshold,
    /// A query budget of zero.
    #[error("budget `{field}` is zero; every attack needs at least one query")]
    ZeroBudget {
        /// The budget field, e.g. `budget.classifier_queries`.
        field: String,
    },
    /// A configuration field has an invalid value.
    #[error("config field `{field}`: {message}")]
    Config {
        /// The field, e.g. `substitution.beam_width`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The data given cannot be used (no seeds, a single class...).
    #[error("data ({what}): {message}")]
    Data {
        /// Which data.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The classifier failed (tokenizing, scoring, training).
    #[error(transparent)]
    Classify(#[from] nines_classify::ClassifyError),
    /// The generator or another runtime part failed.
    #[error(transparent)]
    Runtime(#[from] nines_runtime::RuntimeError),
    /// The data crate failed (corpus, prompts, the composite labeler's sampler).
    #[error(transparent)]
    DataCrate(#[from] nines_data::Error),
    /// LibTorch failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// `Result` with [`AttackError`].
pub type Result<T, E = AttackError> = std::result::Result<T, E>;

impl AttackError {
    pub(crate) fn config(field: &str, message: impl Into<String>) -> Self {
        AttackError::Config {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn data(what: &str, message: impl Into<String>) -> Self {
        AttackError::Data {
            what: what.into(),
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        AttackError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
