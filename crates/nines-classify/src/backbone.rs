//! Backbones: a BERT-family encoder over the pair, or a causal LM over `prompt ++ completion`,
//! each pooled to one vector `(batch, hidden)` per pair.

use std::fmt;

use nines_runtime::{Encoder, LanguageModel, LoadOptions};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Kind, Tensor};

use crate::config::{BackboneKind, ClassifierConfig, HeadPooling};
use crate::error::{ClassifyError, Result};

/// The identity of a backbone, recorded in saved classifiers and checkpoints so that weights
/// are never loaded into a different network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackboneInfo {
    /// Encoder or causal LM.
    pub kind: BackboneKind,
    /// Architecture name (`bert`, `Llama`, `Gpt2`, ...).
    pub architecture: String,
    /// Width of the pooled vector.
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_layers: usize,
    /// Vocabulary rows.
    pub vocab_size: usize,
}

impl fmt::Display for BackboneInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} layers, hidden {}, vocab {})",
            self.architecture, self.num_layers, self.hidden_size, self.vocab_size
        )
    }
}

/// A loaded backbone.
pub(crate) enum Backbone {
    Encoder(Encoder),
    Causal(LanguageModel),
}

impl Backbone {
    pub(crate) fn load(cfg: &ClassifierConfig, path: &std::path::Path) -> Result<Self> {
        let opts = LoadOptions {
            device: cfg.device,
            dtype: nines_runtime::DType::F32,
        };
        Ok(match cfg.kind {
            BackboneKind::Encoder => Backbone::Encoder(Encoder::load(path, opts)?),
            BackboneKind::CausalLm => Backbone::Causal(LanguageModel::load(path, opts)?),
        })
    }

    pub(crate) fn info(&self) -> BackboneInfo {
        match self {
            Backbone::Encoder(e) => {
                let c = e.model().config();
                BackboneInfo {
                    kind: BackboneKind::Encoder,
                    architecture: "bert".into(),
                    hidden_size: c.hidden_size,
                    num_layers: c.num_hidden_layers,
                    vocab_size: c.vocab_size,
                }
            }
            Backbone::Causal(lm) => {
                let s = lm.model().spec();
                BackboneInfo {
                    kind: BackboneKind::CausalLm,
                    architecture: format!("{:?}", s.architecture),
                    hidden_size: s.hidden_size,
                    num_layers: s.num_layers,
                    vocab_size: s.vocab_size,
                }
            }
        }
    }

    pub(crate) fn var_store(&self) -> &VarStore {
        match self {
            Backbone::Encoder(e) => e.var_store(),
            Backbone::Causal(lm) => lm.var_store(),
        }
    }

    pub(crate) fn var_store_mut(&mut self) -> &mut VarStore {
        match self {
            Backbone::Encoder(e) => e.var_store_mut(),
            Backbone::Causal(lm) => lm.var_store_mut(),
        }
    }

    pub(crate) fn device(&self) -> tch::Device {
        self.var_store().device()
    }

    /// Pooled features `(batch, hidden)` of `(prompt, completion)` pairs.
    pub(crate) fn features(
        &self,
        pairs: &[(&str, &str)],
        max_len: usize,
        pooling: HeadPooling,
        train: bool,
    ) -> Result<Tensor> {
        match self {
            Backbone::Encoder(enc) => {
                let first: Vec<&str> = pairs.iter().map(|p| p.0).collect();
                let second: Vec<&str> = pairs.iter().map(|p| p.1).collect();
                let batch = enc.encode_batch(&first, Some(&second), max_len)?;
                let hidden = enc.forward(&batch, train)?;
                Ok(match pooling {
                    HeadPooling::Cls => enc.pool(&hidden, &batch, nines_runtime::Pooling::Cls)?,
                    _ => enc.pool(&hidden, &batch, nines_runtime::Pooling::Mean)?,
                })
            }
            Backbone::Causal(lm) => causal_features(lm, pairs, max_len, pooling, train),
        }
    }
}

/// Tokenizes `prompt ++ completion` (prompt with the tokenizer's special tokens, completion
/// without), keeps the last `max_len` tokens, right-pads, and pools the final hidden states:
/// `Last` takes the last real token, `Mean` averages the completion's tokens (all tokens when
/// the completion has none left).
fn causal_features(
    lm: &LanguageModel,
    pairs: &[(&str, &str)],
    max_len: usize,
    pooling: HeadPooling,
    train: bool,
) -> Result<Tensor> {
    let tok = lm.tokenizer();
    let context = lm.model().spec().context_length.max(1);
    let max_len = max_len.min(context);
    let mut rows: Vec<(Vec<i64>, usize)> = Vec::with_capacity(pairs.len());
    for (i, (p, c)) in pairs.iter().enumerate() {
        let mut ids: Vec<i64> = tok.encode(p)?.into_iter().map(i64::from).collect();
        let comp: Vec<i64> = tok
            .encode_with(c, false)?
            .into_iter()
            .map(i64::from)
            .collect();
        let mut n_comp = comp.len();
        ids.extend(comp);
        if ids.is_empty() {
            return Err(ClassifyError::InvalidInput(format!(
                "pair {i}: prompt and completion have no tokens"
            )));
        }
        if ids.len() > max_len {
            ids.drain(..ids.len() - max_len);
            n_comp = n_comp.min(max_len);
        }
        rows.push((ids, n_comp));
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(1);
    let b = rows.len() as i64;
    let pad = i64::from(tok.pad_id());
    let mut ids = Vec::with_capacity(rows.len() * width);
    let mut weights = Vec::with_capacity(rows.len() * width);
    let mut last = Vec::with_capacity(rows.len());
    for (row, n_comp) in &rows {
        let len = row.len();
        ids.extend(
            row.iter()
                .copied()
                .chain(std::iter::repeat_n(pad, width - len)),
        );
        let start = if *n_comp == 0 { 0 } else { len - n_comp };
        weights.extend((0..width).map(|j| if j >= start && j < len { 1f32 } else { 0f32 }));
        last.push(len as i64 - 1);
    }
    let d = lm.device();
    let input = Tensor::from_slice(&ids)
        .view([b, width as i64])
        .to_device(d);
    let positions = Tensor::arange(width as i64, (Kind::Int64, d))
        .unsqueeze(0)
        .expand([b, width as i64], false);
    // Right padding needs no key mask: causal attention never looks ahead to the padding.
    let hidden = lm
        .model()
        .forward_hidden(&input, &positions, None, None, train)?
        .to_kind(Kind::Float);
    let h = hidden.size()[2];
    Ok(match pooling {
        HeadPooling::Last => {
            let idx = Tensor::from_slice(&last)
                .to_device(d)
                .view([b, 1, 1])
                .expand([b, 1, h], false);
            hidden.gather(1, &idx, false).squeeze_dim(1)
        }
        _ => {
            let w = Tensor::from_slice(&weights)
                .view([b, width as i64, 1])
                .to_device(d);
            (&hidden * &w).sum_dim_intlist(1, false, None)
                / w.sum_dim_intlist(1, false, None).clamp_min(1.0)
        }
    })
}
