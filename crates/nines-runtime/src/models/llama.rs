//! Llama-family decoder (SmolLM2, Llama 2/3, TinyLlama, Mistral without sliding window):
//! grouped-query attention, rotary position embeddings, RMSNorm, SwiGLU MLP, optional tied
//! embeddings. Mirrors Hugging Face `modeling_llama.py` (`LlamaForCausalLM`).

use std::ops::Range;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use tch::{Kind, Tensor, nn};

use super::limits::{
    MAX_CONTEXT, MAX_HEADS, MAX_LAYERS, MAX_VOCAB, MAX_WIDTH, check_parameter_memory,
    check_positive, check_sizes,
};
use super::{
    Architecture, AttentionMask, CausalLm, Int8Part, Linear, ModelSpec, RmsNorm, TokenEmbedding,
    Weights, attention, cached_kv, merge_heads, read_int8, read_int8_scaled, smoothing,
};
use crate::checkpoint::TensorSource;
use crate::checkpoint::gguf::GgufFile;
use crate::error::{Result, RuntimeError};
use crate::int8::Int8Linear;
use crate::kv_cache::KvCache;

/// Hyperparameters, as in a Hugging Face Llama `config.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LlamaConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// MLP inner width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (defaults to `num_attention_heads`).
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Per-head width (defaults to `hidden_size / num_attention_heads`).
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// Context length.
    #[serde(default = "default_context")]
    pub max_position_embeddings: usize,
    /// RMSNorm epsilon.
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base (transformers < 5 writes it here; see `rope_parameters`). Default 10000.
    #[serde(default)]
    pub rope_theta: Option<f64>,
    /// RoPE settings as transformers ≥ 5 writes them: `{"rope_theta": …, "rope_type": "default"}`.
    #[serde(default)]
    pub rope_parameters: Option<serde_json::Value>,
    /// Whether the output projection shares the input embedding.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// MLP activation (only `silu` is supported).
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// RoPE scaling (only absent/null is supported).
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// Bias on the attention projections.
    #[serde(default)]
    pub attention_bias: bool,
    /// Bias on the MLP projections.
    #[serde(default)]
    pub mlp_bias: bool,
}

fn default_context() -> usize {
    2048
}
fn default_eps() -> f64 {
    1e-6
}
fn default_act() -> String {
    "silu".into()
}

impl LlamaConfig {
    /// The RoPE base: `rope_theta`, else `rope_parameters.rope_theta`, else 10000.
    pub fn rope_base(&self) -> f64 {
        self.rope_theta
            .or_else(|| {
                self.rope_parameters
                    .as_ref()
                    .and_then(|p| p.get("rope_theta"))
                    .and_then(serde_json::Value::as_f64)
            })
            .unwrap_or(10_000.0)
    }

    fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    fn head_dim(&self) -> usize {
        self.head_dim
            .unwrap_or(self.hidden_size / self.num_attention_heads.max(1))
    }

    /// Checks that the sizes are consistent; `path` names the file in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |field: &str, message: String| Err(RuntimeError::config(path, field, message));
        for (field, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
        ] {
            if v == 0 {
                return bad(field, "must be positive".into());
            }
        }
        check_sizes(
            path,
            &[
                ("vocab_size", self.vocab_size, MAX_VOCAB),
                ("hidden_size", self.hidden_size, MAX_WIDTH),
                ("intermediate_size", self.intermediate_size, MAX_WIDTH),
                ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
                ("num_attention_heads", self.num_attention_heads, MAX_HEADS),
                ("num_key_value_heads", self.kv_heads(), MAX_HEADS),
                ("head_dim", self.head_dim(), MAX_WIDTH),
                (
                    "max_position_embeddings",
                    self.max_position_embeddings,
                    MAX_CONTEXT,
                ),
            ],
        )?;
        if self.max_position_embeddings == 0 {
            return bad("max_position_embeddings", "must be positive".into());
        }
        check_positive(path, "rms_norm_eps", self.rms_norm_eps)?;
        check_positive(path, "rope_theta", self.rope_base())?;
        let (v, h, i, l) = (
            self.vocab_size as u128,
            self.hidden_size as u128,
            self.intermediate_size as u128,
            self.num_hidden_layers as u128,
        );
        let attention =
            (self.num_attention_heads + 2 * self.kv_heads()) as u128 * self.head_dim() as u128 * h
                + self.num_attention_heads as u128 * self.head_dim() as u128 * h;
        let heads = if self.tie_word_embeddings { 1 } else { 2 };
        check_parameter_memory(
            path,
            "num_hidden_layers",
            heads * v * h + l * (attention + 3 * h * i + 2 * h),
        )?;
        if self.kv_heads() == 0 || !self.num_attention_heads.is_multiple_of(self.kv_heads()) {
            return bad(
                "num_key_value_heads",
                format!(
                    "{} does not divide num_attention_heads {}",
                    self.kv_heads(),
                    self.num_attention_heads
                ),
            );
        }
        if self.head_dim.is_none() && !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(
                "hidden_size",
                format!(
                    "{} is not a multiple of num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            );
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad(
                "head_dim",
                format!("{} must be even for rotary embeddings", self.head_dim()),
            );
        }
        if self.hidden_act != "silu" {
            return bad(
                "hidden_act",
                format!("`{}` is not supported (silu)", self.hidden_act),
            );
        }
        if self.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            return bad("rope_scaling", "RoPE scaling is not supported".into());
        }
        let rope_type = self
            .rope_parameters
            .as_ref()
            .and_then(|p| p.get("rope_type"))
            .and_then(serde_json::Value::as_str);
        if let Some(kind) = rope_type.filter(|k| *k != "default") {
            return bad(
                "rope_parameters.rope_type",
                format!("`{kind}` is not supported (default)"),
            );
        }
        Ok(())
    }

    /// Reads the hyperparameters from a GGUF file's `llama.*` metadata.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let get = |k: &str| file.require_u64(&format!("llama.{k}")).map(|v| v as usize);
        let float = |k: &str, default: f64| {
            file.get(&format!("llama.{k}"))
                .and_then(|v| v.as_f64())
                .unwrap_or(default)
        };
        let vocab_size = match file.get("llama.vocab_size").and_then(|v| v.as_u64()) {
            Some(v) => v as usize,
            None => file
                .get("tokenizer.ggml.tokens")
                .and_then(|v| v.as_array())
                .map(<[_]>::len)
                .or_else(|| {
                    file.tensor_info("token_embd.weight")
                        .map(|t| t.dims.get(1).copied().unwrap_or(0) as usize)
                })
                .ok_or_else(|| {
                    RuntimeError::config(
                        file.path(),
                        "llama.vocab_size",
                        "missing, and no token list to infer it from",
                    )
                })?,
        };
        let num_attention_heads = get("attention.head_count")?;
        let hidden_size = get("embedding_length")?;
        let head_dim = file
            .get("llama.rope.dimension_count")
            .and_then(|v| v.as_u64())
            .map(|d| d as usize)
            .filter(|&d| d != hidden_size / num_attention_heads.max(1));
        Ok(LlamaConfig {
            vocab_size,
            hidden_size,
            intermediate_size: get("feed_forward_length")?,
            num_hidden_layers: get("block_count")?,
            num_attention_heads,
            num_key_value_heads: Some(
                file.get("llama.attention.head_count_kv")
                    .and_then(|v| v.as_u64())
                    .map_or(num_attention_heads, |v| v as usize),
            ),
            head_dim,
            max_position_embeddings: get("context_length")?,
            rms_norm_eps: float("attention.layer_norm_rms_epsilon", 1e-5),
            rope_theta: Some(float("rope.freq_base", 10_000.0)),
            rope_parameters: None,
            tie_word_embeddings: file.tensor_info("output.weight").is_none(),
            hidden_act: "silu".into(),
            rope_scaling: None,
            attention_bias: false,
            mlp_bias: false,
        })
    }
}

#[derive(Debug)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    v_proj: Linear,
    o_proj: Linear,
}

#[derive(Debug)]
struct Mlp {
    gate_proj: Linear,
    up_proj: Linear,
    down_proj: Linear,
}

/// A layer's projections in int8, query/key/value and gate/up stacked as in [`FusedLayer`].
#[derive(Debug)]
struct Int8Block {
    /// `((heads + 2·kv_heads)·head_dim, hidden)`.
    qkv: Int8Linear,
    o_proj: Int8Linear,
    /// `(2·intermediate, hidden)`.
    gate_up: Int8Linear,
    down_proj: Int8Linear,
    /// Until the inputs are smoothed: what smoothing needs from the first read.
    unsmoothed: Option<Box<Unsmoothed>>,
}

/// The sizes of a layer's projections.
#[derive(Debug, Clone, Copy)]
struct BlockShape {
    hidden: i64,
    heads: i64,
    kv_heads: i64,
    head_dim: i64,
    intermediate: i64,
    attention_bias: bool,
    mlp_bias: bool,
}

impl Int8Block {
    /// Reads a layer's projections from `source` and quantizes them (two activation levels,
    /// until smoothed), keeping what smoothing needs. `name(module, projection)` is the
    /// checkpoint name of a projection's weight, e.g. `("self_attn", "q_proj")` →
    /// `model.layers.0.self_attn.q_proj.weight`.
    fn read(
        source: &dyn TensorSource,
        name: &dyn Fn(&str, &str) -> String,
        shape: &BlockShape,
    ) -> Result<Self> {
        let BlockShape {
            hidden: h,
            heads,
            kv_heads,
            head_dim: hd,
            intermediate: inter,
            attention_bias: ab,
            mlp_bias: mb,
        } = *shape;
        let part = |module: &str, proj: &str, in_dim, out_dim, bias| Int8Part {
            weight: name(module, proj),
            in_dim,
            out_dim,
            bias,
            transposed: false,
        };
        let parts = [
            vec![
                part("self_attn", "q_proj", h, heads * hd, ab),
                part("self_attn", "k_proj", h, kv_heads * hd, ab),
                part("self_attn", "v_proj", h, kv_heads * hd, ab),
            ],
            vec![part("self_attn", "o_proj", heads * hd, h, ab)],
            vec![
                part("mlp", "gate_proj", h, inter, mb),
                part("mlp", "up_proj", h, inter, mb),
            ],
            vec![part("mlp", "down_proj", inter, h, mb)],
        ];
        let [(qkv, m0), (o_proj, m1), (gate_up, m2), (down_proj, m3)] = [
            read_int8_scaled(source, &parts[0], None, None)?,
            read_int8_scaled(source, &parts[1], None, None)?,
            read_int8_scaled(source, &parts[2], None, None)?,
            read_int8_scaled(source, &parts[3], None, None)?,
        ];
        Ok(Int8Block {
            qkv,
            o_proj,
            gate_up,
            down_proj,
            unsmoothed: Some(Box::new(Unsmoothed {
                parts,
                column_max: [m0, m1, m2, m3],
            })),
        })
    }
}

/// Where a layer's four int8 projections (in [`Int8Block`]'s order) were read from, to read
/// them again smoothed, and the largest magnitude of each of their weight columns as stored.
#[derive(Debug)]
struct Unsmoothed {
    parts: [Vec<Int8Part>; 4],
    column_max: [Tensor; 4],
}

/// A layer's projections.
#[derive(Debug)]
enum Projections {
    /// Weight variables (fused at inference by [`FusedLayer`]).
    Dense { self_attn: Attention, mlp: Mlp },
    /// Int8 layers.
    Int8(Int8Block),
}

#[derive(Debug)]
struct Block {
    input_layernorm: RmsNorm,
    post_attention_layernorm: RmsNorm,
    proj: Projections,
}

/// The output projection.
#[derive(Debug)]
enum Head {
    /// The token embedding, transposed.
    Tied,
    /// `lm_head.weight`.
    Dense(Linear),
    /// Int8, from `lm_head.weight` or the tied embedding.
    Int8(Int8Linear),
}

/// A Llama causal LM.
#[derive(Debug)]
pub struct Llama {
    spec: ModelSpec,
    embed_tokens: TokenEmbedding,
    layers: Vec<Block>,
    norm: RmsNorm,
    lm_head: Head,
    heads: i64,
    kv_heads: i64,
    /// `(context, head_dim)` cosine table, and the sine table with the sign of
    /// "rotate half" folded in (negated first half), so that rotation is
    /// `x·cos + roll(x, head_dim/2)·sin`.
    cos: Tensor,
    sin: Tensor,
    head_dim: i64,
    /// Inference-time fused projections, built at the first forward pass without gradients;
    /// `None` for a layer that cannot be fused (int8, biases, adapters).
    fused: Mutex<Vec<Option<FusedLayer>>>,
}

/// One layer's q/k/v and gate/up weights concatenated along the output dimension, so that
/// inference runs one matrix product for each group. After [`FusedLayer::build`] the layer's
/// own weight variables are (contiguous, row-range) views into these buffers: the model holds
/// one copy of each weight, in-place updates (training, LoRA merges, checkpoint loads) reach
/// both, and the variables keep their layout, so results do not depend on whether a model has
/// run inference yet. Replacing a variable's data (e.g. `VarStore::set_kind`) breaks the
/// aliasing; [`FusedLayer::current`] notices and the buffers are rebuilt.
///
/// (Storing the weights transposed made MKL's 16-row products up to 3× faster, but turned the
/// variables into non-contiguous views, which optimizers and safetensors writers reject; a
/// batch's decoding step gets most of that gain from the product order instead, see
/// [`project`].)
#[derive(Debug)]
struct FusedLayer {
    /// `((heads + 2·kv_heads)·head_dim, hidden)`.
    qkv: Tensor,
    /// `(2·intermediate, hidden)`.
    gate_up: Tensor,
    /// Data pointers of the q, k, v, gate, up weights when the buffers were built.
    ptrs: [usize; 5],
}

impl FusedLayer {
    fn linears(block: &Block) -> Option<[&Linear; 5]> {
        match &block.proj {
            Projections::Dense {
                self_attn: a,
                mlp: f,
            } => Some([&a.q_proj, &a.k_proj, &a.v_proj, &f.gate_proj, &f.up_proj]),
            Projections::Int8(_) => None,
        }
    }

    /// Whether `block`'s projections can be fused: f32 or bf16 variables, none with a bias
    /// or an adapter.
    fn fusable(block: &Block) -> bool {
        Self::linears(block).is_some_and(|l| l.iter().all(|l| l.bias.is_none() && l.lora.is_none()))
    }

    /// Fuses `block`'s projections, or `None` when they cannot be ([`Self::fusable`]).
    fn build(block: &Block) -> Option<Self> {
        if !Self::fusable(block) {
            return None;
        }
        let l = Self::linears(block)?;
        let _guard = tch::no_grad_guard();
        let w: Vec<&Tensor> = l.iter().map(|l| &l.weight).collect();
        let qkv = Tensor::cat(&w[0..3], 0);
        let gate_up = Tensor::cat(&w[3..5], 0);
        let mut ptrs = [0; 5];
        for (buffer, range) in [(&qkv, 0..3), (&gate_up, 3..5)] {
            let mut offset = 0;
            for i in range {
                let rows = w[i].size()[0];
                // Re-point the variable (shared with the VarStore) at its rows of the buffer;
                // its own storage is freed.
                w[i].shallow_clone()
                    .set_data(&buffer.narrow(0, offset, rows));
                offset += rows;
                ptrs[i] = w[i].data_ptr() as usize;
            }
        }
        Some(FusedLayer { qkv, gate_up, ptrs })
    }

    /// Whether the buffers still hold `block`'s weights.
    fn current(&self, block: &Block) -> bool {
        let Some(l) = Self::linears(block) else {
            return false;
        };
        l[0].weight.kind() == self.qkv.kind()
            && l[0].weight.device() == self.qkv.device()
            && l.iter()
                .zip(self.ptrs)
                .all(|(l, p)| l.weight.data_ptr() as usize == p)
    }
}

impl Llama {
    /// Declares the parameters under `root` (Hugging Face names: `model.layers.N...`), with
    /// projections as `weights` says. Int8 projections are quantized from the checkpoint
    /// here, layer by layer, query/key/value and gate/up stacked.
    ///
    /// # Errors
    /// For int8 projections, the checkpoint's missing, misshapen or non-finite tensors.
    pub fn new(root: &nn::Path, cfg: &LlamaConfig, weights: Weights) -> Result<Self> {
        let h = cfg.hidden_size as i64;
        let heads = cfg.num_attention_heads as i64;
        let kv_heads = cfg.kv_heads() as i64;
        let hd = cfg.head_dim() as i64;
        let inter = cfg.intermediate_size as i64;
        let shape = BlockShape {
            hidden: h,
            heads,
            kv_heads,
            head_dim: hd,
            intermediate: inter,
            attention_bias: cfg.attention_bias,
            mlp_bias: cfg.mlp_bias,
        };
        let m = root / "model";
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let p = &m / "layers" / i;
                let a = &p / "self_attn";
                let f = &p / "mlp";
                let (ab, mb) = (cfg.attention_bias, cfg.mlp_bias);
                let proj = match weights {
                    Weights::Variables { lora } => {
                        let l = |p: nn::Path, i, o, bias| Linear::adapted(p, i, o, bias, lora);
                        Projections::Dense {
                            self_attn: Attention {
                                q_proj: l(&a / "q_proj", h, heads * hd, ab)?,
                                k_proj: l(&a / "k_proj", h, kv_heads * hd, ab)?,
                                v_proj: l(&a / "v_proj", h, kv_heads * hd, ab)?,
                                o_proj: l(&a / "o_proj", heads * hd, h, ab)?,
                            },
                            mlp: Mlp {
                                gate_proj: l(&f / "gate_proj", h, inter, mb)?,
                                up_proj: l(&f / "up_proj", h, inter, mb)?,
                                down_proj: l(&f / "down_proj", inter, h, mb)?,
                            },
                        }
                    }
                    Weights::Int8 { source } => {
                        let name = |module: &str, proj: &str| (&p / module / proj).path("weight");
                        Projections::Int8(Int8Block::read(source, &name, &shape)?)
                    }
                };
                Ok(Block {
                    input_layernorm: RmsNorm::new(&p / "input_layernorm", h, cfg.rms_norm_eps)?,
                    post_attention_layernorm: RmsNorm::new(
                        &p / "post_attention_layernorm",
                        h,
                        cfg.rms_norm_eps,
                    )?,
                    proj,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let vocab = cfg.vocab_size as i64;
        let embed_tokens = TokenEmbedding::declare(&m / "embed_tokens", vocab, h, weights)?;
        let lm_head = match (weights, cfg.tie_word_embeddings) {
            (Weights::Variables { .. }, true) => Head::Tied,
            (Weights::Variables { .. }, false) => {
                Head::Dense(Linear::new(root / "lm_head", h, vocab, false)?)
            }
            // The same int8 rows as the embedding, packed for the kernel.
            (Weights::Int8 { .. }, true) => match embed_tokens.tied_int8_head()? {
                Some(head) => Head::Int8(head),
                None => Head::Tied,
            },
            (Weights::Int8 { source }, false) => Head::Int8(read_int8(
                source,
                &[Int8Part::linear(&(root / "lm_head"), h, vocab, false)],
            )?),
        };
        let (cos, sin) = rope_tables(
            cfg.max_position_embeddings as i64,
            hd,
            cfg.rope_base(),
            root.device(),
        )?;
        let sign = Tensor::f_cat(
            &[
                Tensor::f_full([hd / 2], -1.0, (Kind::Float, root.device()))?,
                Tensor::f_ones([hd / 2], (Kind::Float, root.device()))?,
            ],
            0,
        )?;
        let sin = sin.f_mul(&sign)?;
        Ok(Llama {
            spec: ModelSpec {
                architecture: Architecture::Llama,
                vocab_size: cfg.vocab_size,
                hidden_size: cfg.hidden_size,
                num_layers: cfg.num_hidden_layers,
                context_length: cfg.max_position_embeddings,
            },
            embed_tokens,
            layers,
            norm: RmsNorm::new(&m / "norm", h, cfg.rms_norm_eps)?,
            lm_head,
            heads,
            kv_heads,
            cos,
            sin,
            head_dim: hd,
            fused: Mutex::new(Vec::new()),
        })
    }

    /// Smooths every int8 layer still in its first, two-level form: runs
    /// `calibration_ids` `(1, seq)` through the model, records each int8 projection's input
    /// ranges, and quantizes those layers again from `source` with their inputs smoothed per
    /// channel and quantized in one level; the normalizations before them are replaced by
    /// copies divided by the factors. Returns the number of layers smoothed.
    fn smooth_unsmoothed(
        &mut self,
        source: &dyn TensorSource,
        calibration_ids: &Tensor,
    ) -> Result<usize> {
        let waiting = |l: &Block| matches!(&l.proj, Projections::Int8(p) if p.unsmoothed.is_some());
        if !self.layers.iter().any(waiting) {
            return Ok(0);
        }
        let mut smoothed_layers = 0;
        let _guard = tch::no_grad_guard();
        let seq = calibration_ids.size().last().copied().unwrap_or(0);
        let positions =
            Tensor::f_arange(seq, (Kind::Int64, calibration_ids.device()))?.f_view([1, seq])?;
        let (_, maxima) = crate::int8::record_input_maxima(|| {
            self.forward_hidden(calibration_ids, &positions, None, None, false)
        })?;
        let (heads, kv_heads, d) = (self.heads, self.kv_heads, self.head_dim);
        let group = heads / kv_heads;
        for layer in &mut self.layers {
            let Projections::Int8(p) = &layer.proj else {
                continue;
            };
            let Some(u) = p.unsmoothed.as_deref() else {
                continue;
            };
            let seen = |l: &Int8Linear| {
                maxima.get(l).map(Tensor::shallow_clone).ok_or_else(|| {
                    RuntimeError::InvalidInput("an int8 projection was not called".into())
                })
            };
            let s_qkv = smoothing::factors(&seen(&p.qkv)?, &u.column_max[0])?;
            // The attention output of query head h comes from value head h / group: one
            // factor per value feature, the largest over its query heads.
            let s_v = smoothing::factors(&seen(&p.o_proj)?, &u.column_max[1])?
                .f_view([kv_heads, group, d])?
                .f_amax([1i64].as_slice(), false)?;
            let s_o = s_v
                .f_unsqueeze(1)?
                .f_expand([kv_heads, group, d], false)?
                .f_reshape([heads * d])?;
            let s_gu = smoothing::factors(&seen(&p.gate_up)?, &u.column_max[2])?;
            let s_down = smoothing::factors(&seen(&p.down_proj)?, &u.column_max[3])?;
            let ones = |n: i64| Tensor::f_ones([n], (Kind::Float, tch::Device::Cpu));
            // Value rows divided by their factor (the attention output follows), the down
            // projection's input divided through the up projection's rows.
            let qkv_rows = Tensor::f_cat(
                &[
                    ones((heads + kv_heads) * d)?,
                    s_v.f_reshape([kv_heads * d])?.f_reciprocal()?,
                ],
                0,
            )?;
            let gate_up_rows =
                Tensor::f_cat(&[ones(s_down.size()[0])?, s_down.f_reciprocal()?], 0)?;
            let one = crate::int8::ActivationLevels::One;
            let read = |i: usize, columns: &Tensor, rows: Option<&Tensor>| {
                Ok::<_, RuntimeError>(
                    read_int8_scaled(source, &u.parts[i], Some(columns), rows)?
                        .0
                        .with_activation_levels(one),
                )
            };
            let smoothed = Int8Block {
                qkv: read(0, &s_qkv, Some(&qkv_rows))?,
                o_proj: read(1, &s_o, None)?,
                gate_up: read(2, &s_gu, Some(&gate_up_rows))?,
                down_proj: read(3, &s_down, None)?,
                unsmoothed: None,
            };
            // Copies: the normalizations' variables keep the checkpoint's values.
            layer.input_layernorm = layer.input_layernorm.divided(&s_qkv)?;
            layer.post_attention_layernorm = layer.post_attention_layernorm.divided(&s_gu)?;
            layer.proj = Projections::Int8(smoothed);
            smoothed_layers += 1;
        }
        Ok(smoothed_layers)
    }

    /// The fused projections of every layer (`None` for a layer that cannot be fused),
    /// (re)built when missing or stale.
    fn fused_layers(&self) -> Option<MutexGuard<'_, Vec<Option<FusedLayer>>>> {
        let mut fused = self.fused.lock().ok()?;
        let fresh = fused.len() == self.layers.len()
            && fused.iter().zip(&self.layers).all(|(f, l)| match f {
                Some(f) => f.current(l),
                None => !FusedLayer::fusable(l),
            });
        if !fresh {
            fused.clear();
            *fused = self.layers.iter().map(FusedLayer::build).collect();
        }
        Some(fused)
    }
}

/// Most rows for which [`project`] uses the transposed product.
const FEW_ROWS: i64 = 64;

/// `x · Wᵀ` for `x` `(…, in)` and `w` `(out, in)`. With `few_rows` it is computed as
/// `(W · xᵀ)ᵀ`, the same product in a layout MKL runs faster for a handful of rows: at 16 rows
/// and SmolLM2's shapes (30 layers), 12.2 → 5.9 ms (down), 2.8 → 1.8 ms (o), 26.3 → 21.8 ms
/// (gate/up), 4.2 → 3.8 ms (q/k/v), and 11.8 → 9.2 ms for the tied output projection
/// (`scripts/peers/bandwidth.py`, idle machine, 2 threads). The result is a transposed view.
fn project(x: &Tensor, w: &Tensor, few_rows: bool) -> Tensor {
    if !few_rows {
        return x.linear::<Tensor>(w, None);
    }
    let sizes = x.size();
    let inner = sizes[sizes.len() - 1];
    let mut out = sizes.clone();
    out[sizes.len() - 1] = w.size()[0];
    w.matmul(&x.reshape([-1, inner]).tr()).tr().reshape(out)
}

/// A projection with neither bias nor adapter goes through [`project`]; others through
/// [`Linear::forward`].
fn plain_projection(l: &Linear, x: &Tensor, few_rows: bool) -> Tensor {
    if few_rows && l.bias.is_none() && l.lora.is_none() {
        project(x, &l.weight, true)
    } else {
        l.forward(x)
    }
}

/// Cosine and sine tables `(positions, head_dim)` in Hugging Face's "rotate half" layout.
fn rope_tables(
    positions: i64,
    head_dim: i64,
    theta: f64,
    device: tch::Device,
) -> Result<(Tensor, Tensor)> {
    let exponents = Tensor::f_arange_start_step(0, head_dim, 2, (Kind::Float, device))?
        .f_div_scalar(head_dim)?;
    let inv_freq = Tensor::from(theta)
        .f_to_device(device)?
        .f_pow(&exponents)?
        .f_reciprocal()?;
    let pos = Tensor::f_arange(positions, (Kind::Float, device))?;
    let freqs = pos.f_unsqueeze(1)?.f_mul(&inv_freq.f_unsqueeze(0)?)?;
    let emb = Tensor::f_cat(&[&freqs, &freqs], 1)?;
    Ok((emb.f_cos()?, emb.f_sin()?))
}

/// Rotary embedding of `x` `(b, t, heads, head_dim)` with `cos`, signed `sin` `(b, t, 1,
/// head_dim)`: Hugging Face's `x·cos + rotate_half(x)·sin`.
fn rotate(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    let half = x.size()[3] / 2;
    x * cos + x.roll([half].as_slice(), [3i64].as_slice()) * sin
}

/// Whether autograd records operations (no `no_grad` guard is active). tch does not expose
/// the flag, so probe it with a one-element product.
fn grad_enabled() -> bool {
    let probe = Tensor::zeros([1], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
    (&probe * 2.0).requires_grad()
}

/// `(b, t, heads, d)` → `(b, heads, t, d)`.
fn heads_first(x: &Tensor) -> Tensor {
    x.transpose(1, 2)
}

impl CausalLm for Llama {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn embed(&self, input_ids: &Tensor, _position_ids: &Tensor, _train: bool) -> Result<Tensor> {
        self.embed_tokens.forward(input_ids)
    }

    fn forward_blocks(
        &self,
        mut x: Tensor,
        position_ids: &Tensor,
        key_valid: Option<&Tensor>,
        mut cache: Option<&mut KvCache>,
        layers: Range<usize>,
        train: bool,
    ) -> Result<Tensor> {
        super::check_blocks(
            self.spec(),
            &x,
            position_ids,
            key_valid,
            cache.as_deref(),
            &layers,
        )?;
        let (b, t, _) = x.size3()?;
        let kind = x.kind();
        let past = cache.as_ref().map_or(0, |c| c.seq_len());
        let mask = AttentionMask::build(key_valid, t, past + t, None, kind, x.device());
        // (b, t, 1, head_dim), shared by all layers and heads.
        let flat = position_ids.flatten(0, 1);
        let table = |tab: &Tensor| {
            let rows = tab.index_select(0, &flat).view([b, t, 1, -1]);
            if rows.kind() == kind {
                rows
            } else {
                rows.to_kind(kind)
            }
        };
        let (cos, sin) = (table(&self.cos), table(&self.sin));
        let d = self.head_dim;
        // Fused projections serve inference; with gradients (training) the layers' own
        // weights and adapters are used.
        let fused = if train || grad_enabled() {
            None
        } else {
            self.fused_layers()
        };
        // A decoding step of a batch: a few rows per product, where MKL is faster on
        // `(W · xᵀ)ᵀ` than on `x · Wᵀ` (see `project`).
        let few_rows = t == 1 && (2..=FEW_ROWS).contains(&b);
        for (i, layer) in self
            .layers
            .iter()
            .enumerate()
            .take(layers.end)
            .skip(layers.start)
        {
            let (heads, kv_heads) = (self.heads, self.kv_heads);
            let fused_layer = fused.as_ref().and_then(|f| f[i].as_ref());
            let h = layer.input_layernorm.forward(&x);
            // The stacked q/k/v product `(b, t, (heads + 2·kv_heads)·d)` split into heads,
            // q and k rotated together.
            let split = |qkv: Tensor| {
                let (nq, nkv) = (heads * d, kv_heads * d);
                let qk = rotate(
                    &qkv.narrow(2, 0, nq + nkv)
                        .reshape([b, t, heads + kv_heads, d]),
                    &cos,
                    &sin,
                );
                (
                    qk.narrow(2, 0, heads),
                    qk.narrow(2, heads, kv_heads),
                    qkv.narrow(2, nq + nkv, nkv).reshape([b, t, kv_heads, d]),
                )
            };
            let (q, k, v) = match (&layer.proj, fused_layer) {
                (Projections::Int8(p), _) => split(p.qkv.forward(&h)),
                (Projections::Dense { .. }, Some(f)) => split(project(&h, &f.qkv, few_rows)),
                (Projections::Dense { self_attn: a, .. }, None) => (
                    rotate(&a.q_proj.forward(&h).view([b, t, heads, d]), &cos, &sin),
                    rotate(&a.k_proj.forward(&h).view([b, t, kv_heads, d]), &cos, &sin),
                    a.v_proj.forward(&h).view([b, t, kv_heads, d]),
                ),
            };
            let (k, v) = cached_kv(cache.as_deref_mut(), i, heads_first(&k), heads_first(&v));
            let attn = if t == 1 {
                // One new token: fold each key/value head's query heads into the query
                // length, so attention runs on the cached keys and values as they are,
                // without repeating them per query head.
                let g = heads / kv_heads;
                let q = q.reshape([b, kv_heads, g, d]);
                let bias = match &mask {
                    AttentionMask::Bias(bias) => Some(bias),
                    _ => None,
                };
                let out = match bias {
                    // On CUDA the fused kernels that SDPA picks for bf16 (cuDNN attention
                    // first) build a plan per key length, i.e. per decoding step: ~50 ms a
                    // step on an H200. Call the memory-efficient kernel directly; with a
                    // padding mask (which that kernel wants padded to an aligned length),
                    // compute attention from its parts, softmax in f32.
                    None if q.device().is_cuda() => {
                        Tensor::internal_scaled_dot_product_efficient_attention(
                            &q,
                            &k,
                            &v,
                            None::<&Tensor>,
                            false,
                            0.0,
                            false,
                            None,
                        )
                        .0
                    }
                    Some(bias) if q.device().is_cuda() && kind != Kind::Float => {
                        let scores = (&q * (d as f64).sqrt().recip()).matmul(&k.transpose(-2, -1));
                        (scores + bias)
                            .softmax(-1, Kind::Float)
                            .to_kind(kind)
                            .matmul(&v)
                    }
                    // On the CPU, for a batch of rows, two batched products and a softmax
                    // take about half the time of SDPA's flash kernel, which works through
                    // the few query rows block by block (batch 16: 75 against 148 µs a
                    // layer at 40 keys, `scripts/peers/decode_ops.py`).
                    _ if b > 1 && !q.device().is_cuda() && kind == Kind::Float => {
                        let scores = (&q * (d as f64).sqrt().recip()).matmul(&k.transpose(-2, -1));
                        let scores = match bias {
                            Some(bias) => scores + bias,
                            None => scores,
                        };
                        scores.softmax(-1, Kind::Float).matmul(&v)
                    }
                    _ => Tensor::scaled_dot_product_attention(
                        &q, &k, &v, bias, 0.0, false, None, false,
                    ),
                };
                out.reshape([b, 1, heads * d])
            } else {
                merge_heads(&attention(&heads_first(&q), &k, &v, &mask, None))
            };
            x = x + match &layer.proj {
                Projections::Int8(p) => p.o_proj.forward(&attn),
                Projections::Dense { self_attn: a, .. } => {
                    plain_projection(&a.o_proj, &attn, few_rows && fused_layer.is_some())
                }
            };
            let h = layer.post_attention_layernorm.forward(&x);
            let gate_up = |gu: Tensor| {
                let inter = gu.size()[2] / 2;
                gu.narrow(2, 0, inter).silu() * gu.narrow(2, inter, inter)
            };
            x = x + match (&layer.proj, fused_layer) {
                (Projections::Int8(p), _) => p.down_proj.forward(&gate_up(p.gate_up.forward(&h))),
                (Projections::Dense { mlp, .. }, Some(f)) => plain_projection(
                    &mlp.down_proj,
                    &gate_up(project(&h, &f.gate_up, few_rows)),
                    few_rows,
                ),
                (Projections::Dense { mlp, .. }, None) => mlp
                    .down_proj
                    .forward(&(mlp.gate_proj.forward(&h).silu() * mlp.up_proj.forward(&h))),
            };
        }
        Ok(x)
    }

    fn smooth_int8(&mut self, source: &dyn TensorSource, calibration_ids: &Tensor) -> Result<bool> {
        Ok(self.smooth_unsmoothed(source, calibration_ids)? > 0)
    }

    fn quantize_blocks(
        &mut self,
        source: &dyn TensorSource,
        layers: Range<usize>,
        calibration_ids: &Tensor,
    ) -> Result<usize> {
        if layers.end > self.layers.len() || layers.start > layers.end {
            return Err(RuntimeError::InvalidInput(format!(
                "blocks {layers:?} to quantize: the model has {}",
                self.layers.len()
            )));
        }
        let mut quantized = 0;
        for i in layers {
            let Projections::Dense { self_attn: a, mlp } = &self.layers[i].proj else {
                continue;
            };
            let linears = [
                &a.q_proj,
                &a.k_proj,
                &a.v_proj,
                &a.o_proj,
                &mlp.gate_proj,
                &mlp.up_proj,
                &mlp.down_proj,
            ];
            if linears.iter().any(|l| l.lora.is_some()) {
                return Err(RuntimeError::InvalidInput(format!(
                    "block {i} has LoRA adapters; int8 copies would leave them out"
                )));
            }
            let shape = BlockShape {
                hidden: self.spec.hidden_size as i64,
                heads: self.heads,
                kv_heads: self.kv_heads,
                head_dim: self.head_dim,
                intermediate: mlp.gate_proj.weight.size()[0],
                attention_bias: a.q_proj.bias.is_some(),
                mlp_bias: mlp.gate_proj.bias.is_some(),
            };
            let name =
                |module: &str, proj: &str| format!("model.layers.{i}.{module}.{proj}.weight");
            let block = Int8Block::read(source, &name, &shape)?;
            self.layers[i].proj = Projections::Int8(block);
            quantized += 1;
        }
        self.smooth_unsmoothed(source, calibration_ids)?;
        Ok(quantized)
    }

    fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        super::check_hidden(self.spec(), x)?;
        Ok(self.norm.forward(x))
    }

    fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        super::check_hidden(self.spec(), hidden)?;
        // One position of a few rows: a batch's decoding step.
        let rows = hidden.numel() as i64 / hidden.size().last().copied().unwrap_or(1);
        let seq = if hidden.dim() == 3 {
            hidden.size()[1]
        } else {
            1
        };
        let few_rows = seq == 1 && (2..=FEW_ROWS).contains(&rows);
        Ok(match &self.lm_head {
            Head::Dense(head) => plain_projection(head, hidden, few_rows),
            Head::Tied => {
                let weight = self.embed_tokens.dense_weight().ok_or_else(|| {
                    RuntimeError::InvalidInput("a tied f32 head needs an f32 embedding".into())
                })?;
                project(hidden, weight, few_rows)
            }
            Head::Int8(head) => head.forward(hidden),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_row_projection_is_the_same_product() {
        tch::manual_seed(1);
        let opts = (Kind::Float, tch::Device::Cpu);
        let w = Tensor::randn([96, 40], opts);
        let x = Tensor::randn([16, 1, 40], opts);
        let a = x.linear::<Tensor>(&w, None);
        let b = project(&x, &w, true);
        assert_eq!(a.size(), b.size());
        let diff = (a - b).abs().max().double_value(&[]);
        assert!(diff < 1e-4, "{diff}");
    }

    fn cfg(extra: serde_json::Value) -> LlamaConfig {
        let mut v = serde_json::json!({
            "vocab_size": 8, "hidden_size": 8, "intermediate_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2
        });
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn rope_base_from_either_layout() {
        assert_eq!(cfg(serde_json::json!({})).rope_base(), 10_000.0);
        assert_eq!(cfg(serde_json::json!({"rope_theta": 5e5})).rope_base(), 5e5);
        let c = cfg(
            serde_json::json!({"rope_parameters": {"rope_theta": 1e6, "rope_type": "default"}}),
        );
        assert_eq!(c.rope_base(), 1e6);
        assert!(c.validate(Path::new("config.json")).is_ok());
        let c =
            cfg(serde_json::json!({"rope_parameters": {"rope_theta": 1e6, "rope_type": "yarn"}}));
        assert!(
            c.validate(Path::new("config.json"))
                .unwrap_err()
                .to_string()
                .contains("rope_type")
        );
    }
    #[test]
    fn fused_inference_matches_the_training_path_and_follows_weight_changes() {
        use crate::{DType, DeviceSpec, LanguageModel, LoadOptions};
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/llama");
        let opts = LoadOptions {
            device: DeviceSpec::Cpu,
            dtype: DType::F32,
        };
        let mut lm = LanguageModel::load(&dir, opts).unwrap();
        let ids = Tensor::from_slice(&[5i64, 17, 42, 7, 99, 3]).view([2, 3]);
        let pos = Tensor::from_slice(&[0i64, 1, 2, 0, 1, 2]).view([2, 3]);
        let fused = || tch::no_grad(|| lm.model().forward(&ids, &pos, None, None)).unwrap();
        let plain =
            |lm: &LanguageModel| lm.model().forward(&ids, &pos, None, None).unwrap().detach();
        let a = fused();
        let b = plain(&lm);
        let diff = (&a - &b).abs().max().double_value(&[]);
        assert!(diff < 1e-4, "fused vs unfused: {diff}");
        // In-place updates of the variables reach the fused buffers.
        tch::no_grad(|| {
            for (name, mut v) in lm.var_store().variables() {
                if name.ends_with("up_proj.weight") || name.ends_with("q_proj.weight") {
                    let _ = v.g_mul_scalar_(0.5);
                }
            }
        });
        let a = fused();
        let b = plain(&lm);
        assert!((&a - &b).abs().max().double_value(&[]) < 1e-4);
        // Replacing the data (a dtype change) rebuilds them.
        lm.var_store_mut().set_kind(Kind::BFloat16);
        let a = tch::no_grad(|| lm.model().forward(&ids, &pos, None, None))
            .unwrap()
            .to_kind(Kind::Float);
        let b = plain(&lm).to_kind(Kind::Float);
        assert_eq!(a.size(), b.size());
        assert!((&a - &b).abs().max().double_value(&[]) < 0.1);
    }
}
