//! Unbiased estimates with honest error bars for Nines, from data gathered with non-uniform and
//! sometimes mistaken sampling. Pure Rust (statrs, rand); no LibTorch, so it can be used alone.
//!
//! Where it sits in the pipeline: the filter writes per-prompt statistics (cheap
//! classifier-only draws, labeled unfiltered draws), active learning writes records with
//! inclusion probabilities, people compare filtered and unfiltered completions, and PPO
//! evaluation scores a policy. This crate turns those plain slices and structs into
//! [`Estimate`]s: a value, its standard error and a confidence interval, serde-serializable.
//!
//! * [`win_rate`]: how often people prefer the filtered completion; the efficient protocol
//!   counts pairs whose unfiltered completion is accepted as 1/2 without asking anyone.
//! * [`failure_rate`]: how often the filtered policy fails, from labeled unfiltered draws
//!   weighted by 1 / acceptance per prompt; adaptive-threshold and batched-safest variants.
//! * [`batched`]: exact output distributions of sequential and batched-safest filters.
//! * [`weighting`]: Horvitz-Thompson and Hájek under sampling without replacement, importance
//!   sampling (plain and self-normalized), weight diagnostics (mean weight, effective sample
//!   size, largest share), clipping with its bias, repair of a mistaken sampling density.
//! * [`interval`]: normal (CLT, delta method), Wilson, Clopper-Pearson, exact coverage.
//! * [`bootstrap`]: seeded percentile, BCa and cluster bootstrap.
//! * [`cluster`]: cluster-robust variances from per-prompt totals, for several correlated
//!   pairs or completions per prompt.
//! * [`reliability`]: one-sided bounds read as "nines", and the trials one more nine needs.
//! * [`records`]: labeled completions and judged pairs from JSON lines, with inclusion
//!   probabilities, to failure and win rates (what `nines estimate` reads).
//!
//! The derivations are in `docs/estimators.md`; every estimator is checked by Monte Carlo
//! against a known truth in this crate's tests.
//!
//! ```
//! use nines_estimate::win_rate::{efficient, PairRecord};
//! // Three pairs whose unfiltered completion passed the classifier (worth 1/2, nobody looks)
//! // and two that did not, judged by a person: filtered preferred once, one tie.
//! let acc = PairRecord::accepted();
//! let rej = |j| PairRecord::rejected(Some(j));
//! let w = efficient(&[acc, acc, acc, rej(1.0), rej(0.5)], 0.95).unwrap();
//! assert!((w.estimate.value - (3.0 * 0.5 + 1.0 + 0.5) / 5.0).abs() < 1e-12);
//! assert_eq!(w.comparisons, 2);
//! assert_eq!(w.comparisons_saved, 3);
//! println!("{}", serde_json::to_string(&w.estimate).unwrap());
//! ```
#![deny(missing_docs)]

pub mod batched;
pub mod bootstrap;
mod check;
pub mod cluster;
pub mod error;
mod estimate;
pub mod failure_rate;
pub mod interval;
pub mod label_efficiency;
pub mod records;
pub mod reliability;
mod stats;
pub mod weighting;
pub mod win_rate;

pub use error::{EstimateError, Result};
pub use estimate::{Estimate, Estimator, IntervalKind, Method};
