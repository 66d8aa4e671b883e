//! GPT-2: learned absolute positions, pre-LayerNorm blocks, fused QKV projection stored as a
//! `Conv1D` (weights `(in, out)`), GELU MLP, tied embeddings. Mirrors Hugging Face
//! `modeling_gpt2.py` (`GPT2LMHeadModel`).

use std::ops::Range;
use std::path::Path;

use tch::{Tensor, nn};

use super::limits::{
    MAX_CONTEXT, MAX_HEADS, MAX_LAYERS, MAX_VOCAB, MAX_WIDTH, check_parameter_memory,
    check_positive, check_probability, check_sizes,
};
use super::{
    ACTIVATIONS, Architecture, AttentionMask, CausalLm, Embedding, Int8Part, LayerNorm, Lora,
    ModelSpec, TokenEmbedding, Weights, activation, attention, cached_kv, merge_heads, read_int8,
    split_heads,
};
use crate::error::{Result, RuntimeError};
use crate::int8::Int8Linear;
use crate::kv_cache::KvCache;

/// Hyperparameters, as in a Hugging Face GPT-2 `config.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Gpt2Config {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Residual width.
    pub n_embd: usize,
    /// Blocks.
    pub n_layer: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Context length.
    #[serde(default = "default_positions")]
    pub n_positions: usize,
    /// MLP width (defaults to `4 * n_embd`).
    #[serde(default)]
    pub n_inner: Option<usize>,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    /// MLP activation.
    #[serde(default = "default_act")]
    pub activation_function: String,
    /// Dropout on embeddings (training only).
    #[serde(default)]
    pub embd_pdrop: f64,
    /// Dropout on residual branches (training only).
    #[serde(default)]
    pub resid_pdrop: f64,
    /// Whether attention scores are divided by `√head_dim`.
    #[serde(default = "default_true")]
    pub scale_attn_weights: bool,
}

fn default_positions() -> usize {
    1024
}
fn default_eps() -> f64 {
    1e-5
}
fn default_act() -> String {
    "gelu_new".into()
}
fn default_true() -> bool {
    true
}

impl Gpt2Config {
    /// Checks that the sizes are consistent; `path` names the file in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        check_probability(path, "embd_pdrop", self.embd_pdrop)?;
        check_probability(path, "resid_pdrop", self.resid_pdrop)?;
        let inner = self.n_inner.unwrap_or(4 * self.n_embd);
        check_sizes(
            path,
            &[
                ("vocab_size", self.vocab_size, MAX_VOCAB),
                ("n_embd", self.n_embd, MAX_WIDTH),
                ("n_inner", inner, MAX_WIDTH),
                ("n_layer", self.n_layer, MAX_LAYERS),
                ("n_head", self.n_head, MAX_HEADS),
                ("n_positions", self.n_positions, MAX_CONTEXT),
            ],
        )?;
        if self.n_positions == 0 {
            return Err(RuntimeError::config(
                path,
                "n_positions",
                "must be positive",
            ));
        }
        check_positive(path, "layer_norm_epsilon", self.layer_norm_epsilon)?;
        let (v, h, l) = (
            self.vocab_size as u128,
            self.n_embd as u128,
            self.n_layer as u128,
        );
        check_parameter_memory(
            path,
            "n_layer",
            (v + self.n_positions as u128) * h + l * (4 * h * h + 2 * h * inner as u128),
        )?;
        if self.n_head == 0 || self.n_embd == 0 || !self.n_embd.is_multiple_of(self.n_head) {
            return Err(RuntimeError::config(
                path,
                "n_embd",
                format!(
                    "{} is not a positive multiple of n_head {}",
                    self.n_embd, self.n_head
                ),
            ));
        }
        if self.vocab_size == 0 || self.n_layer == 0 {
            return Err(RuntimeError::config(
                path,
                "vocab_size",
                "vocab_size and n_layer must be positive",
            ));
        }
        if !ACTIVATIONS.contains(&self.activation_function.as_str()) {
            return Err(RuntimeError::config(
                path,
                "activation_function",
                format!("`{}` is not supported", self.activation_function),
            ));
        }
        Ok(())
    }
}

/// A `Conv1D` layer of GPT-2: `y = x W + b` with `W: (in, out)`.
#[derive(Debug)]
enum Conv1D {
    /// Weight and bias variables, optionally adapted.
    Dense {
        weight: Tensor,
        bias: Tensor,
        lora: Option<Lora>,
    },
    /// Int8 (the weight transposed to `(out, in)` when quantized).
    Int8(Int8Linear),
}

impl Conv1D {
    fn new(p: nn::Path, in_dim: i64, out_dim: i64, weights: Weights) -> Result<Self> {
        Ok(match weights {
            Weights::Variables { lora } => Conv1D::Dense {
                weight: p.var("weight", &[in_dim, out_dim], nn::Init::Const(0.0)),
                bias: p.var("bias", &[out_dim], nn::Init::Const(0.0)),
                lora: Lora::declare(&p, in_dim, out_dim, lora)?,
            },
            Weights::Int8 { source } => Conv1D::Int8(read_int8(
                source,
                &[Int8Part {
                    weight: p.path("weight"),
                    in_dim,
                    out_dim,
                    bias: true,
                    transposed: true,
                }],
            )?),
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Conv1D::Dense { weight, bias, lora } => {
                let y = x.linear(&weight.tr(), Some(bias));
                match lora {
                    Some(l) => y + l.forward(x),
                    None => y,
                }
            }
            Conv1D::Int8(l) => l.forward(x),
        }
    }
}

#[derive(Debug)]
struct Block {
    ln_1: LayerNorm,
    c_attn: Conv1D,
    attn_proj: Conv1D,
    ln_2: LayerNorm,
    c_fc: Conv1D,
    mlp_proj: Conv1D,
}

/// A GPT-2 causal LM (output projection tied to the token embedding).
#[derive(Debug)]
pub struct Gpt2 {
    spec: ModelSpec,
    cfg: Gpt2Config,
    wte: TokenEmbedding,
    wpe: Embedding,
    h: Vec<Block>,
    ln_f: LayerNorm,
    /// The output projection as int8, when the projections are (packed from the int8
    /// embedding rows).
    int8_head: Option<Int8Linear>,
}

impl Gpt2 {
    /// Declares the parameters under `root` (Hugging Face names: `transformer.h.N...`), with
    /// projections as `weights` says (LoRA adapters can target `c_attn`, `c_proj`, `c_fc`).
    ///
    /// # Errors
    /// For int8 projections, the checkpoint's missing, misshapen or non-finite tensors.
    pub fn new(root: &nn::Path, cfg: &Gpt2Config, weights: Weights) -> Result<Self> {
        let e = cfg.n_embd as i64;
        let inner = cfg.n_inner.unwrap_or(4 * cfg.n_embd) as i64;
        let t = root / "transformer";
        let h = (0..cfg.n_layer)
            .map(|i| {
                let p = &t / "h" / i;
                Ok(Block {
                    ln_1: LayerNorm::new(&p / "ln_1", e, cfg.layer_norm_epsilon)?,
                    c_attn: Conv1D::new(&p / "attn" / "c_attn", e, 3 * e, weights)?,
                    attn_proj: Conv1D::new(&p / "attn" / "c_proj", e, e, weights)?,
                    ln_2: LayerNorm::new(&p / "ln_2", e, cfg.layer_norm_epsilon)?,
                    c_fc: Conv1D::new(&p / "mlp" / "c_fc", e, inner, weights)?,
                    mlp_proj: Conv1D::new(&p / "mlp" / "c_proj", inner, e, weights)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let wte = TokenEmbedding::declare(&t / "wte", cfg.vocab_size as i64, e, weights)?;
        // An int8 model packs its output projection from the embedding's int8 rows.
        let int8_head = wte.tied_int8_head()?;
        Ok(Gpt2 {
            spec: ModelSpec {
                architecture: Architecture::Gpt2,
                vocab_size: cfg.vocab_size,
                hidden_size: cfg.n_embd,
                num_layers: cfg.n_layer,
                context_length: cfg.n_positions,
            },
            cfg: cfg.clone(),
            wte,
            wpe: Embedding::new(&t / "wpe", cfg.n_positions as i64, e)?,
            h,
            ln_f: LayerNorm::new(&t / "ln_f", e, cfg.layer_norm_epsilon)?,
            int8_head,
        })
    }
}

impl CausalLm for Gpt2 {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn embed(&self, input_ids: &Tensor, position_ids: &Tensor, train: bool) -> Result<Tensor> {
        Ok(
            (self.wte.forward(input_ids)? + self.wpe.forward(position_ids)?)
                .dropout(self.cfg.embd_pdrop, train),
        )
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
        let t = x.size()[1];
        let heads = self.cfg.n_head as i64;
        let past = cache.as_ref().map_or(0, |c| c.seq_len());
        let mask = AttentionMask::build(key_valid, t, past + t, None, x.kind(), x.device());
        let scale = if self.cfg.scale_attn_weights {
            None
        } else {
            Some(1.0)
        };
        for (i, block) in self
            .h
            .iter()
            .enumerate()
            .take(layers.end)
            .skip(layers.start)
        {
            let qkv = block.c_attn.forward(&block.ln_1.forward(&x)).chunk(3, 2);
            let q = split_heads(&qkv[0], heads);
            let k = split_heads(&qkv[1], heads);
            let v = split_heads(&qkv[2], heads);
            let (k, v) = cached_kv(cache.as_deref_mut(), i, k, v);
            let a = attention(&q, &k, &v, &mask, scale);
            x = x + block
                .attn_proj
                .forward(&merge_heads(&a))
                .dropout(self.cfg.resid_pdrop, train);
            let m = activation(
                &self.cfg.activation_function,
                &block.c_fc.forward(&block.ln_2.forward(&x)),
            );
            x = x + block
                .mlp_proj
                .forward(&m)
                .dropout(self.cfg.resid_pdrop, train);
        }
        Ok(x)
    }

    fn final_norm(&self, x: &Tensor) -> Result<Tensor> {
        super::check_hidden(self.spec(), x)?;
        Ok(self.ln_f.forward(x))
    }

    fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        super::check_hidden(self.spec(), hidden)?;
        match &self.int8_head {
            Some(head) => Ok(head.forward(hidden)),
            None => self.wte.tied_logits(hidden),
        }
    }
}
