//! Model architectures, one file each, and the layers they share.
//!
//! Parameters live in a [`tch::nn::VarStore`] under Hugging Face tensor names, so checkpoints
//! load by name and training code (classifier, PPO, fine-tuning) sees ordinary variables.

pub mod bert;
pub mod gpt2;
pub mod gpt_neo;
pub mod limits;
pub mod llama;
mod smoothing;

pub(crate) use smoothing::CALIBRATION_TEXT;

use std::ops::Range;

use tch::{Kind, Tensor, nn};

use crate::checkpoint::{TensorSource, read_with_prefix_fallback, stored_name};
use crate::error::{Result, RuntimeError};
use crate::int8::{Int8Linear, Int8Rows};
use crate::kv_cache::KvCache;

/// Causal-LM architectures the runtime implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Architecture {
    /// Llama family (SmolLM2, Llama 2/3, TinyLlama...): GQA, RoPE, RMSNorm, SwiGLU.
    Llama,
    /// GPT-2: learned positions, LayerNorm, GELU MLP, fused QKV projection.
    Gpt2,
    /// GPT-Neo: GPT-2-like with alternating global and local (windowed) attention.
    GptNeo,
}

impl Architecture {
    /// Names accepted in `config.json`'s `model_type`, for error messages.
    pub const SUPPORTED: &'static str = "llama, gpt2, gpt_neo";

    /// Parses a Hugging Face `model_type` (or GGUF `general.architecture`).
    pub fn from_model_type(model_type: &str) -> Option<Self> {
        match model_type {
            "llama" | "mistral" => Some(Architecture::Llama),
            "gpt2" => Some(Architecture::Gpt2),
            "gpt_neo" => Some(Architecture::GptNeo),
            _ => None,
        }
    }
}

/// The sizes of a loaded causal LM.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelSpec {
    /// Architecture family.
    pub architecture: Architecture,
    /// Rows of the embedding matrix.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Transformer blocks.
    pub num_layers: usize,
    /// Longest sequence (prompt + completion) the model accepts.
    pub context_length: usize,
}

/// A decoder-only language model.
///
/// Shapes: `input_ids` and `position_ids` are `(batch, seq)` `i64`; `key_valid` is
/// `(batch, past + seq)` `bool` (false for padding) or `None` when nothing is padded.
pub trait CausalLm: Send {
    /// The model's sizes.
    fn spec(&self) -> &ModelSpec;

    /// Final hidden states `(batch, seq, hidden)`, after the last normalization.
    /// With a cache, `input_ids` are the new tokens and the cache is extended.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] when the ids, positions, key mask and cache do not fit
    /// together; [`RuntimeError::TorchOp`] when LibTorch refuses the ids (out of the
    /// vocabulary, on another device).
    fn forward_hidden(
        &self,
        input_ids: &Tensor,
        position_ids: &Tensor,
        key_valid: Option<&Tensor>,
        cache: Option<&mut KvCache>,
        train: bool,
    ) -> Result<Tensor> {
        check_inputs(input_ids, position_ids, key_valid, cache.as_deref())?;
        let x = self.embed(input_ids, position_ids, train)?;
        let layers = 0..self.spec().num_layers;
        let x = self.forward_blocks(x, position_ids, key_valid, cache, layers, train)?;
        self.final_norm(&x)
    }

    /// Vocabulary logits `(batch, seq, vocab)` of hidden states `(batch, seq, hidden)`.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] when the last dimension is not the hidden size;
    /// [`RuntimeError::TorchOp`] when LibTorch fails (out of memory: the projection is the
    /// largest tensor of a forward pass).
    fn logits(&self, hidden: &Tensor) -> Result<Tensor>;

    /// The residual stream entering the first block: token (and, where the architecture has
    /// them, position) embeddings `(batch, seq, hidden)`.
    ///
    /// # Errors
    /// [`RuntimeError::TorchOp`] for ids outside the vocabulary (or positions outside the
    /// position table), on another device or of a non-integer dtype.
    fn embed(&self, input_ids: &Tensor, position_ids: &Tensor, train: bool) -> Result<Tensor>;

    /// Runs the blocks `layers` (indices into the stack of [`ModelSpec::num_layers`]) on the
    /// residual stream `x` `(batch, seq, hidden)`, extending `cache` when given, and returns
    /// the stream after the last of them (not normalized). The stack can thus run in pieces:
    /// `final_norm(forward_blocks(forward_blocks(embed(ids), 0..k), k..n))` equals
    /// [`forward_hidden`](Self::forward_hidden), so callers that train only the top blocks can
    /// compute the frozen bottom once (without gradients) and reuse it.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] when `x` is not `(batch, seq, hidden)`, the positions
    /// not `(batch, seq)`, the key mask not `(batch, past + seq)` or `layers` reaches past the
    /// stack.
    fn forward_blocks(
        &self,
        x: Tensor,
        position_ids: &Tensor,
        key_valid: Option<&Tensor>,
        cache: Option<&mut KvCache>,
        layers: Range<usize>,
        train: bool,
    ) -> Result<Tensor>;

    /// The normalization after the last block.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] when the last dimension is not the hidden size.
    fn final_norm(&self, x: &Tensor) -> Result<Tensor>;

    /// Logits `(batch, seq, vocab)`: [`forward_hidden`](Self::forward_hidden) then [`logits`](Self::logits).
    ///
    /// # Errors
    /// As those two.
    fn forward(
        &self,
        input_ids: &Tensor,
        position_ids: &Tensor,
        key_valid: Option<&Tensor>,
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        self.logits(&self.forward_hidden(input_ids, position_ids, key_valid, cache, false)?)
    }

    /// For a model with int8 projections: runs `calibration_ids` `(1, seq)` through it,
    /// records each projection's input ranges, and quantizes the projections again from
    /// `source` with their inputs smoothed per channel and quantized in one 8-bit level
    /// (see [`ActivationLevels`](crate::int8::ActivationLevels)); returns whether it did.
    /// The default, for architectures that keep two levels, does nothing.
    ///
    /// # Errors
    /// The checkpoint's errors while reading the projections again, and LibTorch's.
    fn smooth_int8(
        &mut self,
        _source: &dyn TensorSource,
        _calibration_ids: &Tensor,
    ) -> Result<bool> {
        Ok(false)
    }

    /// Replaces the projections of the blocks `layers` by int8 copies of their weights as
    /// `source` holds them (for a loaded model, its own variables), calibrated and smoothed
    /// on `calibration_ids` as [`smooth_int8`](Self::smooth_int8) does, the normalizations
    /// before them replaced by divided copies. The variables themselves are left as they
    /// were, but those blocks' forward passes no longer read them: changes to them are not
    /// seen, and no gradient reaches them. Blocks already in int8 are skipped. Returns the
    /// number of blocks replaced; the default, for architectures without int8 blocks of
    /// their own, replaces none.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] when `layers` reaches past the stack or a block has
    /// LoRA adapters; `source`'s and LibTorch's errors.
    fn quantize_blocks(
        &mut self,
        _source: &dyn TensorSource,
        _layers: Range<usize>,
        _calibration_ids: &Tensor,
    ) -> Result<usize> {
        Ok(0)
    }
}

/// Checks that ids `(batch, seq)` `i64`, positions of the same shape, a key mask
/// `(batch, past + seq)` and a cache holding `past` positions fit together.
fn check_inputs(
    input_ids: &Tensor,
    position_ids: &Tensor,
    key_valid: Option<&Tensor>,
    cache: Option<&KvCache>,
) -> Result<()> {
    let bad = |m: String| Err(RuntimeError::InvalidInput(m));
    let ids = input_ids.size();
    if ids.len() != 2 || input_ids.kind() != Kind::Int64 {
        return bad(format!(
            "input ids must be (batch, seq) i64, got {ids:?} {:?}",
            input_ids.kind()
        ));
    }
    if position_ids.size() != ids {
        return bad(format!(
            "position ids have shape {:?}, the input ids {ids:?}",
            position_ids.size()
        ));
    }
    check_key_mask(ids[0], ids[1], key_valid, cache)
}

/// Checks a key mask against `batch` rows of `seq` new positions after the cache's.
fn check_key_mask(
    batch: i64,
    seq: i64,
    key_valid: Option<&Tensor>,
    cache: Option<&KvCache>,
) -> Result<()> {
    if let Some(k) = key_valid {
        let past = cache.map_or(0, KvCache::seq_len);
        let want = vec![batch, past + seq];
        if k.size() != want {
            return Err(RuntimeError::InvalidInput(format!(
                "the key mask has shape {:?}; (batch, past + seq) is {want:?}",
                k.size()
            )));
        }
    }
    Ok(())
}

/// Checks the inputs of [`CausalLm::forward_blocks`]: a residual stream `(batch, seq,
/// hidden)`, positions `(batch, seq)`, a key mask that fits the cache, blocks of the stack.
pub(crate) fn check_blocks(
    spec: &ModelSpec,
    x: &Tensor,
    position_ids: &Tensor,
    key_valid: Option<&Tensor>,
    cache: Option<&KvCache>,
    layers: &Range<usize>,
) -> Result<()> {
    let shape = x.size();
    if shape.len() != 3 || shape[2] != spec.hidden_size as i64 {
        return Err(RuntimeError::InvalidInput(format!(
            "the residual stream has shape {shape:?}; (batch, seq, {}) is needed",
            spec.hidden_size
        )));
    }
    if position_ids.size() != shape[..2] {
        return Err(RuntimeError::InvalidInput(format!(
            "position ids have shape {:?}, the residual stream {shape:?}",
            position_ids.size()
        )));
    }
    if layers.end > spec.num_layers {
        return Err(RuntimeError::InvalidInput(format!(
            "blocks {layers:?} of a stack of {}",
            spec.num_layers
        )));
    }
    check_key_mask(shape[0], shape[1], key_valid, cache)
}

/// Checks that hidden states end in the model's hidden size (before the vocabulary
/// projection).
pub(crate) fn check_hidden(spec: &ModelSpec, hidden: &Tensor) -> Result<()> {
    match hidden.size().last() {
        Some(&h) if h == spec.hidden_size as i64 => Ok(()),
        _ => Err(RuntimeError::InvalidInput(format!(
            "hidden states of shape {:?}; the model's hidden size is {}",
            hidden.size(),
            spec.hidden_size
        ))),
    }
}

/// LoRA adapters: which projections get a trainable low-rank update `ΔW = (α/r) B A`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank `r` of the update. Default 8.
    pub rank: i64,
    /// Scaling numerator `α` (the update is scaled by `α / r`). Default 16.
    pub alpha: f64,
    /// Projection names (the last component of the parameter path, e.g. `q_proj`, `v_proj`,
    /// `c_attn`) that get adapters. Default `q_proj`, `v_proj`.
    pub targets: Vec<String>,
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            rank: 8,
            alpha: 16.0,
            targets: vec!["q_proj".into(), "v_proj".into()],
        }
    }
}

impl LoraConfig {
    /// `α / r`.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }

    /// Positive rank, finite alpha, at least one target.
    pub fn validate(&self) -> crate::Result<()> {
        let bad =
            |field, message: String| Err(crate::RuntimeError::InvalidSetting { field, message });
        if self.rank <= 0 {
            return bad("lora.rank", format!("{} must be positive", self.rank));
        }
        if !self.alpha.is_finite() || self.alpha <= 0.0 {
            return bad(
                "lora.alpha",
                format!("{} must be a positive number", self.alpha),
            );
        }
        if self.targets.is_empty() {
            return bad("lora.targets", "names no projection".into());
        }
        Ok(())
    }

    fn applies_to(&self, p: &nn::Path) -> bool {
        p.components()
            .last()
            .is_some_and(|leaf| self.targets.iter().any(|t| t == leaf))
    }
}

/// A low-rank adapter `x ↦ scale · B (A x)` beside a frozen projection.
#[derive(Debug)]
pub struct Lora {
    /// `(rank, in)`, initialized uniformly like a linear layer.
    pub a: Tensor,
    /// `(out, rank)`, initialized to zero so the adapted model starts as the base model.
    pub b: Tensor,
    /// `α / r`.
    pub scale: f64,
}

/// A generator seeded by a hash of `name`.
fn name_rng(name: &str) -> rand_chacha::ChaCha8Rng {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&digest);
    rand::SeedableRng::from_seed(seed)
}

impl Lora {
    /// Declares `lora_A.weight` and `lora_B.weight` under `p` when `cfg` targets `p`.
    pub(crate) fn declare(
        p: &nn::Path,
        in_dim: i64,
        out_dim: i64,
        cfg: Option<&LoraConfig>,
    ) -> Result<Option<Self>> {
        let Some(cfg) = cfg.filter(|c| c.applies_to(p)) else {
            return Ok(None);
        };
        let a_path = p / "lora_A";
        let a = a_path.f_var("weight", &[cfg.rank, in_dim], nn::Init::Const(0.0))?;
        // U(−1/√in, 1/√in) drawn from a generator seeded by the tensor's name, not LibTorch's
        // global one: the same adapters in every process, whatever else (another thread, a
        // concurrent test) draws random numbers meanwhile.
        let bound = 1.0 / (in_dim as f64).sqrt();
        let mut rng = name_rng(&a_path.path("weight"));
        let values: Vec<f32> = (0..cfg.rank * in_dim)
            .map(|_| rand::Rng::random_range(&mut rng, -bound..bound) as f32)
            .collect();
        tch::no_grad(|| {
            let init = Tensor::from_slice(&values)
                .f_view([cfg.rank, in_dim])?
                .f_to_kind(a.kind())?
                .f_to_device(a.device())?;
            a.shallow_clone().f_copy_(&init)
        })?;
        Ok(Some(Lora {
            a,
            b: (p / "lora_B").f_var("weight", &[out_dim, cfg.rank], nn::Init::Const(0.0))?,
            scale: cfg.scale(),
        }))
    }

    /// The update `scale · B (A x)`.
    fn f_forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.f_linear::<Tensor>(&self.a, None)?
            .f_linear::<Tensor>(&self.b, None)?
            .f_mul_scalar(self.scale)?)
    }

    /// [`f_forward`](Self::f_forward) inside the models' checked forward passes.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        checked(self.f_forward(x), "LoRA adapter")
    }
}

/// True for the parameter names of LoRA adapters (absent from base checkpoints).
pub fn is_lora_parameter(name: &str) -> bool {
    name.contains(".lora_A.") || name.contains(".lora_B.")
}

/// Folds every adapter into its base weight (`W += scale · B A`, transposed for GPT-2's
/// `(in, out)` weights) and zeroes `B`, so the model computes the same function without them.
/// Returns the number of adapters merged.
pub fn merge_lora(vs: &nn::VarStore, scale: f64) -> usize {
    let vars = vs.variables();
    let _guard = tch::no_grad_guard();
    let mut merged = 0;
    for (name, a) in &vars {
        let Some(prefix) = name.strip_suffix(".lora_A.weight") else {
            continue;
        };
        let (Some(b), Some(w)) = (
            vars.get(&format!("{prefix}.lora_B.weight")),
            vars.get(&format!("{prefix}.weight")),
        ) else {
            continue;
        };
        let delta = (b.matmul(a) * scale).to_kind(w.kind());
        let mut w = w.shallow_clone();
        if w.size() == delta.size() {
            let _ = w.g_add_(&delta);
        } else {
            let _ = w.g_add_(&delta.tr());
        }
        let _ = b.shallow_clone().zero_();
        merged += 1;
    }
    merged
}

/// A dense layer `y = x Wᵀ + b` with `W: (out, in)` (PyTorch `nn.Linear` layout), optionally
/// with a LoRA adapter.
#[derive(Debug)]
pub struct Linear {
    /// `(out, in)`.
    pub weight: Tensor,
    /// `(out,)`.
    pub bias: Option<Tensor>,
    /// Low-rank adapter, when configured for this projection.
    pub lora: Option<Lora>,
}

impl Linear {
    /// Declares `weight` (and `bias`) under `p`; values come from the checkpoint.
    pub fn new(p: nn::Path, in_dim: i64, out_dim: i64, bias: bool) -> Result<Self> {
        Self::adapted(p, in_dim, out_dim, bias, None)
    }

    /// Like [`new`](Self::new), adding a LoRA adapter when `lora` targets this projection.
    pub fn adapted(
        p: nn::Path,
        in_dim: i64,
        out_dim: i64,
        bias: bool,
        lora: Option<&LoraConfig>,
    ) -> Result<Self> {
        let weight = p.f_var("weight", &[out_dim, in_dim], nn::Init::Const(0.0))?;
        let bias = bias
            .then(|| p.f_var("bias", &[out_dim], nn::Init::Const(0.0)))
            .transpose()?;
        let lora = Lora::declare(&p, in_dim, out_dim, lora)?;
        Ok(Linear { weight, bias, lora })
    }

    /// `(…, in)` → `(…, out)`.
    ///
    /// # Errors
    /// [`RuntimeError::TorchOp`] when `x`'s last dimension, dtype or device does not match
    /// the weight's.
    pub fn f_forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x
            .f_linear(&self.weight, self.bias.as_ref())
            .map_err(RuntimeError::torch("linear"))?;
        match &self.lora {
            Some(l) => Ok(y.f_add(&l.f_forward(x)?)?),
            None => Ok(y),
        }
    }

    /// [`f_forward`](Self::f_forward) inside the models' forward passes, whose inputs were
    /// checked at the model's boundary (ids, shapes, dtypes and devices at load), so the
    /// call cannot fail there.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        checked(self.f_forward(x), "linear layer")
    }
}

/// Where a model's projection weights (attention, MLP, output) come from when it is built.
#[derive(Clone, Copy)]
pub enum Weights<'a> {
    /// f32 variables in the model's [`VarStore`](nn::VarStore), filled when the checkpoint
    /// is loaded; `lora` adds adapters to the projections it targets.
    Variables {
        /// Adapters to add.
        lora: Option<&'a LoraConfig>,
    },
    /// Int8 layers ([`Int8Linear`]) quantized from `source` while the model is built, one
    /// tensor at a time; they are not variables (and have no gradients). The token
    /// embedding is held as int8 rows too ([`TokenEmbedding::Int8`]), which a tied output
    /// projection is packed from; position embeddings, normalizations and biases outside
    /// the projections stay f32 variables.
    Int8 {
        /// The checkpoint.
        source: &'a dyn TensorSource,
    },
}

impl std::fmt::Debug for Weights<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Weights::Variables { lora } => f.debug_struct("Variables").field("lora", lora).finish(),
            Weights::Int8 { .. } => f.write_str("Int8"),
        }
    }
}

impl Weights<'_> {
    /// f32 variables without adapters.
    pub const F32: Weights<'static> = Weights::Variables { lora: None };
}

/// Reads `name` from `source` (trying the prefixes Hugging Face adds or omits), requiring
/// `shape`.
pub(crate) fn read_tensor(source: &dyn TensorSource, name: &str, shape: &[i64]) -> Result<Tensor> {
    let Some(t) = read_with_prefix_fallback(source, name)? else {
        return Err(RuntimeError::MissingTensor {
            path: source.origin(name),
            tensor: name.to_string(),
        });
    };
    if t.size() != shape {
        return Err(RuntimeError::ShapeMismatch {
            path: source.origin(name),
            tensor: name.to_string(),
            expected: shape.to_vec(),
            found: t.size(),
        });
    }
    Ok(t)
}

/// One projection to read for an int8 layer: the checkpoint name of its weight (its bias,
/// when it has one, is the same name ending in `bias`), and how it is stored.
#[derive(Debug, Clone)]
pub(crate) struct Int8Part {
    /// Checkpoint name of the weight, e.g. `model.layers.0.self_attn.q_proj.weight`.
    pub weight: String,
    /// Input features.
    pub in_dim: i64,
    /// Output features.
    pub out_dim: i64,
    /// Whether the checkpoint has a bias for it.
    pub bias: bool,
    /// Whether the weight is stored `(in, out)` (GPT-2's `Conv1D`) rather than `(out, in)`.
    pub transposed: bool,
}

impl Int8Part {
    /// The `weight` (and `bias`) under `p`, stored `(out, in)`.
    pub fn linear(p: &nn::Path, in_dim: i64, out_dim: i64, bias: bool) -> Self {
        Int8Part {
            weight: p.path("weight"),
            in_dim,
            out_dim,
            bias,
            transposed: false,
        }
    }
}

/// Reads one part's weight from `source` and quantizes it per row: a weight stored
/// `(out, in)` is read in blocks of rows, so no f32 copy of a large matrix is held.
///
/// # Errors
/// A missing tensor, a shape mismatch, and non-finite weights ([`RuntimeError::Corrupt`]),
/// naming the tensor and file.
pub(crate) fn read_int8_rows(source: &dyn TensorSource, part: &Int8Part) -> Result<Int8Rows> {
    Ok(read_int8_rows_scaled(source, part, None)?.0)
}

/// [`read_int8_rows`] with column `j` of the weight multiplied by `columns[j]` `(in,)` before
/// it is quantized; also returns the largest magnitude of each column as stored (before
/// `columns`), gathered from the same reads.
pub(crate) fn read_int8_rows_scaled(
    source: &dyn TensorSource,
    part: &Int8Part,
    columns: Option<&Tensor>,
) -> Result<(Int8Rows, Tensor)> {
    let (i, o) = (part.in_dim, part.out_dim);
    let shape = if part.transposed { [i, o] } else { [o, i] };
    let Some((stored, found)) = stored_name(source, &part.weight)? else {
        return Err(RuntimeError::MissingTensor {
            path: source.origin(&part.weight),
            tensor: part.weight.clone(),
        });
    };
    if found != shape {
        return Err(RuntimeError::ShapeMismatch {
            path: source.origin(&part.weight),
            tensor: part.weight.clone(),
            expected: shape.to_vec(),
            found,
        });
    }
    if let Some(c) = columns
        && c.size() != [i]
    {
        return Err(RuntimeError::InvalidInput(format!(
            "column factors for `{}` must have {i} entries, got {:?}",
            part.weight,
            c.size()
        )));
    }
    let mut column_max: Option<Tensor> = None;
    let mut scaled = |w: Tensor| -> Result<Tensor> {
        let w = w.f_to_kind(Kind::Float)?;
        let m = w.f_abs()?.f_amax([0i64].as_slice(), false)?;
        column_max = Some(match column_max.take() {
            Some(before) => before.f_maximum(&m)?,
            None => m,
        });
        Ok(match columns {
            Some(c) => w.f_mul(c)?,
            None => w,
        })
    };
    let rows = if part.transposed {
        let w = read_tensor(source, &part.weight, &shape)?;
        Int8Rows::quantize(&scaled(w.f_tr()?.f_contiguous()?)?)
    } else {
        Int8Rows::quantize_blocks(o, i, |start, count| {
            scaled(source.read_rows(&stored, start, count)?.ok_or_else(|| {
                RuntimeError::MissingTensor {
                    path: source.origin(&stored),
                    tensor: stored.clone(),
                }
            })?)
        })
    };
    let rows = rows.map_err(|e| match e {
        RuntimeError::InvalidInput(m) => RuntimeError::corrupt(
            source.origin(&part.weight),
            format!("tensor `{}`: {m}", part.weight),
        ),
        other => other,
    })?;
    let column_max = column_max.ok_or_else(|| {
        RuntimeError::corrupt(
            source.origin(&part.weight),
            format!("tensor `{}` is empty", part.weight),
        )
    })?;
    Ok((rows, column_max))
}

/// Reads `parts` from `source` and quantizes them, stacked along the output dimension, into
/// one int8 layer. Each part is read in blocks of rows besides the int8 stack.
///
/// # Errors
/// Missing tensors, shape mismatches, and non-finite weights ([`RuntimeError::Corrupt`]),
/// naming the tensor and file.
pub(crate) fn read_int8(source: &dyn TensorSource, parts: &[Int8Part]) -> Result<Int8Linear> {
    Ok(read_int8_scaled(source, parts, None, None)?.0)
}

/// [`read_int8`] with column `j` of every part multiplied by `columns[j]` `(in,)` before
/// quantizing, and row `r` of the stack (and its bias) by `rows[r]` `(out,)` after: the
/// weights of a layer whose inputs are smoothed per channel (see `smoothing`). Also returns
/// the largest magnitude of each column over the stacked weights as stored, `(in,)`, which
/// smoothing factors are computed from.
pub(crate) fn read_int8_scaled(
    source: &dyn TensorSource,
    parts: &[Int8Part],
    columns: Option<&Tensor>,
    rows: Option<&Tensor>,
) -> Result<(Int8Linear, Tensor)> {
    let names = parts.iter().map(|p| p.weight.as_str()).collect::<Vec<_>>();
    if parts.iter().any(|p| p.bias) && !parts.iter().all(|p| p.bias) {
        return Err(RuntimeError::InvalidInput(format!(
            "stacked int8 projections {names:?} must all have biases or none"
        )));
    }
    let row_factors = rows;
    let mut column_max: Option<Tensor> = None;
    let mut stacked = Vec::with_capacity(parts.len());
    for part in parts {
        let (part_rows, part_max) = read_int8_rows_scaled(source, part, columns)?;
        column_max = Some(match column_max.take() {
            Some(before) => before.f_maximum(&part_max)?,
            None => part_max,
        });
        stacked.push(part_rows);
    }
    let rows = stacked;
    let biases = parts
        .iter()
        .filter(|part| part.bias)
        .map(|part| {
            let name = match part.weight.strip_suffix("weight") {
                Some(stem) => format!("{stem}bias"),
                None => format!("{}.bias", part.weight),
            };
            Ok(read_tensor(source, &name, &[part.out_dim])?.f_to_kind(Kind::Float)?)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut bias = (!biases.is_empty())
        .then(|| Tensor::f_cat(&biases, 0))
        .transpose()?;
    let mut rows = Int8Rows::stack(rows).map_err(|e| match e {
        RuntimeError::InvalidInput(m) => RuntimeError::corrupt(
            source.origin(names[0]),
            format!("tensor `{}`: {m}", names.join("`, `")),
        ),
        other => other,
    })?;
    if let Some(f) = row_factors {
        rows.scale_rows(f)?;
        bias = bias.map(|b| b.f_mul(f)).transpose()?;
    }
    let column_max = column_max
        .ok_or_else(|| RuntimeError::InvalidInput("no int8 projections to read".into()))?;
    Ok((Int8Linear::pack(&rows, bias.as_ref())?, column_max))
}

/// A token embedding table: an f32 variable, or (in a model with int8 projections) int8
/// rows, four times smaller, which a tied output projection is packed from.
#[derive(Debug)]
pub enum TokenEmbedding {
    /// An f32 (or bf16) variable.
    Dense(Embedding),
    /// Int8 rows, quantized from the checkpoint while the model is built.
    Int8(Int8Rows),
}

impl TokenEmbedding {
    /// Declares the table `(rows, dim)` under `p` as `weights` says: a variable, or int8
    /// rows read from the checkpoint now.
    ///
    /// # Errors
    /// For int8, the checkpoint's missing, misshapen or non-finite tensor.
    pub(crate) fn declare(p: nn::Path, rows: i64, dim: i64, weights: Weights) -> Result<Self> {
        Ok(match weights {
            Weights::Variables { .. } => TokenEmbedding::Dense(Embedding::new(p, rows, dim)?),
            Weights::Int8 { source } => TokenEmbedding::Int8(read_int8_rows(
                source,
                &Int8Part::linear(&p, dim, rows, false),
            )?),
        })
    }

    /// `(…)` ids → `(…, dim)` f32.
    ///
    /// # Errors
    /// [`RuntimeError::TorchOp`] for an id outside the table or ids of a non-integer dtype.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        match self {
            TokenEmbedding::Dense(e) => e.forward(ids),
            TokenEmbedding::Int8(rows) => rows.lookup(ids),
        }
    }

    /// The f32 table, for a tied output projection of a model without int8 layers.
    pub fn dense_weight(&self) -> Option<&Tensor> {
        match self {
            TokenEmbedding::Dense(e) => Some(&e.weight),
            TokenEmbedding::Int8(_) => None,
        }
    }

    /// `hidden` `(…, dim)` projected on the f32 table: the logits of a tied output
    /// projection in a model without int8 layers.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for an int8 table (whose tied projection is
    /// [`tied_int8_head`](Self::tied_int8_head)); [`RuntimeError::TorchOp`] for a misshapen
    /// `hidden`.
    pub(crate) fn tied_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let weight = self.dense_weight().ok_or_else(|| {
            RuntimeError::InvalidInput("a tied f32 head needs an f32 embedding".into())
        })?;
        hidden
            .f_linear::<Tensor>(weight, None)
            .map_err(RuntimeError::torch("vocabulary projection"))
    }

    /// An int8 output projection tied to this table (packed from the same int8 rows), or
    /// `None` for an f32 table.
    ///
    /// # Errors
    /// [`RuntimeError::Torch`] when FBGEMM cannot run.
    pub(crate) fn tied_int8_head(&self) -> Result<Option<Int8Linear>> {
        match self {
            TokenEmbedding::Dense(_) => Ok(None),
            TokenEmbedding::Int8(rows) => Int8Linear::pack(rows, None).map(Some),
        }
    }
}

/// A projection: a dense layer whose weight is a variable, or an int8 layer.
#[derive(Debug)]
pub enum Projection {
    /// f32 (or bf16) weight variable, optionally adapted.
    Dense(Linear),
    /// Packed int8 weight.
    Int8(Int8Linear),
}

impl Projection {
    /// Declares the projection under `p` (weight `(out, in)`, and a bias when `bias`).
    pub(crate) fn declare(
        p: nn::Path,
        in_dim: i64,
        out_dim: i64,
        bias: bool,
        weights: Weights,
    ) -> Result<Self> {
        Ok(match weights {
            Weights::Variables { lora } => {
                Projection::Dense(Linear::adapted(p, in_dim, out_dim, bias, lora)?)
            }
            Weights::Int8 { source } => Projection::Int8(read_int8(
                source,
                &[Int8Part::linear(&p, in_dim, out_dim, bias)],
            )?),
        })
    }

    /// `(…, in)` → `(…, out)`.
    ///
    /// # Errors
    /// [`RuntimeError::TorchOp`] when `x` does not fit the projection.
    pub fn f_forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Projection::Dense(l) => l.f_forward(x),
            Projection::Int8(l) => l.f_forward(x),
        }
    }

    /// [`f_forward`](Self::f_forward) inside the models' checked forward passes.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        checked(self.f_forward(x), "projection")
    }
}

/// The value of a layer's `f_forward` inside a model's forward pass, whose inputs were checked
/// at the model's boundary: an error there is a bug, so it panics (as tch's own operations do).
pub(crate) fn checked(y: Result<Tensor>, layer: &str) -> Tensor {
    match y {
        Ok(y) => y,
        Err(e) => panic!("{layer}: {e}"),
    }
}

/// Layer normalization with weight and bias.
#[derive(Debug)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f64,
}

impl LayerNorm {
    /// Declares `weight` and `bias` of size `dim` under `p`.
    pub fn new(p: nn::Path, dim: i64, eps: f64) -> Result<Self> {
        Ok(LayerNorm {
            weight: p.f_var("weight", &[dim], nn::Init::Const(1.0))?,
            bias: p.f_var("bias", &[dim], nn::Init::Const(0.0))?,
            eps,
        })
    }

    /// Normalizes the last dimension.
    ///
    /// # Errors
    /// [`RuntimeError::TorchOp`] when `x`'s last dimension, dtype or device does not match.
    pub fn f_forward(&self, x: &Tensor) -> Result<Tensor> {
        x.f_layer_norm(
            [self.weight.size()[0]],
            Some(&self.weight),
            Some(&self.bias),
            self.eps,
            true,
        )
        .map_err(RuntimeError::torch("layer norm"))
    }

    /// [`f_forward`](Self::f_forward) inside the models' checked forward passes.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        checked(self.f_forward(x), "layer norm")
    }
}

/// Root-mean-square normalization (no centering, no bias).
#[derive(Debug)]
pub struct RmsNorm {
    weight: Tensor,
    eps: f64,
}

impl RmsNorm {
    /// A copy whose weight is divided by `factors` `(dim,)`: output feature `c` divided by
    /// `factors[c]` (smoothing the input of the projections that read it). The copy is not
    /// a variable; `self`'s weight is unchanged.
    pub(crate) fn divided(&self, factors: &Tensor) -> Result<Self> {
        let _guard = tch::no_grad_guard();
        Ok(RmsNorm {
            weight: self.weight.f_div(&factors.f_to_kind(self.weight.kind())?)?,
            eps: self.eps,
        })
    }

    /// Declares `weight` of size `dim` under `p`.
    pub fn new(p: nn::Path, dim: i64, eps: f64) -> Result<Self> {
        Ok(RmsNorm {
            weight: p.f_var("weight", &[dim], nn::Init::Const(1.0))?,
            eps,
        })
    }

    /// Normalizes the last dimension.
    ///
    /// # Errors
    /// [`RuntimeError::TorchOp`] when `x`'s last dimension, dtype or device does not match.
    pub fn f_forward(&self, x: &Tensor) -> Result<Tensor> {
        x.f_rms_norm([self.weight.size()[0]], Some(&self.weight), self.eps)
            .map_err(RuntimeError::torch("RMS norm"))
    }

    /// [`f_forward`](Self::f_forward) inside the models' checked forward passes.
    pub(crate) fn forward(&self, x: &Tensor) -> Tensor {
        checked(self.f_forward(x), "RMS norm")
    }
}

/// An embedding table `(rows, dim)`.
#[derive(Debug)]
pub struct Embedding {
    /// `(rows, dim)`.
    pub weight: Tensor,
}

impl Embedding {
    /// Declares `weight` under `p`.
    pub fn new(p: nn::Path, rows: i64, dim: i64) -> Result<Self> {
        Ok(Embedding {
            weight: p.f_var("weight", &[rows, dim], nn::Init::Const(0.0))?,
        })
    }

    /// `(…)` ids → `(…, dim)`.
    ///
    /// # Errors
    /// [`RuntimeError::TorchOp`] for an id outside `0..rows`, ids on another device or of a
    /// non-integer dtype.
    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        Tensor::f_embedding(&self.weight, ids, -1, false, false)
            .map_err(RuntimeError::torch("embedding lookup"))
    }
}

/// Additive mask value for disallowed positions: finite, so a row with nothing to attend to
/// (a padding query) yields a harmless uniform average instead of NaN.
const MASKED: f64 = -1e30;

/// How attention is restricted.
#[derive(Debug)]
pub(crate) enum AttentionMask {
    /// Every query may see every key (single new token, no padding, no window).
    Full,
    /// Plain causal mask with queries and keys aligned (no cache, no padding, no window).
    Causal,
    /// Additive bias `(batch or 1, 1, q_len, k_len)`.
    Bias(Tensor),
}

impl AttentionMask {
    /// The mask for `q_len` new queries over `k_len` keys (the last `q_len` keys are the
    /// queries' own), optionally limited to the last `window` keys, with padded keys removed.
    pub(crate) fn build(
        key_valid: Option<&Tensor>,
        q_len: i64,
        k_len: i64,
        window: Option<i64>,
        kind: Kind,
        device: tch::Device,
    ) -> Self {
        let windowed = window.is_some_and(|w| w < k_len);
        if key_valid.is_none() && !windowed {
            if q_len == 1 {
                return AttentionMask::Full;
            }
            if q_len == k_len {
                return AttentionMask::Causal;
            }
        }
        let opts = (Kind::Int64, device);
        let q_pos = Tensor::arange_start(k_len - q_len, k_len, opts).unsqueeze(1);
        let k_pos = Tensor::arange(k_len, opts).unsqueeze(0);
        let diff = &q_pos - &k_pos; // (q, k): query index minus key index
        let mut allowed = diff.ge(0);
        if let Some(w) = window {
            allowed = allowed.logical_and(&diff.lt(w));
        }
        let mut allowed = allowed.view([1, 1, q_len, k_len]);
        if let Some(valid) = key_valid {
            let b = valid.size()[0];
            allowed = allowed.logical_and(&valid.view([b, 1, 1, k_len]));
        }
        let bias = Tensor::zeros(allowed.size(), (kind, device))
            .masked_fill(&allowed.logical_not(), MASKED);
        AttentionMask::Bias(bias)
    }
}

/// Scaled dot-product attention. `q`: `(b, heads, q, d)`; `k`, `v`: `(b, kv_heads, k, d)`;
/// `kv_heads` may divide `heads` (grouped-query attention). `scale` defaults to `1/√d`.
pub(crate) fn attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: &AttentionMask,
    scale: Option<f64>,
) -> Tensor {
    let gqa = q.size()[1] != k.size()[1];
    match mask {
        AttentionMask::Full => {
            Tensor::scaled_dot_product_attention::<Tensor>(q, k, v, None, 0.0, false, scale, gqa)
        }
        AttentionMask::Causal => {
            Tensor::scaled_dot_product_attention::<Tensor>(q, k, v, None, 0.0, true, scale, gqa)
        }
        AttentionMask::Bias(bias) => {
            Tensor::scaled_dot_product_attention(q, k, v, Some(bias), 0.0, false, scale, gqa)
        }
    }
}

/// `(b, t, heads*d)` → `(b, heads, t, d)`.
pub(crate) fn split_heads(x: &Tensor, heads: i64) -> Tensor {
    let (b, t, hd) = x.size3().expect("3-D activations");
    x.view([b, t, heads, hd / heads]).transpose(1, 2)
}

/// `(b, heads, t, d)` → `(b, t, heads*d)`.
pub(crate) fn merge_heads(x: &Tensor) -> Tensor {
    let (b, h, t, d) = x.size4().expect("4-D activations");
    x.transpose(1, 2).contiguous().view([b, t, h * d])
}

/// Runs attention over the cache (when given) extended with this step's keys and values.
pub(crate) fn cached_kv(
    cache: Option<&mut KvCache>,
    layer: usize,
    k: Tensor,
    v: Tensor,
) -> (Tensor, Tensor) {
    match cache {
        Some(c) => c.append(layer, k, v),
        None => (k, v),
    }
}

/// Applies the activation named by a Hugging Face config.
pub(crate) fn activation(name: &str, x: &Tensor) -> Tensor {
    match name {
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => x.gelu("tanh"),
        "relu" => x.relu(),
        "silu" | "swish" => x.silu(),
        _ => x.gelu("none"),
    }
}

/// Activation names [`activation`] implements exactly.
pub(crate) const ACTIVATIONS: [&str; 7] = [
    "gelu",
    "gelu_new",
    "gelu_pytorch_tanh",
    "gelu_fast",
    "relu",
    "silu",
    "swish",
];
