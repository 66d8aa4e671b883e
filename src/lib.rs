//! Nines: a language model that almost never does the one thing it must not, with measurable
//! nines of reliability, without being worse at everything else.
//!
//! This facade re-exports the member crates, one job each:
//!
//! - [`runtime`]: LibTorch model runtime (load HF or GGUF checkpoints, generate, score).
//! - [`data`]: fiction corpus, snippets, the JSONL store and labelers.
//! - [`filter`]: rejection-sampling filter (sample until the classifier accepts).
//! - [`estimate`]: importance-sampling estimators with error bars (pure Rust).
//! - [`classify`]: the injury classifier (trainer, threshold for a target FNR, ensembles).
//! - [`active`]: active learning (which pairs to label, with known inclusion probabilities).
//! - [`distill`]: PPO distillation of the filter into the generator.
//! - [`attack`]: the classifier's failures found on purpose (saliency, substitution,
//!   paraphrase, prompt search) and adversarial training.
//!
//! and adds the glue of the end-to-end run: [`pipeline`] (the stages behind `make demo`),
//! [`sampler`] (the runtime as a completion sampler), [`active_learning`] (the selector
//! joined to the classifier and the store) and [`compare`] (pairwise quality judgments by a
//! person at the terminal).
#![deny(missing_docs)]

pub mod active_learning;
pub mod compare;
pub mod flag_floor;
pub mod int8_accuracy;
pub mod label_noise;
pub mod pipeline;
pub mod progress;
pub mod sampler;
pub mod stand_in_checks;

pub use nines_active as active;
pub use nines_attack as attack;
pub use nines_classify as classify;
pub use nines_data as data;
pub use nines_distill as distill;
pub use nines_estimate as estimate;
pub use nines_filter as filter;
pub use nines_runtime as runtime;
