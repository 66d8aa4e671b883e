//! Glue between crates: the model runtime as a completion sampler for the data builder.

use nines_data::complete::{BoxError, CompletionSampler, GeneratorInfo, SampledCompletion};
use nines_data::record::SamplingSettings;
use nines_runtime::{GenerateConfig, LanguageModel};

/// Samples one-sentence completions with a [`LanguageModel`] for
/// [`nines_data::complete::build_completions`].
///
/// Each call generates `k` continuations per prompt in one batch (the prompt's KV cache is
/// shared by its `k` samples). Sample `j` of prompt `i` in a call with seed `s` is reproduced
/// by generating with seed `s`, stream `(i << 32) | j`; its recorded seed is `s ^ ((i << 32) | j)`.
#[derive(Debug)]
pub struct LmSampler<'a> {
    lm: &'a LanguageModel,
    config: GenerateConfig,
}

impl<'a> LmSampler<'a> {
    /// Wraps a model with generation settings; `config.seed` is replaced by each call's seed.
    pub fn new(lm: &'a LanguageModel, config: GenerateConfig) -> Self {
        LmSampler { lm, config }
    }
}

impl CompletionSampler for LmSampler<'_> {
    fn sample(
        &mut self,
        prompts: &[&str],
        k: usize,
        seed: u64,
    ) -> Result<Vec<Vec<SampledCompletion>>, BoxError> {
        let cfg = GenerateConfig {
            seed,
            ..self.config.clone()
        };
        let out = self.lm.generate_n(prompts, k, &cfg)?;
        Ok(out
            .into_iter()
            .enumerate()
            .map(|(i, gens)| {
                gens.into_iter()
                    .enumerate()
                    .map(|(j, g)| SampledCompletion {
                        text: g.text,
                        seed: seed ^ (((i as u64) << 32) | j as u64),
                    })
                    .collect()
            })
            .collect())
    }

    fn generator_info(&self) -> GeneratorInfo {
        let mut extra = std::collections::BTreeMap::new();
        extra.insert(
            "stop_at_sentence_end".to_string(),
            self.config.stop_at_sentence_end.into(),
        );
        // Completions of an int8 and an f32 generator are different samples.
        extra.insert("dtype".to_string(), self.lm.dtype().to_string().into());
        GeneratorInfo {
            model: self.lm.model_id(),
            settings: SamplingSettings {
                temperature: self.config.temperature,
                top_p: self.config.top_p,
                top_k: (self.config.top_k > 0).then_some(self.config.top_k as u32),
                max_new_tokens: self.config.max_new_tokens as u32,
                extra,
            },
        }
    }
}
