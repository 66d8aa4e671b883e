//! PPO distillation for Nines: train one generator against the injury classifier so that it
//! keeps the rejection-sampling filter's safety property at the cost of a single sample,
//! without drifting far from the original model.
//!
//! Where it sits: step 2 of the pipeline, after the classifier (`nines-classify`) and the
//! filter (`nines-filter`). The policy is the generator plus a [`ValueHead`]; a frozen copy of
//! the original generator is the reference. Each step samples one-sentence completions of
//! training prompts ([`rollout`]), scores them with a [`nines_data::PairScorer`] (P(injury), shaped by
//! [`Shaping`]), pays a per-token KL penalty to the reference whose coefficient is fixed or
//! adaptive ([`kl`]), computes GAE advantages ([`advantage`]) and runs several epochs of
//! clipped-surrogate and clipped-value updates in minibatches ([`loss`]). Only the top blocks
//! or LoRA adapters train ([`TrainScope`]). The [`trainer`] writes metrics JSONL
//! ([`metrics`]), checkpoints that resume exactly ([`checkpoint`]), and stops with a typed
//! error on NaN rewards or a KL blow-up; a [`replay`] queue can bring back the training
//! prompts whose rollouts were flagged; [`eval`] measures the distilled policy's flagged
//! rate, KL to the original, win rate and cost against the filter, with confidence intervals.
//!
//! ```
//! use nines_data::FnScorer;
//! use nines_distill::{PpoConfig, PpoTrainer, TrainScope, load_models};
//! use nines_runtime::{DeviceSpec, LoadOptions};
//! let fixture = "../nines-runtime/tests/fixtures/llama";
//! let options = LoadOptions { device: DeviceSpec::Cpu, ..Default::default() };
//! let config = PpoConfig {
//!     prompts_per_step: 2,
//!     samples_per_prompt: 2,
//!     mini_batch_size: 2,
//!     scope: TrainScope::TopLayers { layers: 1 },
//!     ..Default::default()
//! };
//! let (policy, reference) = load_models(fixture, options, &config)?;
//! // A rule standing in for the classifier: completions with an "x" are flagged.
//! let reward = FnScorer::new(|pairs: &[(&str, &str)]| {
//!     Ok::<_, std::convert::Infallible>(
//!         pairs.iter().map(|(_, c)| if c.contains('x') { 0.9 } else { 0.05 }).collect(),
//!     )
//! });
//! let mut trainer = PpoTrainer::new(policy, reference, reward, config)?;
//! let m = trainer.step(&["Once upon a time", "The dog ran"])?;
//! assert_eq!(trainer.steps_done(), 1);
//! assert!(m.kl.abs() < 1e-4); // the first rollout comes from the reference itself
//! println!("score {:.3}, flagged {:.2}", m.score_mean, m.flagged_fraction);
//! # Ok::<(), nines_distill::DistillError>(())
//! ```
#![deny(missing_docs)]

pub mod advantage;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod eval;
pub mod kl;
pub mod loss;
pub mod metrics;
pub mod policy;
pub mod replay;
pub mod reward;
pub mod rollout;
pub mod trainer;

pub use config::{PpoConfig, TrainScope};
pub use error::{DistillError, Result};
pub use eval::{EvalConfig, EvalRecord, EvalReport, evaluate};
pub use kl::{KlConfig, KlController};
pub use metrics::StepMetrics;
pub use policy::ValueHead;
pub use reward::Shaping;
pub use trainer::{KlStop, PpoTrainer, TrainOutcome, load_models};
