//! The crate's one error type and its `Result` alias.
//!
//! Every variant names where the problem is (a file, a line, a field or a snippet id) and what is
//! wrong, so that a message alone is enough to fix the input.

use std::path::PathBuf;

/// Errors from loading corpora, building prompts, the store and labelers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O error on a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder being read or written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A corpus file is not valid UTF-8.
    #[error("{}: invalid UTF-8 at byte {offset} (line {line}): corpus files must be UTF-8 text", path.display())]
    InvalidUtf8 {
        /// The corpus file.
        path: PathBuf,
        /// Byte offset of the first invalid byte in the file.
        offset: usize,
        /// 1-based line of the first invalid byte.
        line: usize,
    },

    /// A corpus (a file or a folder) holds no usable text.
    #[error("{}: empty corpus: {reason}", path.display())]
    EmptyCorpus {
        /// The file or folder given as the corpus.
        path: PathBuf,
        /// Why nothing usable was found.
        reason: String,
    },

    /// A line of a JSONL or CSV file could not be parsed.
    #[error("{}:{line}: {reason}", path.display())]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },

    /// A verdict string is none of `injury`, `no_injury`, `unsure`.
    #[error("{at}: unknown verdict {value:?} (expected injury, no_injury or unsure)")]
    UnknownVerdict {
        /// Where the verdict was read (`file:line`, or a description).
        at: String,
        /// The verdict as written.
        value: String,
    },

    /// Two records share an id but differ in content.
    #[error(
        "{}:{line}: duplicate id {id:?} with different content (first stored at line {first_line})",
        path.display()
    )]
    DuplicateId {
        /// The store or import file.
        path: PathBuf,
        /// The id used twice.
        id: String,
        /// 1-based line of the first record with this id (0 when it was not read from this file).
        first_line: usize,
        /// 1-based line of the conflicting record (0 for a record being appended).
        line: usize,
    },

    /// No record has this id.
    #[error("{}: no snippet with id {id:?}", path.display())]
    UnknownId {
        /// The store.
        path: PathBuf,
        /// The id asked for.
        id: String,
    },

    /// Another writer holds the store.
    #[error("{}: store is locked by another writer", path.display())]
    Locked {
        /// The store file.
        path: PathBuf,
    },

    /// The oracle's lexicon file fails its checks.
    #[error("lexicon, {key}: {reason}")]
    Lexicon {
        /// The TOML key (`lists.people`, `cues.violent`), or `-` for the file as a whole.
        key: String,
        /// What is wrong.
        reason: String,
    },

    /// A configuration field has an invalid value.
    #[error("invalid config: {field}: {reason}")]
    Config {
        /// The field, as `struct.field`.
        field: &'static str,
        /// What is wrong with its value.
        reason: String,
    },

    /// A record violates an invariant (empty prompt, probability out of range, ...).
    #[error("invalid record {id:?}: {field}: {reason}")]
    InvalidRecord {
        /// The record's id.
        id: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The completion sampler failed or returned a malformed answer.
    #[error("completion sampler {model:?}: {reason}")]
    Sampler {
        /// The sampler's model id.
        model: String,
        /// What went wrong.
        reason: String,
        /// The sampler's own error, when it returned one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// A [`PairScorer`](crate::score::PairScorer) (a classifier, an ensemble, a rule) failed.
    #[error("pair scorer: {source}")]
    Scorer {
        /// The scorer's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// Agreement statistics could not be computed from the given ratings.
    #[error("agreement: {reason}")]
    Agreement {
        /// Why the statistic is undefined for this input.
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Scorer`] wrapping a scorer's own error.
    pub fn scorer(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Error::Scorer {
            source: source.into(),
        }
    }

    /// An [`Error::Config`].
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Config {
            field,
            reason: reason.into(),
        }
    }
}
