//! The runtime's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading a checkpoint, tokenizing, generating or scoring.
///
/// Each variant names the file, tensor or field involved and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A checkpoint folder is not a complete checkpoint (no manifest, or a file missing or of
    /// the wrong size): a save was cut short, or the folder was written or changed by
    /// something else. It is left as it is.
    #[error("{path}: not a complete checkpoint: {message}; move it away to start over")]
    IncompleteCheckpoint {
        /// The checkpoint folder.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
    /// A file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A required file is not where it should be.
    #[error("{path}: missing ({what})")]
    MissingFile {
        /// Where the file was expected.
        path: PathBuf,
        /// What the file is for.
        what: &'static str,
    },
    /// A JSON file (config, index, tokenizer) could not be parsed.
    #[error("{path}: invalid JSON: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A configuration field is missing or has an invalid value.
    #[error("{path}: field `{field}`: {message}")]
    Config {
        /// The file (config.json, or the GGUF file for its metadata).
        path: PathBuf,
        /// The field or metadata key.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The checkpoint's architecture is not one this runtime implements.
    #[error("{path}: unsupported architecture `{architecture}` (supported: {supported})")]
    UnknownArchitecture {
        /// The file that names the architecture.
        path: PathBuf,
        /// The architecture it names.
        architecture: String,
        /// The architectures this runtime implements.
        supported: &'static str,
    },
    /// A weight file is malformed (bad header, truncated, bad offsets).
    #[error("{path}: corrupt checkpoint: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the byte offset or tensor name where known.
        message: String,
    },
    /// A GGUF tensor uses a quantization type this runtime does not dequantize.
    #[error(
        "{path}: tensor `{tensor}` has unsupported GGML type {ggml_type} (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)"
    )]
    UnsupportedQuantization {
        /// The GGUF file.
        path: PathBuf,
        /// The tensor.
        tensor: String,
        /// The GGML type name or number.
        ggml_type: String,
    },
    /// A tensor the model needs is absent from the checkpoint.
    #[error("{path}: tensor `{tensor}` is missing")]
    MissingTensor {
        /// The checkpoint file (or folder, for sharded checkpoints).
        path: PathBuf,
        /// The tensor name (Hugging Face naming).
        tensor: String,
    },
    /// A file holds a tensor that none of the variables being restored is named for (it was
    /// written for another model or another set of trainable parameters).
    #[error("{path}: holds tensor `{tensor}`, which is not among the variables being loaded")]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
    },
    /// A tensor in the checkpoint does not have the shape the configuration implies.
    #[error("{path}: tensor `{tensor}` has shape {found:?}, the config implies {expected:?}")]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// The shape the config implies.
        expected: Vec<i64>,
        /// The shape in the file.
        found: Vec<i64>,
    },
    /// A tensor's element type cannot be used.
    #[error("{path}: tensor `{tensor}` has unsupported dtype {dtype}")]
    UnsupportedDtype {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor name.
        tensor: String,
        /// The dtype found.
        dtype: String,
    },
    /// The tokenizer could not be built or used.
    #[error("tokenizer ({origin}): {message}")]
    Tokenizer {
        /// Where the tokenizer came from (a tokenizer.json path or a GGUF file).
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// The tokenizer knows token ids the model has no embedding for.
    #[error(
        "{origin}: tokenizer has {tokenizer_vocab} tokens but the model's vocabulary has {model_vocab}"
    )]
    VocabMismatch {
        /// Where the tokenizer came from.
        origin: String,
        /// Tokens in the tokenizer.
        tokenizer_vocab: usize,
        /// Rows of the model's embedding matrix.
        model_vocab: usize,
    },
    /// An input (prompt, completion, batch) cannot be processed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A prompt is longer than the model's context window allows.
    #[error(
        "prompt {index} has {tokens} tokens; with {new_tokens} new tokens that exceeds the context length {context}"
    )]
    PromptTooLong {
        /// Index of the prompt in the batch.
        index: usize,
        /// Prompt length in tokens.
        tokens: usize,
        /// New tokens requested.
        new_tokens: usize,
        /// The model's context length.
        context: usize,
    },
    /// A generation or scoring setting is invalid.
    #[error("invalid setting `{field}`: {message}")]
    InvalidSetting {
        /// The setting's name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A model with int8 projections was asked to train (or to be exported): its
    /// projections are not variables and record no gradients.
    #[error(
        "{model}: loaded with dtype int8, which serves generation and scoring only; {action} needs the model loaded in f32 (or bf16)"
    )]
    Quantized {
        /// The model (its file or folder name).
        model: String,
        /// What was attempted.
        action: &'static str,
    },
    /// The requested device is not available.
    #[error("device `{0}` is not available")]
    DeviceUnavailable(String),
    /// An error raised inside LibTorch.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// LibTorch refused an operation of a model's forward pass (a token id out of the
    /// vocabulary, a tensor on another device, out of memory).
    #[error("libtorch, {op}: {source}")]
    TorchOp {
        /// What was being done (`token embedding lookup`, `vocabulary projection`, ...).
        op: &'static str,
        /// LibTorch's error.
        #[source]
        source: tch::TchError,
    },
}

/// The runtime's result type.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

impl RuntimeError {
    /// An [`RuntimeError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RuntimeError::Io {
            path: path.into(),
            source,
        }
    }

    /// Wraps a LibTorch error of the operation `op` (for `map_err`).
    pub(crate) fn torch(op: &'static str) -> impl FnOnce(tch::TchError) -> Self {
        move |source| RuntimeError::TorchOp { op, source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        RuntimeError::Corrupt {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn config(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        RuntimeError::Config {
            path: path.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}
