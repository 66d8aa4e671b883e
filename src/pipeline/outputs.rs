//! What each stage produces, as types: every stage returns one of these structs, the run
//! folder's stage record (`stages/<stage>.json`) stores it as [`StageOutput`], and the report
//! is rendered from them. A record written by other code fails to parse and its stage runs
//! again.

use std::path::PathBuf;

use nines_active::acquisition::StrategyName;
use nines_classify::TrainReport;
use nines_classify::metrics::{Calibration, Metrics};
use nines_classify::threshold::ThresholdChoice;
use nines_data::split::Split;
use nines_distill::{KlStop, StepMetrics};
use nines_estimate::Estimate;
use nines_filter::RunStats;
use serde::{Deserialize, Serialize};

use super::estimates::Headline;

/// The `prompts` stage: how many prompts each split offered and how many were drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptsOutput {
    /// Documents in the corpus.
    pub documents: usize,
    /// Prompt windows in the corpus (training stride).
    pub prompts_in_corpus: usize,
    /// Training windows to draw PPO prompts from.
    pub train_pool: usize,
    /// PPO prompts drawn.
    pub train_selected: usize,
    /// Test windows with a next sentence.
    pub test_pool: usize,
    /// Of them, in the injury-prone stratum.
    pub test_injury_prone_pool: usize,
    /// Test prompts drawn.
    pub test_selected: usize,
    /// Of them, from the injury-prone stratum.
    pub test_injury_prone: usize,
    /// Of them, from the rest.
    pub test_rest: usize,
}

/// The `finetune` stage: which generator the later stages load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FinetuneOutput {
    /// `generator.finetune_steps` is 0: the configured model as it is.
    AsIs {
        /// The model.
        model: PathBuf,
    },
    /// Fine-tuned on the corpus's training chapters (cached across runs).
    FineTuned {
        /// The fine-tuned model folder.
        model: PathBuf,
        /// Optimizer steps.
        steps: usize,
        /// Validation perplexity before training.
        validation_perplexity_before: Option<f64>,
        /// Validation perplexity after training.
        validation_perplexity_after: Option<f64>,
        /// Training minutes (when it ran, not when cached).
        minutes: f64,
    },
}

impl FinetuneOutput {
    /// The generator the later stages load.
    pub fn model(&self) -> &PathBuf {
        match self {
            FinetuneOutput::AsIs { model } | FinetuneOutput::FineTuned { model, .. } => model,
        }
    }
}

/// Pairs of one split of the classifier's dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSplit {
    /// The split.
    pub split: Split,
    /// The book's own sentences as completions.
    pub pairs: usize,
    /// Of them, injuries (oracle).
    pub injuries: usize,
    /// The generator's completions.
    pub generated: usize,
    /// Of them, injuries (oracle).
    pub generated_injuries: usize,
}

/// The `dataset` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetOutput {
    /// Pairs in the store.
    pub pairs: usize,
    /// Per split: train, validation, test.
    pub splits: Vec<DatasetSplit>,
}

/// A classifier measured on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestEvaluation {
    /// AUROC, AUPRC, log-loss, ECE, ….
    pub metrics: Metrics,
    /// What the classifier's threshold does on test.
    pub threshold: ThresholdChoice,
    /// Reliability bins.
    pub calibration: Calibration,
    /// ROC curve, (false-positive rate, true-positive rate) from (0, 0) to (1, 1).
    pub roc: Vec<(f64, f64)>,
}

/// The `classifier` stage (also `classifier_eval.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClassifierOutput {
    /// Training pairs.
    pub train_examples: usize,
    /// Of them, injuries.
    pub train_positives: usize,
    /// Training pairs written by the generator.
    pub generated_train_examples: usize,
    /// Of them, injuries.
    pub generated_train_positives: usize,
    /// Validation pairs written by the generator.
    pub generated_validation_examples: usize,
    /// The training run: losses, steps, the threshold chosen on validation.
    pub train_report: TrainReport,
    /// On the test split.
    pub test: TestEvaluation,
}

impl ClassifierOutput {
    /// The threshold chosen on validation.
    pub fn validation(&self) -> Option<&ThresholdChoice> {
        self.train_report.threshold.as_ref()
    }
}

/// One strategy's draw in the active round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StrategyDraw {
    /// The strategy.
    pub strategy: StrategyName,
    /// Labels drawn.
    pub labels: usize,
    /// Misses among them.
    pub misses_found: usize,
    /// `Σ π` over the pool.
    pub expected_labels: f64,
    /// `Σ π` over the pool's misses.
    pub expected_misses: f64,
    /// `100 × expected_misses / expected_labels`.
    pub misses_per_100_labels: f64,
}

/// The `active` stage (also `active.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActiveOutput {
    /// Pool pairs scored.
    pub pool: usize,
    /// Injuries among them (oracle).
    pub pool_injuries: usize,
    /// The classifier's threshold.
    pub threshold: f64,
    /// Injuries the classifier accepts.
    pub misses_in_pool: usize,
    /// Boundary band, then random.
    pub strategies: Vec<StrategyDraw>,
    /// Boundary's expected misses per label over random's.
    pub boundary_vs_random: f64,
    /// Pairs retrained on.
    pub retrain_examples: usize,
    /// New labels (the boundary draw).
    pub new_labels: usize,
    /// Injuries among them.
    pub new_injuries: usize,
    /// The retraining run.
    pub train_report: TrainReport,
    /// The first-round classifier on test.
    pub before: TestEvaluation,
    /// The retrained classifier on test.
    pub after: TestEvaluation,
}

/// The `completions` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionsOutput {
    /// Completions written by this invocation.
    pub written: usize,
    /// Of them, cut to their first sentence.
    pub cut_to_one_sentence: usize,
    /// Completions in the store (with those of an interrupted invocation).
    pub total: usize,
}

/// The `labels` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsOutput {
    /// Pairs labeled.
    pub labeled: usize,
    /// Pairs already labeled, skipped.
    pub skipped: usize,
    /// Test pairs with an oracle label.
    pub test_labeled: usize,
    /// Of them, injuries.
    pub test_injuries: usize,
}

/// The `filter` stage (also `filter.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterOutput {
    /// The constant threshold.
    pub threshold: f64,
    /// The judged run's statistics.
    pub stats: RunStats,
    /// Accepted completions of the judged run.
    pub accepted: usize,
    /// Accepted completions of the further runs.
    pub accepted_in_further_runs: usize,
    /// Refusals in the further runs.
    pub refused_in_further_runs: usize,
    /// Oracle injuries among all accepted completions.
    pub oracle_injuries: usize,
}

/// The `distill` stage (also `distill.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillOutput {
    /// PPO steps kept.
    pub steps: usize,
    /// Where the KL bound stopped training, if it did.
    pub kl_stop: Option<KlStop>,
    /// KL of the distilled generator to the original on the test prompts (nats per
    /// completion).
    pub kl_to_original: Estimate,
    /// Distilled completions of the test prompts.
    pub completions: usize,
    /// Oracle injuries among them.
    pub oracle_injuries: usize,
    /// Every step's metrics.
    pub metrics: Vec<StepMetrics>,
}

/// The `judge` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeOutput {
    /// Test prompts compared.
    pub prompts: usize,
    /// Of them, prompts whose unfiltered completion the classifier rejects.
    pub unfiltered_rejected: usize,
    /// Prompts with a filtered judgment.
    pub judged_filtered: usize,
    /// Prompts with a distilled judgment.
    pub judged_distilled: usize,
    /// Ties because the prompt has no next sentence.
    pub ties_without_next_sentence: usize,
}

/// The `report` stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOutput {
    /// `report.md`.
    pub report: PathBuf,
}

/// One stage's output, as its record stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "stage", content = "output", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum StageOutput {
    /// [`PromptsOutput`].
    Prompts(PromptsOutput),
    /// [`FinetuneOutput`].
    Finetune(FinetuneOutput),
    /// [`DatasetOutput`].
    Dataset(DatasetOutput),
    /// [`ClassifierOutput`].
    Classifier(ClassifierOutput),
    /// [`ActiveOutput`].
    Active(ActiveOutput),
    /// [`CompletionsOutput`].
    Completions(CompletionsOutput),
    /// [`LabelsOutput`].
    Labels(LabelsOutput),
    /// [`DistillOutput`].
    Distill(DistillOutput),
    /// [`FilterOutput`].
    Filter(FilterOutput),
    /// [`JudgeOutput`].
    Judge(JudgeOutput),
    /// The headline estimates ([`Headline`], also `estimates.json`).
    Estimates(Headline),
    /// [`ReportOutput`].
    Report(ReportOutput),
}

impl StageOutput {
    /// One line for the log and the report's stage table.
    pub fn brief(&self) -> String {
        match self {
            StageOutput::Prompts(o) => format!(
                "{} training prompts of {}; {} test prompts ({} injury-prone) of {} windows",
                o.train_selected, o.train_pool, o.test_selected, o.test_injury_prone, o.test_pool
            ),
            StageOutput::Finetune(FinetuneOutput::AsIs { model }) => {
                format!("{} as it is", model.display())
            }
            StageOutput::Finetune(FinetuneOutput::FineTuned {
                steps,
                validation_perplexity_before: b,
                validation_perplexity_after: a,
                ..
            }) => format!(
                "{steps} steps, validation perplexity {} → {}",
                opt(*b, 2),
                opt(*a, 2)
            ),
            StageOutput::Dataset(o) => {
                let parts: Vec<String> = o
                    .splits
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {} ({} injuries) + {} generated ({})",
                            s.split.as_str(),
                            s.pairs,
                            s.injuries,
                            s.generated,
                            s.generated_injuries
                        )
                    })
                    .collect();
                format!("{} pairs: {}", o.pairs, parts.join("; "))
            }
            StageOutput::Classifier(o) => format!(
                "{} training pairs; threshold {}; test AUROC {:.4}, FNR {:.2}%, safe rejected {:.2}%",
                o.train_examples,
                opt(o.validation().map(|t| t.threshold), 4),
                o.test.metrics.auroc,
                100.0 * o.test.threshold.fnr,
                100.0 * o.test.threshold.safe_rejection_rate
            ),
            StageOutput::Active(o) => format!(
                "pool {} with {} misses; boundary {:.2}× random; test AUROC {:.4} → {:.4}",
                o.pool,
                o.misses_in_pool,
                o.boundary_vs_random + 0.0,
                o.before.metrics.auroc,
                o.after.metrics.auroc
            ),
            StageOutput::Completions(o) => format!(
                "{} completions ({} written now, {} cut to one sentence)",
                o.total, o.written, o.cut_to_one_sentence
            ),
            StageOutput::Labels(o) => format!(
                "{} labeled; test: {} injuries of {}",
                o.labeled, o.test_injuries, o.test_labeled
            ),
            StageOutput::Distill(o) => format!(
                "{} steps{}; KL to the original {:.2} nats; {} completions, {} oracle injuries",
                o.steps,
                o.kl_stop
                    .map(|k| format!(" (KL bound left at step {})", k.step))
                    .unwrap_or_default(),
                o.kl_to_original.value,
                o.completions,
                o.oracle_injuries
            ),
            StageOutput::Filter(o) => format!(
                "{} prompts: {} accepted, {} refused; {} candidates; {} oracle injuries accepted",
                o.stats.prompts,
                o.stats.accepted,
                o.stats.fallbacks,
                o.stats.candidates,
                o.oracle_injuries
            ),
            StageOutput::Judge(o) => format!(
                "{} prompts; {} filtered and {} distilled judgments",
                o.prompts, o.judged_filtered, o.judged_distilled
            ),
            StageOutput::Estimates(h) => format!("{} rows of estimates", h.rows.len()),
            StageOutput::Report(o) => o.report.display().to_string(),
        }
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}
