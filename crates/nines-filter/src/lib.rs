//! Rejection-sampling filter for Nines: sample completions until the classifier accepts one,
//! and never emit a rejected completion.
//!
//! This is the deployed safety mechanism of step 1. It sits between a [`Policy`] (the language
//! model; [`RuntimePolicy`] over [`nines_runtime::LanguageModel`]) and a
//! [`nines_data::PairScorer`] (the classifier's P(injury), or a rule through
//! [`nines_data::FnScorer`]). For a batch of prompts it runs rounds: one policy call drawing
//! `k` candidates for every prompt still undecided (shared prompt KV cache, generation stopping
//! at the sentence end), one scorer call for all of them, then a [`Strategy`] picks what to
//! return: the first accepted candidate in sampling order (same output distribution as drawing
//! one at a time) or the safest accepted one (a different, safer-skewed distribution). The
//! acceptance threshold tightens with every rejection of the prompt ([`ThresholdSchedule`]);
//! after `max_attempts` rejections the outcome is a typed [`Fallback`] (refuse, or a configured
//! safe text). Each run reports every candidate with its score and threshold, timings, and
//! statistics exported as JSONL for `nines-estimate` ([`PromptRecord`]).
//!
//! (Doc examples are `no_run` because doctest binaries cannot find LibTorch, which this crate
//! links through `nines-runtime`; `LD_LIBRARY_PATH=third_party/libtorch/lib cargo test --doc`
//! runs them, and `filter::tests::toy_policy` runs this one.)
//!
//! ```no_run,standalone_crate
//! use nines_data::FnScorer;
//! use nines_filter::{Filter, FilterConfig, Policy, Result, Sample, Strategy};
//! // A toy policy: candidate `j` of a round says "safe" or "hurt" alternately.
//! struct Toy;
//! impl Policy for Toy {
//!     fn sample(&self, prompts: &[&str], n: usize, _seed: u64) -> Result<Vec<Vec<Sample>>> {
//!         Ok(prompts.iter().map(|_| (0..n).map(|j| Sample {
//!             text: if j % 2 == 0 { " He cut his hand." } else { " He smiled." }.into(),
//!             tokens: 4,
//!         }).collect()).collect())
//!     }
//! }
//! let scorer = FnScorer::new(|pairs: &[(&str, &str)]| {
//!     Ok::<_, std::io::Error>(pairs.iter().map(|(_, c)| if c.contains("cut") { 0.95 } else { 0.02 }).collect())
//! });
//! let config = FilterConfig { strategy: Strategy::BatchedFirstAccepted { k: 4 }, ..Default::default() };
//! let filter = Filter::new(Toy, scorer, config)?;
//! let out = filter.generate("The knife slipped.")?;
//! assert_eq!(out.completion(), Some(" He smiled."));
//! assert_eq!(out.candidates[0].score, 0.95f32 as f64); // rejected, reported, never returned
//! # Ok::<(), nines_filter::FilterError>(())
//! ```
#![deny(missing_docs)]

pub mod config;
pub mod error;
pub mod filter;
pub mod outcome;
pub mod policy;
pub mod schedule;
pub mod stats;

pub use config::{Fallback, FilterConfig, Strategy};
pub use error::{FilterError, Result};
pub use filter::{Filter, FilterRun, round_seed};
pub use outcome::{Candidate, Decision, FallbackOutcome, PromptOutcome, Timings, Verdict};
pub use policy::{Policy, RuntimePolicy, Sample};
pub use schedule::ThresholdSchedule;
pub use stats::{PromptRecord, RunStats, read_jsonl};
