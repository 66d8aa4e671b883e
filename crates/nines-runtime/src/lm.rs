//! A causal language model with its tokenizer, loaded from a Hugging Face folder or a GGUF file.

use std::path::{Path, PathBuf};

use tch::nn::VarStore;

use crate::checkpoint::gguf::{GgufFile, GgufLlamaSource};
use crate::checkpoint::hf::{SafetensorsSource, read_json};
use crate::checkpoint::{TensorSource, load_var_store};
use crate::device::{DType, DeviceSpec};
use crate::error::{Result, RuntimeError};
use crate::models::gpt_neo::{GptNeo, GptNeoConfig};
use crate::models::gpt2::{Gpt2, Gpt2Config};
use crate::models::llama::{Llama, LlamaConfig};
use crate::models::{Architecture, CausalLm, LoraConfig, Weights, is_lora_parameter, merge_lora};
use crate::tokenizer::Tokenizer;

/// Where and how to load a model.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LoadOptions {
    /// Device (default: CUDA when present, else CPU; the CPU for [`DType::Int8`]).
    pub device: DeviceSpec,
    /// Weight and activation dtype (default f32). [`DType::Int8`] quantizes the projections
    /// while loading (one tensor at a time, so no f32 copy of the whole model is held); such
    /// a model generates and scores but does not train
    /// ([`LanguageModel::ensure_trainable`]).
    pub dtype: DType,
}

/// A causal LM, its tokenizer and its parameters.
///
/// ```no_run
/// use nines_runtime::{GenerateConfig, LanguageModel, LoadOptions};
/// let lm = LanguageModel::load("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", LoadOptions::default())?;
/// let out = lm.generate(&["The door creaked open."], &GenerateConfig { max_new_tokens: 20, seed: 7, ..Default::default() })?;
/// println!("{}", out[0].text);
/// # Ok::<(), nines_runtime::RuntimeError>(())
/// ```
pub struct LanguageModel {
    model: Box<dyn CausalLm>,
    tokenizer: Tokenizer,
    vars: VarStore,
    source: PathBuf,
    dtype: DType,
    lora: Option<LoraConfig>,
}

impl std::fmt::Debug for LanguageModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LanguageModel")
            .field("source", &self.source)
            .field("spec", self.model.spec())
            .field("device", &self.vars.device())
            .field("dtype", &self.dtype)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct ConfigHead {
    model_type: Option<String>,
    #[serde(default)]
    eos_token_id: Option<serde_json::Value>,
}

impl LanguageModel {
    /// Loads a model from a Hugging Face folder (`config.json`, safetensors, `tokenizer.json`),
    /// a `.gguf` file, or a folder holding exactly one `.gguf` file.
    ///
    /// On glibc the load also sets the C allocator's mmap threshold: held at its default
    /// while loading, so that freed per-tensor temporaries go back to the system, then raised
    /// to 32 MiB, so that generation reuses its buffers (docs/performance.md, "int8
    /// generation"). The setting is process-wide.
    ///
    /// # Errors
    /// Missing or corrupt files, unknown architectures, shape mismatches, tokenizer problems,
    /// each naming the file and tensor or field; [`RuntimeError::InvalidSetting`] for
    /// [`DType::Int8`] on a CUDA device.
    pub fn load(path: impl AsRef<Path>, options: LoadOptions) -> Result<Self> {
        Self::load_with_lora(path, options, None)
    }

    /// Like [`load`](Self::load), adding LoRA adapters to the projections `lora` targets.
    /// Adapters start at zero, so the model computes the checkpoint's function until they
    /// are trained; [`merge_lora`](Self::merge_lora) folds them in.
    pub fn load_with_lora(
        path: impl AsRef<Path>,
        options: LoadOptions,
        lora: Option<LoraConfig>,
    ) -> Result<Self> {
        if let Some(cfg) = &lora {
            cfg.validate()?;
            if options.dtype.is_quantized() {
                return Err(RuntimeError::InvalidSetting {
                    field: "dtype",
                    message: "int8 models are not trained; LoRA adapters need f32 or bf16".into(),
                });
            }
        }
        let _loading = crate::allocator::loading();
        let options = Loading { options, lora };
        let path = path.as_ref();
        if !path.exists() {
            return Err(RuntimeError::MissingFile {
                path: path.to_path_buf(),
                what: "model (a Hugging Face folder or a .gguf file)",
            });
        }
        if path.is_file() {
            return Self::load_gguf(path, options);
        }
        if path.join("config.json").is_file() {
            return Self::load_hf(path, options);
        }
        let ggufs: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| RuntimeError::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
            .collect();
        match ggufs.as_slice() {
            [one] => Self::load_gguf(one, options),
            [] => Err(RuntimeError::MissingFile {
                path: path.join("config.json"),
                what: "Hugging Face config (or a .gguf file in the folder)",
            }),
            _ => Err(RuntimeError::InvalidInput(format!(
                "{}: several .gguf files; name one",
                path.display()
            ))),
        }
    }

    fn load_hf(dir: &Path, options: Loading) -> Result<Self> {
        let config_path = dir.join("config.json");
        let head: ConfigHead = read_json(&config_path)?;
        let model_type = head
            .model_type
            .ok_or_else(|| RuntimeError::config(&config_path, "model_type", "missing"))?;
        let arch = Architecture::from_model_type(&model_type).ok_or_else(|| {
            RuntimeError::UnknownArchitecture {
                path: config_path.clone(),
                architecture: model_type.clone(),
                supported: Architecture::SUPPORTED,
            }
        })?;
        let vars = VarStore::new(options.device()?);
        let source = SafetensorsSource::open_dir(dir)?;
        let weights = options.weights(&source);
        let model: Box<dyn CausalLm> = match arch {
            Architecture::Llama => {
                let cfg: LlamaConfig = read_json(&config_path)?;
                cfg.validate(&config_path)?;
                Box::new(Llama::new(&vars.root(), &cfg, weights)?)
            }
            Architecture::Gpt2 => {
                let cfg: Gpt2Config = read_json(&config_path)?;
                cfg.validate(&config_path)?;
                Box::new(Gpt2::new(&vars.root(), &cfg, weights)?)
            }
            Architecture::GptNeo => {
                let cfg: GptNeoConfig = read_json(&config_path)?;
                cfg.validate(&config_path)?;
                Box::new(GptNeo::new(&vars.root(), &cfg, weights)?)
            }
        };
        let mut tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json"))?;
        let eos = eos_ids(&config_path, head.eos_token_id.as_ref())?;
        if !eos.is_empty() {
            tokenizer.set_eos_ids(eos);
        }
        Self::finish(model, tokenizer, vars, &source, dir, &options)
    }

    fn load_gguf(path: &Path, options: Loading) -> Result<Self> {
        let file = GgufFile::open(path)?;
        let arch = file.require_str("general.architecture")?.to_string();
        if Architecture::from_model_type(&arch) != Some(Architecture::Llama) {
            return Err(RuntimeError::UnknownArchitecture {
                path: path.to_path_buf(),
                architecture: arch,
                supported: "llama (GGUF)",
            });
        }
        let cfg = LlamaConfig::from_gguf(&file)?;
        cfg.validate(path)?;
        let tokenizer = Tokenizer::from_gguf(&file)?;
        let vars = VarStore::new(options.device()?);
        let heads = cfg.num_attention_heads as i64;
        let kv_heads = cfg.num_key_value_heads.unwrap_or(cfg.num_attention_heads) as i64;
        let source = GgufLlamaSource::new(file, heads, kv_heads);
        let model = Box::new(Llama::new(&vars.root(), &cfg, options.weights(&source))?);
        Self::finish(model, tokenizer, vars, &source, path, &options)
    }

    fn finish(
        mut model: Box<dyn CausalLm>,
        tokenizer: Tokenizer,
        mut vars: VarStore,
        source: &dyn TensorSource,
        path: &Path,
        options: &Loading,
    ) -> Result<Self> {
        let dtype = options.options.dtype;
        let model_vocab = model.spec().vocab_size;
        if let Some(max) = tokenizer.max_token_id()
            && max as usize >= model_vocab
        {
            return Err(RuntimeError::VocabMismatch {
                origin: tokenizer.origin().to_string(),
                tokenizer_vocab: max as usize + 1,
                model_vocab,
            });
        }
        let specials = [("bos_token_id", tokenizer.bos_id())]
            .into_iter()
            .chain(
                tokenizer
                    .eos_ids()
                    .iter()
                    .map(|&id| ("eos_token_id", Some(id))),
            )
            .chain([("pad_token_id", Some(tokenizer.pad_id()))]);
        for (field, id) in specials {
            if let Some(id) = id.filter(|&id| id as usize >= model_vocab) {
                return Err(RuntimeError::config(
                    path,
                    field,
                    format!("token id {id} is outside the model's vocabulary of {model_vocab}"),
                ));
            }
        }
        load_var_store(&vars, source, &is_lora_parameter)?;
        if dtype == DType::Int8 {
            // Calibrate the int8 projections' input smoothing on a short fixed text.
            let ids = calibration_ids(&tokenizer, model.as_ref())?;
            model.smooth_int8(source, &ids)?;
        }
        if dtype.kind() != tch::Kind::Float {
            vars.set_kind(dtype.kind());
        }
        Ok(LanguageModel {
            model,
            tokenizer,
            vars,
            source: path.to_path_buf(),
            dtype,
            lora: options.lora.clone(),
        })
    }

    /// The network.
    pub fn model(&self) -> &dyn CausalLm {
        self.model.as_ref()
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The parameters (for training: optimizers, freezing, saving).
    pub fn var_store(&self) -> &VarStore {
        &self.vars
    }

    /// The parameters, mutably.
    pub fn var_store_mut(&mut self) -> &mut VarStore {
        &mut self.vars
    }

    /// The device the parameters live on.
    pub fn device(&self) -> tch::Device {
        self.vars.device()
    }

    /// The parameter dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Checks that the model can be trained (fine-tuning, PPO, a classifier on its hidden
    /// states, export of its weights): not so for [`DType::Int8`], whose projections are
    /// not variables and record no gradients.
    ///
    /// # Errors
    /// [`RuntimeError::Quantized`] naming the model and `action`, e.g. `"fine-tuning"`.
    pub fn ensure_trainable(&self, action: &'static str) -> Result<()> {
        if self.dtype.is_quantized() {
            return Err(RuntimeError::Quantized {
                model: self.model_id(),
                action,
            });
        }
        Ok(())
    }

    /// Runs the blocks `layers` in int8 from now on: their projections are quantized from
    /// the present weights and smoothed as an int8 load does ([`DType::Int8`]), for
    /// generation and scoring several times faster on the CPU. Meant for blocks that stay
    /// frozen while the rest trains (PPO's shared bottom): the weight variables are kept,
    /// unchanged, so saving, comparing and exporting see the f32 weights, but those blocks
    /// no longer read them — later changes to them are not seen, and no gradient reaches
    /// them. Returns the number of blocks now in int8 that were not before; architectures
    /// without int8 blocks of their own (GPT-2, GPT-Neo) return 0 and stay as they are.
    ///
    /// ```
    /// use nines_runtime::{LanguageModel, LoadOptions, DeviceSpec};
    /// # let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama");
    /// let mut lm = LanguageModel::load(&path, LoadOptions { device: DeviceSpec::Cpu, ..Default::default() })?;
    /// let layers = lm.model().spec().num_layers;
    /// assert_eq!(lm.quantize_blocks(0..layers - 1)?, layers - 1);
    /// assert_eq!(lm.quantize_blocks(0..layers - 1)?, 0); // already int8
    /// # Ok::<(), nines_runtime::RuntimeError>(())
    /// ```
    ///
    /// # Errors
    /// [`RuntimeError::InvalidSetting`] for a model that is not f32 on the CPU or has LoRA
    /// adapters; [`RuntimeError::InvalidInput`] when `layers` reaches past the stack.
    pub fn quantize_blocks(&mut self, layers: std::ops::Range<usize>) -> Result<usize> {
        if self.dtype != DType::F32 || self.device() != tch::Device::Cpu {
            return Err(RuntimeError::InvalidSetting {
                field: "dtype",
                message: format!(
                    "int8 blocks are made from an f32 model on the CPU; this one is {} on {:?}",
                    self.dtype,
                    self.device()
                ),
            });
        }
        if self.lora.is_some() {
            return Err(RuntimeError::InvalidSetting {
                field: "lora",
                message: "int8 blocks would leave the LoRA adapters out".into(),
            });
        }
        let ids = calibration_ids(&self.tokenizer, self.model.as_ref())?;
        let source = crate::checkpoint::VariablesSource::new(&self.vars, &self.source);
        let _guard = tch::no_grad_guard();
        self.model.quantize_blocks(&source, layers, &ids)
    }

    /// The LoRA configuration the model was loaded with, if any.
    pub fn lora(&self) -> Option<&LoraConfig> {
        self.lora.as_ref()
    }

    /// Folds trained LoRA adapters into the base weights (the adapters become zero). Returns
    /// the number merged.
    pub fn merge_lora(&mut self) -> usize {
        match &self.lora {
            Some(cfg) => merge_lora(&self.vars, cfg.scale()),
            None => 0,
        }
    }

    /// The file or folder the model was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// A short identifier: the file or folder name.
    pub fn model_id(&self) -> String {
        self.source.file_name().map_or_else(
            || self.source.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    }
}

/// The calibration text int8 smoothing runs on, as `(1, seq)` ids within the context.
fn calibration_ids(tokenizer: &Tokenizer, model: &dyn CausalLm) -> Result<tch::Tensor> {
    let mut ids: Vec<i64> = tokenizer
        .encode(crate::models::CALIBRATION_TEXT)?
        .into_iter()
        .map(i64::from)
        .collect();
    ids.truncate(model.spec().context_length);
    Ok(tch::Tensor::from_slice(&ids).view([1, -1]))
}

/// Load options plus the adapters to add.
struct Loading {
    options: LoadOptions,
    lora: Option<LoraConfig>,
}

impl Loading {
    /// The device; int8 models run on the CPU (`Auto` resolves to it).
    fn device(&self) -> Result<tch::Device> {
        let LoadOptions { device, dtype } = self.options;
        if !dtype.is_quantized() {
            return device.resolve();
        }
        match device {
            DeviceSpec::Auto | DeviceSpec::Cpu => Ok(tch::Device::Cpu),
            DeviceSpec::Cuda(_) => Err(RuntimeError::InvalidSetting {
                field: "dtype",
                message: format!(
                    "int8 runs on the CPU only (LibTorch's FBGEMM kernels), not on {device}; \
                     use device cpu, or dtype f32 or bf16 on the GPU"
                ),
            }),
        }
    }

    /// How the model declares its projections, reading int8 ones from `source`.
    fn weights<'a>(&'a self, source: &'a dyn TensorSource) -> Weights<'a> {
        if self.options.dtype.is_quantized() {
            Weights::Int8 { source }
        } else {
            Weights::Variables {
                lora: self.lora.as_ref(),
            }
        }
    }
}

/// The `eos_token_id` of a `config.json`: absent or null, one id, or a list of ids. A negative,
/// fractional or out-of-`u32` id is an error naming the field, not a silent fallback.
fn eos_ids(path: &Path, v: Option<&serde_json::Value>) -> Result<Vec<u32>> {
    let one = |x: &serde_json::Value| {
        x.as_u64()
            .and_then(|id| u32::try_from(id).ok())
            .ok_or_else(|| {
                RuntimeError::config(
                    path,
                    "eos_token_id",
                    format!(
                        "{x} is not a token id (a whole number from 0 to {})",
                        u32::MAX
                    ),
                )
            })
    };
    match v {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(a)) => a.iter().map(one).collect(),
        Some(x) => Ok(vec![one(x)?]),
    }
}
