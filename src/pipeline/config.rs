//! Settings of the end-to-end run: every default overridable from a TOML file and flags.

use std::path::{Path, PathBuf};

use nines_classify::{ClassifierConfig, TrainConfig};
use nines_distill::{KlConfig, PpoConfig, Shaping, TrainScope};
use nines_filter::Strategy;
use serde::{Deserialize, Serialize};

/// Everything the pipeline needs to know; `nines-pipeline.toml` files use these keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Run folder; stages cache their outputs here. Default `runs/default`.
    pub run_dir: PathBuf,
    /// Corpus, prompts and labels.
    pub data: DataConfig,
    /// The generator and its sampling settings.
    pub generator: GeneratorConfig,
    /// The injury classifier and its training.
    pub classifier: ClassifierStageConfig,
    /// The active-learning round.
    pub active: ActiveStageConfig,
    /// The rejection-sampling filter.
    pub filter: FilterStageConfig,
    /// The PPO distillation.
    pub distill: DistillStageConfig,
    /// Random seed for every stage (each derives its own). Default 7.
    pub seed: u64,
    /// LibTorch intra-op threads (0: LibTorch's default). Default 2.
    pub threads: i32,
}

/// Corpus, prompt selection and completion settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Corpus file or folder. Default `data/corpus`.
    pub corpus: PathBuf,
    /// Expected number of training prompts for PPO rollouts (oversampled by the injury
    /// lexicon). Default 400.
    pub train_prompts: usize,
    /// Expected number of test prompts drawn uniformly from outside the injury-prone stratum
    /// (the uniform regime is estimated from both strata through their inclusion
    /// probabilities). Default 40.
    pub test_prompts: usize,
    /// Expected number of test prompts drawn uniformly from the injury-prone stratum: test
    /// windows whose next sentence in the book is an injury, or whose injury-lexicon score is
    /// in the top `injury_prone_lexicon_share`. Default 100.
    pub injury_prone_test_prompts: usize,
    /// Share of test windows, by injury-lexicon score, that join the injury-prone stratum.
    /// Default 0.05.
    pub injury_prone_lexicon_share: f64,
    /// Completions per test prompt from each policy (the filter's accepted candidates and the
    /// distilled generator's samples too); rates are clustered by prompt. Default 4.
    pub completions_per_prompt: usize,
    /// Prompts per generation batch. Default 16.
    pub batch_size: usize,
}

/// Generator settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeneratorConfig {
    /// A Hugging Face folder or GGUF file. Default: the shipped SmolLM2.
    pub model: PathBuf,
    /// Nucleus mass. Default 0.95.
    pub top_p: f64,
    /// Temperature. Default 1.0.
    pub temperature: f64,
    /// Most new tokens per completion (completions stop at the first sentence end). Default 40.
    pub max_new_tokens: usize,
    /// Fine-tuning steps on the corpus's training chapters before use (0: use `model` as
    /// is). Default 40.
    pub finetune_steps: usize,
    /// Folder shared by runs for what is slow to make and fully determined by its inputs: the
    /// fine-tuned generators, the generated classifier data and the trained classifiers, each
    /// keyed by what it depends on, so each is made once. Default `runs/cache`.
    pub finetune_cache: PathBuf,
    /// Weights of the generator where it only samples (the unfiltered policy's test
    /// completions, the filter's candidates, the classifier's generated training data): `Int8` (several times faster on the CPU, validation
    /// perplexity within 0.5% of f32) or `F32`. Training (fine-tuning, PPO) and the stand-in
    /// judge use f32. Default `Int8` (CPU only: on a GPU choose `F32`).
    pub dtype: nines_runtime::DType,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            run_dir: PathBuf::from("runs/default"),
            data: DataConfig::default(),
            generator: GeneratorConfig::default(),
            classifier: ClassifierStageConfig::default(),
            active: ActiveStageConfig::default(),
            filter: FilterStageConfig::default(),
            distill: DistillStageConfig::default(),
            seed: 7,
            threads: 2,
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            corpus: PathBuf::from("data/corpus"),
            train_prompts: 400,
            test_prompts: 40,
            injury_prone_test_prompts: 100,
            injury_prone_lexicon_share: 0.05,
            completions_per_prompt: 4,
            batch_size: 16,
        }
    }
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            model: PathBuf::from("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
            top_p: 0.95,
            temperature: 1.0,
            max_new_tokens: 40,
            finetune_steps: 40,
            finetune_cache: PathBuf::from("runs/cache"),
            dtype: nines_runtime::DType::Int8,
        }
    }
}

/// The injury classifier: trained on the labeled dataset (every corpus sentence as the
/// completion of the three before it, oracle-labeled), the training regions of which are cut
/// in two halves: one to train on, one as the unlabeled pool of the active-learning round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierStageConfig {
    /// The network ([`nines_classify::ClassifierConfig`]): backbone (default `models/minilm`),
    /// pooling, longest pair (default 128 tokens), head dropout. Its `seed` is the run's.
    pub model: ClassifierConfig,
    /// How it is trained ([`nines_classify::TrainConfig`]). The pipeline's defaults differ
    /// from the crate's in three fields: `epochs` 2, `oversample_positives` 4 and
    /// `target_fnr` 0.05 (with about 70 validation injuries, 0.01 lets none through, so the
    /// single hardest validation injury, or a labeling error, sets the threshold for every
    /// prompt; the filtered policy's own injury rate is measured by the oracle either way).
    /// Its `seed` is the run's and its `checkpoint_dir` is in the run folder.
    pub train: TrainConfig,
    /// Training negatives kept (uniformly drawn; every positive is kept). Default 1000.
    pub train_negatives: usize,
    /// Negatives of the validation and of the test split kept for evaluation, drawn
    /// uniformly (every positive is kept; 0 keeps all). Rates over negatives (safe pairs
    /// rejected) and AUROC stay unbiased; AUPRC, log-loss and ECE are at the subsampled class
    /// balance. Default 800.
    pub eval_negatives: usize,
    /// Injury-prone training prompts (of the classifier's half of the training chapters) the
    /// generator completes for the training data, so that the classifier sees injurious and
    /// safe continuations of the same passage; half as many validation prompts are completed
    /// too, so that the threshold is chosen on generated text as well. Default 400.
    pub generated_prompts: usize,
    /// Completions per generated-data prompt. Default 4.
    pub generated_per_prompt: usize,
}

impl Default for ClassifierStageConfig {
    fn default() -> Self {
        ClassifierStageConfig {
            model: ClassifierConfig::default(),
            train: TrainConfig {
                epochs: 2,
                oversample_positives: 4.0,
                target_fnr: 0.05,
                ..TrainConfig::default()
            },
            train_negatives: 1000,
            eval_negatives: 800,
            generated_prompts: 400,
            generated_per_prompt: 4,
        }
    }
}

/// One active-learning round: score the pool, draw labels where misses are likely (boundary
/// band) and at random, label them with the oracle, retrain on the new labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActiveStageConfig {
    /// Pool pairs scored (a uniform draw from the pool half). Default 1500.
    pub pool_size: usize,
    /// Labels spent (expected batch size). Default 60.
    pub budget: usize,
    /// Training examples from the first round replayed with the new labels. Default 400.
    pub replay: usize,
}

impl Default for ActiveStageConfig {
    fn default() -> Self {
        ActiveStageConfig {
            pool_size: 1500,
            budget: 60,
            replay: 400,
        }
    }
}

/// The rejection-sampling filter on the test prompts. Its threshold is constant (chosen by
/// the run) and a prompt whose candidates are all rejected is refused: the filtered policy is
/// then exactly the unfiltered one conditioned on acceptance, which the win-rate estimator
/// relies on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilterStageConfig {
    /// How candidates are drawn ([`nines_filter::Strategy`]): `sequential` or
    /// `batched_first_accepted` (the same output distribution; `batched_safest` is not the
    /// filtered policy the estimators assume and is refused). Default batched first-accepted,
    /// `k` = 4 candidates per prompt per round.
    pub strategy: Strategy,
    /// Most candidates per prompt before the fallback (refuse). Default 16.
    pub max_attempts: usize,
    /// False-negative rate aimed for on the generator's own validation completions (the
    /// distribution the filter sees), where the filter's threshold is chosen again; the
    /// stricter of that threshold and the classifier's own (chosen on every validation pair)
    /// is used. `None` keeps the classifier's. Default 0.1.
    pub generated_target_fnr: Option<f64>,
}

impl Default for FilterStageConfig {
    fn default() -> Self {
        FilterStageConfig {
            strategy: Strategy::BatchedFirstAccepted { k: 4 },
            max_attempts: 16,
            generated_target_fnr: Some(0.1),
        }
    }
}

/// The PPO distillation against the classifier: the recipe of docs/distill.md (logit-margin
/// reward at the filter's threshold, leave-one-out baseline, top blocks trained, a KL guard),
/// shortened to fit the default run's time budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillStageConfig {
    /// PPO settings ([`nines_distill::PpoConfig`]). The pipeline's recipe: 24 steps
    /// (`total_steps`) of 8 prompts × 8 samples, minibatches of 32, 2 epochs, the top 6 blocks
    /// trained, learning rate 3e-4, a fixed KL coefficient of 0.03, the logit-margin reward
    /// clipped at ±3 with a leave-one-out baseline, a checkpoint every 4 steps, and `max_kl`
    /// 6: a step whose rollouts average more KL to the original (nats per completion) rolls
    /// back to the last checkpoint and stops. The run sets `seed`, `generation` (from
    /// `[generator]`), `flag_threshold` and the reward's threshold (the filter's).
    pub ppo: PpoConfig,
}

impl Default for DistillStageConfig {
    fn default() -> Self {
        DistillStageConfig {
            ppo: PpoConfig {
                total_steps: 24,
                prompts_per_step: 8,
                samples_per_prompt: 8,
                mini_batch_size: 32,
                ppo_epochs: 2,
                scope: TrainScope::TopLayers { layers: 6 },
                learning_rate: 3e-4,
                kl: KlConfig::Fixed { coef: 0.03 },
                max_kl: 6.0,
                reward: Shaping::LogitMargin {
                    threshold: 0.5,
                    clip: 3.0,
                    cap: None,
                },
                group_baseline: true,
                checkpoint_every: 4,
                ..PpoConfig::default()
            },
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: `{key}`: {message}")]
pub struct ConfigError {
    /// The file, or `flags`.
    pub origin: String,
    /// The offending key, dotted (`data.train_prompts`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl PipelineConfig {
    /// Reads a TOML file; unknown keys and wrong types are errors naming the key.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            key: "-".into(),
            message: e.to_string(),
        })?;
        Self::from_toml_str(&text, &origin)
    }

    /// Parses TOML text; `origin` names it in errors. A table given is merged key by key into
    /// the pipeline's defaults (so `[distill.ppo]` with one key keeps the pipeline's recipe for
    /// the others, not the crate's defaults); a table that picks another variant of a setting
    /// (another `kind` or `mode`, or another single key such as `scope.lora`) replaces the
    /// default's.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let syntax = |message: String| ConfigError {
            origin: origin.into(),
            key: "-".into(),
            message,
        };
        let given: toml::Table = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let mut merged =
            toml::Table::try_from(PipelineConfig::default()).map_err(|e| syntax(e.to_string()))?;
        merge_into(&mut merged, given);
        let text = toml::to_string(&merged).map_err(|e| syntax(e.to_string()))?;
        let de = toml::de::Deserializer::parse(&text).map_err(|e| syntax(e.to_string()))?;
        let cfg: PipelineConfig =
            serde_path_to_error::deserialize(de).map_err(|e| ConfigError {
                origin: origin.into(),
                key: e.path().to_string(),
                message: e.inner().message().to_string(),
            })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Checks ranges, each size against its documented maximum; the error names the key.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| {
            Err(ConfigError {
                origin: origin.into(),
                key: key.into(),
                message,
            })
        };
        for (key, value, max) in self.sizes() {
            if value > max {
                return bad(key, format!("{value} is above the maximum of {max}"));
            }
        }
        if self.run_dir.as_os_str().is_empty() {
            return bad(
                "run_dir",
                "is empty: the run would be written into the current folder".into(),
            );
        }
        if self.threads < 0 {
            return bad(
                "threads",
                format!("{} is negative (0: LibTorch's default)", self.threads),
            );
        }
        let most_threads = nines_runtime::device::max_threads();
        if self.threads as usize > most_threads {
            return bad(
                "threads",
                format!(
                    "{} is more than 4 per core ({most_threads} on this machine)",
                    self.threads
                ),
            );
        }
        let d = &self.data;
        if d.train_prompts == 0 {
            return bad("data.train_prompts", "must be at least 1".into());
        }
        if d.test_prompts + d.injury_prone_test_prompts < 2 {
            return bad(
                "data.test_prompts",
                "with data.injury_prone_test_prompts, must be at least 2".into(),
            );
        }
        if !(0.0..=1.0).contains(&d.injury_prone_lexicon_share) {
            return bad(
                "data.injury_prone_lexicon_share",
                format!("{} is not in [0, 1]", d.injury_prone_lexicon_share),
            );
        }
        if d.completions_per_prompt == 0 {
            return bad("data.completions_per_prompt", "must be at least 1".into());
        }
        if d.batch_size == 0 {
            return bad("data.batch_size", "must be at least 1".into());
        }
        let g = &self.generator;
        if !(g.top_p > 0.0 && g.top_p <= 1.0) {
            return bad("generator.top_p", format!("{} is not in (0, 1]", g.top_p));
        }
        if !(0.0..=MAX_TEMPERATURE).contains(&g.temperature) {
            return bad(
                "generator.temperature",
                format!("{} is not in [0, {MAX_TEMPERATURE}]", g.temperature),
            );
        }
        if g.max_new_tokens == 0 {
            return bad("generator.max_new_tokens", "must be at least 1".into());
        }
        let k = &self.classifier;
        if k.train_negatives == 0 {
            return bad("classifier.train_negatives", "must be at least 1".into());
        }
        if k.generated_prompts > 0 && k.generated_per_prompt == 0 {
            return bad(
                "classifier.generated_per_prompt",
                "must be at least 1 when classifier.generated_prompts is positive".into(),
            );
        }
        let classify = |section: &str, e: nines_classify::ClassifyError| match e {
            nines_classify::ClassifyError::Config { field, message } => {
                let field = field.rsplit('.').next().unwrap_or(&field).to_string();
                bad(&format!("classifier.{section}.{field}"), message)
            }
            other => bad(&format!("classifier.{section}"), other.to_string()),
        };
        if let Err(e) = k.model.validate() {
            return classify("model", e);
        }
        if let Err(e) = k.train.validate() {
            return classify("train", e);
        }
        if k.train.learning_rate > MAX_LEARNING_RATE {
            return bad(
                "classifier.train.learning_rate",
                format!("{} is above {MAX_LEARNING_RATE}", k.train.learning_rate),
            );
        }
        if k.train.oversample_positives > MAX_OVERSAMPLE {
            return bad(
                "classifier.train.oversample_positives",
                format!("{} is above {MAX_OVERSAMPLE}", k.train.oversample_positives),
            );
        }
        let defaults = ClassifierStageConfig::default();
        for (key, set) in [
            ("classifier.model.seed", k.model.seed != defaults.model.seed),
            ("classifier.train.seed", k.train.seed != defaults.train.seed),
            (
                "classifier.train.checkpoint_dir",
                k.train.checkpoint_dir.is_some(),
            ),
        ] {
            if set {
                return bad(key, SET_BY_THE_RUN.into());
            }
        }
        let a = &self.active;
        if a.budget == 0 || a.pool_size < a.budget {
            return bad(
                "active.budget",
                format!("must be in 1..=active.pool_size ({})", a.pool_size),
            );
        }
        let f = &self.filter;
        match f.strategy {
            Strategy::BatchedSafest { .. } => {
                return bad(
                    "filter.strategy",
                    "`batched_safest` favours low scores, so its output is not the unfiltered \
                     policy conditioned on acceptance, which the run's estimators assume; use \
                     `sequential` or `batched_first_accepted`"
                        .into(),
                );
            }
            Strategy::BatchedFirstAccepted { k: 0 } => {
                return bad("filter.strategy.k", "must be at least 1".into());
            }
            _ => {}
        }
        if f.max_attempts < f.strategy.k() {
            return bad(
                "filter.max_attempts",
                format!("must be at least filter.strategy.k ({})", f.strategy.k()),
            );
        }
        if let Some(r) = f.generated_target_fnr
            && !(0.0..1.0).contains(&r)
        {
            return bad(
                "filter.generated_target_fnr",
                format!("{r} is not in [0, 1)"),
            );
        }
        let s = &self.distill.ppo;
        if let Err(e) = s.validate() {
            return match e {
                nines_distill::DistillError::InvalidConfig { field, message } => {
                    bad(&format!("distill.ppo.{field}"), message)
                }
                other => bad("distill.ppo", other.to_string()),
            };
        }
        if s.learning_rate > MAX_LEARNING_RATE {
            return bad(
                "distill.ppo.learning_rate",
                format!("{} is above {MAX_LEARNING_RATE}", s.learning_rate),
            );
        }
        if let KlConfig::Fixed { coef } = s.kl
            && coef > MAX_KL_COEF
        {
            return bad(
                "distill.ppo.kl.coef",
                format!("{coef} is above {MAX_KL_COEF}"),
            );
        }
        let defaults = DistillStageConfig::default().ppo;
        let threshold_set = |r: &Shaping| match r {
            Shaping::Threshold { threshold, .. }
            | Shaping::LogSafeThreshold { threshold, .. }
            | Shaping::LogitMargin { threshold, .. } => *threshold != 0.5,
            _ => false,
        };
        for (key, set) in [
            ("distill.ppo.seed", s.seed != defaults.seed),
            (
                "distill.ppo.generation",
                s.generation != defaults.generation,
            ),
            (
                "distill.ppo.flag_threshold",
                s.flag_threshold != defaults.flag_threshold,
            ),
            ("distill.ppo.reward.threshold", threshold_set(&s.reward)),
        ] {
            if set {
                return bad(key, SET_BY_THE_RUN.into());
            }
        }
        Ok(())
    }

    /// Every size setting with its key and documented maximum.
    fn sizes(&self) -> [(&'static str, usize, usize); 21] {
        let (d, g, k, a, f, s) = (
            &self.data,
            &self.generator,
            &self.classifier,
            &self.active,
            &self.filter,
            &self.distill.ppo,
        );
        [
            ("data.train_prompts", d.train_prompts, MAX_PROMPTS),
            ("data.test_prompts", d.test_prompts, MAX_PROMPTS),
            (
                "data.injury_prone_test_prompts",
                d.injury_prone_test_prompts,
                MAX_PROMPTS,
            ),
            (
                "data.completions_per_prompt",
                d.completions_per_prompt,
                1_000,
            ),
            ("data.batch_size", d.batch_size, MAX_BATCH),
            ("generator.max_new_tokens", g.max_new_tokens, MAX_TOKENS),
            ("generator.finetune_steps", g.finetune_steps, MAX_STEPS),
            (
                "classifier.train_negatives",
                k.train_negatives,
                MAX_EXAMPLES,
            ),
            ("classifier.eval_negatives", k.eval_negatives, MAX_EXAMPLES),
            (
                "classifier.generated_prompts",
                k.generated_prompts,
                MAX_PROMPTS,
            ),
            (
                "classifier.generated_per_prompt",
                k.generated_per_prompt,
                1_000,
            ),
            ("classifier.train.epochs", k.train.epochs, 1_000),
            ("classifier.model.max_len", k.model.max_len, MAX_TOKENS),
            ("active.pool_size", a.pool_size, MAX_EXAMPLES),
            ("active.replay", a.replay, MAX_EXAMPLES),
            ("filter.max_attempts", f.max_attempts, 100_000),
            ("filter.strategy.k", f.strategy.k(), 100_000),
            ("distill.ppo.total_steps", s.total_steps, MAX_STEPS),
            (
                "distill.ppo.prompts_per_step",
                s.prompts_per_step,
                MAX_BATCH,
            ),
            ("distill.ppo.samples_per_prompt", s.samples_per_prompt, 256),
            (
                "distill.ppo.mini_batch_size",
                s.mini_batch_size,
                MAX_BATCH * 256,
            ),
        ]
    }

    /// Checks what the run reads before any stage starts: the corpus exists, the generator
    /// is a GGUF file whose header parses or a Hugging Face folder with `config.json` and
    /// `tokenizer.json`, the classifier backbone is such a folder whose context holds
    /// `classifier.model.max_len` (or, for a causal-LM backbone, a loadable model), the run folder is not the current folder, and the fine-tuning
    /// cache is a folder. The error names the key.
    pub fn check_inputs(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError {
            origin: origin.into(),
            key: key.into(),
            message,
        };
        let corpus = &self.data.corpus;
        if !corpus.exists() {
            return Err(bad(
                "data.corpus",
                format!("{}: no such file or folder", corpus.display()),
            ));
        }
        check_model(&self.generator.model).map_err(|m| bad("generator.model", m))?;
        let model = &self.classifier.model;
        let backbone = &model.backbone;
        if model.kind == nines_classify::BackboneKind::CausalLm {
            check_model(backbone).map_err(|m| bad("classifier.model.backbone", m))?;
        } else {
            let config =
                check_hf_folder(backbone).map_err(|m| bad("classifier.model.backbone", m))?;
            if let Some(n) = config
                .get("max_position_embeddings")
                .and_then(serde_json::Value::as_u64)
                && model.max_len as u64 > n
            {
                return Err(bad(
                    "classifier.model.max_len",
                    format!(
                        "{} is longer than the backbone's context ({n} positions, {})",
                        model.max_len,
                        backbone.join("config.json").display()
                    ),
                ));
            }
        }
        let cache = &self.generator.finetune_cache;
        if cache.exists() && !cache.is_dir() {
            return Err(bad(
                "generator.finetune_cache",
                format!("{} is not a folder", cache.display()),
            ));
        }
        if let (Ok(run), Ok(here)) = (
            std::fs::canonicalize(&self.run_dir),
            std::env::current_dir().and_then(std::fs::canonicalize),
        ) && run == here
        {
            return Err(bad(
                "run_dir",
                format!(
                    "{} is the current folder: give the run a folder of its own",
                    self.run_dir.display()
                ),
            ));
        }
        if self.run_dir.exists() && !self.run_dir.is_dir() {
            return Err(bad(
                "run_dir",
                format!("{} is not a folder", self.run_dir.display()),
            ));
        }
        Ok(())
    }
}

/// Why a setting the run derives from its own may not be given.
const SET_BY_THE_RUN: &str = "is set by the run (seeds from `seed`, sampling from `[generator]`, thresholds from the \
     classifier and the checkpoint folder in the run folder): leave it out";

/// Most prompts of either split.
pub const MAX_PROMPTS: usize = 1_000_000;
/// Most prompts per batch (generation, PPO step).
pub const MAX_BATCH: usize = 4_096;
/// Most tokens of a completion or a classifier input.
pub const MAX_TOKENS: usize = 8_192;
/// Most training steps of a stage.
pub const MAX_STEPS: usize = 1_000_000;
/// Most examples drawn for a classifier set or pool.
pub const MAX_EXAMPLES: usize = 10_000_000;
/// Largest learning rate (classifier, distillation): far above any that trains.
pub const MAX_LEARNING_RATE: f64 = 1.0;
/// Largest sampling temperature.
pub const MAX_TEMPERATURE: f64 = 100.0;
/// Largest oversampling factor of injurious examples.
pub const MAX_OVERSAMPLE: f64 = 1e6;
/// Largest KL penalty coefficient.
pub const MAX_KL_COEF: f64 = 1e6;

/// Merges `given` into `base` key by key. A table replaces rather than merges when it picks
/// another variant of an enum setting: a different `kind` or `mode` tag, or (an externally
/// tagged variant) a single key other than the default's single key.
fn merge_into(base: &mut toml::Table, given: toml::Table) {
    for (key, value) in given {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(old)), toml::Value::Table(new))
                if !other_variant(old, &new) =>
            {
                merge_into(old, new)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Whether `new` selects another enum variant than `old`.
fn other_variant(old: &toml::Table, new: &toml::Table) -> bool {
    let tag_differs = ["kind", "mode"]
        .iter()
        .any(|tag| new.get(*tag).is_some_and(|t| old.get(*tag) != Some(t)));
    let single_key_differs = old.len() == 1
        && new.len() == 1
        && old.keys().next() != new.keys().next()
        && old.values().all(toml::Value::is_table);
    tag_differs || single_key_differs
}

/// A GGUF file whose header and metadata parse, or a Hugging Face folder.
fn check_model(path: &Path) -> Result<(), String> {
    if path.is_file() {
        return nines_runtime::checkpoint::gguf::GgufFile::open(path)
            .map(|_| ())
            .map_err(|e| format!("not a loadable GGUF file: {e}"));
    }
    check_hf_folder(path).map(|_| ())
}

/// A folder with `tokenizer.json` and a `config.json` object; returns the config.
fn check_hf_folder(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    if !path.exists() {
        return Err(format!("{}: no such file or folder", path.display()));
    }
    if !path.is_dir() {
        return Err(format!(
            "{} is neither a GGUF file nor a model folder",
            path.display()
        ));
    }
    let tokenizer = path.join("tokenizer.json");
    if !tokenizer.is_file() {
        return Err(format!("{}: missing", tokenizer.display()));
    }
    let config = path.join("config.json");
    let text =
        std::fs::read_to_string(&config).map_err(|e| format!("{}: {e}", config.display()))?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("{}: not a JSON object", config.display())),
        Err(e) => Err(format!("{}: invalid JSON: {e}", config.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_overrides_and_errors_name_the_key() {
        let cfg = PipelineConfig::from_toml_str("seed = 3\n[data]\ntrain_prompts = 10\n", "t.toml")
            .unwrap();
        assert_eq!(cfg.seed, 3);
        assert_eq!(cfg.data.train_prompts, 10);
        assert_eq!(cfg.data.test_prompts, DataConfig::default().test_prompts);
        let err = PipelineConfig::from_toml_str("[data]\ntrain_prompts = \"many\"\n", "t.toml")
            .unwrap_err();
        assert_eq!(err.key, "data.train_prompts");
        let err =
            PipelineConfig::from_toml_str("[generator]\ntop_pp = 0.9\n", "t.toml").unwrap_err();
        assert!(err.key.starts_with("generator"), "{err}");
        let err =
            PipelineConfig::from_toml_str("[generator]\ntop_p = 1.5\n", "t.toml").unwrap_err();
        assert_eq!(err.key, "generator.top_p");
        assert!(err.to_string().contains("t.toml"));
        // Exact keys.
        for (toml, key) in [
            (
                "[filter]\nmax_attempts = 4\nstrategy = { kind = \"batched_first_accepted\", k = 8 }\n",
                "filter.max_attempts",
            ),
            (
                "[filter]\nstrategy = { kind = \"batched_safest\", k = 4 }\n",
                "filter.strategy",
            ),
            (
                "[classifier.train]\nepochs = -1\n",
                "classifier.train.epochs",
            ),
            (
                "[classifier.train]\nepochs = 0\n",
                "classifier.train.epochs",
            ),
            ("[classifier.train]\nseed = 3\n", "classifier.train.seed"),
            (
                "[filter]\ngenerated_target_fnr = 1.0\n",
                "filter.generated_target_fnr",
            ),
            (
                "[distill.ppo]\nmini_batch_size = 24\n",
                "distill.ppo.mini_batch_size",
            ),
            ("[distill.ppo]\nmax_kl = 0\n", "distill.ppo.max_kl"),
            (
                "[distill.ppo]\nflag_threshold = 0.2\n",
                "distill.ppo.flag_threshold",
            ),
        ] {
            let err = PipelineConfig::from_toml_str(toml, "t.toml").unwrap_err();
            assert_eq!(err.key, key, "{toml}: {err}");
        }
        let err = PipelineConfig::from_toml_str("[distill.ppo]\nmini_batch_size = 24\n", "t.toml")
            .unwrap_err();
        assert!(err.to_string().contains("64"), "{err}");
        // Unknown keys: the section is named.
        for (toml, section) in [
            ("[classifier.train]\nepochz = 3\n", "classifier.train"),
            ("[distill]\nsteps = 3\n", "distill"),
        ] {
            let err = PipelineConfig::from_toml_str(toml, "t.toml").unwrap_err();
            assert!(err.key.starts_with(section), "{toml}: {err}");
        }
    }

    #[test]
    fn a_partial_table_keeps_the_pipeline_defaults() {
        let cfg =
            PipelineConfig::from_toml_str("[distill.ppo]\ntotal_steps = 3\n", "t.toml").unwrap();
        let recipe = DistillStageConfig::default().ppo;
        assert_eq!(cfg.distill.ppo.total_steps, 3);
        assert_eq!(cfg.distill.ppo.learning_rate, recipe.learning_rate);
        assert_eq!(cfg.distill.ppo.scope, recipe.scope);
        assert_ne!(recipe.learning_rate, PpoConfig::default().learning_rate);
        let cfg =
            PipelineConfig::from_toml_str("[classifier.train]\nlearning_rate = 1e-4\n", "t.toml")
                .unwrap();
        assert_eq!(cfg.classifier.train.learning_rate, 1e-4);
        assert_eq!(cfg.classifier.train.epochs, 2);
        // Another variant replaces the default's fields instead of mixing with them.
        let cfg = PipelineConfig::from_toml_str(
            "[distill.ppo.kl]\nmode = \"adaptive\"\ninit = 0.1\ntarget = 4.0\nhorizon = 1000.0\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(
            cfg.distill.ppo.kl,
            KlConfig::Adaptive {
                init: 0.1,
                target: 4.0,
                horizon: 1000.0
            }
        );
        let cfg =
            PipelineConfig::from_toml_str("[distill.ppo.scope]\nlora = { rank = 4 }\n", "t.toml")
                .unwrap();
        assert!(matches!(cfg.distill.ppo.scope, TrainScope::Lora(_)));
        let cfg = PipelineConfig::from_toml_str("[filter.strategy]\nk = 8\nkind = \"batched_first_accepted\"\n[filter]\nmax_attempts = 32\n", "t.toml").unwrap();
        assert_eq!(cfg.filter.strategy, Strategy::BatchedFirstAccepted { k: 8 });
    }

    #[test]
    fn sizes_threads_and_run_dir_are_bounded() {
        for (toml, key) in [
            ("[data]\nbatch_size = 1000000000000000\n", "data.batch_size"),
            (
                "[classifier.model]\nmax_len = 1000000000000\n",
                "classifier.model.max_len",
            ),
            (
                "[distill.ppo]\nsamples_per_prompt = 100000\n",
                "distill.ppo.samples_per_prompt",
            ),
            ("threads = -4\n", "threads"),
            ("threads = 100000\n", "threads"),
            ("run_dir = \"\"\n", "run_dir"),
        ] {
            let err = PipelineConfig::from_toml_str(toml, "t.toml").unwrap_err();
            assert_eq!(err.key, key, "{toml}: {err}");
        }
    }

    #[test]
    fn inputs_are_checked_before_any_stage() {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let good = PipelineConfig {
            run_dir: dir.path().join("run"),
            data: DataConfig {
                corpus: root.join("data/corpus"),
                ..Default::default()
            },
            generator: GeneratorConfig {
                model: root.join("crates/nines-runtime/tests/fixtures/llama"),
                finetune_cache: dir.path().join("cache"),
                ..Default::default()
            },
            classifier: ClassifierStageConfig {
                model: ClassifierConfig {
                    backbone: root.join("crates/nines-runtime/tests/fixtures/bert"),
                    max_len: 16,
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        };
        good.check_inputs("t").unwrap();
        let not_a_model = dir.path().join("notes.gguf");
        std::fs::write(&not_a_model, b"GGUF but not really").unwrap();
        for (cfg, key) in [
            (
                PipelineConfig {
                    data: DataConfig {
                        corpus: dir.path().join("missing"),
                        ..good.data.clone()
                    },
                    ..good.clone()
                },
                "data.corpus",
            ),
            (
                PipelineConfig {
                    generator: GeneratorConfig {
                        model: not_a_model.clone(),
                        ..good.generator.clone()
                    },
                    ..good.clone()
                },
                "generator.model",
            ),
            (
                PipelineConfig {
                    generator: GeneratorConfig {
                        model: dir.path().to_path_buf(),
                        ..good.generator.clone()
                    },
                    ..good.clone()
                },
                "generator.model",
            ),
            (
                PipelineConfig {
                    classifier: ClassifierStageConfig {
                        model: ClassifierConfig {
                            max_len: 100_000,
                            ..good.classifier.model.clone()
                        },
                        ..good.classifier.clone()
                    },
                    ..good.clone()
                },
                "classifier.model.max_len",
            ),
            (
                PipelineConfig {
                    run_dir: PathBuf::from("."),
                    ..good.clone()
                },
                "run_dir",
            ),
        ] {
            let err = cfg.check_inputs("t").unwrap_err();
            assert_eq!(err.key, key, "{err}");
        }
    }
}
