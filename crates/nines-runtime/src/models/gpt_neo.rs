//! GPT-Neo: GPT-2-like blocks whose layers alternate between global attention and local
//! attention over the last `window_size` tokens; attention scores are not scaled. Mirrors
//! Hugging Face `modeling_gpt_neo.py` (`GPTNeoForCausalLM`).

use std::ops::Range;
use std::path::Path;

use tch::{Tensor, nn};

use super::limits::{
    MAX_CONTEXT, MAX_HEADS, MAX_LAYERS, MAX_VOCAB, MAX_WIDTH, check_parameter_memory,
    check_positive, check_probability, check_sizes,
};
use super::{
    ACTIVATIONS, Architecture, AttentionMask, CausalLm, Embedding, LayerNorm, ModelSpec,
    Projection, TokenEmbedding, Weights, activation, attention, cached_kv, merge_heads,
    split_heads,
};
use crate::error::{Result, RuntimeError};
use crate::int8::Int8Linear;
use crate::kv_cache::KvCache;

/// Hyperparameters, as in a Hugging Face GPT-Neo `config.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GptNeoConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// Blocks.
    pub num_layers: usize,
    /// Attention heads.
    pub num_heads: usize,
    /// Context length.
    #[serde(default = "default_positions")]
    pub max_position_embeddings: usize,
    /// MLP width (defaults to `4 * hidden_size`).
    #[serde(default)]
    pub intermediate_size: Option<usize>,
    /// Local attention window.
    #[serde(default = "default_window")]
    pub window_size: usize,
    /// Per-layer attention kind (`global` or `local`), expanded.
    #[serde(default)]
    pub attention_layers: Vec<String>,
    /// Compact form `[[["global", "local"], repeats], ...]`, used when `attention_layers` is absent.
    #[serde(default)]
    pub attention_types: Vec<(Vec<String>, usize)>,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_epsilon: f64,
    /// MLP activation.
    #[serde(default = "default_act")]
    pub activation_function: String,
    /// Dropout on embeddings (training only).
    #[serde(default)]
    pub embed_dropout: f64,
    /// Dropout on residual branches (training only).
    #[serde(default)]
    pub resid_dropout: f64,
}

fn default_positions() -> usize {
    2048
}
fn default_window() -> usize {
    256
}
fn default_eps() -> f64 {
    1e-5
}
fn default_act() -> String {
    "gelu_new".into()
}

impl GptNeoConfig {
    /// The attention kind of every layer, `true` for local.
    pub fn local_layers(&self) -> Vec<bool> {
        let names: Vec<String> = if self.attention_layers.is_empty() {
            self.attention_types
                .iter()
                .flat_map(|(kinds, n)| (0..*n).flat_map(move |_| kinds.clone()))
                .collect()
        } else {
            self.attention_layers.clone()
        };
        names.iter().map(|k| k == "local").collect()
    }

    /// Checks that the sizes are consistent; `path` names the file in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        check_probability(path, "embed_dropout", self.embed_dropout)?;
        check_probability(path, "resid_dropout", self.resid_dropout)?;
        let inner = self.intermediate_size.unwrap_or(4 * self.hidden_size);
        check_sizes(
            path,
            &[
                ("vocab_size", self.vocab_size, MAX_VOCAB),
                ("hidden_size", self.hidden_size, MAX_WIDTH),
                ("intermediate_size", inner, MAX_WIDTH),
                ("num_layers", self.num_layers, MAX_LAYERS),
                ("num_heads", self.num_heads, MAX_HEADS),
                (
                    "max_position_embeddings",
                    self.max_position_embeddings,
                    MAX_CONTEXT,
                ),
            ],
        )?;
        if self.vocab_size == 0 || self.num_layers == 0 || self.max_position_embeddings == 0 {
            return Err(RuntimeError::config(
                path,
                "vocab_size",
                "vocab_size, num_layers and max_position_embeddings must be positive",
            ));
        }
        check_positive(path, "layer_norm_epsilon", self.layer_norm_epsilon)?;
        let (v, h, l) = (
            self.vocab_size as u128,
            self.hidden_size as u128,
            self.num_layers as u128,
        );
        check_parameter_memory(
            path,
            "num_layers",
            (v + self.max_position_embeddings as u128) * h
                + l * (4 * h * h + 2 * h * inner as u128),
        )?;
        if self.num_heads == 0
            || self.hidden_size == 0
            || !self.hidden_size.is_multiple_of(self.num_heads)
        {
            return Err(RuntimeError::config(
                path,
                "hidden_size",
                format!(
                    "{} is not a positive multiple of num_heads {}",
                    self.hidden_size, self.num_heads
                ),
            ));
        }
        let kinds = if self.attention_layers.is_empty() {
            "attention_types"
        } else {
            "attention_layers"
        };
        // Counted before anything is expanded: `[["global"], 1e12]` is one short line.
        let described = self.attention_types.iter().try_fold(0usize, |sum, (k, n)| {
            sum.checked_add(k.len().checked_mul(*n)?)
        });
        if self.attention_layers.is_empty() && described.is_none_or(|n| n > MAX_LAYERS) {
            return Err(RuntimeError::config(
                path,
                kinds,
                format!("describes more than {MAX_LAYERS} layers"),
            ));
        }
        let layers = self.local_layers();
        if layers.len() != self.num_layers {
            return Err(RuntimeError::config(
                path,
                kinds,
                format!(
                    "describes {} layers, num_layers is {}",
                    layers.len(),
                    self.num_layers
                ),
            ));
        }
        let names: Vec<String> = if self.attention_layers.is_empty() {
            self.attention_types
                .iter()
                .flat_map(|(k, _)| k.clone())
                .collect()
        } else {
            self.attention_layers.clone()
        };
        if let Some(bad) = names.iter().find(|k| *k != "local" && *k != "global") {
            return Err(RuntimeError::config(
                path,
                kinds,
                format!("unknown attention kind `{bad}` (global or local)"),
            ));
        }
        if self.window_size == 0 {
            return Err(RuntimeError::config(
                path,
                "window_size",
                "must be positive",
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

#[derive(Debug)]
struct Block {
    ln_1: LayerNorm,
    q_proj: Projection,
    k_proj: Projection,
    v_proj: Projection,
    out_proj: Projection,
    local: bool,
    ln_2: LayerNorm,
    c_fc: Projection,
    c_proj: Projection,
}

/// A GPT-Neo causal LM (output projection tied to the token embedding).
#[derive(Debug)]
pub struct GptNeo {
    spec: ModelSpec,
    cfg: GptNeoConfig,
    wte: TokenEmbedding,
    wpe: Embedding,
    h: Vec<Block>,
    ln_f: LayerNorm,
    /// The output projection as int8, when the projections are (packed from the int8
    /// embedding rows).
    int8_head: Option<Int8Linear>,
}

impl GptNeo {
    /// Declares the parameters under `root` (Hugging Face names: `transformer.h.N...`), with
    /// projections as `weights` says.
    ///
    /// # Errors
    /// For int8 projections, the checkpoint's missing, misshapen or non-finite tensors.
    pub fn new(root: &nn::Path, cfg: &GptNeoConfig, weights: Weights) -> Result<Self> {
        let e = cfg.hidden_size as i64;
        let inner = cfg.intermediate_size.unwrap_or(4 * cfg.hidden_size) as i64;
        let t = root / "transformer";
        let h = cfg
            .local_layers()
            .into_iter()
            .enumerate()
            .map(|(i, local)| {
                let p = &t / "h" / i;
                let a = &p / "attn" / "attention";
                let proj = |p: nn::Path, i, o, bias| Projection::declare(p, i, o, bias, weights);
                Ok(Block {
                    ln_1: LayerNorm::new(&p / "ln_1", e, cfg.layer_norm_epsilon)?,
                    q_proj: proj(&a / "q_proj", e, e, false)?,
                    k_proj: proj(&a / "k_proj", e, e, false)?,
                    v_proj: proj(&a / "v_proj", e, e, false)?,
                    out_proj: proj(&a / "out_proj", e, e, true)?,
                    local,
                    ln_2: LayerNorm::new(&p / "ln_2", e, cfg.layer_norm_epsilon)?,
                    c_fc: proj(&p / "mlp" / "c_fc", e, inner, true)?,
                    c_proj: proj(&p / "mlp" / "c_proj", inner, e, true)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let wte = TokenEmbedding::declare(&t / "wte", cfg.vocab_size as i64, e, weights)?;
        // An int8 model packs its output projection from the embedding's int8 rows.
        let int8_head = wte.tied_int8_head()?;
        Ok(GptNeo {
            spec: ModelSpec {
                architecture: Architecture::GptNeo,
                vocab_size: cfg.vocab_size,
                hidden_size: cfg.hidden_size,
                num_layers: cfg.num_layers,
                context_length: cfg.max_position_embeddings,
            },
            cfg: cfg.clone(),
            wte,
            wpe: Embedding::new(&t / "wpe", cfg.max_position_embeddings as i64, e)?,
            h,
            ln_f: LayerNorm::new(&t / "ln_f", e, cfg.layer_norm_epsilon)?,
            int8_head,
        })
    }
}

impl CausalLm for GptNeo {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn embed(&self, input_ids: &Tensor, position_ids: &Tensor, train: bool) -> Result<Tensor> {
        Ok(
            (self.wte.forward(input_ids)? + self.wpe.forward(position_ids)?)
                .dropout(self.cfg.embed_dropout, train),
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
        let heads = self.cfg.num_heads as i64;
        let past = cache.as_ref().map_or(0, |c| c.seq_len());
        let (kind, device) = (x.kind(), x.device());
        let global = AttentionMask::build(key_valid, t, past + t, None, kind, device);
        let local = AttentionMask::build(
            key_valid,
            t,
            past + t,
            Some(self.cfg.window_size as i64),
            kind,
            device,
        );
        for (i, b) in self
            .h
            .iter()
            .enumerate()
            .take(layers.end)
            .skip(layers.start)
        {
            let h = b.ln_1.forward(&x);
            let q = split_heads(&b.q_proj.forward(&h), heads);
            let k = split_heads(&b.k_proj.forward(&h), heads);
            let v = split_heads(&b.v_proj.forward(&h), heads);
            let (k, v) = cached_kv(cache.as_deref_mut(), i, k, v);
            let mask = if b.local { &local } else { &global };
            // GPT-Neo does not scale attention scores.
            let a = attention(&q, &k, &v, mask, Some(1.0));
            x = x + b
                .out_proj
                .forward(&merge_heads(&a))
                .dropout(self.cfg.resid_dropout, train);
            let m = activation(
                &self.cfg.activation_function,
                &b.c_fc.forward(&b.ln_2.forward(&x)),
            );
            x = x + b.c_proj.forward(&m).dropout(self.cfg.resid_dropout, train);
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
