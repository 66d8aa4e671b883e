//! The before/after study behind `nines attack train`: pick seeds and in-distribution data,
//! measure, train adversarially, measure again on what training never saw.

use nines_classify::{Classifier, Example, TrainConfig};
use nines_data::split::Split;
use nines_runtime::LanguageModel;
use serde::{Deserialize, Serialize};

use crate::adversarial::{
    AdversarialConfig, AdversarialExample, RoundReport, adversarial_training,
};
use crate::data::{
    CorpusData, CorpusPair, SeedPick, examples, flagged_seeds, prompts, sample_examples,
};
use crate::error::Result;
use crate::measure::{Comparison, HeldOut, InDistribution, compare, in_distribution, measure};
use crate::oracle::Oracle;
use crate::suite::AttackSuite;
use crate::victim::Victim;

/// The study's sizes and settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StudyConfig {
    /// The attacks and their budgets (the same before, during and after training).
    pub suite: AttackSuite,
    /// Rounds of adversarial training. Default 2.
    pub rounds: usize,
    /// Training seeds attacked per round. Default 12.
    pub train_seeds: usize,
    /// Held-out seeds measured before and after. Default 10.
    pub held_out_seeds: usize,
    /// Book training pairs retrained on. Default 600.
    pub train_pairs: usize,
    /// Largest share of injuries among them (the book has few; a share far above the data
    /// the classifier was first trained on shifts every score up). Default 0.1.
    pub train_positive_share: f64,
    /// Book validation pairs the threshold is chosen on, with the dev set's dev part. Default 400.
    pub valid_pairs: usize,
    /// Book test pairs of the in-distribution figures. Default 400.
    pub test_pairs: usize,
    /// Times each adversarial example appears in the training data. Default 4.
    pub repeat: usize,
    /// Learning rate of each round's fine-tuning pass. Default 1e-5 (2e-5 moved the default classifier further than it needed: docs/attack.md).
    pub learning_rate: f64,
    /// Each epoch shows each injury this many times on average, as
    /// [`TrainConfig::oversample_positives`]; match the classifier's first training. Default 1.
    pub oversample_positives: f64,
    /// Seed of the draws and of training. Default 0.
    pub seed: u64,
}

impl Default for StudyConfig {
    fn default() -> Self {
        StudyConfig {
            suite: AttackSuite::default(),
            rounds: 2,
            train_seeds: 12,
            held_out_seeds: 10,
            train_pairs: 600,
            train_positive_share: 0.1,
            valid_pairs: 400,
            test_pairs: 400,
            repeat: 4,
            learning_rate: 1e-5,
            oversample_positives: 1.0,
            seed: 0,
        }
    }
}

/// The data a classifier was trained, thresholded and tested on (for the pipeline's
/// classifier: its labeled store's pairs, generator completions included).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainingData {
    /// What it was trained on.
    pub train: Vec<Example>,
    /// What its threshold was chosen on.
    pub validation: Vec<Example>,
    /// What it was tested on.
    pub test: Vec<Example>,
}

/// Where the study's data comes from.
#[derive(Debug, Clone, Copy)]
pub struct StudyData<'d> {
    /// The book's pairs by split (prompt pools; and the in-distribution data when `own` is
    /// `None`).
    pub corpus: &'d CorpusData,
    /// The classifier's own training, validation and test data. With it, each round retrains
    /// on its training pairs plus the adversarial examples, the threshold is chosen again on
    /// the validation pairs its first threshold was chosen on, and the in-distribution
    /// figures are on its test pairs: before and after differ only by adversarial training.
    /// Without it, samples of the book's pairs stand in (the dev set's dev part joins
    /// validation, for enough injuries to place the threshold).
    pub own: Option<&'d TrainingData>,
    /// The hand-labeled dev set's dev part (training seeds; validation).
    pub dev: &'d [CorpusPair],
    /// Its test part (held-out seeds; a second test set).
    pub dev_test: &'d [CorpusPair],
}

/// What the study found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyReport {
    /// How the training seeds were picked.
    pub train_pick: SeedPick,
    /// How the held-out seeds were picked.
    pub held_out_pick: SeedPick,
    /// Before and after on the held-out seeds and the book's test chapters.
    pub comparison: Comparison,
    /// The dev set's test part before and after.
    pub dev_test: (InDistribution, InDistribution),
    /// The rounds of adversarial training.
    pub rounds: Vec<RoundReport>,
    /// The adversarial examples added, with provenance.
    pub examples: Vec<AdversarialExample>,
}

/// Runs the study on `classifier`, which ends adversarially trained. The target FNR is the
/// classifier's own (5% when it records none).
///
/// # Errors
/// [`AttackError::NoThreshold`](crate::AttackError::NoThreshold), invalid settings, the
/// attacks', the oracle's and the trainer's errors.
pub fn run_study(
    classifier: &mut Classifier,
    generator: Option<&LanguageModel>,
    oracle: &mut dyn Oracle,
    data: StudyData<'_>,
    config: &StudyConfig,
) -> Result<StudyReport> {
    let target_fnr = classifier.threshold_choice().map_or(0.05, |c| c.target_fnr);
    let book = data.corpus;
    let (train, valid, test) = match data.own {
        Some(own) => (own.train.clone(), own.validation.clone(), own.test.clone()),
        None => {
            let train = sample_examples(
                book.split(Split::Train),
                config.train_pairs,
                config.train_positive_share,
                config.seed,
            );
            // The book alone has too few injuries to place a threshold for a 5% FNR.
            let mut valid = sample_examples(
                book.split(Split::Validation),
                config.valid_pairs,
                0.5,
                config.seed,
            );
            valid.extend(examples(data.dev));
            let test =
                sample_examples(book.split(Split::Test), config.test_pairs, 0.5, config.seed);
            (train, valid, test)
        }
    };
    for (name, set) in [
        ("training", &train),
        ("validation", &valid),
        ("test", &test),
    ] {
        if !set.iter().any(|e| e.label) || set.iter().all(|e| e.label) {
            return Err(crate::AttackError::data(
                "in-distribution data",
                format!("the {name} pairs need both injuries and safe pairs"),
            ));
        }
    }
    let dev_test = examples(data.dev_test);
    let pool_train = prompts(book.split(Split::Train));
    let pool_test = prompts(book.split(Split::Test));
    let (train_seeds, train_pick, held_seeds, held_out_pick, dev_before) = {
        let victim = Victim::new(classifier)?;
        let (t, tp) = flagged_seeds(
            &victim,
            oracle,
            data.dev,
            config.train_seeds * config.rounds,
        )?;
        let (h, hp) = flagged_seeds(&victim, oracle, data.dev_test, config.held_out_seeds)?;
        let d = in_distribution(&victim, &dev_test, target_fnr)?;
        (t, tp, h, hp, d)
    };
    let held = HeldOut {
        test: &test,
        target_fnr,
        seeds: &held_seeds,
        pool: &pool_test,
    };
    let before = measure(
        &Victim::new(classifier)?,
        generator,
        oracle,
        held,
        &config.suite,
    )?;
    let adversarial = AdversarialConfig {
        rounds: config.rounds,
        suite: config.suite.clone(),
        seeds_per_round: config.train_seeds,
        repeat: config.repeat,
        train: TrainConfig {
            learning_rate: config.learning_rate,
            oversample_positives: config.oversample_positives,
            epochs: 1,
            target_fnr,
            progress: false,
            seed: config.seed,
            ..TrainConfig::default()
        },
    };
    let report = adversarial_training(
        classifier,
        generator,
        oracle,
        &train,
        &valid,
        &train_seeds,
        &pool_train,
        &adversarial,
    )?;
    let victim = Victim::new(classifier)?;
    let after = measure(&victim, generator, oracle, held, &config.suite)?;
    let dev_after = in_distribution(&victim, &dev_test, target_fnr)?;
    Ok(StudyReport {
        train_pick,
        held_out_pick,
        comparison: compare(before, after),
        dev_test: (dev_before, dev_after),
        rounds: report.rounds,
        examples: report.examples,
    })
}
