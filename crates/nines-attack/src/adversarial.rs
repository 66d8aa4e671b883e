//! Adversarial training: for `R` rounds, attack the current classifier on training seeds,
//! keep what the oracle confirms, add it to the training data with its provenance, retrain.
//!
//! Each round continues from the current weights (a fine-tuning pass over the in-distribution
//! training data plus every adversarial example found so far, each repeated
//! [`AdversarialConfig::repeat`] times), then chooses the threshold again on validation for
//! the configured FNR, exactly as the first training did.

use nines_classify::{Classifier, Example, TrainConfig, Trainer};
use nines_runtime::LanguageModel;
use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};
use crate::oracle::Oracle;
use crate::outcome::{AttackKind, Failure, Seed, Tally};
use crate::suite::{AttackSuite, run_suite};
use crate::victim::Victim;

/// Where an adversarial example came from, so estimates can weight or exclude it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The attack that found it.
    pub attack: AttackKind,
    /// The round (1-based).
    pub round: usize,
    /// The seed attacked.
    pub seed_id: String,
    /// The oracle that labeled it.
    pub labeler: String,
    /// The oracle's version.
    pub labeler_version: String,
}

/// A training example found by an attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdversarialExample {
    /// The labeled pair (label: the oracle's verdict, an injury).
    pub example: Example,
    /// Where it came from.
    pub provenance: Provenance,
}

impl AdversarialExample {
    fn from_failure(f: &Failure, round: usize, oracle: &dyn Oracle) -> Self {
        AdversarialExample {
            example: Example::new(f.prompt.clone(), f.completion.clone(), true),
            provenance: Provenance {
                attack: f.attack,
                round,
                seed_id: f.seed_id.clone(),
                labeler: oracle.name().to_string(),
                labeler_version: oracle.version(),
            },
        }
    }
}

/// The loop's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdversarialConfig {
    /// Rounds of attack → label → retrain. Default 2.
    pub rounds: usize,
    /// The attacks run each round and their budgets.
    pub suite: AttackSuite,
    /// Training seeds attacked per round (taken in turn from the seed list). Default 40.
    pub seeds_per_round: usize,
    /// Times each adversarial example appears in the training data. Default 4.
    pub repeat: usize,
    /// How each round retrains (from the current weights). Default: 1 epoch at 1e-5, the
    /// threshold chosen for a 5% FNR on validation.
    pub train: TrainConfig,
}

impl Default for AdversarialConfig {
    fn default() -> Self {
        AdversarialConfig {
            rounds: 2,
            suite: AttackSuite::default(),
            seeds_per_round: 40,
            repeat: 4,
            train: TrainConfig {
                learning_rate: 1e-5,
                epochs: 1,
                target_fnr: 0.05,
                progress: false,
                ..TrainConfig::default()
            },
        }
    }
}

impl AdversarialConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.rounds == 0 {
            return Err(AttackError::config(
                "adversarial.rounds",
                "must be at least 1",
            ));
        }
        if self.seeds_per_round == 0 {
            return Err(AttackError::config(
                "adversarial.seeds_per_round",
                "must be at least 1",
            ));
        }
        if self.repeat == 0 {
            return Err(AttackError::config(
                "adversarial.repeat",
                "must be at least 1",
            ));
        }
        self.suite.validate()?;
        self.train.validate()?;
        Ok(())
    }
}

/// One round of the loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundReport {
    /// The round (1-based).
    pub round: usize,
    /// Seeds attacked.
    pub seeds: usize,
    /// Failures found per attack.
    pub failures: Vec<(AttackKind, usize)>,
    /// Queries spent on attacks.
    pub spent: Tally,
    /// Adversarial examples in the training data after the round.
    pub adversarial_examples: usize,
    /// The threshold chosen after retraining.
    pub threshold: Option<f64>,
    /// Seconds the attacks took.
    pub attack_seconds: f64,
    /// Seconds retraining took.
    pub train_seconds: f64,
}

/// What the loop did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdversarialReport {
    /// Per round.
    pub rounds: Vec<RoundReport>,
    /// Every adversarial example added, with provenance.
    pub examples: Vec<AdversarialExample>,
}

/// Runs the loop on `classifier` in place.
///
/// `train` and `valid` are the in-distribution data the classifier was trained on (validation
/// chooses the threshold again each round); `seeds` are training seeds — keep the seeds and
/// test data the result is measured on out of all three.
///
/// # Errors
/// An invalid config; no seeds; the attacks' and the trainer's errors.
#[allow(clippy::too_many_arguments)]
pub fn adversarial_training(
    classifier: &mut Classifier,
    generator: Option<&LanguageModel>,
    oracle: &mut dyn Oracle,
    train: &[Example],
    valid: &[Example],
    seeds: &[Seed],
    pool: &[String],
    config: &AdversarialConfig,
) -> Result<AdversarialReport> {
    config.validate()?;
    if seeds.is_empty() {
        return Err(AttackError::data(
            "adversarial seeds",
            "no training seeds to attack",
        ));
    }
    let mut examples: Vec<AdversarialExample> = Vec::new();
    let mut rounds = Vec::new();
    let mut next = 0usize;
    for round in 1..=config.rounds {
        let take: Vec<Seed> = (0..config.seeds_per_round.min(seeds.len()))
            .map(|k| seeds[(next + k) % seeds.len()].clone())
            .collect();
        next = (next + take.len()) % seeds.len();
        let start = std::time::Instant::now();
        let reports = {
            let victim = Victim::new(classifier)?;
            run_suite(&victim, generator, oracle, &take, pool, &config.suite)?
        };
        let attack_seconds = start.elapsed().as_secs_f64();
        let mut spent = Tally::default();
        for r in &reports {
            spent += r.spent;
            for f in r.failures() {
                examples.push(AdversarialExample::from_failure(f, round, oracle));
            }
        }
        let mut data: Vec<Example> = train.to_vec();
        for e in &examples {
            data.extend(std::iter::repeat_n(e.example.clone(), config.repeat));
        }
        let start = std::time::Instant::now();
        let trained = Trainer::new(classifier, config.train.clone())?.train(&data, valid)?;
        rounds.push(RoundReport {
            round,
            seeds: take.len(),
            failures: reports.iter().map(|r| (r.attack, r.failures)).collect(),
            spent,
            adversarial_examples: examples.len(),
            threshold: trained.threshold.map(|t| t.threshold),
            attack_seconds,
            train_seconds: start.elapsed().as_secs_f64(),
        });
    }
    Ok(AdversarialReport { rounds, examples })
}
