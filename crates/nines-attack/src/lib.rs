//! Finding the injury classifier's failures on purpose, and training them away.
//!
//! Random sampling rarely meets the pairs a classifier gets wrong; an attacker with tools
//! meets them much sooner. This crate gives the tools and the searches, measured in queries:
//!
//! - [`saliency`](mod@saliency): which tokens drive `P(injury)` (gradient × input, integrated gradients),
//!   as token spans with scores, and the faithfulness check of those scores;
//! - [`substitution`]: word substitutions at salient positions, ranked by the embedding
//!   gradient's first-order estimate (HotFlip / GCG style), beam or greedy, filtered for
//!   fluency by the generator;
//! - [`paraphrase`]: the generator rewrites a known injurious completion;
//! - [`prompt_search`]: prompts (from the corpus, then edited) under which a fixed injurious
//!   completion is accepted;
//! - [`adversarial`]: rounds of attack → oracle labels → retraining, every added example with
//!   its provenance (attack, round);
//! - [`measure`](mod@measure): success per 1,000 classifier queries and per oracle query, time to first
//!   failure, in-distribution AUROC and safe rejection at the target FNR, before and after;
//!   [`study`] runs the whole before → adversarial training → after comparison.
//!
//! A *failure* is a pair the [`Oracle`] (explicit or composite) labels an injury while the
//! classifier's score is at or under its threshold. Every attack runs under a typed
//! [`Budget`] per seed; the classifier is reached only through the [`Victim`] adapter, which
//! counts queries.
//!
//! ```no_run
//! use nines_attack::{Budget, ExplicitOracle, Seed, SubstitutionAttack, SubstitutionConfig, Victim};
//! use nines_classify::Classifier;
//! use nines_runtime::DeviceSpec;
//! let classifier = Classifier::load("runs/default/classifier_active", DeviceSpec::Cpu)?;
//! let victim = Victim::new(&classifier)?;
//! let config = SubstitutionConfig { max_logprob_drop: None, ..Default::default() };
//! let mut attack = SubstitutionAttack::new(&victim, None, config, Budget::default())?;
//! let seeds = [Seed::new("s1", "The guard turned.", "He stabbed the guard in the face.")];
//! let report = attack.run(&seeds, &mut ExplicitOracle::new())?;
//! for f in report.failures() {
//!     println!("{:.3} {}", f.score, f.completion);
//! }
//! # Ok::<(), nines_attack::AttackError>(())
//! ```
#![deny(missing_docs)]

pub mod adversarial;
pub mod config;
pub mod data;
pub mod error;
pub mod fluency;
pub mod measure;
pub mod oracle;
pub mod outcome;
pub mod paraphrase;
pub mod prompt_search;
pub mod saliency;
pub mod study;
pub mod substitution;
pub mod suite;
pub mod text;
pub mod victim;

pub use adversarial::{
    AdversarialConfig, AdversarialExample, AdversarialReport, Provenance, adversarial_training,
};
pub use config::{
    Budget, EditPart, ParaphraseConfig, ParaphraseStyle, PromptSearchConfig, SubstitutionConfig,
};
pub use error::{AttackError, Result};
pub use measure::{Comparison, HeldOut, InDistribution, Measure, compare, measure};
pub use oracle::{CompositeOracle, ExplicitOracle, Oracle, OracleKind};
pub use outcome::{AttackKind, AttackReport, Edit, Failure, Seed, SeedOutcome, Tally};
pub use paraphrase::ParaphraseAttack;
pub use prompt_search::PromptSearch;
pub use saliency::{
    FaithfulnessReport, Saliency, SaliencyMethod, TokenScore, faithfulness, saliency,
};
pub use study::{StudyConfig, StudyData, StudyReport, TrainingData, run_study};
pub use substitution::SubstitutionAttack;
pub use suite::{AttackSuite, run_suite};
pub use victim::Victim;
