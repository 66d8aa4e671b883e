//! The crate's one error type and its `Result` alias.
//!
//! Every variant names the argument (and, where there is one, the index) that is wrong and
//! what is wrong with it, so a caller that feeds a JSONL file through can map it back to a line.

use thiserror::Error;

/// Everything that can go wrong in `nines-estimate`. Bad input never panics: it lands here.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum EstimateError {
    /// An input that needs at least one element was empty.
    #[error("`{field}` is empty; at least one element is needed")]
    Empty {
        /// The argument that was empty.
        field: &'static str,
    },
    /// Fewer elements than the estimator needs (for example a variance from one sample).
    #[error("`{field}` has {got} usable element(s); this estimate needs at least {need}")]
    TooFew {
        /// The argument that was too short.
        field: &'static str,
        /// How many the estimator needs.
        need: usize,
        /// How many there were.
        got: usize,
    },
    /// Two inputs that must be parallel have different lengths.
    #[error("`{left}` has {left_len} element(s) but `{right}` has {right_len}; they must match")]
    LengthMismatch {
        /// First argument.
        left: &'static str,
        /// Its length.
        left_len: usize,
        /// Second argument.
        right: &'static str,
        /// Its length.
        right_len: usize,
    },
    /// A value is NaN or infinite where a finite number is required.
    #[error("`{field}`[{index}] is {value}; a finite number is required")]
    NonFinite {
        /// The argument holding the value.
        field: &'static str,
        /// Position of the value in the argument (0 for a scalar).
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A weight is negative.
    #[error("`{field}`[{index}] = {value} is a negative weight; weights must be >= 0")]
    NegativeWeight {
        /// The argument holding the weight.
        field: &'static str,
        /// Position of the weight.
        index: usize,
        /// The offending weight.
        value: f64,
    },
    /// All weights are zero, so a weighted mean is undefined.
    #[error("all {n} weights in `{field}` are zero; a weighted mean is undefined")]
    ZeroWeights {
        /// The argument holding the weights.
        field: &'static str,
        /// How many weights there were.
        n: usize,
    },
    /// A probability lies outside the range the estimator allows.
    #[error("`{field}`[{index}] = {value} is outside {range}")]
    Probability {
        /// The argument holding the probability.
        field: &'static str,
        /// Position of the probability.
        index: usize,
        /// The offending value.
        value: f64,
        /// The allowed range, written out (for example `(0, 1]`).
        range: &'static str,
    },
    /// Weights that should average 1 (density ratios of normalized densities) average far from
    /// it: the sampler never draws part of the target's support, or a density is not
    /// normalized. An estimate from them would be biased however many samples there were.
    #[error(
        "the mean of `{field}` is {mean:.4} (standard error {std_error:.4}, {n} weights), far \
         from 1: part of the target is never sampled (a support gap) or the densities are not \
         normalized"
    )]
    MeanWeight {
        /// The weights (or the log densities they come from).
        field: &'static str,
        /// Their mean.
        mean: f64,
        /// The mean's standard error.
        std_error: f64,
        /// How many weights.
        n: usize,
    },
    /// Rejected pairs without a judgment, where the caller has not declared the judged ones a
    /// random subsample.
    #[error(
        "`{field}`: {missing} of {rejected} rejected pairs have no judgment (first at index \
         {first}); judge them, or declare the judged ones a random subsample \
         (`MissingJudgments::RandomSubsample`)"
    )]
    MissingJudgments {
        /// The records' argument.
        field: &'static str,
        /// Rejected pairs without a judgment.
        missing: usize,
        /// Rejected (answered) pairs in all.
        rejected: usize,
        /// Index of the first one.
        first: usize,
    },
    /// A confidence level outside (0, 1).
    #[error("confidence level {0} is outside (0, 1)")]
    Level(f64),
    /// A count is inconsistent with another (for example more successes than trials).
    #[error("{what}: {detail}")]
    Counts {
        /// Which record or argument.
        what: String,
        /// What is inconsistent.
        detail: String,
    },
    /// A records file, or one of its lines, that cannot be read (line 0: the file itself).
    #[error("{file}:{line}: {message}")]
    Input {
        /// The file.
        file: String,
        /// The 1-based line (0 when the file itself cannot be read).
        line: usize,
        /// What is wrong, naming the field where there is one.
        message: String,
    },
    /// A configuration or parameter value that makes no sense.
    #[error("parameter `{name}` = {value}: {reason}")]
    Parameter {
        /// The parameter's name.
        name: &'static str,
        /// The value given, printed.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// The data cannot support the requested interval (for example every bootstrap replicate
    /// equals the estimate, so the BCa bias correction is infinite).
    #[error("{0}")]
    Degenerate(String),
    /// A statistic passed to the bootstrap returned NaN or infinity.
    #[error("the statistic returned {value} on {on}; it must return a finite number")]
    Statistic {
        /// Where: "the original sample", "bootstrap replicate 17", "jackknife sample 3".
        on: String,
        /// What it returned.
        value: f64,
    },
}

/// `Result` with [`EstimateError`].
pub type Result<T> = std::result::Result<T, EstimateError>;
