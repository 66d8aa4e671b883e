//! The PPO loop: roll out, score, build KL-penalized rewards and GAE advantages, then several
//! epochs of clipped updates in minibatches; checkpoints, metrics and a progress bar.

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use nines_data::PairScorer;
use nines_runtime::models::LoraConfig;
use nines_runtime::train::{AdamW, frozen_bottom_blocks, is_input_embedding, layer_index};
use nines_runtime::{LanguageModel, LoadOptions};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tch::{Kind, Tensor};

use crate::advantage::{gae, leave_one_out, whiten};
use crate::checkpoint::{self, TrainerState, checkpoint_dir};
use crate::config::{PpoConfig, TrainScope};
use crate::error::{DistillError, Result};
use crate::kl::{KlController, penalized_rewards};
use crate::loss::{LossInputs, LossSettings, LossStats, entropy, ppo_loss};
use crate::metrics::{MetricsLog, StepMetrics, explained_variance, mean_row_sum};
use crate::policy::{ValueHead, apply_scope, freeze_all};
use crate::replay::{ReplayEntry, ReplayQueue};
use crate::rollout::{self, ScoredRollout, Scorers, batch_of};

/// Loads the policy (with LoRA adapters when `config.scope` asks for them, their random
/// initialization seeded by `config.seed`) and the frozen reference from the same checkpoint.
///
/// # Errors
/// Runtime load errors; `RuntimeError::Quantized` for a quantized `options.dtype`.
pub fn load_models(
    path: impl AsRef<Path>,
    options: LoadOptions,
    config: &PpoConfig,
) -> Result<(LanguageModel, LanguageModel)> {
    tch::manual_seed(mix(config.seed, 0, 4) as i64);
    let lora: Option<LoraConfig> = match &config.scope {
        TrainScope::Lora(l) => Some(l.clone()),
        _ => None,
    };
    let policy = LanguageModel::load_with_lora(path.as_ref(), options, lora)?;
    // Quantized weights cannot learn: say so before any rollout is generated.
    policy.ensure_trainable("PPO")?;
    let reference = LanguageModel::load(path.as_ref(), options)?;
    Ok((policy, reference))
}

/// How many bottom blocks the policy and the reference share: the blocks that are frozen in
/// the policy together with the input embeddings (with `TopLayers { layers }`, all but the
/// top `layers`), when the reference holds the same values there (it does when both come from
/// one checkpoint, as with [`load_models`]). Their outputs are computed once per rollout for
/// both models and reused by every update pass. 0 when nothing is frozen or a weight differs.
fn shared_frozen_blocks(policy: &LanguageModel, reference: &LanguageModel) -> usize {
    let split = frozen_bottom_blocks(policy.var_store(), policy.model().spec().num_layers);
    if split == 0 {
        return 0;
    }
    let theirs = reference.var_store().variables();
    let _guard = tch::no_grad_guard();
    let same = policy
        .var_store()
        .variables()
        .into_iter()
        .filter(|(name, _)| {
            layer_index(name).is_some_and(|i| i < split) || is_input_embedding(name)
        })
        .all(|(name, mine)| {
            theirs
                .get(&name)
                .is_some_and(|t| t.size() == mine.size() && t.equal(&mine))
        });
    if same { split } else { 0 }
}

/// Mixes the run seed with a step (and a purpose) into a new seed.
fn mix(seed: u64, step: usize, purpose: u64) -> u64 {
    let mut z = seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ purpose.rotate_left(32);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `count` prompt indices from position `start` of the seeded prompt order: the
/// concatenation of seeded permutations of `0..n_prompts`, a new one for every pass.
pub fn prompt_order(n_prompts: usize, seed: u64, start: usize, count: usize) -> Vec<usize> {
    if n_prompts == 0 {
        return Vec::new();
    }
    let mut pass_cache: Option<(usize, Vec<usize>)> = None;
    (start..start + count)
        .map(|k| {
            let (pass, pos) = (k / n_prompts, k % n_prompts);
            if pass_cache.as_ref().is_none_or(|(p, _)| *p != pass) {
                let mut order: Vec<usize> = (0..n_prompts).collect();
                order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix(seed, pass, 1)));
                pass_cache = Some((pass, order));
            }
            pass_cache.as_ref().map_or(0, |(_, o)| o[pos])
        })
        .collect()
}

/// Flagged completions per prompt of a scored rollout: P(injury) above `threshold`, or no
/// visible text when `empty_is_flagged`.
fn flagged_per_prompt(
    batch: &ScoredRollout,
    n_prompts: usize,
    threshold: f64,
    empty_is_flagged: bool,
) -> Vec<usize> {
    let mut flagged = vec![0; n_prompts];
    for (item, &p) in batch.rollout.items.iter().zip(&batch.p_injury) {
        let empty = empty_is_flagged && item.text.trim().is_empty();
        if (empty || f64::from(p) > threshold) && item.prompt_index < n_prompts {
            flagged[item.prompt_index] += 1;
        }
    }
    flagged
}

/// The prompt indices of step `step` without replay: consecutive slices of the seeded
/// prompt order ([`prompt_order`]).
pub fn step_prompt_indices(
    n_prompts: usize,
    per_step: usize,
    seed: u64,
    step: usize,
) -> Vec<usize> {
    prompt_order(n_prompts, seed, step * per_step, per_step)
}

/// The replay queue holds at most this many steps' worth of prompts.
const REPLAY_CAPACITY_STEPS: usize = 4;

/// How [`PpoTrainer::train_within_kl`] ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainOutcome {
    /// Metrics of every step the kept policy trained on (read back from the run folder's
    /// `metrics.jsonl` after a fallback).
    pub metrics: Vec<StepMetrics>,
    /// Where the KL bound stopped training, if it did.
    pub kl_stop: Option<KlStop>,
}

/// A run stopped by the KL bound and rolled back to its last good checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct KlStop {
    /// The step whose rollouts left the bound.
    pub step: usize,
    /// Their mean KL to the reference (nats per completion).
    pub kl: f64,
    /// The bound (`max_kl`).
    pub limit: f64,
    /// The step the kept policy had reached (its checkpoint's).
    pub resumed_step: usize,
}

/// A PPO trainer: the policy (generator + value head), the frozen reference, the reward model.
///
/// See the crate documentation for an example.
pub struct PpoTrainer<R> {
    policy: LanguageModel,
    value_head: ValueHead,
    reference: LanguageModel,
    reward: R,
    config: PpoConfig,
    optimizer: AdamW,
    kl: KlController,
    step: usize,
    trainable: i64,
    /// Frozen bottom blocks shared with the reference (see [`Scorers::shared_blocks`]).
    shared_blocks: usize,
    last_checkpoint: Option<PathBuf>,
    /// Training prompts waiting for replay.
    replay: ReplayQueue,
    /// Fresh (not replayed) training prompts drawn so far.
    fresh_drawn: usize,
}

impl<R> std::fmt::Debug for PpoTrainer<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PpoTrainer")
            .field("policy", &self.policy.model_id())
            .field("step", &self.step)
            .field("kl_coef", &self.kl.value())
            .field("trainable", &self.trainable)
            .finish()
    }
}

impl<R: PairScorer> PpoTrainer<R> {
    /// Builds a trainer: validates the configuration, checks that the reference scores the
    /// policy's tokens, freezes the reference, attaches the value head, freezes the policy
    /// outside the training scope, and creates the optimizer.
    ///
    /// # Errors
    /// [`DistillError::InvalidConfig`], [`DistillError::VocabMismatch`].
    pub fn new(
        mut policy: LanguageModel,
        mut reference: LanguageModel,
        reward: R,
        config: PpoConfig,
    ) -> Result<Self> {
        config.validate()?;
        let (pv, rv) = (
            policy.model().spec().vocab_size,
            reference.model().spec().vocab_size,
        );
        if pv != rv || policy.tokenizer().max_token_id() != reference.tokenizer().max_token_id() {
            return Err(DistillError::VocabMismatch {
                policy: pv,
                reference: rv,
            });
        }
        if policy.device() != reference.device() {
            return Err(DistillError::InvalidInput(format!(
                "policy on {:?} but reference on {:?}",
                policy.device(),
                reference.device()
            )));
        }
        freeze_all(&reference);
        let value_head = ValueHead::attach(&policy);
        let trainable = apply_scope(&policy, &config.scope)?;
        let shared_blocks = shared_frozen_blocks(&policy, &reference);
        if config.int8_frozen_blocks {
            if shared_blocks == 0 {
                return Err(DistillError::config(
                    "int8_frozen_blocks",
                    "the policy shares no frozen bottom blocks with the reference",
                ));
            }
            // The same weights quantized the same way: one int8 bottom for both models.
            policy.quantize_blocks(0..shared_blocks)?;
            reference.quantize_blocks(0..shared_blocks)?;
        }
        let optimizer = AdamW::new(policy.var_store(), config.adamw);
        Ok(PpoTrainer {
            policy,
            value_head,
            reference,
            reward,
            kl: KlController::new(config.kl),
            config,
            optimizer,
            step: 0,
            trainable,
            shared_blocks,
            last_checkpoint: None,
            replay: ReplayQueue::default(),
            fresh_drawn: 0,
        })
    }

    /// The policy being trained.
    pub fn policy(&self) -> &LanguageModel {
        &self.policy
    }

    /// The frozen reference.
    pub fn reference(&self) -> &LanguageModel {
        &self.reference
    }

    /// The configuration.
    pub fn config(&self) -> &PpoConfig {
        &self.config
    }

    /// PPO steps completed.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// The KL controller (its current β).
    pub fn kl_controller(&self) -> &KlController {
        &self.kl
    }

    /// Number of trainable parameter elements (value head included).
    pub fn trainable_parameters(&self) -> i64 {
        self.trainable
    }

    /// Training prompts waiting for replay ([`PpoConfig::replay_share`]).
    pub fn replay_queue(&self) -> &ReplayQueue {
        &self.replay
    }

    /// The last checkpoint written or resumed from.
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.last_checkpoint.as_deref()
    }

    /// Samples and scores this step's rollout (no parameter changes).
    ///
    /// # Errors
    /// [`DistillError::EmptyPrompts`], reward-model and runtime errors.
    pub fn collect(&self, prompts: &[&str]) -> Result<ScoredRollout> {
        let mut generation = self.config.generation.clone();
        generation.seed = mix(self.config.seed, self.step, 2);
        let r = rollout::sample(
            &self.policy,
            prompts,
            self.config.samples_per_prompt,
            &generation,
        )?;
        let scorers = Scorers {
            policy: &self.policy,
            value_head: &self.value_head,
            reference: &self.reference,
            reward: &self.reward,
            shaping: self.config.reward,
            score_clip: self.config.score_clip,
            empty_is_flagged: self.config.empty_is_flagged,
            batch_size: self.config.score_batch_size,
            shared_blocks: self.shared_blocks,
        };
        rollout::score(&scorers, prompts, r)
    }

    /// One PPO step on these prompts: [`collect`](Self::collect), check the KL, then
    /// [`update`](Self::update).
    ///
    /// # Errors
    /// As `collect` and `update`, and [`DistillError::KlBlowUp`].
    pub fn step(&mut self, prompts: &[&str]) -> Result<StepMetrics> {
        let batch = self.collect(prompts)?;
        self.check_kl(&batch)?;
        self.update(batch)
    }

    fn check_kl(&self, batch: &ScoredRollout) -> Result<f64> {
        let kl = {
            let _guard = tch::no_grad_guard();
            mean_row_sum(&(&batch.old_logprobs - &batch.ref_logprobs))
        };
        if !kl.is_finite() || kl > self.config.max_kl {
            return Err(DistillError::KlBlowUp {
                step: self.step,
                kl,
                limit: self.config.max_kl,
                last_checkpoint: self.last_checkpoint.clone(),
            });
        }
        Ok(kl)
    }

    /// The PPO update on a scored rollout: per-token rewards with the KL penalty, GAE,
    /// (whitened) advantages, `ppo_epochs` passes of shuffled minibatches with clipped
    /// losses and gradient clipping, then the KL controller update.
    ///
    /// # Errors
    /// [`DistillError::NonFinite`] when a loss or gradient norm is NaN or infinite (training
    /// must stop: the parameters may be partly updated).
    pub fn update(&mut self, batch: ScoredRollout) -> Result<StepMetrics> {
        let start = Instant::now();
        let cfg = &self.config;
        let beta = self.kl.value();
        let device = self.policy.device();
        let n = batch.rollout.items.len();
        let (rewards, kl_mean, advantages, returns, ev) = {
            let _guard = tch::no_grad_guard();
            let scores = if cfg.group_baseline {
                let raw = Vec::<f32>::try_from(batch.scores.to_device(tch::Device::Cpu))?;
                let groups: Vec<usize> =
                    batch.rollout.items.iter().map(|i| i.prompt_index).collect();
                Tensor::from_slice(&leave_one_out(&raw, &groups)).to_device(device)
            } else {
                batch.scores.shallow_clone()
            };
            let pen = penalized_rewards(
                &scores,
                &batch.old_logprobs,
                &batch.ref_logprobs,
                &batch.mask,
                beta,
            )?;
            let g = gae(&pen.rewards, &batch.values, &batch.mask, cfg.gamma, cfg.lam);
            let adv = if cfg.whiten_advantages {
                whiten(&g.advantages, &batch.mask, true)
            } else {
                g.advantages
            };
            let ev = explained_variance(&batch.values, &g.returns, &batch.mask);
            (
                mean_row_sum(&pen.rewards),
                mean_row_sum(&pen.kl),
                adv,
                g.returns,
                ev,
            )
        };
        let settings = LossSettings {
            cliprange: cfg.cliprange,
            cliprange_value: cfg.cliprange_value,
            vf_coef: cfg.vf_coef,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, self.step, 3));
        let mut sums = LossStats::default();
        let (mut grad_norm, mut updates, mut ent_sum, mut ent_n) = (0.0, 0usize, 0.0, 0usize);
        let kl_stop = cfg.target_kl.map(|t| 1.5 * t);
        let mut stopped = false;
        for epoch in 0..cfg.ppo_epochs {
            if stopped {
                break;
            }
            let mut order: Vec<usize> = (0..n).collect();
            order.shuffle(&mut rng);
            for mb in order.chunks(cfg.mini_batch_size) {
                let (cb, groups) = batch_of(&batch.rollout.items, mb, &self.policy, device)?;
                let width = cb.mask.size()[1];
                let idx = Tensor::from_slice(&mb.iter().map(|&i| i as i64).collect::<Vec<_>>())
                    .to_device(device);
                let sel = |t: &Tensor| t.index_select(0, &idx).narrow(1, 0, width);
                self.optimizer.zero_grad();
                let model = self.policy.model();
                let h = match &batch.trunks {
                    None => cb.hidden(model, false)?,
                    Some(trunks) => {
                        let trunk = trunks.stack(&groups, mb);
                        cb.hidden_above(model, &trunk, self.shared_blocks, false)?
                    }
                };
                // Logits at the real completion positions only, `(tokens, vocab)`.
                let logits = cb.real_logits(self.policy.model(), &h)?;
                let logprobs = cb.logprobs_from_real_logits(&logits);
                let values = self.value_head.values(&h, &cb.mask);
                let (loss, stats) = ppo_loss(
                    &LossInputs {
                        logprobs: &logprobs,
                        old_logprobs: &sel(&batch.old_logprobs),
                        values: &values,
                        old_values: &sel(&batch.values),
                        advantages: &sel(&advantages),
                        returns: &sel(&returns),
                        mask: &cb.mask,
                    },
                    settings,
                );
                if !stats.loss.is_finite() {
                    return Err(DistillError::NonFinite {
                        step: self.step,
                        what: "loss",
                        value: stats.loss,
                    });
                }
                if kl_stop.is_some_and(|limit| stats.approx_kl > limit) {
                    // Out of the trust region: this step's updates end here.
                    stopped = true;
                    if ent_n == 0 {
                        let _guard = tch::no_grad_guard();
                        ent_sum += entropy(&logits).double_value(&[]);
                        ent_n += 1;
                    }
                    break;
                }
                loss.backward();
                let norm = if cfg.max_grad_norm > 0.0 {
                    self.optimizer.clip_grad_norm(cfg.max_grad_norm)
                } else {
                    self.optimizer.grad_norm()
                };
                if !norm.is_finite() {
                    return Err(DistillError::NonFinite {
                        step: self.step,
                        what: "gradient norm",
                        value: norm,
                    });
                }
                self.optimizer.step(cfg.learning_rate);
                if epoch + 1 == cfg.ppo_epochs {
                    let _guard = tch::no_grad_guard();
                    ent_sum += entropy(&logits).double_value(&[]);
                    ent_n += 1;
                }
                grad_norm += norm;
                updates += 1;
                sums.policy_loss += stats.policy_loss;
                sums.value_loss += stats.value_loss;
                sums.clip_fraction += stats.clip_fraction;
                sums.value_clip_fraction += stats.value_clip_fraction;
                sums.approx_kl += stats.approx_kl;
            }
        }
        let u = updates.max(1) as f64;
        let score_mean = batch.scores.mean(Kind::Float).double_value(&[]);
        let p_mean = batch.p_injury.iter().map(|&p| f64::from(p)).sum::<f64>() / n as f64;
        let t = cfg.flag_threshold;
        let flagged =
            batch.p_injury.iter().filter(|&&p| f64::from(p) > t).count() as f64 / n as f64;
        let metrics = StepMetrics {
            step: self.step,
            score_mean,
            p_injury_mean: p_mean,
            flagged_fraction: flagged,
            reward_mean: rewards,
            kl: kl_mean,
            kl_coef: beta,
            entropy: ent_sum / ent_n.max(1) as f64,
            policy_loss: sums.policy_loss / u,
            value_loss: sums.value_loss / u,
            clip_fraction: sums.clip_fraction / u,
            value_clip_fraction: sums.value_clip_fraction / u,
            approx_kl: sums.approx_kl / u,
            explained_variance: ev,
            grad_norm: grad_norm / u,
            completion_tokens: batch.rollout.tokens as f64 / n as f64,
            rollout_seconds: batch.rollout.seconds,
            score_seconds: batch.seconds,
            update_seconds: start.elapsed().as_secs_f64(),
            rollout_tokens_per_second: batch.rollout.tokens as f64
                / batch.rollout.seconds.max(1e-9),
            replayed_prompts: 0,
            updates,
        };
        self.kl.update(kl_mean, n);
        self.step += 1;
        Ok(metrics)
    }

    /// Writes a checkpoint to `run_dir/checkpoint` (atomically replacing the previous one).
    ///
    /// # Errors
    /// I/O and LibTorch errors.
    pub fn save_checkpoint(&mut self, run_dir: &Path) -> Result<PathBuf> {
        let dir = checkpoint_dir(run_dir);
        let state = TrainerState {
            step: self.step,
            kl_coef: self.kl.value(),
            model_id: self.policy.model_id(),
            vocab_size: self.policy.model().spec().vocab_size,
            config: self.config.clone(),
            replay: self.replay.clone(),
            fresh_drawn: Some(self.fresh_drawn),
        };
        checkpoint::save(&dir, &self.policy, &self.optimizer, &state)?;
        self.last_checkpoint = Some(dir.clone());
        Ok(dir)
    }

    /// Restores `run_dir/checkpoint`: trainable parameters, optimizer state, step, β and the
    /// replay queue. A resumed run continues exactly as the uninterrupted one would have.
    ///
    /// # Errors
    /// [`DistillError::Checkpoint`] for a missing or mismatched checkpoint.
    pub fn resume(&mut self, run_dir: &Path) -> Result<TrainerState> {
        let dir = checkpoint_dir(run_dir);
        let state = checkpoint::load(&dir, &self.policy, &mut self.optimizer)?;
        self.step = state.step;
        self.kl.set_value(state.kl_coef);
        self.replay = state.replay.clone();
        self.fresh_drawn = state
            .fresh_drawn
            .unwrap_or(state.step * self.config.prompts_per_step);
        self.last_checkpoint = Some(dir);
        Ok(state)
    }

    /// Trains until `config.total_steps` steps are done, on prompts drawn from `prompts`
    /// (seeded order), writing `run_dir/config.json`, `run_dir/metrics.jsonl` and checkpoints
    /// in `run_dir/checkpoint`. A run folder that already holds a checkpoint is resumed.
    ///
    /// A checkpoint is written every `checkpoint_every` steps, after the step's rollout has
    /// passed the KL check (so it holds a state known to be within `max_kl`), and at the end.
    /// On [`DistillError::KlBlowUp`] the last good checkpoint is left in place.
    ///
    /// # Errors
    /// [`DistillError::EmptyPrompts`], [`DistillError::KlBlowUp`], reward, runtime, I/O errors.
    pub fn train(
        &mut self,
        prompts: &[String],
        run_dir: &Path,
        progress: bool,
    ) -> Result<Vec<StepMetrics>> {
        self.train_until(prompts, run_dir, progress, None)
    }

    /// [`train`](Self::train), stopping early (after a whole step, with a checkpoint) once
    /// `deadline` has passed: a wall-time budget. A later `train` call in the same run folder
    /// resumes from there.
    ///
    /// # Errors
    /// As [`train`](Self::train).
    pub fn train_until(
        &mut self,
        prompts: &[String],
        run_dir: &Path,
        progress: bool,
        deadline: Option<Instant>,
    ) -> Result<Vec<StepMetrics>> {
        if prompts.is_empty() {
            return Err(DistillError::EmptyPrompts { what: "training" });
        }
        if let Some((i, _)) = prompts
            .iter()
            .enumerate()
            .find(|(_, p)| p.trim().is_empty())
        {
            return Err(DistillError::InvalidInput(format!(
                "training prompt {i} is empty"
            )));
        }
        std::fs::create_dir_all(run_dir).map_err(|e| DistillError::io(run_dir, e))?;
        if checkpoint::recover(&checkpoint_dir(run_dir))?.is_some() {
            self.resume(run_dir)?;
        }
        let cfg_path = run_dir.join("config.json");
        let json = serde_json::to_string_pretty(&self.config)
            .map_err(|e| DistillError::io(&cfg_path, std::io::Error::other(e)))?;
        std::fs::write(&cfg_path, json).map_err(|e| DistillError::io(&cfg_path, e))?;
        let mut log = MetricsLog::open(run_dir.join("metrics.jsonl"), self.step)?;
        let total = self.config.total_steps;
        let bar = if progress {
            ProgressBar::new(total as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps [{elapsed}<{eta}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_position(self.step as u64);
        let first = self.step;
        let mut out = Vec::new();
        while self.step < total {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                bar.println(format!(
                    "wall-time budget reached after {} of {total} steps",
                    self.step
                ));
                break;
            }
            let s = self.step;
            let (replayed, idx) = self.plan_step(prompts.len())?;
            let step_prompts: Vec<&str> = idx.iter().map(|&i| prompts[i].as_str()).collect();
            let batch = self.collect(&step_prompts)?;
            self.check_kl(&batch)?;
            let every = self.config.checkpoint_every;
            if s > first && every > 0 && s.is_multiple_of(every) {
                // Written before this step's draw is recorded: a resume redoes this step.
                self.save_checkpoint(run_dir)?;
            }
            self.record_draw(&replayed, &idx, &batch);
            let mut m = self.update(batch)?;
            m.replayed_prompts = replayed.len();
            log.write(&m)?;
            bar.set_message(format!(
                "score {:.3} flagged {:.2} kl {:.2} β {:.3}",
                m.score_mean, m.flagged_fraction, m.kl, m.kl_coef
            ));
            bar.inc(1);
            out.push(m);
        }
        if self.step > first || self.last_checkpoint.is_none() {
            self.save_checkpoint(run_dir)?;
        }
        bar.finish();
        Ok(out)
    }

    /// [`train_until`](Self::train_until), but a run whose rollouts leave the KL bound
    /// ([`DistillError::KlBlowUp`]) falls back to its last good checkpoint instead of
    /// failing: the policy is then the one of that checkpoint, known to be within `max_kl`,
    /// and the outcome says where training stopped. Without a checkpoint to fall back to the
    /// error is returned.
    ///
    /// # Errors
    /// As [`train`](Self::train), and [`DistillError::KlBlowUp`] before the first checkpoint.
    pub fn train_within_kl(
        &mut self,
        prompts: &[String],
        run_dir: &Path,
        progress: bool,
        deadline: Option<Instant>,
    ) -> Result<TrainOutcome> {
        match self.train_until(prompts, run_dir, progress, deadline) {
            Ok(metrics) => Ok(TrainOutcome {
                metrics,
                kl_stop: None,
            }),
            Err(DistillError::KlBlowUp {
                step,
                kl,
                limit,
                last_checkpoint: Some(_),
            }) => {
                let state = self.resume(run_dir)?;
                // The log also holds the steps after the checkpoint that were rolled back.
                let mut metrics = crate::metrics::MetricsLog::read(run_dir.join("metrics.jsonl"))?;
                metrics.retain(|m| m.step < state.step);
                Ok(TrainOutcome {
                    metrics,
                    kl_stop: Some(KlStop {
                        step,
                        kl,
                        limit,
                        resumed_step: state.step,
                    }),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// This step's prompts, without changing any state: up to `replay_share` of them from
    /// the replay queue, the rest fresh in the seeded order.
    fn plan_step(&self, n_prompts: usize) -> Result<(Vec<ReplayEntry>, Vec<usize>)> {
        let per_step = self.config.prompts_per_step;
        let share = self.config.replay_share;
        let wanted = ((share * per_step as f64).round() as usize).min(per_step);
        let replayed = self.replay.plan(wanted);
        if let Some(e) = replayed.iter().find(|e| e.prompt >= n_prompts) {
            return Err(DistillError::InvalidInput(format!(
                "the checkpoint's replay queue names training prompt {}, but the training set has {n_prompts} prompts (resumed with another prompt set?)",
                e.prompt
            )));
        }
        let fresh = per_step - replayed.len();
        let mut idx: Vec<usize> = replayed.iter().map(|e| e.prompt).collect();
        idx.extend(prompt_order(
            n_prompts,
            self.config.seed,
            self.fresh_drawn,
            fresh,
        ));
        Ok((replayed, idx))
    }

    /// Consumes the step's draw ([`plan_step`](Self::plan_step)) and queues the prompts
    /// whose rollouts were flagged.
    fn record_draw(&mut self, replayed: &[ReplayEntry], idx: &[usize], batch: &ScoredRollout) {
        self.fresh_drawn += idx.len() - replayed.len();
        if self.config.replay_share <= 0.0 {
            return;
        }
        self.replay.remove(replayed);
        let flagged = flagged_per_prompt(
            batch,
            idx.len(),
            self.config.flag_threshold,
            self.config.empty_is_flagged,
        );
        let capacity = REPLAY_CAPACITY_STEPS * self.config.prompts_per_step;
        for (pos, &prompt) in idx.iter().enumerate() {
            let replays = replayed
                .iter()
                .find(|e| e.prompt == prompt)
                .map_or(0, |e| e.replays + 1);
            self.replay.record(
                prompt,
                flagged[pos],
                replays,
                self.step,
                self.config.replay_limit,
                capacity,
            );
        }
    }

    /// The trained generator (LoRA adapters merged into the base weights; the value head
    /// stays in its store but the generator never reads it).
    pub fn into_policy(mut self) -> LanguageModel {
        self.policy.merge_lora();
        self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_counted_per_prompt_with_empty_completions() {
        use crate::rollout::{Rollout, RolloutItem};
        let item = |prompt_index: usize, text: &str| RolloutItem {
            prompt_index,
            prompt_ids: vec![1],
            completion_ids: vec![2],
            text: text.to_string(),
        };
        let batch = ScoredRollout {
            rollout: Rollout {
                items: vec![
                    item(0, " fine"),
                    item(0, " hurt"),
                    item(1, "  "),
                    item(1, " fine"),
                    item(2, " hurt"),
                    item(2, " hurt"),
                ],
                tokens: 6,
                seconds: 0.0,
            },
            p_injury: vec![0.01, 0.9, 0.0, 0.02, 0.75, 0.875],
            scores: Tensor::new(),
            old_logprobs: Tensor::new(),
            ref_logprobs: Tensor::new(),
            values: Tensor::new(),
            mask: Tensor::new(),
            trunks: None,
            seconds: 0.0,
        };
        assert_eq!(flagged_per_prompt(&batch, 3, 0.5, true), vec![1, 1, 2]);
        assert_eq!(flagged_per_prompt(&batch, 3, 0.5, false), vec![1, 0, 2]);
        // The threshold is strict: P(injury) equal to it is accepted.
        assert_eq!(flagged_per_prompt(&batch, 3, 0.75, false), vec![1, 0, 1]);
    }

    #[test]
    fn prompt_order_continues_across_passes() {
        let all = prompt_order(5, 3, 0, 12);
        assert_eq!(prompt_order(5, 3, 4, 5), all[4..9].to_vec());
        let mut first: Vec<usize> = all[..5].to_vec();
        first.sort_unstable();
        assert_eq!(first, (0..5).collect::<Vec<_>>());
        assert_eq!(step_prompt_indices(5, 2, 3, 3), all[6..8].to_vec());
    }

    #[test]
    fn step_prompts_cover_the_set_each_pass() {
        let mut seen: Vec<usize> = (0..5)
            .flat_map(|s| step_prompt_indices(10, 2, 7, s))
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(
            step_prompt_indices(10, 2, 7, 3),
            step_prompt_indices(10, 2, 7, 3)
        );
        assert_ne!(
            (0..5)
                .flat_map(|s| step_prompt_indices(10, 2, 7, s))
                .collect::<Vec<_>>(),
            (5..10)
                .flat_map(|s| step_prompt_indices(10, 2, 7, s))
                .collect::<Vec<_>>()
        );
        assert!(step_prompt_indices(0, 2, 7, 0).is_empty());
    }
}
