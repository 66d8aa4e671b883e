//! Filter settings: strategy, attempt budget, threshold schedule, fallback, seed.

use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid};
use crate::schedule::ThresholdSchedule;

/// How candidates are drawn and which accepted one is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Strategy {
    /// One candidate per prompt per round until one is accepted. Candidate `n` is judged
    /// against `t(n)` (all earlier ones were rejected). The output is the policy conditioned
    /// on acceptance.
    Sequential,
    /// Rounds of `k` candidates per prompt; return the first accepted one in sampling order.
    /// Candidate `n` is judged against `t(number of earlier candidates rejected)`, so the
    /// output has exactly the distribution of [`Strategy::Sequential`]; the price is the
    /// candidates drawn after the accepted one in its round.
    BatchedFirstAccepted {
        /// Candidates per prompt per round, ≥ 1.
        k: usize,
    },
    /// Rounds of `k` candidates per prompt, all judged against the threshold in force at the
    /// start of the round; return the accepted one with the lowest score (ties broken
    /// uniformly at random). This is *not* the sequential distribution: it favours low
    /// scores, emitting outcome `i` with probability ∝ `p_i · r(v_i)` (see
    /// [`nines_estimate::batched`]).
    BatchedSafest {
        /// Candidates per prompt per round, ≥ 1.
        k: usize,
    },
}

impl Default for Strategy {
    /// `BatchedFirstAccepted { k: 4 }`.
    fn default() -> Self {
        Self::BatchedFirstAccepted { k: 4 }
    }
}

impl Strategy {
    /// Candidates per prompt per round (1 for sequential).
    pub fn k(&self) -> usize {
        match *self {
            Self::Sequential => 1,
            Self::BatchedFirstAccepted { k } | Self::BatchedSafest { k } => k,
        }
    }

    /// A short name for statistics: `sequential`, `batched_first_accepted`, `batched_safest`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sequential => "sequential",
            Self::BatchedFirstAccepted { .. } => "batched_first_accepted",
            Self::BatchedSafest { .. } => "batched_safest",
        }
    }
}

/// What to return for a prompt when every attempt was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "text")]
pub enum Fallback {
    /// Return nothing: the caller sees [`crate::Decision::Fallback`] with a refusal.
    #[default]
    Refuse,
    /// Return this fixed text, known to be safe (e.g. a neutral closing sentence).
    SafeText(String),
}

/// Settings of a [`crate::Filter`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FilterConfig {
    /// Sampling strategy. Default `BatchedFirstAccepted { k: 4 }`.
    pub strategy: Strategy,
    /// Most candidates drawn per prompt (the last round may be smaller than `k`), ≥ 1.
    /// Default 32.
    pub max_attempts: usize,
    /// Acceptance threshold as a function of rejections so far. Default
    /// `Geometric { start: 0.5, ratio: 0.9, floor: 0.1 }`.
    pub schedule: ThresholdSchedule,
    /// What a prompt gets when all `max_attempts` candidates are rejected. Default refuse.
    pub fallback: Fallback,
    /// [`Strategy::BatchedFirstAccepted`] only: size rounds to keep about
    /// `R = max(prompts in the run, k)` candidates each, drawing
    /// `n_r = clamp(⌊R / undecided prompts⌋, 1, k)` per prompt in round `r`. A large batch of
    /// prompts then starts with one candidate each (nothing wasted on prompts that pass at
    /// once) and later rounds give the few hard prompts up to `k` each, keeping the batch
    /// full. The output distribution does not depend on round sizes. `false`: always `k`.
    /// Default true.
    pub fill_rounds: bool,
    /// Run seed `s`: round `r` asks the policy for candidates with seed
    /// [`round_seed`](crate::round_seed)`(s, r)`. Default 0.
    pub seed: u64,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            max_attempts: 32,
            schedule: ThresholdSchedule::default(),
            fallback: Fallback::default(),
            fill_rounds: true,
            seed: 0,
        }
    }
}

impl FilterConfig {
    /// Checks `k ≥ 1`, `max_attempts ≥ 1`, the schedule and a non-empty safe text.
    ///
    /// # Errors
    /// [`crate::FilterError::InvalidSetting`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.strategy.k() == 0 {
            return invalid(
                "strategy.k",
                "a round needs at least one candidate per prompt",
            );
        }
        if self.max_attempts == 0 {
            return invalid("max_attempts", "must be at least 1");
        }
        self.schedule.validate()?;
        if let Fallback::SafeText(t) = &self.fallback
            && t.trim().is_empty()
        {
            return invalid("fallback.text", "a safe-text fallback needs non-empty text");
        }
        Ok(())
    }

    /// Candidates per undecided prompt in a round where `active` of `prompts` prompts are
    /// undecided and each has drawn `drawn` so far (see [`FilterConfig::fill_rounds`]); never
    /// more than the attempts left.
    pub fn round_size(&self, prompts: usize, active: usize, drawn: usize) -> usize {
        let k = self.strategy.k().max(1);
        let n = match self.strategy {
            Strategy::BatchedFirstAccepted { .. } if self.fill_rounds => {
                (prompts.max(k) / active.max(1)).clamp(1, k)
            }
            _ => k,
        };
        n.min(self.max_attempts.saturating_sub(drawn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_round_trips() {
        let c = FilterConfig::default();
        c.validate().unwrap();
        let json = serde_json::to_string(&c).unwrap();
        let back: FilterConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
        let partial: FilterConfig =
            serde_json::from_str(r#"{"strategy":{"kind":"batched_safest","k":3},"fallback":{"kind":"safe_text","text":"Nothing happened."}}"#).unwrap();
        assert_eq!(partial.strategy, Strategy::BatchedSafest { k: 3 });
        assert_eq!(partial.max_attempts, 32);
        assert_eq!(
            partial.fallback,
            Fallback::SafeText("Nothing happened.".into())
        );
    }

    #[test]
    fn round_sizes() {
        let safest = FilterConfig {
            strategy: Strategy::BatchedSafest { k: 4 },
            max_attempts: 10,
            ..Default::default()
        };
        assert_eq!(safest.round_size(100, 100, 0), 4);
        assert_eq!(safest.round_size(100, 3, 8), 2);
        let first = FilterConfig {
            strategy: Strategy::BatchedFirstAccepted { k: 4 },
            max_attempts: 10,
            ..Default::default()
        };
        assert_eq!(first.round_size(100, 100, 0), 1);
        assert_eq!(first.round_size(100, 40, 1), 2);
        assert_eq!(first.round_size(100, 3, 3), 4);
        assert_eq!(first.round_size(100, 3, 9), 1);
        assert_eq!(first.round_size(1, 1, 0), 4);
        assert_eq!(first.round_size(2, 2, 0), 2);
        let fixed = FilterConfig {
            fill_rounds: false,
            ..first
        };
        assert_eq!(fixed.round_size(100, 100, 0), 4);
        let seq = FilterConfig {
            strategy: Strategy::Sequential,
            ..fixed
        };
        assert_eq!(seq.round_size(100, 100, 0), 1);
    }
}
