//! Log-probabilities of given completions under a causal LM: what PPO's ratio and KL terms,
//! and fluency judgements, need.

use tch::{Device, Kind, Tensor};

use crate::error::{Result, RuntimeError};
use crate::lm::LanguageModel;
use crate::models::CausalLm;

/// A right-padded batch of `prompt ++ completion` sequences, with the positions whose outputs
/// predict each completion token.
///
/// Shapes: `input_ids`, `position_ids` `(batch, seq)`; `predict_positions`, `targets`,
/// `mask` `(batch, completion)` where `completion` is the longest completion.
#[derive(Debug)]
pub struct CompletionBatch {
    /// Token ids, right-padded.
    pub input_ids: Tensor,
    /// `0..len` per row.
    pub position_ids: Tensor,
    /// Index of the output that predicts completion token `j` (`prompt_len - 1 + j`).
    pub predict_positions: Tensor,
    /// Completion token ids (0 where padded).
    pub targets: Tensor,
    /// True where `targets` holds a real completion token.
    pub mask: Tensor,
}

impl CompletionBatch {
    /// Builds the batch from `(prompt ids, completion ids)` pairs.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for an empty batch, an empty prompt or completion.
    pub fn new(items: &[(&[u32], &[u32])], pad_id: u32, device: Device) -> Result<Self> {
        if items.is_empty() {
            return Err(RuntimeError::InvalidInput("no completions to score".into()));
        }
        for (i, (p, c)) in items.iter().enumerate() {
            if p.is_empty() || c.is_empty() {
                return Err(RuntimeError::InvalidInput(format!(
                    "item {i}: prompt and completion must both have tokens"
                )));
            }
        }
        let seq = items
            .iter()
            .map(|(p, c)| p.len() + c.len())
            .max()
            .unwrap_or(0);
        let comp = items.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
        let (mut ids, mut predict, mut targets, mut mask) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (p, c) in items {
            let row: Vec<i64> = p.iter().chain(c.iter()).map(|&t| i64::from(t)).collect();
            ids.extend(
                row.iter()
                    .copied()
                    .chain(std::iter::repeat_n(i64::from(pad_id), seq - row.len())),
            );
            for j in 0..comp {
                let real = j < c.len();
                predict.push(if real { (p.len() - 1 + j) as i64 } else { 0 });
                targets.push(if real { i64::from(c[j]) } else { 0 });
                mask.push(real);
            }
        }
        let b = items.len() as i64;
        let shape = [b, comp as i64];
        Ok(CompletionBatch {
            input_ids: Tensor::from_slice(&ids)
                .view([b, seq as i64])
                .to_device(device),
            position_ids: Tensor::arange(seq as i64, (Kind::Int64, device))
                .unsqueeze(0)
                .expand([b, seq as i64], false),
            predict_positions: Tensor::from_slice(&predict).view(shape).to_device(device),
            targets: Tensor::from_slice(&targets).view(shape).to_device(device),
            mask: Tensor::from_slice(&mask).view(shape).to_device(device),
        })
    }

    /// Hidden states `(batch, completion, hidden)` at the positions that predict each
    /// completion token (differentiable; dropout when `train`). A value head reads these.
    ///
    /// # Errors
    /// As [`CausalLm::forward_hidden`].
    pub fn hidden(&self, model: &dyn CausalLm, train: bool) -> Result<Tensor> {
        // Right padding needs no key mask: causal attention never looks ahead to the padding.
        let hidden =
            model.forward_hidden(&self.input_ids, &self.position_ids, None, None, train)?;
        Ok(self.at_predict_positions(&hidden))
    }

    /// The residual stream `(batch, seq, hidden)` after the first `blocks` blocks, for every
    /// position: the part of the forward pass that a model trained only above `blocks` shares
    /// with its frozen copy. Run it without gradients and pass it to
    /// [`hidden_above`](Self::hidden_above).
    ///
    /// # Errors
    /// As [`CausalLm::embed`] and [`CausalLm::forward_blocks`].
    pub fn trunk(&self, model: &dyn CausalLm, blocks: usize) -> Result<Tensor> {
        let x = model.embed(&self.input_ids, &self.position_ids, false)?;
        model.forward_blocks(x, &self.position_ids, None, None, 0..blocks, false)
    }

    /// Like [`hidden`](Self::hidden), starting from a [`trunk`](Self::trunk) computed up to
    /// block `from` (right-padded rows of another batch's trunk are fine: padding never reaches
    /// real positions). `trunk` may be wider than this batch; the extra columns are dropped.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] (or a LibTorch error) when `trunk` does not fit this
    /// batch.
    pub fn hidden_above(
        &self,
        model: &dyn CausalLm,
        trunk: &Tensor,
        from: usize,
        train: bool,
    ) -> Result<Tensor> {
        let seq = self.input_ids.size()[1];
        let x = trunk.f_narrow(1, 0, seq)?;
        let layers = from..model.spec().num_layers;
        let x = model.forward_blocks(x, &self.position_ids, None, None, layers, train)?;
        Ok(self.at_predict_positions(&model.final_norm(&x)?))
    }

    fn at_predict_positions(&self, hidden: &Tensor) -> Tensor {
        let h = hidden.size()[2];
        let index = self
            .predict_positions
            .unsqueeze(-1)
            .expand([-1, -1, h], false);
        hidden.gather(1, &index, false)
    }

    /// Log-probabilities `(batch, completion)` of the completion tokens given hidden states
    /// from [`hidden`](Self::hidden); zero where padded.
    ///
    /// # Errors
    /// As [`CausalLm::logits`].
    pub fn logprobs_from_hidden(&self, model: &dyn CausalLm, hidden: &Tensor) -> Result<Tensor> {
        let logits = real_logits(model, hidden, &self.mask)?;
        Ok(logprobs_from_real_logits(
            &logits,
            &self.targets,
            &self.mask,
        ))
    }

    /// Log-probabilities `(batch, completion)` of the completion tokens (differentiable).
    ///
    /// # Errors
    /// As [`CausalLm::forward`].
    pub fn logprobs(&self, model: &dyn CausalLm, train: bool) -> Result<Tensor> {
        self.logprobs_from_hidden(model, &self.hidden(model, train)?)
    }
}

/// The distinct prompts of `pairs` and each completion's prompt index, when some prompt
/// appears more than once and every prompt and completion has tokens (what
/// [`SharedPromptBatch`](crate::SharedPromptBatch) takes); `None` otherwise.
#[allow(clippy::type_complexity)]
fn shared_prompts<'a>(
    pairs: &[(&'a [u32], &'a [u32])],
) -> Option<(Vec<&'a [u32]>, Vec<(usize, &'a [u32])>)> {
    if pairs.iter().any(|(p, c)| p.is_empty() || c.is_empty()) {
        return None;
    }
    let mut prompts: Vec<&[u32]> = Vec::new();
    let mut completions = Vec::with_capacity(pairs.len());
    for &(p, c) in pairs {
        let i = match prompts.iter().position(|&q| q == p) {
            Some(i) => i,
            None => {
                prompts.push(p);
                prompts.len() - 1
            }
        };
        completions.push((i, c));
    }
    (prompts.len() < pairs.len()).then_some((prompts, completions))
}

/// Flat indices `(n,)` into `(batch · completion)` of the true positions of `mask`.
fn real_positions(mask: &Tensor) -> Tensor {
    mask.flatten(0, 1).nonzero().squeeze_dim(1)
}

/// Vocabulary logits `(n, vocab)` at the `n` real positions of `mask` `(batch, completion)`
/// only, from hidden states `(batch, completion, hidden)`, in row-major order: the output
/// projection, the largest product of scoring, is not spent on padding (completions of a
/// batch differ in length, so a padded batch is often mostly padding).
///
/// # Errors
/// As [`CausalLm::logits`].
pub(crate) fn real_logits(model: &dyn CausalLm, hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let rows = hidden
        .flatten(0, 1)
        .index_select(0, &real_positions(mask))
        .unsqueeze(0);
    Ok(model.logits(&rows)?.squeeze_dim(0))
}

/// Log-probabilities `(batch, completion)` of `targets` given the logits at the real
/// positions of `mask` ([`real_logits`]); zero where `mask` is false (differentiable).
pub(crate) fn logprobs_from_real_logits(
    logits: &Tensor,
    targets: &Tensor,
    mask: &Tensor,
) -> Tensor {
    let index = real_positions(mask);
    let wanted = targets.flatten(0, 1).index_select(0, &index);
    let lp = logits
        .log_softmax(-1, Kind::Float)
        .gather(1, &wanted.unsqueeze(-1), false)
        .squeeze_dim(-1);
    let size = mask.size();
    Tensor::zeros([size[0] * size[1]], (Kind::Float, lp.device()))
        .index_add(0, &index, &lp)
        .view([size[0], size[1]])
}

impl LanguageModel {
    /// Per-token log-probabilities of each completion given its prompt, in batches of
    /// `batch_size`, without gradients. Within a batch, items with the same prompt share it:
    /// the prompt runs once and its keys and values serve each of its completions
    /// ([`SharedPromptBatch`](crate::SharedPromptBatch)), so scoring several completions of
    /// one prompt costs about one prompt, not several.
    pub fn score_ids(
        &self,
        items: &[(Vec<u32>, Vec<u32>)],
        batch_size: usize,
    ) -> Result<Vec<Vec<f32>>> {
        if batch_size == 0 {
            return Err(RuntimeError::InvalidSetting {
                field: "batch_size",
                message: "must be at least 1".into(),
            });
        }
        let vocab = self.model().spec().vocab_size as u32;
        let context = self.model().spec().context_length;
        for (i, (p, c)) in items.iter().enumerate() {
            if let Some(&bad) = p.iter().chain(c).find(|&&t| t >= vocab) {
                return Err(RuntimeError::InvalidInput(format!(
                    "item {i} has token id {bad} outside the vocabulary of {vocab}"
                )));
            }
            if p.len() + c.len() > context {
                return Err(RuntimeError::PromptTooLong {
                    index: i,
                    tokens: p.len(),
                    new_tokens: c.len(),
                    context,
                });
            }
        }
        let _guard = tch::no_grad_guard();
        let mut out = Vec::with_capacity(items.len());
        for chunk in items.chunks(batch_size) {
            let pairs: Vec<(&[u32], &[u32])> = chunk
                .iter()
                .map(|(p, c)| (p.as_slice(), c.as_slice()))
                .collect();
            let lp = match shared_prompts(&pairs) {
                Some((prompts, completions)) => crate::SharedPromptBatch::new(
                    &prompts,
                    &completions,
                    self.tokenizer().pad_id(),
                    self.device(),
                )?
                .logprobs(self.model(), false)?,
                None => CompletionBatch::new(&pairs, self.tokenizer().pad_id(), self.device())?
                    .logprobs(self.model(), false)?,
            }
            .to_device(Device::Cpu);
            for (r, (_, c)) in chunk.iter().enumerate() {
                let row = Vec::<f32>::try_from(lp.get(r as i64).narrow(0, 0, c.len() as i64))?;
                out.push(row);
            }
        }
        Ok(out)
    }

    /// Per-token log-probabilities of each `(prompt, completion)` text pair. The prompt is
    /// encoded with special tokens, the completion without, and the two id lists joined.
    pub fn score(&self, items: &[(&str, &str)], batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let ids = items
            .iter()
            .map(|(p, c)| {
                Ok((
                    self.tokenizer().encode(p)?,
                    self.tokenizer().encode_with(c, false)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        self.score_ids(&ids, batch_size)
    }
}
