//! The classifier from token embeddings: what saliency maps and first-order token substitution
//! need. A pair is tokenized once into [`PairTokens`] (ids, segments and byte offsets into the
//! prompt or completion); [`Classifier::token_embeddings`] looks its ids up;
//! [`Classifier::logits_from_embeddings`] runs the rest of the network on any embeddings of
//! the same shape, differentiably, so gradients with respect to the embeddings can be taken.
//!
//! For an encoder the embeddings are the word embeddings (before positions, token types and
//! normalization are added); for a causal LM they are the residual stream entering the first
//! block (token embeddings, plus position embeddings for architectures that add them there).
//! Pairs are not truncated here: callers refuse a pair longer than
//! [`Classifier::max_tokens`] (which [`ClassifierConfig::max_len`] caps), so every token the
//! scores refer to is one the classifier reads.
//!
//! ```no_run
//! use nines_classify::Classifier;
//! use nines_runtime::DeviceSpec;
//! let model = Classifier::load("runs/classifier", DeviceSpec::Cpu)?;
//! let tokens = model.tokenize_pair("He climbed the wall.", "He fell and broke his arm.")?;
//! let emb = model.token_embeddings(&tokens)?.set_requires_grad(true);
//! let logit = model.logits_from_embeddings(&tokens, &emb)?;
//! logit.sum(tch::Kind::Float).backward();
//! let grad = emb.grad(); // (1, seq, hidden)
//! assert_eq!(grad.size()[1], tokens.len() as i64);
//! # Ok::<(), nines_classify::ClassifyError>(())
//! ```
//!
//! [`ClassifierConfig::max_len`]: crate::ClassifierConfig::max_len

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::backbone::Backbone;
use crate::classifier::Classifier;
use crate::config::HeadPooling;
use crate::error::{ClassifyError, Result};

/// Which text of the pair a token was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairPart {
    /// The prompt.
    Prompt,
    /// The completion.
    Completion,
    /// A special token the tokenizer added (`[CLS]`, `[SEP]`, BOS); no text.
    Special,
}

/// One token of a pair: its id and where its text lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairToken {
    /// Vocabulary id.
    pub id: i64,
    /// The text it was read from.
    pub part: PairPart,
    /// Byte offset of its first byte in that text (0 for special tokens).
    pub start: usize,
    /// Byte offset one past its last byte (`start` for special tokens).
    pub end: usize,
}

/// A `(prompt, completion)` pair as the classifier reads it, untruncated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairTokens {
    /// Tokens in reading order.
    pub tokens: Vec<PairToken>,
    /// Segment ids (encoders: 0 for the prompt, 1 for the completion; causal LMs: all 0).
    pub type_ids: Vec<i64>,
}

impl PairTokens {
    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token ids `(1, seq)` on `device`.
    pub fn ids_tensor(&self, device: tch::Device) -> Tensor {
        let ids: Vec<i64> = self.tokens.iter().map(|t| t.id).collect();
        Tensor::from_slice(&ids)
            .view([1, ids.len() as i64])
            .to_device(device)
    }
}

fn tokenizer_error(e: impl std::fmt::Display) -> ClassifyError {
    ClassifyError::InvalidInput(format!("tokenizer: {e}"))
}

fn part_tokens(enc: &tokenizers::Encoding, part: PairPart) -> Vec<PairToken> {
    let special = enc.get_special_tokens_mask();
    enc.get_ids()
        .iter()
        .zip(enc.get_offsets())
        .zip(special)
        .map(|((&id, &(start, end)), &s)| {
            if s == 1 {
                PairToken {
                    id: i64::from(id),
                    part: PairPart::Special,
                    start: 0,
                    end: 0,
                }
            } else {
                PairToken {
                    id: i64::from(id),
                    part,
                    start,
                    end,
                }
            }
        })
        .collect()
}

impl Classifier {
    /// Tokenizes a pair as [`forward`](Classifier::forward) does, keeping each token's byte
    /// span (encoders: `[CLS] prompt [SEP] completion [SEP]`; causal LMs: the prompt with
    /// the tokenizer's special tokens, then the completion without).
    ///
    /// The result may be longer than [`max_tokens`](Self::max_tokens); then
    /// [`forward`](Classifier::forward) reads a truncated pair, and callers that need the two
    /// to agree must refuse it.
    ///
    /// # Errors
    /// [`ClassifyError::InvalidInput`] when the pair has no tokens.
    pub fn tokenize_pair(&self, prompt: &str, completion: &str) -> Result<PairTokens> {
        let out = match &self.backbone {
            Backbone::Encoder(enc) => {
                let e = enc
                    .tokenizer()
                    .inner()
                    .encode((prompt, completion), true)
                    .map_err(tokenizer_error)?;
                let seq = e.get_sequence_ids();
                let special = e.get_special_tokens_mask();
                let tokens = e
                    .get_ids()
                    .iter()
                    .zip(e.get_offsets())
                    .enumerate()
                    .map(|(i, (&id, &(start, end)))| {
                        let part = match (special[i], seq[i]) {
                            (1, _) | (_, None) => PairPart::Special,
                            (_, Some(0)) => PairPart::Prompt,
                            _ => PairPart::Completion,
                        };
                        let (start, end) = if part == PairPart::Special {
                            (0, 0)
                        } else {
                            (start, end)
                        };
                        PairToken {
                            id: i64::from(id),
                            part,
                            start,
                            end,
                        }
                    })
                    .collect();
                PairTokens {
                    tokens,
                    type_ids: e.get_type_ids().iter().map(|&t| i64::from(t)).collect(),
                }
            }
            Backbone::Causal(lm) => {
                let tok = lm.tokenizer().inner();
                let p = tok.encode(prompt, true).map_err(tokenizer_error)?;
                let c = tok.encode(completion, false).map_err(tokenizer_error)?;
                let mut tokens = part_tokens(&p, PairPart::Prompt);
                tokens.extend(part_tokens(&c, PairPart::Completion));
                let n = tokens.len();
                PairTokens {
                    tokens,
                    type_ids: vec![0; n],
                }
            }
        };
        if out.is_empty() {
            return Err(ClassifyError::InvalidInput(
                "prompt and completion have no tokens".into(),
            ));
        }
        Ok(out)
    }

    /// The tokenizer's vocabulary as strings indexed by id (as the tokenizer spells them:
    /// `##ing` for a WordPiece continuation, `Ġword` for a byte-level word start; empty where
    /// an id has no entry), at least as long as the embedding table.
    pub fn vocabulary(&self) -> Vec<String> {
        let (tok, rows) = match &self.backbone {
            Backbone::Encoder(enc) => (enc.tokenizer(), enc.model().config().vocab_size),
            Backbone::Causal(lm) => (lm.tokenizer(), lm.model().spec().vocab_size),
        };
        let vocab = tok.inner().get_vocab(true);
        let n = vocab
            .values()
            .map(|&i| i as usize + 1)
            .max()
            .unwrap_or(0)
            .max(rows);
        let mut out = vec![String::new(); n];
        for (s, i) in vocab {
            out[i as usize] = s;
        }
        out
    }

    /// The most tokens a pair may have without being truncated: `max_len`, capped by the
    /// backbone's context.
    pub fn max_tokens(&self) -> usize {
        let cap = match &self.backbone {
            Backbone::Encoder(enc) => enc.model().config().max_position_embeddings,
            Backbone::Causal(lm) => lm.model().spec().context_length.max(1),
        };
        self.config.max_len.min(cap)
    }

    /// The embedding table `(vocab, hidden)` the ids are looked up in, detached, as f32.
    /// For architectures that add position embeddings before the first block, every row
    /// carries the first position's embedding; differences of rows (what first-order
    /// substitution uses) are unaffected.
    pub fn embedding_table(&self) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        Ok(match &self.backbone {
            Backbone::Encoder(enc) => enc.model().word_embedding_table().to_kind(Kind::Float),
            Backbone::Causal(lm) => {
                let d = lm.device();
                let v = lm.model().spec().vocab_size as i64;
                let ids = Tensor::arange(v, (Kind::Int64, d)).unsqueeze(0);
                let pos = Tensor::zeros([1, v], (Kind::Int64, d));
                lm.model()
                    .embed(&ids, &pos, false)?
                    .squeeze_dim(0)
                    .to_kind(Kind::Float)
            }
        }
        .detach())
    }

    /// The embeddings `(1, seq, hidden)` of a tokenized pair, detached, as f32.
    pub fn token_embeddings(&self, tokens: &PairTokens) -> Result<Tensor> {
        let _guard = tch::no_grad_guard();
        let d = self.device();
        let ids = tokens.ids_tensor(d);
        Ok(match &self.backbone {
            Backbone::Encoder(enc) => enc.model().word_embeddings(&ids)?,
            Backbone::Causal(lm) => {
                lm.model()
                    .embed(&ids, &positions(1, tokens.len(), d), false)?
            }
        }
        .to_kind(Kind::Float)
        .detach())
    }

    /// Logits `(n,)` of `n` variants of one tokenized pair, given their embeddings
    /// `(n, seq, hidden)` (as from [`token_embeddings`](Self::token_embeddings), perturbed
    /// or interpolated), without dropout. Differentiable with respect to `embeddings`.
    ///
    /// # Errors
    /// [`ClassifyError::InvalidInput`] when `embeddings` is not `(n, tokens.len(), hidden)`.
    pub fn logits_from_embeddings(
        &self,
        tokens: &PairTokens,
        embeddings: &Tensor,
    ) -> Result<Tensor> {
        let size = embeddings.size();
        let hidden = self.backbone_info().hidden_size as i64;
        if size.len() != 3 || size[0] < 1 || size[1] != tokens.len() as i64 || size[2] != hidden {
            return Err(ClassifyError::InvalidInput(format!(
                "embeddings of shape {size:?}; expected (n, {}, {hidden})",
                tokens.len()
            )));
        }
        let (n, t) = (size[0], size[1]);
        let d = self.device();
        let feats = match &self.backbone {
            Backbone::Encoder(enc) => {
                let types = Tensor::from_slice(&tokens.type_ids)
                    .view([1, t])
                    .expand([n, t], false)
                    .to_device(d);
                let mask = Tensor::ones([n, t], (Kind::Int64, d));
                let h = enc.model().forward_from_embeddings(
                    &embeddings.to_device(d).to_kind(Kind::Float),
                    &types,
                    &mask,
                    false,
                )?;
                match self.config.pooling {
                    HeadPooling::Cls => h.select(1, 0),
                    _ => h.mean_dim(1, false, None),
                }
                .to_kind(Kind::Float)
            }
            Backbone::Causal(lm) => {
                let m = lm.model();
                let pos = positions(n, tokens.len(), d);
                // Classifier backbones are loaded in f32 (see `Backbone::load`).
                let x = embeddings.to_device(d).to_kind(Kind::Float);
                let layers = 0..m.spec().num_layers;
                let h = m
                    .final_norm(&m.forward_blocks(x, &pos, None, None, layers, false)?)?
                    .to_kind(Kind::Float);
                match self.config.pooling {
                    HeadPooling::Last => h.select(1, t - 1),
                    _ => {
                        let w: Vec<f32> = tokens
                            .tokens
                            .iter()
                            .map(|k| f32::from(u8::from(k.part == PairPart::Completion)))
                            .collect();
                        let w = if w.iter().any(|&x| x > 0.0) {
                            w
                        } else {
                            vec![1.0; w.len()]
                        };
                        let w = Tensor::from_slice(&w).view([1, t, 1]).to_device(d);
                        (&h * &w).sum_dim_intlist(1, false, None) / w.sum(Kind::Float)
                    }
                }
            }
        };
        Ok(self.head_logits(&feats, false))
    }
}

fn positions(n: i64, len: usize, device: tch::Device) -> Tensor {
    Tensor::arange(len as i64, (Kind::Int64, device))
        .unsqueeze(0)
        .expand([n, len as i64], false)
}
