//! The [`Policy`] trait (what samples completions) and its implementation over the runtime.

use nines_runtime::{GenerateConfig, LanguageModel};

use crate::error::{FilterError, Result};

/// One sampled completion.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    /// The completion's text (what follows the prompt).
    pub text: String,
    /// Tokens generated for it (the cost of drawing it).
    pub tokens: usize,
}

/// Samples completions for prompts, batched.
///
/// Implementations must be deterministic in `seed` and draw every sample independently from
/// the policy's distribution given its prompt; the filter's guarantees (e.g. batched
/// first-accepted ≡ sequential in distribution) rest on that.
pub trait Policy {
    /// Draws `n ≥ 1` completions of each prompt; returns `n` samples per prompt, in prompt
    /// order.
    ///
    /// # Errors
    /// Whatever the underlying sampler reports (bad prompt, device error, ...).
    fn sample(&self, prompts: &[&str], n: usize, seed: u64) -> Result<Vec<Vec<Sample>>>;
}

impl<P: Policy + ?Sized> Policy for &P {
    fn sample(&self, prompts: &[&str], n: usize, seed: u64) -> Result<Vec<Vec<Sample>>> {
        (**self).sample(prompts, n, seed)
    }
}

impl<P: Policy + ?Sized> Policy for Box<P> {
    fn sample(&self, prompts: &[&str], n: usize, seed: u64) -> Result<Vec<Vec<Sample>>> {
        (**self).sample(prompts, n, seed)
    }
}

/// A [`LanguageModel`] as a policy: one [`LanguageModel::generate_n`] call per round, so each
/// prompt is encoded once, its KV cache is shared by its `n` candidates, and all candidates of
/// all prompts decode as one batch, leaving it as they finish.
#[derive(Debug, Clone)]
pub struct RuntimePolicy<'a> {
    lm: &'a LanguageModel,
    generate: GenerateConfig,
}

impl<'a> RuntimePolicy<'a> {
    /// The model with [`RuntimePolicy::default_generate_config`].
    pub fn new(lm: &'a LanguageModel) -> Self {
        Self {
            lm,
            generate: Self::default_generate_config(),
        }
    }

    /// The model with these sampling settings (their `seed` is replaced by the filter's round
    /// seed).
    ///
    /// # Errors
    /// The runtime's validation of `generate`.
    pub fn with_config(lm: &'a LanguageModel, generate: GenerateConfig) -> Result<Self> {
        generate.validate()?;
        Ok(Self { lm, generate })
    }

    /// Filter defaults: one sentence (`stop_at_sentence_end`), at most 48 new tokens,
    /// temperature 1, `top_p` 0.95.
    pub fn default_generate_config() -> GenerateConfig {
        GenerateConfig {
            max_new_tokens: 48,
            top_p: 0.95,
            stop_at_sentence_end: true,
            ..GenerateConfig::default()
        }
    }

    /// The sampling settings.
    pub fn generate_config(&self) -> &GenerateConfig {
        &self.generate
    }

    /// The model.
    pub fn model(&self) -> &LanguageModel {
        self.lm
    }
}

impl Policy for RuntimePolicy<'_> {
    fn sample(&self, prompts: &[&str], n: usize, seed: u64) -> Result<Vec<Vec<Sample>>> {
        let cfg = GenerateConfig {
            seed,
            ..self.generate.clone()
        };
        let out = self
            .lm
            .generate_n(prompts, n, &cfg)
            .map_err(FilterError::from)?;
        Ok(out
            .into_iter()
            .map(|gens| {
                gens.into_iter()
                    .map(|g| Sample {
                        tokens: g.token_ids.len(),
                        text: g.text,
                    })
                    .collect()
            })
            .collect())
    }
}
