//! PPO settings: one documented struct, validated once before training starts.

use nines_runtime::GenerateConfig;
use nines_runtime::models::LoraConfig;
use nines_runtime::train::AdamWConfig;

use crate::error::{DistillError, Result};
use crate::kl::KlConfig;
use crate::reward::Shaping;

/// Which parameters PPO trains (the value head always trains).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainScope {
    /// Every parameter of the policy.
    All,
    /// The top `layers` transformer blocks and the final normalization; everything below is
    /// frozen (no gradients, no optimizer state).
    TopLayers {
        /// Blocks to train, counted from the top.
        layers: usize,
    },
    /// LoRA adapters only. The policy must have been loaded with these adapters
    /// ([`crate::load_models`] does it).
    Lora(LoraConfig),
}

/// PPO hyperparameters and run settings.
///
/// One PPO step rolls out `samples_per_prompt` completions for each of `prompts_per_step`
/// prompts (the *batch*, `batch_size()` completions), scores them, then runs `ppo_epochs`
/// passes over the batch in shuffled minibatches of `mini_batch_size` completions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PpoConfig {
    /// Prompts drawn per step. Default 8.
    pub prompts_per_step: usize,
    /// Completions sampled per prompt (they share the prompt's KV cache). Default 4.
    pub samples_per_prompt: usize,
    /// Completions per gradient step; must divide the batch. Default 8.
    pub mini_batch_size: usize,
    /// Passes over each batch. Default 4.
    pub ppo_epochs: usize,
    /// AdamW learning rate (constant). Default 1e-5.
    pub learning_rate: f64,
    /// AdamW moments and weight decay. Default: β = (0.9, 0.999), ε = 1e-8, decay 0.
    pub adamw: AdamWConfig,
    /// Gradient clipping by global norm; 0 disables. Default 1.0.
    pub max_grad_norm: f64,
    /// Policy ratio clip ε: the ratio is clipped to [1 − ε, 1 + ε]. Default 0.2.
    pub cliprange: f64,
    /// Trust region of one PPO step: the step's passes stop early, before the minibatch whose
    /// approximate KL to the rollout policy (`½ mean((log π − log π_old)²)`) exceeds
    /// `1.5 × target_kl`, as in Stable-Baselines3 and OpenAI's Spinning Up. Clipping alone
    /// does not bound how far a step moves the policy at a high learning rate; without a bound
    /// a run's divergence from the reference can grow until it only reflects which way
    /// rounding went. `None` disables it. Default `None`.
    pub target_kl: Option<f64>,
    /// Value clip: new values stay within this distance of the rollout's. Default 0.2.
    pub cliprange_value: f64,
    /// Weight of the value loss in the total loss. Default 0.1.
    pub vf_coef: f64,
    /// Discount γ of GAE. Default 1.0.
    pub gamma: f64,
    /// GAE λ. Default 0.95.
    pub lam: f64,
    /// Whiten advantages over the batch (zero mean, unit variance). Default true.
    pub whiten_advantages: bool,
    /// KL penalty coefficient: adaptive or fixed. Default adaptive (init 0.2, target 6, horizon 10000).
    pub kl: KlConfig,
    /// How P(injury) becomes the sequence score. Default `log_safe` (ln(1 − p), floored).
    pub reward: Shaping,
    /// Scores are clipped to [−score_clip, score_clip]; 0 disables. Default 0.
    pub score_clip: f64,
    /// Subtract from each completion's score the mean score of the *other* completions of
    /// the same prompt (leave-one-out baseline, as in RLOO), so that the reward contrasts
    /// completions of one prompt instead of easy prompts with hard ones. Needs
    /// `samples_per_prompt ≥ 2`. Default false.
    pub group_baseline: bool,
    /// Score a completion with no visible text (whitespace only, or the end-of-sequence token
    /// at once) as a surely flagged one ([`Shaping::score`] of P(injury) = 1), whatever the
    /// reward model says: an empty continuation is not an acceptable one, and without this
    /// ending at once is the cheapest way to avoid a flag. Default true.
    pub empty_is_flagged: bool,
    /// Stop with [`DistillError::KlBlowUp`] when a rollout's mean KL to the reference
    /// (nats per completion) exceeds this. Default 20.
    pub max_kl: f64,
    /// Sampling for rollouts. Default: the rejection-sampling filter's stopping rule (the
    /// first sentence, at most 48 tokens) at temperature 1 without truncation, so rollouts
    /// are samples of the policy PPO's ratios and KL terms refer to.
    pub generation: GenerateConfig,
    /// Which parameters train. Default the top 2 blocks.
    pub scope: TrainScope,
    /// Run the frozen bottom blocks that the policy shares with the reference (with
    /// [`TrainScope::TopLayers`]) in int8, smoothed as an int8 load is
    /// ([`LanguageModel::quantize_blocks`](nines_runtime::LanguageModel::quantize_blocks)):
    /// rollouts are sampled, and their trunk through those blocks computed, several times
    /// faster on the CPU. Both models then see the same int8 bottom, so rollouts stay samples
    /// of the policy whose ratios and KL terms are computed; the trained blocks, the output
    /// projection and every gradient stay f32, and the saved weights are the f32 ones.
    /// CPU only; needs `TopLayers`. Default false.
    pub int8_frozen_blocks: bool,
    /// PPO steps of a run. Default 100.
    pub total_steps: usize,
    /// Write a checkpoint every this many steps (and at the end); 0: only at the end. Default 10.
    pub checkpoint_every: usize,
    /// Seed for prompt order, rollouts and minibatch shuffling. Default 0.
    pub seed: u64,
    /// Rows per no-gradient scoring forward pass (old log-probs, values, reference). Default 32.
    pub score_batch_size: usize,
    /// Rejection threshold for the flagged fraction in the metrics: a completion is flagged
    /// iff P(injury) > this (the project's convention; use the classifier's threshold).
    /// Default 0.5.
    pub flag_threshold: f64,
    /// Share of each step's prompts taken from the replay queue ([`crate::replay`]): training
    /// prompts whose last rollout had a flagged completion (by `flag_threshold`, empty
    /// completions counted flagged under `empty_is_flagged`), most-flagged first. The rest
    /// are fresh prompts in the seeded order. In [0, 1]; 0 disables replay. Default 0.
    pub replay_share: f64,
    /// Times one prompt may be replayed before it leaves the queue, flagged or not. Default 2.
    pub replay_limit: usize,
}

impl Default for PpoConfig {
    fn default() -> Self {
        PpoConfig {
            prompts_per_step: 8,
            samples_per_prompt: 4,
            mini_batch_size: 8,
            ppo_epochs: 4,
            learning_rate: 1e-5,
            adamw: AdamWConfig {
                weight_decay: 0.0,
                ..Default::default()
            },
            max_grad_norm: 1.0,
            cliprange: 0.2,
            target_kl: None,
            cliprange_value: 0.2,
            vf_coef: 0.1,
            gamma: 1.0,
            lam: 0.95,
            whiten_advantages: true,
            kl: KlConfig::default(),
            reward: Shaping::default(),
            score_clip: 0.0,
            group_baseline: false,
            empty_is_flagged: true,
            max_kl: 20.0,
            generation: GenerateConfig {
                max_new_tokens: 48,
                temperature: 1.0,
                top_k: 0,
                top_p: 1.0,
                stop_at_sentence_end: true,
                ..Default::default()
            },
            scope: TrainScope::TopLayers { layers: 2 },
            int8_frozen_blocks: false,
            total_steps: 100,
            checkpoint_every: 10,
            seed: 0,
            score_batch_size: 32,
            flag_threshold: 0.5,
            replay_share: 0.0,
            replay_limit: 2,
        }
    }
}

impl PpoConfig {
    /// Completions per PPO step: `prompts_per_step × samples_per_prompt`.
    pub fn batch_size(&self) -> usize {
        self.prompts_per_step * self.samples_per_prompt
    }

    /// Checks every setting, including that the minibatch size divides the batch.
    ///
    /// # Errors
    /// [`DistillError::InvalidConfig`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field, message: String| Err(DistillError::config(field, message));
        let positive = |field, v: usize| -> Result<()> {
            if v == 0 {
                return Err(DistillError::config(field, "must be at least 1"));
            }
            Ok(())
        };
        positive("prompts_per_step", self.prompts_per_step)?;
        positive("samples_per_prompt", self.samples_per_prompt)?;
        positive("mini_batch_size", self.mini_batch_size)?;
        positive("ppo_epochs", self.ppo_epochs)?;
        positive("total_steps", self.total_steps)?;
        positive("score_batch_size", self.score_batch_size)?;
        if !self.batch_size().is_multiple_of(self.mini_batch_size) {
            return bad(
                "mini_batch_size",
                format!(
                    "{} does not divide the batch of {} completions (prompts_per_step {} × samples_per_prompt {})",
                    self.mini_batch_size,
                    self.batch_size(),
                    self.prompts_per_step,
                    self.samples_per_prompt
                ),
            );
        }
        if self.group_baseline && self.samples_per_prompt < 2 {
            return bad(
                "group_baseline",
                "needs samples_per_prompt ≥ 2 (the baseline is the other completions' mean)"
                    .to_string(),
            );
        }
        let finite_pos = |field, v: f64| -> Result<()> {
            if !(v.is_finite() && v > 0.0) {
                return Err(DistillError::config(
                    field,
                    format!("{v} is not a finite positive number"),
                ));
            }
            Ok(())
        };
        finite_pos("learning_rate", self.learning_rate)?;
        finite_pos("cliprange", self.cliprange)?;
        finite_pos("cliprange_value", self.cliprange_value)?;
        finite_pos("max_kl", self.max_kl)?;
        if let Some(t) = self.target_kl {
            finite_pos("target_kl", t)?;
        }
        if !(0.0..=1.0).contains(&self.replay_share) {
            return bad(
                "replay_share",
                format!("{} is not in [0, 1]", self.replay_share),
            );
        }
        if !(0.0..=1.0).contains(&self.flag_threshold) {
            return bad(
                "flag_threshold",
                format!("{} is not in [0, 1]", self.flag_threshold),
            );
        }
        if !(self.max_grad_norm.is_finite() && self.max_grad_norm >= 0.0) {
            return bad(
                "max_grad_norm",
                format!("{} is not a finite number ≥ 0", self.max_grad_norm),
            );
        }
        if !(self.vf_coef.is_finite() && self.vf_coef >= 0.0) {
            return bad(
                "vf_coef",
                format!("{} is not a finite number ≥ 0", self.vf_coef),
            );
        }
        if !(self.score_clip.is_finite() && self.score_clip >= 0.0) {
            return bad(
                "score_clip",
                format!("{} is not a finite number ≥ 0", self.score_clip),
            );
        }
        for (field, v) in [("gamma", self.gamma), ("lam", self.lam)] {
            if !(0.0..=1.0).contains(&v) {
                return bad(field, format!("{v} is not in [0, 1]"));
            }
        }
        if self.generation.temperature <= 0.0 {
            return bad(
                "generation.temperature",
                "PPO needs sampled rollouts: temperature must be positive".into(),
            );
        }
        self.generation
            .validate()
            .map_err(|e| DistillError::config("generation", e.to_string()))?;
        if let TrainScope::TopLayers { layers: 0 } = self.scope {
            return bad(
                "scope.layers",
                "must train at least one block (or use `all`)".into(),
            );
        }
        if self.int8_frozen_blocks && !matches!(self.scope, TrainScope::TopLayers { .. }) {
            return bad(
                "int8_frozen_blocks",
                "int8 frozen blocks need a frozen bottom: scope `top_layers`".into(),
            );
        }
        if let TrainScope::Lora(l) = &self.scope {
            l.validate()
                .map_err(|e| DistillError::config("scope.lora", e.to_string()))?;
        }
        self.kl.validate()?;
        self.reward.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let c = PpoConfig::default();
        c.validate().unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: PpoConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let partial: PpoConfig = serde_json::from_str(r#"{"ppo_epochs": 2}"#).unwrap();
        assert_eq!(partial.ppo_epochs, 2);
        assert_eq!(partial.cliprange, 0.2);
    }

    #[test]
    fn minibatch_must_divide_the_batch() {
        let c = PpoConfig {
            prompts_per_step: 3,
            samples_per_prompt: 2,
            mini_batch_size: 4,
            ..Default::default()
        };
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("mini_batch_size") && err.contains("6"),
            "{err}"
        );
    }

    #[test]
    fn rejects_bad_values() {
        let cases = [
            PpoConfig {
                learning_rate: f64::NAN,
                ..Default::default()
            },
            PpoConfig {
                lam: 1.5,
                ..Default::default()
            },
            PpoConfig {
                ppo_epochs: 0,
                ..Default::default()
            },
            PpoConfig {
                scope: TrainScope::TopLayers { layers: 0 },
                ..Default::default()
            },
            PpoConfig {
                generation: GenerateConfig {
                    temperature: 0.0,
                    ..Default::default()
                },
                ..Default::default()
            },
        ];
        for c in cases {
            assert!(matches!(
                c.validate(),
                Err(DistillError::InvalidConfig { .. })
            ));
        }
    }
}
