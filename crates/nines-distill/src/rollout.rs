//! Rollouts: sample one-sentence completions with the policy, then score them with the reward
//! model, the policy (old log-probs, values) and the frozen reference.

use std::time::Instant;

use nines_runtime::{GenerateConfig, LanguageModel, SharedPromptBatch, SharedPromptTrunk};
use tch::{Kind, Tensor};

use crate::error::{DistillError, Result};
use crate::policy::ValueHead;
use nines_data::PairScorer;

use crate::reward::{Shaping, check_probabilities};

/// One sampled completion.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutItem {
    /// Index of its prompt in the step's prompt list.
    pub prompt_index: usize,
    /// The prompt's token ids.
    pub prompt_ids: Vec<u32>,
    /// The completion's token ids (at least one).
    pub completion_ids: Vec<u32>,
    /// The completion's text.
    pub text: String,
}

/// The completions of one step.
#[derive(Debug, Clone)]
pub struct Rollout {
    /// Completions, `samples_per_prompt` per prompt, in prompt order.
    pub items: Vec<RolloutItem>,
    /// Completion tokens generated.
    pub tokens: usize,
    /// Wall-clock seconds of generation.
    pub seconds: f64,
}

/// Samples `n` completions of each prompt with `lm` (no gradients; KV cache shared per prompt).
///
/// # Errors
/// [`DistillError::EmptyPrompts`] for no prompts; runtime errors (empty or too-long prompt,
/// bad settings); [`DistillError::InvalidInput`] if a completion has no tokens.
pub fn sample(
    lm: &LanguageModel,
    prompts: &[&str],
    n: usize,
    cfg: &GenerateConfig,
) -> Result<Rollout> {
    if prompts.is_empty() {
        return Err(DistillError::EmptyPrompts { what: "rollout" });
    }
    let start = Instant::now();
    let out = lm.generate_n(prompts, n, cfg)?;
    let seconds = start.elapsed().as_secs_f64();
    let mut items = Vec::with_capacity(prompts.len() * n);
    for (prompt_index, gens) in out.into_iter().enumerate() {
        for g in gens {
            if g.token_ids.is_empty() {
                return Err(DistillError::InvalidInput(format!(
                    "prompt {prompt_index}: the policy produced an empty completion"
                )));
            }
            items.push(RolloutItem {
                prompt_index,
                prompt_ids: g.prompt_ids,
                completion_ids: g.token_ids,
                text: g.text,
            });
        }
    }
    let tokens = items.iter().map(|i| i.completion_ids.len()).sum();
    Ok(Rollout {
        items,
        tokens,
        seconds,
    })
}

/// A rollout with everything PPO needs, as `(batch, completion)` tensors on the policy's
/// device (right-padded to the longest completion).
#[derive(Debug)]
pub struct ScoredRollout {
    /// The completions.
    pub rollout: Rollout,
    /// P(injury) of each completion.
    pub p_injury: Vec<f32>,
    /// Sequence scores `(batch,)` (shaped, clipped).
    pub scores: Tensor,
    /// Policy log-probs at rollout time.
    pub old_logprobs: Tensor,
    /// Reference log-probs.
    pub ref_logprobs: Tensor,
    /// Values at rollout time.
    pub values: Tensor,
    /// Real tokens (bool).
    pub mask: Tensor,
    /// When the policy trains only above a frozen bottom that it shares with the reference
    /// ([`Scorers::shared_blocks`] > 0): the residual stream after those blocks, computed once
    /// here and reused by every update pass.
    pub trunks: Option<RolloutTrunks>,
    /// Wall-clock seconds of scoring (reward model and forward passes).
    pub seconds: f64,
}

/// The residual stream of a rollout after the frozen bottom blocks, per prompt and per
/// completion (the completions' rows attend to their prompt's).
#[derive(Debug)]
pub struct RolloutTrunks {
    /// Per prompt of the step (by [`RolloutItem::prompt_index`]): `(prompt_len, hidden)`.
    pub prompts: Vec<Tensor>,
    /// Per item: `(completion_len, hidden)`.
    pub completions: Vec<Tensor>,
}

impl RolloutTrunks {
    /// The trunk of the batch [`batch_of`] built for `items` (indices into the rollout) with
    /// prompt rows `prompts` (as it returns them): prompts left-padded, completions
    /// right-padded, as the batch pads its tokens.
    pub(crate) fn stack(&self, prompts: &[(usize, usize)], items: &[usize]) -> SharedPromptTrunk {
        let p_len = prompts
            .iter()
            .map(|&(g, _)| self.prompts[g].size()[0])
            .max()
            .unwrap_or(0);
        let c_len = items
            .iter()
            .map(|&i| self.completions[i].size()[0])
            .max()
            .unwrap_or(0);
        let left = |t: &Tensor| t.constant_pad_nd([0, 0, p_len - t.size()[0], 0]);
        let right = |t: &Tensor| t.constant_pad_nd([0, 0, 0, c_len - t.size()[0]]);
        SharedPromptTrunk {
            prompts: Tensor::stack(
                &prompts
                    .iter()
                    .map(|&(g, _)| left(&self.prompts[g]))
                    .collect::<Vec<_>>(),
                0,
            ),
            completions: Tensor::stack(
                &items
                    .iter()
                    .map(|&i| right(&self.completions[i]))
                    .collect::<Vec<_>>(),
                0,
            ),
        }
    }
}

/// Everything that scores a rollout.
#[derive(Debug, Clone, Copy)]
pub struct Scorers<'a, R: ?Sized> {
    /// The policy.
    pub policy: &'a LanguageModel,
    /// Its value head.
    pub value_head: &'a ValueHead,
    /// The frozen reference.
    pub reference: &'a LanguageModel,
    /// The reward model.
    pub reward: &'a R,
    /// P(injury) → score.
    pub shaping: Shaping,
    /// Clip scores to ±this; 0 disables.
    pub score_clip: f64,
    /// Score completions with no visible text as surely flagged.
    pub empty_is_flagged: bool,
    /// Rows per forward pass.
    pub batch_size: usize,
    /// Bottom blocks that policy and reference share, frozen (0: none). Their output is
    /// computed once per item and both models run only the blocks above.
    pub shared_blocks: usize,
}

/// Scores a rollout: reward model, then policy and reference forward passes without gradients.
///
/// # Errors
/// Reward model failures, [`DistillError::NonFiniteReward`], runtime errors.
pub fn score<R: PairScorer + ?Sized>(
    s: &Scorers<'_, R>,
    prompts: &[&str],
    rollout: Rollout,
) -> Result<ScoredRollout> {
    let start = Instant::now();
    let pairs: Vec<(&str, &str)> = rollout
        .items
        .iter()
        .map(|i| (prompts[i.prompt_index], i.text.as_str()))
        .collect();
    let p = s.reward.score(&pairs)?;
    check_probabilities(&pairs, &p)?;
    let scores: Vec<f32> = p
        .iter()
        .zip(&rollout.items)
        .map(|(&p, item)| {
            let empty = s.empty_is_flagged && item.text.trim().is_empty();
            let v = s.shaping.score(if empty { 1.0 } else { f64::from(p) });
            if s.score_clip > 0.0 {
                v.clamp(-s.score_clip, s.score_clip) as f32
            } else {
                v as f32
            }
        })
        .collect();
    let device = s.policy.device();
    let width = rollout
        .items
        .iter()
        .map(|i| i.completion_ids.len())
        .max()
        .unwrap_or(0) as i64;
    let _guard = tch::no_grad_guard();
    let (mut old, mut refs, mut values, mut masks) = (vec![], vec![], vec![], vec![]);
    let mut trunks = (s.shared_blocks > 0).then(|| RolloutTrunks {
        prompts: (0..prompts.len()).map(|_| Tensor::new()).collect(),
        completions: Vec::with_capacity(rollout.items.len()),
    });
    let (policy, reference) = (s.policy.model(), s.reference.model());
    let all: Vec<usize> = (0..rollout.items.len()).collect();
    for chunk in all.chunks(s.batch_size.max(1)) {
        let (batch, groups) = batch_of(&rollout.items, chunk, s.policy, device)?;
        let (h, ref_h) = match trunks.as_mut() {
            Some(kept) => {
                let trunk = batch.trunk(policy, s.shared_blocks)?;
                let p_len = trunk.prompts.size()[1];
                for (row, &(g, first)) in groups.iter().enumerate() {
                    if !kept.prompts[g].defined() {
                        let len = rollout.items[first].prompt_ids.len() as i64;
                        kept.prompts[g] = trunk.prompts.get(row as i64).narrow(0, p_len - len, len);
                    }
                }
                for (row, &i) in chunk.iter().enumerate() {
                    let len = rollout.items[i].completion_ids.len() as i64;
                    kept.completions
                        .push(trunk.completions.get(row as i64).narrow(0, 0, len));
                }
                (
                    batch.hidden_above(policy, &trunk, s.shared_blocks, false)?,
                    batch.hidden_above(reference, &trunk, s.shared_blocks, false)?,
                )
            }
            None => (
                batch.hidden(policy, false)?,
                batch.hidden(reference, false)?,
            ),
        };
        old.push(pad_cols(&batch.logprobs_from_hidden(policy, &h)?, width));
        values.push(pad_cols(&s.value_head.values(&h, &batch.mask), width));
        refs.push(pad_cols(
            &batch.logprobs_from_hidden(reference, &ref_h)?,
            width,
        ));
        masks.push(pad_cols(&batch.mask.to_kind(Kind::Float), width).to_kind(Kind::Bool));
    }
    Ok(ScoredRollout {
        rollout,
        p_injury: p,
        scores: Tensor::from_slice(&scores).to_device(device),
        old_logprobs: Tensor::cat(&old, 0),
        ref_logprobs: Tensor::cat(&refs, 0),
        values: Tensor::cat(&values, 0),
        mask: Tensor::cat(&masks, 0),
        trunks,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The batch of the rollout items `chosen` (indices into `items`), each distinct prompt run
/// once, and for each of its prompt rows the step prompt index and the first chosen item with
/// that prompt.
pub(crate) fn batch_of(
    items: &[RolloutItem],
    chosen: &[usize],
    lm: &LanguageModel,
    device: tch::Device,
) -> Result<(SharedPromptBatch, Vec<(usize, usize)>)> {
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut completions = Vec::with_capacity(chosen.len());
    for &i in chosen {
        let item = &items[i];
        let row = match groups.iter().position(|&(g, _)| g == item.prompt_index) {
            Some(row) => row,
            None => {
                groups.push((item.prompt_index, i));
                groups.len() - 1
            }
        };
        completions.push((row, item.completion_ids.as_slice()));
    }
    let prompts: Vec<&[u32]> = groups
        .iter()
        .map(|&(_, first)| items[first].prompt_ids.as_slice())
        .collect();
    let batch = SharedPromptBatch::new(&prompts, &completions, lm.tokenizer().pad_id(), device)?;
    Ok((batch, groups))
}

/// Right-pads a `(batch, c)` tensor with zeros to `(batch, width)`.
pub(crate) fn pad_cols(t: &Tensor, width: i64) -> Tensor {
    let c = t.size()[1];
    if c >= width {
        t.shallow_clone()
    } else {
        t.constant_pad_nd([0, width - c])
    }
}
