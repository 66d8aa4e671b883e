//! The classifier crate's error type.

use std::path::PathBuf;

use nines_runtime::RuntimeError;

/// Everything that can go wrong while building, training, saving, loading or using a classifier.
///
/// Each variant names the file, field or training step involved and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The model runtime failed (loading a backbone, tokenizing, running LibTorch).
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// LibTorch failed outside the runtime (saving, loading, tensor operations).
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// Estimation failed (confidence bounds).
    #[error("estimate: {0}")]
    Estimate(#[from] nines_estimate::EstimateError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (manifest, training state) could not be parsed or written.
    #[error("{path}: invalid JSON: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message with line and column.
        message: String,
    },
    /// A configuration field has an invalid value.
    #[error("config field `{field}`: {message}")]
    Config {
        /// The field, e.g. `train.learning_rate`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The data cannot be used (empty, a single class, mismatched lengths).
    #[error("data ({what}): {message}")]
    Data {
        /// Which data: `train`, `validation`, `scores`...
        what: String,
        /// What is wrong.
        message: String,
    },
    /// An input to scoring cannot be processed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The loss became NaN or infinite; the last good checkpoint (if any) is left untouched.
    #[error(
        "non-finite loss {loss} at optimizer step {step} (epoch {epoch}); last good checkpoint: {checkpoint}"
    )]
    NonFiniteLoss {
        /// The loss value.
        loss: f64,
        /// Optimizer steps completed before the failing one.
        step: u64,
        /// The epoch.
        epoch: usize,
        /// The last good checkpoint folder, or `none`.
        checkpoint: String,
    },
    /// A saved classifier or checkpoint was made with a different backbone than the one it is
    /// being loaded into.
    #[error("{path}: checkpoint was made for backbone {found}, but the model is {expected}")]
    BackboneMismatch {
        /// The manifest or checkpoint.
        path: PathBuf,
        /// The backbone the model has.
        expected: String,
        /// The backbone the checkpoint records.
        found: String,
    },
}

/// The crate's result type.
pub type Result<T, E = ClassifyError> = std::result::Result<T, E>;

impl ClassifyError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ClassifyError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        ClassifyError::Config {
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn data(what: impl Into<String>, message: impl Into<String>) -> Self {
        ClassifyError::Data {
            what: what.into(),
            message: message.into(),
        }
    }
}

/// Reads and parses a JSON file, naming the file in errors.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| ClassifyError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| ClassifyError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Writes pretty JSON atomically (temporary file, then rename).
pub(crate) fn write_json<T: serde::Serialize>(path: &std::path::Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ClassifyError::Json {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| ClassifyError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ClassifyError::io(path, e))
}
