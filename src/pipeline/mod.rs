//! The end-to-end run behind `make demo`: corpus → prompts → completions → labels → …, each
//! stage cached in a run folder so that a re-run skips finished stages, `--from STAGE` redoes
//! a stage and those after it, and a crash or Ctrl-C loses no finished stage.

mod config;
mod estimates;
mod finetune;
pub mod judge;
mod learn;
pub mod outputs;
pub mod plot;
mod policies;
mod report;
mod run_dir;
mod stages;

use std::path::PathBuf;
use std::time::Instant;

pub use config::{
    ActiveStageConfig, ClassifierStageConfig, ConfigError, DataConfig, DistillStageConfig,
    FilterStageConfig, GeneratorConfig, PipelineConfig,
};
pub use estimates::{Headline, Policy, Regime};
pub use learn::classifier_data;
pub use run_dir::{RunDir, Stage, StageRecord, fingerprint, read_json, write_atomic, write_json};

/// What can stop the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A settings problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file that is not what its type expects.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why it does not parse.
        #[source]
        source: serde_json::Error,
    },
    /// From the model runtime.
    #[error(transparent)]
    Runtime(#[from] nines_runtime::RuntimeError),
    /// From the data crate.
    #[error(transparent)]
    Data(#[from] nines_data::Error),
    /// From the estimators.
    #[error(transparent)]
    Estimate(#[from] nines_estimate::EstimateError),
    /// From the classifier.
    #[error(transparent)]
    Classify(#[from] nines_classify::ClassifyError),
    /// From the active-learning selector.
    #[error(transparent)]
    Active(#[from] nines_active::ActiveError),
    /// From the rejection-sampling filter.
    #[error(transparent)]
    Filter(#[from] nines_filter::FilterError),
    /// From PPO distillation.
    #[error(transparent)]
    Distill(#[from] nines_distill::DistillError),
    /// From fine-tuning the generator.
    #[error(transparent)]
    Finetune(#[from] nines_runtime::train::FinetuneError),
    /// From LibTorch, outside the crates' own calls.
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    /// A classifier was saved without a threshold; the stage needs one.
    #[error("{0}: the classifier has no threshold (train it with a target FNR)")]
    NoThreshold(PathBuf),
    /// A stage's input lacks what the stage needs (an earlier stage's output is stale or
    /// was edited).
    #[error("{file}: {problem}")]
    StaleInput {
        /// The file.
        file: PathBuf,
        /// What is missing, naming the record.
        problem: String,
    },
    /// A policy has no labeled completions in a regime: nothing to estimate from.
    #[error("no labeled {policy} completions in the {regime} regime")]
    NoLabeledCompletions {
        /// The policy.
        policy: &'static str,
        /// The regime.
        regime: &'static str,
    },
    /// A figure could not be drawn.
    #[error("plot: {0}")]
    Plot(String),
    /// The settings could not be written as TOML.
    #[error("settings: {0}")]
    Toml(#[from] toml::ser::Error),
    /// A value could not be written as JSON.
    #[error("json: {0}")]
    Serialize(#[source] serde_json::Error),
}

impl PipelineError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PipelineError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Raised whenever a stage's code changes what it produces, so that stage records and caches
/// of earlier code are not reused.
const PIPELINE_REVISION: u32 = 1;

/// The pipeline over a run folder.
#[derive(Debug)]
pub struct Pipeline {
    config: PipelineConfig,
    run: RunDir,
    /// Content digests of the generator file and the classifier backbone's files.
    model_digests: ModelDigests,
}

/// What the model files hold, for the stages' cache keys: an edited or replaced model file
/// redoes what it produced even where its path is unchanged.
#[derive(Debug, Clone, Default, serde::Serialize)]
struct ModelDigests {
    generator: String,
    backbone: String,
}

impl ModelDigests {
    fn of(config: &PipelineConfig) -> Result<Self, PipelineError> {
        Ok(ModelDigests {
            generator: run_dir::content_digest(&config.generator.model)?,
            backbone: run_dir::content_digest(&config.classifier.model.backbone)?,
        })
    }
}

impl Pipeline {
    /// Opens the run folder named by the configuration and records the configuration there.
    pub fn new(config: PipelineConfig) -> Result<Self, PipelineError> {
        config.validate("settings")?;
        config.check_inputs("settings")?;
        let run = RunDir::open(&config.run_dir)?;
        let text = toml::to_string_pretty(&config)?;
        write_atomic(&run.path("config.toml"), text.as_bytes())?;
        let model_digests = ModelDigests::of(&config)?;
        Ok(Pipeline {
            config,
            run,
            model_digests,
        })
    }

    /// The run folder.
    pub fn run_dir(&self) -> &RunDir {
        &self.run
    }

    /// The settings.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// Settings each stage depends on (cumulative: a stage depends on what its inputs did).
    pub(crate) fn inputs(&self, stage: Stage) -> serde_json::Value {
        let c = &self.config;
        let mut v = serde_json::json!({
            "seed": c.seed,
            "data": c.data,
            "code": [env!("CARGO_PKG_VERSION"), &PIPELINE_REVISION.to_string()],
        });
        let mut add = |from: Stage, key: &str, value: serde_json::Value| {
            if stage >= from {
                v[key] = value;
            }
        };
        // The oracle chooses the injury-prone test prompts and labels the training set and the
        // completions: an edited oracle redoes them.
        add(
            Stage::Prompts,
            "oracle",
            nines_data::label::oracle::lexicon::version().into(),
        );
        // The generator writes part of the classifier's training data.
        add(
            Stage::Finetune,
            "generator",
            serde_json::to_value(&c.generator).unwrap_or_default(),
        );
        add(
            Stage::Finetune,
            "generator_file",
            self.model_digests.generator.clone().into(),
        );
        add(
            Stage::Classifier,
            "classifier",
            serde_json::to_value(&c.classifier).unwrap_or_default(),
        );
        add(
            Stage::Classifier,
            "backbone_files",
            self.model_digests.backbone.clone().into(),
        );
        add(
            Stage::Active,
            "active",
            serde_json::to_value(&c.active).unwrap_or_default(),
        );
        // The distill stage chooses the filter's threshold (its reward is the classifier's
        // margin under it), so the filter's settings count from there on.
        add(
            Stage::Distill,
            "distill",
            serde_json::to_value(&c.distill).unwrap_or_default(),
        );
        add(
            Stage::Distill,
            "filter",
            serde_json::to_value(&c.filter).unwrap_or_default(),
        );
        v["stage"] = stage.name().into();
        v
    }

    /// Runs every stage from `from` on (earlier finished stages are reused), skipping stages
    /// already finished with the same settings. `log` receives one line per stage.
    pub fn run(
        &self,
        from: Option<Stage>,
        log: &mut dyn FnMut(&str),
    ) -> Result<Vec<(Stage, StageRecord)>, PipelineError> {
        self.run_until(from, None, log)
    }

    /// [`run`](Self::run), stopping after stage `until` (every stage when `None`).
    pub fn run_until(
        &self,
        from: Option<Stage>,
        until: Option<Stage>,
        log: &mut dyn FnMut(&str),
    ) -> Result<Vec<(Stage, StageRecord)>, PipelineError> {
        nines_runtime::device::set_threads(self.config.threads)?;
        if let Some(stage) = from {
            self.run.invalidate_from(stage)?;
        }
        let mut done = Vec::new();
        let mut rerun_rest = false;
        for stage in Stage::ALL {
            if until.is_some_and(|last| stage > last) {
                break;
            }
            let fp = fingerprint(&self.inputs(stage));
            if !rerun_rest && let Some(record) = self.run.finished(stage, &fp) {
                log(&format!(
                    "{:<12} cached ({:.0}s when run)",
                    stage.name(),
                    record.seconds
                ));
                done.push((stage, record));
                continue;
            }
            // Everything after a stage that runs again depends on its new outputs.
            rerun_rest = true;
            self.run.invalidate_from(stage)?;
            log(&format!("{:<12} running", stage.name()));
            let start = Instant::now();
            use outputs::StageOutput as O;
            let output = match stage {
                Stage::Prompts => O::Prompts(stages::prompts(self)?),
                Stage::Dataset => O::Dataset(learn::dataset(self)?),
                Stage::Classifier => O::Classifier(learn::classifier(self)?),
                Stage::Active => O::Active(learn::active(self)?),
                Stage::Finetune => O::Finetune(finetune::finetune(self)?),
                Stage::Completions => O::Completions(stages::completions(self)?),
                Stage::Labels => O::Labels(stages::labels(self)?),
                Stage::Filter => O::Filter(policies::filter(self)?),
                Stage::Distill => O::Distill(policies::distill(self)?),
                Stage::Judge => O::Judge(judge::judge(self)?),
                Stage::Estimates => O::Estimates(estimates::estimates(self)?),
                Stage::Report => O::Report(report::write(self, &done)?),
            };
            let record = StageRecord {
                fingerprint: fp,
                seconds: start.elapsed().as_secs_f64(),
                output,
            };
            self.run.mark_finished(stage, &record)?;
            log(&format!(
                "{:<12} done in {:.0}s: {}",
                stage.name(),
                record.seconds,
                record.output.brief()
            ));
            done.push((stage, record));
        }
        Ok(done)
    }
}
