//! BERT-family encoder (BERT, MiniLM, …): word + position + token-type embeddings,
//! post-LayerNorm blocks, bidirectional attention with a padding mask, optional pooler.
//! Mirrors Hugging Face `modeling_bert.py` (`BertModel`).

use std::path::Path;

use tch::{Kind, Tensor, nn};

use super::limits::{
    MAX_CONTEXT, MAX_HEADS, MAX_LAYERS, MAX_VOCAB, MAX_WIDTH, check_parameter_memory,
    check_positive, check_probability, check_sizes,
};
use super::{
    ACTIVATIONS, AttentionMask, Embedding, LayerNorm, Linear, activation, attention, merge_heads,
    split_heads,
};
use crate::error::{Result, RuntimeError};

/// Hyperparameters, as in a Hugging Face BERT `config.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BertConfig {
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Hidden width.
    pub hidden_size: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// MLP activation.
    #[serde(default = "default_act")]
    pub hidden_act: String,
    /// Longest input.
    #[serde(default = "default_positions")]
    pub max_position_embeddings: usize,
    /// Number of token types (segments).
    #[serde(default = "default_types")]
    pub type_vocab_size: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    /// Dropout on hidden states (training only).
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    /// Dropout on attention probabilities (training only).
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    /// Position embedding kind (only `absolute`).
    #[serde(default = "default_position_kind")]
    pub position_embedding_type: String,
}

fn default_act() -> String {
    "gelu".into()
}
fn default_positions() -> usize {
    512
}
fn default_types() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_dropout() -> f64 {
    0.1
}
fn default_position_kind() -> String {
    "absolute".into()
}

impl BertConfig {
    /// Checks that the sizes are consistent; `path` names the file in errors.
    pub fn validate(&self, path: &Path) -> Result<()> {
        check_probability(path, "hidden_dropout_prob", self.hidden_dropout_prob)?;
        check_probability(
            path,
            "attention_probs_dropout_prob",
            self.attention_probs_dropout_prob,
        )?;
        check_sizes(
            path,
            &[
                ("vocab_size", self.vocab_size, MAX_VOCAB),
                ("hidden_size", self.hidden_size, MAX_WIDTH),
                ("intermediate_size", self.intermediate_size, MAX_WIDTH),
                ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
                ("num_attention_heads", self.num_attention_heads, MAX_HEADS),
                (
                    "max_position_embeddings",
                    self.max_position_embeddings,
                    MAX_CONTEXT,
                ),
                ("type_vocab_size", self.type_vocab_size, MAX_VOCAB),
            ],
        )?;
        for (field, v) in [
            ("vocab_size", self.vocab_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if v == 0 {
                return Err(RuntimeError::config(path, field, "must be positive"));
            }
        }
        check_positive(path, "layer_norm_eps", self.layer_norm_eps)?;
        let (v, h, i, l) = (
            self.vocab_size as u128,
            self.hidden_size as u128,
            self.intermediate_size as u128,
            self.num_hidden_layers as u128,
        );
        check_parameter_memory(
            path,
            "num_hidden_layers",
            (v + self.max_position_embeddings as u128) * h + l * (4 * h * h + 2 * h * i),
        )?;
        if self.num_attention_heads == 0
            || self.hidden_size == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(RuntimeError::config(
                path,
                "hidden_size",
                format!(
                    "{} is not a positive multiple of num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            ));
        }
        if self.position_embedding_type != "absolute" {
            return Err(RuntimeError::config(
                path,
                "position_embedding_type",
                format!(
                    "`{}` is not supported (absolute)",
                    self.position_embedding_type
                ),
            ));
        }
        if !ACTIVATIONS.contains(&self.hidden_act.as_str()) {
            return Err(RuntimeError::config(
                path,
                "hidden_act",
                format!("`{}` is not supported", self.hidden_act),
            ));
        }
        Ok(())
    }
}

#[derive(Debug)]
struct Layer {
    query: Linear,
    key: Linear,
    value: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// A BERT encoder with its pooler.
#[derive(Debug)]
pub struct BertModel {
    cfg: BertConfig,
    word_embeddings: Embedding,
    position_embeddings: Embedding,
    token_type_embeddings: Embedding,
    embed_norm: LayerNorm,
    layers: Vec<Layer>,
    pooler: Linear,
}

/// Variable names of the pooler, which sentence-embedding checkpoints may omit.
pub const POOLER_VARS: [&str; 2] = ["bert.pooler.dense.weight", "bert.pooler.dense.bias"];

impl BertModel {
    /// Declares the parameters under `root / "bert"` (Hugging Face names).
    ///
    /// # Errors
    /// [`crate::RuntimeError::Torch`] when LibTorch cannot allocate them.
    pub fn new(root: &nn::Path, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size as i64;
        let inter = cfg.intermediate_size as i64;
        let b = root / "bert";
        let e = &b / "embeddings";
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let p = &b / "encoder" / "layer" / i;
                let s = &p / "attention" / "self";
                let o = &p / "attention" / "output";
                Ok(Layer {
                    query: Linear::new(&s / "query", h, h, true)?,
                    key: Linear::new(&s / "key", h, h, true)?,
                    value: Linear::new(&s / "value", h, h, true)?,
                    attn_out: Linear::new(&o / "dense", h, h, true)?,
                    attn_norm: LayerNorm::new(&o / "LayerNorm", h, cfg.layer_norm_eps)?,
                    intermediate: Linear::new(&p / "intermediate" / "dense", h, inter, true)?,
                    output: Linear::new(&p / "output" / "dense", inter, h, true)?,
                    output_norm: LayerNorm::new(
                        &p / "output" / "LayerNorm",
                        h,
                        cfg.layer_norm_eps,
                    )?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BertModel {
            cfg: cfg.clone(),
            word_embeddings: Embedding::new(&e / "word_embeddings", cfg.vocab_size as i64, h)?,
            position_embeddings: Embedding::new(
                &e / "position_embeddings",
                cfg.max_position_embeddings as i64,
                h,
            )?,
            token_type_embeddings: Embedding::new(
                &e / "token_type_embeddings",
                cfg.type_vocab_size as i64,
                h,
            )?,
            embed_norm: LayerNorm::new(&e / "LayerNorm", h, cfg.layer_norm_eps)?,
            layers,
            pooler: Linear::new(&b / "pooler" / "dense", h, h, true)?,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BertConfig {
        &self.cfg
    }

    /// Last hidden states `(batch, seq, hidden)`.
    ///
    /// `input_ids`, `token_type_ids`: `(batch, seq)` `i64`; `attention_mask`: `(batch, seq)`,
    /// nonzero for real tokens. Dropout is active when `train`.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] when the three do not share one `(batch, seq)` shape;
    /// [`RuntimeError::TorchOp`] for ids outside the vocabulary (or a sequence longer than the
    /// position table), on another device or of a non-integer dtype.
    pub fn forward(
        &self,
        input_ids: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let (b, t) = input_ids.size2().map_err(|_| {
            RuntimeError::InvalidInput(format!(
                "input ids must be (batch, seq), got {:?}",
                input_ids.size()
            ))
        })?;
        if attention_mask.size() != [b, t] {
            return Err(RuntimeError::InvalidInput(format!(
                "attention mask has shape {:?}, the input ids [{b}, {t}]",
                attention_mask.size()
            )));
        }
        self.forward_from_embeddings(
            &self.word_embeddings(input_ids)?,
            token_type_ids,
            attention_mask,
            train,
        )
    }

    /// The word-embedding table `(vocab, hidden)` (a shallow handle on the parameter).
    pub fn word_embedding_table(&self) -> Tensor {
        self.word_embeddings.weight.shallow_clone()
    }

    /// Word embeddings `(batch, seq, hidden)` of `input_ids` `(batch, seq)`: rows of the
    /// word-embedding table, before positions, token types and normalization are added.
    ///
    /// # Errors
    /// [`RuntimeError::TorchOp`] for ids outside the vocabulary, on another device or of a
    /// non-integer dtype.
    pub fn word_embeddings(&self, input_ids: &Tensor) -> Result<Tensor> {
        self.word_embeddings.forward(input_ids)
    }

    /// [`forward`](Self::forward) from word embeddings `(batch, seq, hidden)` instead of ids,
    /// so that gradients can be taken with respect to them (saliency, first-order token
    /// substitution). `forward(ids, ..)` equals this applied to
    /// [`word_embeddings`](Self::word_embeddings)`(ids)`.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] when the embeddings are not `(batch, seq, hidden)` or
    /// the token types and mask do not share their `(batch, seq)`;
    /// [`RuntimeError::TorchOp`] for a sequence longer than the position table or token types
    /// outside their table.
    pub fn forward_from_embeddings(
        &self,
        word_embeddings: &Tensor,
        token_type_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        let (b, t, _) = word_embeddings.size3().map_err(|_| {
            RuntimeError::InvalidInput(format!(
                "word embeddings must be (batch, seq, hidden), got {:?}",
                word_embeddings.size()
            ))
        })?;
        for (what, x) in [
            ("token type ids", token_type_ids),
            ("attention mask", attention_mask),
        ] {
            if x.size() != [b, t] {
                return Err(RuntimeError::InvalidInput(format!(
                    "{what} have shape {:?}, the embeddings [{b}, {t}, _]",
                    x.size()
                )));
            }
        }
        let positions = Tensor::arange(t, (Kind::Int64, word_embeddings.device())).unsqueeze(0);
        let x = word_embeddings
            + self.position_embeddings.forward(&positions)?
            + self.token_type_embeddings.forward(token_type_ids)?;
        let mut x = self
            .embed_norm
            .forward(&x)
            .dropout(self.cfg.hidden_dropout_prob, train);
        let valid = attention_mask.ne(0).view([b, 1, 1, t]);
        let bias = Tensor::zeros([b, 1, 1, t], (x.kind(), x.device()))
            .masked_fill(&valid.logical_not(), -1e30);
        let mask = AttentionMask::Bias(bias);
        let heads = self.cfg.num_attention_heads as i64;
        for l in &self.layers {
            let q = split_heads(&l.query.forward(&x), heads);
            let k = split_heads(&l.key.forward(&x), heads);
            let v = split_heads(&l.value.forward(&x), heads);
            let a = merge_heads(&attention(&q, &k, &v, &mask, None));
            x = l.attn_norm.forward(
                &(l.attn_out
                    .forward(&a)
                    .dropout(self.cfg.hidden_dropout_prob, train)
                    + &x),
            );
            let m = activation(&self.cfg.hidden_act, &l.intermediate.forward(&x));
            x = l.output_norm.forward(
                &(l.output
                    .forward(&m)
                    .dropout(self.cfg.hidden_dropout_prob, train)
                    + &x),
            );
        }
        Ok(x)
    }

    /// The pooler's output `(batch, hidden)`: `tanh(W h_[CLS] + b)`.
    pub fn pool(&self, hidden: &Tensor) -> Tensor {
        self.pooler.forward(&hidden.select(1, 0)).tanh()
    }
}

/// Mean of `hidden` `(batch, seq, hidden)` over positions where `attention_mask` `(batch, seq)`
/// is nonzero → `(batch, hidden)`.
pub fn mean_pool(hidden: &Tensor, attention_mask: &Tensor) -> Tensor {
    let m = attention_mask.to_kind(hidden.kind()).unsqueeze(-1);
    (hidden * &m).sum_dim_intlist(1, false, None)
        / m.sum_dim_intlist(1, false, None).clamp_min(1e-9)
}
