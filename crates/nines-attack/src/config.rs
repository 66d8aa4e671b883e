//! Typed settings: the query [`Budget`] every attack runs under and one config per attack.
//! Each has `Default`, serde and `validate`; errors name the field.

use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// How much an attack may ask of the classifier and the oracle, per seed (target).
///
/// A classifier query is one pair scored, or one gradient of one pair (saliency, candidate
/// ranking); an oracle query is one pair judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Budget {
    /// Classifier queries per seed. Default 300.
    pub classifier_queries: u64,
    /// Oracle queries per seed. Default 20.
    pub oracle_queries: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            classifier_queries: 300,
            oracle_queries: 20,
        }
    }
}

impl Budget {
    /// Both budgets must be at least 1.
    ///
    /// ```
    /// use nines_attack::{AttackError, Budget};
    /// let zero = Budget { classifier_queries: 0, ..Budget::default() };
    /// assert!(matches!(zero.validate(), Err(AttackError::ZeroBudget { .. })));
    /// ```
    pub fn validate(&self) -> Result<()> {
        if self.classifier_queries == 0 {
            return Err(AttackError::ZeroBudget {
                field: "budget.classifier_queries".into(),
            });
        }
        if self.oracle_queries == 0 {
            return Err(AttackError::ZeroBudget {
                field: "budget.oracle_queries".into(),
            });
        }
        Ok(())
    }
}

/// Which part of the pair an edit changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EditPart {
    /// The completion (the text judged).
    #[default]
    Completion,
    /// The prompt (the story before it).
    Prompt,
}

/// The token-substitution attack (HotFlip / GCG style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubstitutionConfig {
    /// Hypotheses kept after each step (1 = greedy). Default 4.
    pub beam_width: usize,
    /// Candidates scored with the classifier per hypothesis and step, the best by the
    /// first-order estimate. Default 24.
    pub candidates: usize,
    /// Positions considered per step: the most salient editable words. Default 6.
    pub positions: usize,
    /// Most words changed in one text. Default 4.
    pub max_edits: usize,
    /// Fluency filter: a candidate is kept only if the generator's mean log-probability per
    /// token of the edited text falls by at most this many nats from the original's
    /// (None: no filter, no generator needed). Default 1.0.
    pub max_logprob_drop: Option<f32>,
    /// Shortest replacement word in characters. Default 2.
    pub min_word_chars: usize,
    /// A word is no longer edited after this many accepted replacements of it that the
    /// oracle did not call injuries. Default 3.
    pub protect_after: usize,
}

impl Default for SubstitutionConfig {
    fn default() -> Self {
        SubstitutionConfig {
            beam_width: 4,
            candidates: 24,
            positions: 6,
            max_edits: 4,
            max_logprob_drop: Some(1.0),
            min_word_chars: 2,
            protect_after: 3,
        }
    }
}

impl SubstitutionConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        for (f, v) in [
            ("substitution.beam_width", self.beam_width),
            ("substitution.candidates", self.candidates),
            ("substitution.positions", self.positions),
            ("substitution.max_edits", self.max_edits),
            ("substitution.min_word_chars", self.min_word_chars),
            ("substitution.protect_after", self.protect_after),
        ] {
            if v == 0 {
                return Err(AttackError::config(f, "must be at least 1"));
            }
        }
        if let Some(d) = self.max_logprob_drop
            && !(d.is_finite() && d >= 0.0)
        {
            return Err(AttackError::config(
                "substitution.max_logprob_drop",
                format!("{d} must be a finite number ≥ 0"),
            ));
        }
        Ok(())
    }
}

/// How the generator is asked to rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParaphraseStyle {
    /// An instruction in the ChatML format (SmolLM2-Instruct and other instruct models).
    #[default]
    Instruct,
    /// A few-shot list of sentences and their rewrites (base models).
    FewShot,
}

/// The paraphrase attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ParaphraseConfig {
    /// Prompt format. Default instruct.
    pub style: ParaphraseStyle,
    /// Worked examples in the few-shot prompt (0 to 3). Default 3.
    pub shots: usize,
    /// Rewrites sampled per call. Default 8.
    pub rewrites_per_call: usize,
    /// Generator calls per seed at most (each with a new sampling seed). Default 3.
    pub calls: usize,
    /// Sampling temperature. Default 1.0.
    pub temperature: f64,
    /// Nucleus sampling mass. Default 0.95.
    pub top_p: f64,
    /// Longest rewrite in generator tokens. Default 48.
    pub max_new_tokens: usize,
    /// Seed of the sampler. Default 0.
    pub seed: u64,
}

impl Default for ParaphraseConfig {
    fn default() -> Self {
        ParaphraseConfig {
            style: ParaphraseStyle::Instruct,
            shots: 3,
            rewrites_per_call: 8,
            calls: 3,
            temperature: 1.0,
            top_p: 0.95,
            max_new_tokens: 48,
            seed: 0,
        }
    }
}

impl ParaphraseConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.rewrites_per_call == 0 {
            return Err(AttackError::config(
                "paraphrase.rewrites_per_call",
                "must be at least 1",
            ));
        }
        if self.shots > 3 {
            return Err(AttackError::config(
                "paraphrase.shots",
                format!("{} is above 3", self.shots),
            ));
        }
        if self.calls == 0 {
            return Err(AttackError::config(
                "paraphrase.calls",
                "must be at least 1",
            ));
        }
        if self.max_new_tokens == 0 {
            return Err(AttackError::config(
                "paraphrase.max_new_tokens",
                "must be at least 1",
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(AttackError::config(
                "paraphrase.temperature",
                format!("{} must be positive", self.temperature),
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(AttackError::config(
                "paraphrase.top_p",
                format!("{} must be in (0, 1]", self.top_p),
            ));
        }
        Ok(())
    }
}

/// The prompt search for a fixed completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromptSearchConfig {
    /// Candidate prompts scored per seed (drawn from the pool given). Default 64.
    pub pool_prompts: usize,
    /// Of those, the lowest-scoring ones then edited by substitution. Default 2.
    pub edit_best: usize,
    /// The substitution run on those prompts (its `positions` and `max_edits` apply to the
    /// prompt's words).
    pub substitution: SubstitutionConfig,
    /// Seed of the draw from the pool. Default 0.
    pub seed: u64,
}

impl Default for PromptSearchConfig {
    fn default() -> Self {
        PromptSearchConfig {
            pool_prompts: 64,
            edit_best: 2,
            substitution: SubstitutionConfig::default(),
            seed: 0,
        }
    }
}

impl PromptSearchConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if self.pool_prompts == 0 {
            return Err(AttackError::config(
                "prompt_search.pool_prompts",
                "must be at least 1",
            ));
        }
        self.substitution.validate()
    }
}
