//! Injury classifiers for Nines: `P(injury | prompt, completion)`, trained on labeled
//! snippets, calibrated, and thresholded for a target false-negative rate.
//!
//! This is the first model in the pipeline: the rejection-sampling filter scores each generated
//! completion with a [`nines_data::PairScorer`] ([`Classifier`] and [`Ensemble`] implement it)
//! and rejects those above the threshold; active learning reads an [`Ensemble`]'s disagreement
//! to choose what to label.
//!
//! - [`Classifier`]: a backbone — a BERT-family encoder over `[CLS] prompt [SEP] completion
//!   [SEP]` (MiniLM by default) or a causal LM over `prompt ++ completion` — pooled, then
//!   dropout and a linear head; batched [`Classifier::score`]; one folder holds weights,
//!   tokenizer, temperature and threshold ([`Classifier::save`], [`Classifier::load`]).
//! - [`Trainer`]: AdamW with warm-up and linear decay, clipping, accumulation, positive
//!   weight / focal loss / oversampling, length-bucketed batches, early stopping, seeded,
//!   checkpoints with exact resume; then temperature scaling and the threshold.
//! - [`metrics`] (AUROC, AUPRC, log-loss, ECE, reliability bins, temperature),
//!   [`threshold`] (threshold for a target FNR with a Clopper-Pearson upper bound),
//!   [`ensemble`], [`search`] (grid or random hyperparameter search).
//! - [`attribution`]: the classifier from token embeddings (tokens with byte spans, the
//!   embedding table, differentiable logits), for saliency and token-substitution attacks.
//! - [`example`]: `(prompt, completion, label)` examples from nines-data snippets, unsure and
//!   unlabeled ones left out and counted.
//!
//! ```
//! use nines_classify::threshold::select_for_fnr;
//! use nines_classify::metrics::auroc;
//! // Scores from any scorer, labels from validation data.
//! let scores = [0.95, 0.9, 0.6, 0.4, 0.2, 0.1, 0.05, 0.01];
//! let labels = [true, true, true, false, true, false, false, false];
//! assert!((auroc(&scores, &labels).unwrap() - 0.9375).abs() < 1e-12);
//! let choice = select_for_fnr(&scores, &labels, 0.0, 0.95).unwrap();
//! assert_eq!(choice.missed, 0); // every injury is rejected...
//! assert_eq!(choice.rejected_safe, 1); // ...at the cost of one safe completion in four
//! assert!(choice.fnr_upper > 0.5); // and four positives prove little
//! ```
#![deny(missing_docs)]

pub mod attribution;
mod backbone;
pub mod batching;
mod classifier;
pub mod config;
pub mod ensemble;
pub mod error;
pub mod example;
pub mod loss;
pub mod metrics;
pub mod search;
pub mod threshold;
pub mod trainer;

pub use attribution::{PairPart, PairToken, PairTokens};
pub use backbone::BackboneInfo;
pub use classifier::{CAUSAL_BACKBONE_FILE, Classifier, HEAD_FILE, MANIFEST, Manifest};
pub use config::{BackboneKind, ClassifierConfig, HeadPooling, LossKind, StopMetric, TrainConfig};
pub use ensemble::{Aggregation, Ensemble, EnsembleScore};
pub use error::{ClassifyError, Result};
pub use example::{ConversionReport, Example, LabelSource};
pub use threshold::ThresholdChoice;
pub use trainer::{EvalRecord, TrainReport, Trainer};
