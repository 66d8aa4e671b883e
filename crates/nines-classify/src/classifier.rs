//! The classifier: a backbone, a dropout + linear head giving one logit per pair, a
//! temperature and a threshold; batched scoring; saving to and loading from one folder.

use std::path::{Path, PathBuf};

use nines_data::PairScorer;
use nines_runtime::checkpoint::{Expect, copy_named, load_into};
use serde::{Deserialize, Serialize};
use tch::nn::{self, VarStore};
use tch::{Device, Kind, Tensor};

use crate::backbone::{Backbone, BackboneInfo};
use crate::config::{BackboneKind, ClassifierConfig};
use crate::error::{ClassifyError, Result, read_json, write_json};
use crate::threshold::ThresholdChoice;

/// The manifest file of a saved classifier.
pub const MANIFEST: &str = "classifier.json";
/// The head's weights in a saved classifier.
pub const HEAD_FILE: &str = "head.safetensors";
/// A fine-tuned causal-LM backbone's weights in a saved classifier.
pub const CAUSAL_BACKBONE_FILE: &str = "backbone.safetensors";
const FORMAT: u32 = 1;

/// What a saved classifier folder records besides its weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub format: u32,
    /// The configuration; `backbone` is where the backbone was loaded from originally.
    pub config: ClassifierConfig,
    /// The backbone's identity.
    pub backbone: BackboneInfo,
    /// Whether the backbone's weights are in the folder (encoders: always, as a loadable
    /// Hugging Face folder; causal LMs: when fine-tuned).
    pub backbone_in_folder: bool,
    /// Logits are divided by this before the sigmoid.
    pub temperature: f64,
    /// Rejection threshold on the calibrated probability.
    pub threshold: Option<f64>,
    /// How the threshold was chosen (on validation).
    pub threshold_choice: Option<ThresholdChoice>,
}

/// An injury classifier over `(prompt, completion)` pairs.
///
/// Scoring takes `&self`, runs without gradients in batches of
/// [`ClassifierConfig::score_batch_size`] pairs of similar length, and returns
/// `sigmoid(logit / temperature)`.
pub struct Classifier {
    pub(crate) backbone: Backbone,
    pub(crate) head_vs: VarStore,
    head: nn::Linear,
    pub(crate) config: ClassifierConfig,
    info: BackboneInfo,
    temperature: f64,
    threshold: Option<f64>,
    threshold_choice: Option<ThresholdChoice>,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("backbone", &self.info)
            .field("source", &self.config.backbone)
            .field("temperature", &self.temperature)
            .field("threshold", &self.threshold)
            .finish()
    }
}

impl Classifier {
    /// A fresh classifier: the backbone from `config.backbone`, a new head initialized from
    /// `config.seed` (normal, σ = 0.02; zero bias), temperature 1, no threshold.
    pub fn new(config: &ClassifierConfig) -> Result<Self> {
        config.validate()?;
        let mut backbone = Backbone::load(config, &config.backbone)?;
        if !config.train_backbone {
            backbone.var_store_mut().freeze();
        }
        let (head_vs, head) = new_head(backbone.device(), backbone.info().hidden_size, config.seed);
        let info = backbone.info();
        Ok(Classifier {
            backbone,
            head_vs,
            head,
            config: config.clone(),
            info,
            temperature: 1.0,
            threshold: None,
            threshold_choice: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// The backbone's identity.
    pub fn backbone_info(&self) -> &BackboneInfo {
        &self.info
    }

    /// The device.
    pub fn device(&self) -> Device {
        self.backbone.device()
    }

    /// The temperature that divides logits (1 = uncalibrated).
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// Sets the temperature; it must be positive and finite.
    pub fn set_temperature(&mut self, t: f64) -> Result<()> {
        if !t.is_finite() || t <= 0.0 {
            return Err(ClassifyError::config(
                "temperature",
                format!("{t} must be positive and finite"),
            ));
        }
        self.temperature = t;
        Ok(())
    }

    /// The rejection threshold on calibrated probabilities, if chosen.
    pub fn threshold(&self) -> Option<f64> {
        self.threshold
    }

    /// How the threshold was chosen, if it was chosen by [`crate::threshold::select_for_fnr`].
    pub fn threshold_choice(&self) -> Option<&ThresholdChoice> {
        self.threshold_choice.as_ref()
    }

    /// Sets the threshold from a choice made on validation data.
    pub fn set_threshold(&mut self, choice: ThresholdChoice) {
        self.threshold = Some(choice.threshold);
        self.threshold_choice = Some(choice);
    }

    /// Raw logits `(batch,)` of a batch of pairs, differentiable; dropout when `train`.
    pub fn forward(&self, pairs: &[(&str, &str)], train: bool) -> Result<Tensor> {
        if pairs.is_empty() {
            return Err(ClassifyError::InvalidInput("empty batch".into()));
        }
        let feats =
            self.backbone
                .features(pairs, self.config.max_len, self.config.pooling, train)?;
        Ok(self.head_logits(&feats, train))
    }

    /// Head dropout (when `train`) and the linear head: pooled features `(batch, hidden)` →
    /// logits `(batch,)`.
    pub(crate) fn head_logits(&self, features: &Tensor, train: bool) -> Tensor {
        features
            .dropout(self.config.head_dropout, train)
            .apply(&self.head)
            .squeeze_dim(-1)
    }

    /// Uncalibrated logits of any number of pairs, in input order (no gradients).
    pub fn logits(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        let _guard = tch::no_grad_guard();
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        order.sort_by_key(|&i| pairs[i].0.len() + pairs[i].1.len());
        let mut out = vec![0f32; pairs.len()];
        for chunk in order.chunks(self.config.score_batch_size) {
            let batch: Vec<(&str, &str)> = chunk.iter().map(|&i| pairs[i]).collect();
            let logits = self
                .forward(&batch, false)?
                .to_kind(Kind::Float)
                .to_device(Device::Cpu);
            let v: Vec<f32> = Vec::<f32>::try_from(&logits)?;
            for (&i, x) in chunk.iter().zip(v) {
                out[i] = x;
            }
        }
        Ok(out)
    }

    /// Calibrated `P(injury)` of each pair: `sigmoid(logit / temperature)`.
    pub fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        let t = self.temperature as f32;
        Ok(self
            .logits(pairs)?
            .into_iter()
            .map(|z| sigmoid(z / t))
            .collect())
    }

    /// Whether each pair is rejected (`score > threshold`).
    ///
    /// # Errors
    /// [`ClassifyError::Config`] when no threshold has been chosen.
    pub fn reject(&self, pairs: &[(&str, &str)]) -> Result<Vec<bool>> {
        let t = self
            .threshold
            .ok_or_else(|| ClassifyError::config("threshold", "no threshold has been chosen"))?;
        Ok(self
            .score(pairs)?
            .into_iter()
            .map(|s| f64::from(s) > t)
            .collect())
    }

    /// Trainable parameters by name (`backbone.<name>` and `head.<name>`), sorted.
    pub(crate) fn named_parameters(&self, trainable_only: bool) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = Vec::new();
        if !trainable_only || self.config.train_backbone {
            out.extend(
                self.backbone
                    .var_store()
                    .variables()
                    .into_iter()
                    .map(|(k, v)| (format!("backbone.{k}"), v)),
            );
        }
        out.extend(
            self.head_vs
                .variables()
                .into_iter()
                .map(|(k, v)| (format!("head.{k}"), v)),
        );
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Restores the parameters (names as in `named_parameters`) from the safetensors file
    /// `path`, checking that every parameter is present with the right shape.
    pub(crate) fn restore_parameters(&self, path: &Path, trainable_only: bool) -> Result<()> {
        load_into(
            &self.named_parameters(trainable_only),
            path,
            Expect::AllVariables,
        )?;
        Ok(())
    }

    /// Copies parameter values held in memory (names as in `named_parameters`), checking
    /// presence and shape; `origin` names them in errors.
    pub(crate) fn copy_parameters(
        &self,
        values: &[(String, Tensor)],
        origin: &Path,
        trainable_only: bool,
    ) -> Result<()> {
        copy_named(
            &self.named_parameters(trainable_only),
            values,
            origin,
            Expect::AllVariables,
        )?;
        Ok(())
    }

    /// Saves to `dir` (created if missing): the manifest [`MANIFEST`], the head
    /// [`HEAD_FILE`], and the backbone — for encoders a complete Hugging Face folder
    /// (`config.json`, `tokenizer.json`, `model.safetensors`), for causal LMs
    /// [`CAUSAL_BACKBONE_FILE`] when fine-tuned (else the manifest points at the original).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| ClassifyError::io(dir, e))?;
        let backbone_in_folder = match self.config.kind {
            BackboneKind::Encoder => {
                let src = self.config.backbone.clone();
                for f in [
                    "config.json",
                    "tokenizer.json",
                    "tokenizer_config.json",
                    "special_tokens_map.json",
                    "vocab.txt",
                ] {
                    let from = src.join(f);
                    if from.is_file() && src.canonicalize().ok() != dir.canonicalize().ok() {
                        std::fs::copy(&from, dir.join(f))
                            .map_err(|e| ClassifyError::io(&from, e))?;
                    }
                }
                self.backbone
                    .var_store()
                    .save(dir.join("model.safetensors"))?;
                true
            }
            BackboneKind::CausalLm if self.config.train_backbone => {
                self.backbone
                    .var_store()
                    .save(dir.join(CAUSAL_BACKBONE_FILE))?;
                true
            }
            BackboneKind::CausalLm => false,
        };
        self.head_vs.save(dir.join(HEAD_FILE))?;
        let mut config = self.config.clone();
        if let Ok(abs) = config.backbone.canonicalize() {
            config.backbone = abs;
        }
        let manifest = Manifest {
            format: FORMAT,
            config,
            backbone: self.info.clone(),
            backbone_in_folder,
            temperature: self.temperature,
            threshold: self.threshold,
            threshold_choice: self.threshold_choice.clone(),
        };
        write_json(&dir.join(MANIFEST), &manifest)
    }

    /// Loads a folder written by [`save`](Self::save) onto `device`, with its tokenizer,
    /// temperature and threshold.
    ///
    /// # Errors
    /// Missing or malformed files; [`ClassifyError::BackboneMismatch`] when the backbone found
    /// is not the one the manifest records; [`ClassifyError::Runtime`] for a missing or
    /// misshapen head tensor.
    pub fn load(dir: impl AsRef<Path>, device: nines_runtime::DeviceSpec) -> Result<Self> {
        let dir = dir.as_ref();
        let manifest_path = dir.join(MANIFEST);
        if !manifest_path.is_file() {
            return Err(ClassifyError::io(
                &manifest_path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no classifier manifest"),
            ));
        }
        let manifest: Manifest = read_json(&manifest_path)?;
        if manifest.format != FORMAT {
            return Err(ClassifyError::Json {
                path: manifest_path,
                message: format!("format {} is not supported (1)", manifest.format),
            });
        }
        let mut config = manifest.config.clone();
        config.device = device;
        config.validate()?;
        let source: PathBuf = match config.kind {
            BackboneKind::Encoder => dir.to_path_buf(),
            BackboneKind::CausalLm => config.backbone.clone(),
        };
        let mut backbone = Backbone::load(&config, &source)?;
        if config.kind == BackboneKind::CausalLm && manifest.backbone_in_folder {
            let path = dir.join(CAUSAL_BACKBONE_FILE);
            load_into(
                &variables(backbone.var_store()),
                &path,
                Expect::AllVariables,
            )?;
        }
        let info = backbone.info();
        if info != manifest.backbone {
            return Err(ClassifyError::BackboneMismatch {
                path: manifest_path,
                expected: info.to_string(),
                found: manifest.backbone.to_string(),
            });
        }
        if !config.train_backbone {
            backbone.var_store_mut().freeze();
        }
        let (head_vs, head) = new_head(backbone.device(), info.hidden_size, config.seed);
        let head_path = dir.join(HEAD_FILE);
        load_into(&variables(&head_vs), &head_path, Expect::AllVariables)?;
        let mut c = Classifier {
            backbone,
            head_vs,
            head,
            config,
            info,
            temperature: 1.0,
            threshold: manifest.threshold,
            threshold_choice: manifest.threshold_choice,
        };
        c.set_temperature(manifest.temperature)
            .map_err(|_| ClassifyError::Json {
                path: dir.join(MANIFEST),
                message: format!(
                    "field `temperature`: {} must be positive and finite",
                    manifest.temperature
                ),
            })?;
        Ok(c)
    }
}

/// The classifier as the pipeline's [`PairScorer`]: [`Classifier::score`], its error wrapped
/// in [`nines_data::Error::Scorer`].
impl PairScorer for Classifier {
    fn score(&self, pairs: &[(&str, &str)]) -> nines_data::Result<Vec<f32>> {
        Classifier::score(self, pairs).map_err(nines_data::Error::scorer)
    }
}

pub(crate) fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

fn new_head(device: Device, hidden: usize, seed: u64) -> (VarStore, nn::Linear) {
    use rand::{Rng, SeedableRng};
    let vs = VarStore::new(device);
    let cfg = nn::LinearConfig {
        ws_init: nn::Init::Const(0.0),
        bs_init: Some(nn::Init::Const(0.0)),
        bias: true,
    };
    let mut head = nn::linear(vs.root() / "classifier", hidden as i64, 1, cfg);
    // Normal(0, 0.02) from a seeded stream of its own (Box-Muller), not LibTorch's global
    // generator, so that the initial head depends on `seed` only.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let w: Vec<f32> = (0..hidden)
        .map(|_| {
            let u1: f64 = rng.random_range(f64::EPSILON..1.0);
            let u2: f64 = rng.random();
            (0.02 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        })
        .collect();
    let _guard = tch::no_grad_guard();
    head.ws.copy_(
        &Tensor::from_slice(&w)
            .view([1, hidden as i64])
            .to_device(device),
    );
    (vs, head)
}

/// Every variable of `vs`, by name.
fn variables(vs: &VarStore) -> Vec<(String, Tensor)> {
    vs.variables().into_iter().collect()
}
