//! Scoring many completions of few prompts: each distinct prompt runs through the model once
//! and its keys and values serve all of its completions.
//!
//! PPO samples several completions per prompt, and the prompt is usually the longer part. A
//! [`CompletionBatch`](crate::CompletionBatch) runs `prompt ++ completion` per row, so a prompt
//! with `n` completions is computed `n` times and every row is padded to the longest prompt
//! plus the longest completion. A [`SharedPromptBatch`] runs the prompts as one batch, copies
//! each prompt's cached keys and values to its completions' rows, then runs only the
//! completion tokens. The result is the same, with and without gradients (the copy is
//! differentiable, so a prompt's share of the gradient from each of its completions flows back
//! through it).
//!
//! Prompts are left-padded, so that each prompt's tokens and its completion's are contiguous in
//! the key sequence and local attention windows (GPT-Neo), counted in key slots, see what they
//! see in the unpadded sequence.

use std::ops::Range;

use tch::{Device, Tensor};

use crate::error::{Result, RuntimeError};
use crate::kv_cache::KvCache;
use crate::models::CausalLm;

/// Completions grouped by prompt.
///
/// Shapes: `prompt_ids` `(prompts, prompt_len)`, left-padded; `rows` `(batch,)`, the prompt
/// of each completion; `completion_ids`, `completion_positions`, `targets`, `mask`
/// `(batch, completion)`, right-padded.
#[derive(Debug)]
pub struct SharedPromptBatch {
    /// Prompt token ids, left-padded.
    pub prompt_ids: Tensor,
    /// Each prompt's own positions `0..len`, after its padding (0 on padding).
    pub prompt_positions: Tensor,
    /// True where `prompt_ids` holds a real token.
    pub prompt_valid: Tensor,
    /// Index (into the prompt rows) of each completion's prompt.
    pub rows: Tensor,
    /// Completion token ids (the inputs after the prompt), right-padded.
    pub completion_ids: Tensor,
    /// Position of each completion token: its prompt's length plus its index.
    pub completion_positions: Tensor,
    /// Completion token ids to predict (0 where padded).
    pub targets: Tensor,
    /// True where `targets` holds a real completion token.
    pub mask: Tensor,
    /// `(batch, prompt_len + completion)`: the keys a completion token may attend to (its
    /// prompt's real tokens, then the completion).
    key_valid: Tensor,
}

/// The residual stream of a [`SharedPromptBatch`] after some bottom blocks, from
/// [`SharedPromptBatch::trunk`].
#[derive(Debug)]
pub struct SharedPromptTrunk {
    /// `(prompts, prompt_len, hidden)`.
    pub prompts: Tensor,
    /// `(batch, completion, hidden)`.
    pub completions: Tensor,
}

impl SharedPromptBatch {
    /// Builds the batch from the distinct prompts and `(prompt index, completion ids)` pairs.
    ///
    /// # Errors
    /// [`RuntimeError::InvalidInput`] for no completions, an empty prompt or completion, or a
    /// prompt index out of range.
    pub fn new(
        prompts: &[&[u32]],
        completions: &[(usize, &[u32])],
        pad_id: u32,
        device: Device,
    ) -> Result<Self> {
        if completions.is_empty() {
            return Err(RuntimeError::InvalidInput("no completions to score".into()));
        }
        if let Some(i) = prompts.iter().position(|p| p.is_empty()) {
            return Err(RuntimeError::InvalidInput(format!(
                "prompt {i} has no tokens"
            )));
        }
        for (i, &(p, c)) in completions.iter().enumerate() {
            if p >= prompts.len() {
                return Err(RuntimeError::InvalidInput(format!(
                    "completion {i} names prompt {p} of {}",
                    prompts.len()
                )));
            }
            if c.is_empty() {
                return Err(RuntimeError::InvalidInput(format!(
                    "completion {i} has no tokens"
                )));
            }
        }
        let pad = i64::from(pad_id);
        let p_len = prompts.iter().map(|p| p.len()).max().unwrap_or(0);
        let c_len = completions.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
        let (g, b) = (prompts.len() as i64, completions.len() as i64);
        let (mut ids, mut pos, mut valid) = (Vec::new(), Vec::new(), Vec::new());
        for p in prompts {
            let skip = p_len - p.len();
            ids.extend(std::iter::repeat_n(pad, skip));
            ids.extend(p.iter().map(|&t| i64::from(t)));
            pos.extend((0..p_len).map(|j| j.saturating_sub(skip) as i64));
            valid.extend((0..p_len).map(|j| j >= skip));
        }
        let (mut c_ids, mut c_pos, mut targets, mut mask) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut rows, mut key_valid) = (Vec::new(), Vec::new());
        for &(p, c) in completions {
            let plen = prompts[p].len();
            rows.push(p as i64);
            key_valid.extend((0..p_len).map(|j| j >= p_len - plen));
            key_valid.extend(std::iter::repeat_n(true, c_len));
            for j in 0..c_len {
                let real = j < c.len();
                c_ids.push(if real { i64::from(c[j]) } else { pad });
                c_pos.push((plen + j) as i64);
                targets.push(if real { i64::from(c[j]) } else { 0 });
                mask.push(real);
            }
        }
        let t = |v: &[i64], shape: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
        let bools = |v: &[bool], shape: &[i64]| Tensor::from_slice(v).view(shape).to_device(device);
        let (p_len, c_len) = (p_len as i64, c_len as i64);
        Ok(SharedPromptBatch {
            prompt_ids: t(&ids, &[g, p_len]),
            prompt_positions: t(&pos, &[g, p_len]),
            prompt_valid: bools(&valid, &[g, p_len]),
            rows: t(&rows, &[b]),
            completion_ids: t(&c_ids, &[b, c_len]),
            completion_positions: t(&c_pos, &[b, c_len]),
            targets: t(&targets, &[b, c_len]),
            mask: bools(&mask, &[b, c_len]),
            key_valid: bools(&key_valid, &[b, p_len + c_len]),
        })
    }

    /// Completions in the batch.
    pub fn len(&self) -> i64 {
        self.rows.size()[0]
    }

    /// Always false: a batch has at least one completion.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hidden states `(batch, completion, hidden)` at the positions that predict each
    /// completion token (differentiable; dropout when `train`), as
    /// [`CompletionBatch::hidden`](crate::CompletionBatch::hidden) gives for the same items.
    ///
    /// # Errors
    /// As [`CausalLm::embed`].
    pub fn hidden(&self, model: &dyn CausalLm, train: bool) -> Result<Tensor> {
        let trunk = SharedPromptTrunk {
            prompts: model.embed(&self.prompt_ids, &self.prompt_positions, train)?,
            completions: model.embed(&self.completion_ids, &self.completion_positions, train)?,
        };
        self.hidden_above(model, &trunk, 0, train)
    }

    /// The residual stream after the first `blocks` blocks, for the prompts and the
    /// completions: the part of the pass that a model trained only above `blocks` shares with
    /// its frozen copy. Run it without gradients and pass it to
    /// [`hidden_above`](Self::hidden_above).
    ///
    /// # Errors
    /// As [`CausalLm::embed`] and [`CausalLm::forward_blocks`].
    pub fn trunk(&self, model: &dyn CausalLm, blocks: usize) -> Result<SharedPromptTrunk> {
        let trunk = SharedPromptTrunk {
            prompts: model.embed(&self.prompt_ids, &self.prompt_positions, false)?,
            completions: model.embed(&self.completion_ids, &self.completion_positions, false)?,
        };
        self.run(model, trunk, 0..blocks, false)
    }

    /// Like [`hidden`](Self::hidden), starting from a [`trunk`](Self::trunk) computed up to
    /// block `from`.
    ///
    /// # Errors
    /// As [`CausalLm::forward_blocks`], when `trunk` does not fit this batch.
    pub fn hidden_above(
        &self,
        model: &dyn CausalLm,
        trunk: &SharedPromptTrunk,
        from: usize,
        train: bool,
    ) -> Result<Tensor> {
        let start = SharedPromptTrunk {
            prompts: trunk.prompts.shallow_clone(),
            completions: trunk.completions.shallow_clone(),
        };
        let out = self.run(model, start, from..model.spec().num_layers, train)?;
        let (prompts, completions) = (
            model.final_norm(&out.prompts)?,
            model.final_norm(&out.completions)?,
        );
        // Completion token 0 is predicted by the prompt's last token, token j by completion
        // token j − 1.
        let p = prompts.size()[1];
        let last = prompts.narrow(1, p - 1, 1).index_select(0, &self.rows);
        let c = completions.size()[1];
        Ok(Tensor::cat(&[last, completions.narrow(1, 0, c - 1)], 1))
    }

    /// Runs `layers` on the prompts (filling a cache), copies each prompt's cache to its
    /// completions' rows, and runs `layers` on the completions.
    fn run(
        &self,
        model: &dyn CausalLm,
        x: SharedPromptTrunk,
        layers: Range<usize>,
        train: bool,
    ) -> Result<SharedPromptTrunk> {
        if layers.is_empty() {
            return Ok(x);
        }
        let mut cache = KvCache::new(model.spec().num_layers);
        // Real tokens skip the padding; a padding row sees no valid key and is never read.
        let prompts = model.forward_blocks(
            x.prompts,
            &self.prompt_positions,
            Some(&self.prompt_valid),
            Some(&mut cache),
            layers.clone(),
            train,
        )?;
        cache.select_rows(&self.rows);
        let completions = model.forward_blocks(
            x.completions,
            &self.completion_positions,
            Some(&self.key_valid),
            Some(&mut cache),
            layers,
            train,
        )?;
        Ok(SharedPromptTrunk {
            prompts,
            completions,
        })
    }

    /// Log-probabilities `(batch, completion)` of the completion tokens given hidden states
    /// from [`hidden`](Self::hidden); zero where padded.
    ///
    /// # Errors
    /// As [`CausalLm::logits`].
    pub fn logprobs_from_hidden(&self, model: &dyn CausalLm, hidden: &Tensor) -> Result<Tensor> {
        Ok(self.logprobs_from_real_logits(&self.real_logits(model, hidden)?))
    }

    /// Vocabulary logits `(n, vocab)` at the `n` real completion positions (where `mask`
    /// is true, in row-major order), from hidden states from [`hidden`](Self::hidden): the
    /// output projection is not spent on padding. For callers that need the logits
    /// themselves too (e.g. for an entropy); [`logprobs_from_real_logits`](Self::logprobs_from_real_logits)
    /// turns them into log-probabilities.
    ///
    /// # Errors
    /// As [`CausalLm::logits`].
    pub fn real_logits(&self, model: &dyn CausalLm, hidden: &Tensor) -> Result<Tensor> {
        crate::score::real_logits(model, hidden, &self.mask)
    }

    /// Log-probabilities `(batch, completion)` of the completion tokens given the logits of
    /// [`real_logits`](Self::real_logits); zero where padded (differentiable).
    pub fn logprobs_from_real_logits(&self, logits: &Tensor) -> Tensor {
        crate::score::logprobs_from_real_logits(logits, &self.targets, &self.mask)
    }

    /// Log-probabilities `(batch, completion)` of the completion tokens (differentiable).
    ///
    /// # Errors
    /// As [`CausalLm::embed`] and [`CausalLm::logits`].
    pub fn logprobs(&self, model: &dyn CausalLm, train: bool) -> Result<Tensor> {
        self.logprobs_from_hidden(model, &self.hidden(model, train)?)
    }
}
