//! The fluency filter: the generator's mean log-probability per token of a text, compared
//! with the original's, so that edits stay text a model would write.

use nines_runtime::LanguageModel;

use crate::error::Result;

/// The context a prompt is scored after (prompts are scored as the opening of a passage).
pub const PROMPT_CONTEXT: &str = "\n";

/// Scores texts with a generator.
pub struct Fluency<'a> {
    lm: &'a LanguageModel,
    batch: usize,
    calls: u64,
}

impl std::fmt::Debug for Fluency<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fluency")
            .field("calls", &self.calls)
            .finish()
    }
}

impl<'a> Fluency<'a> {
    /// A filter scoring with `lm`, `batch` texts per forward pass.
    pub fn new(lm: &'a LanguageModel, batch: usize) -> Self {
        Fluency {
            lm,
            batch: batch.max(1),
            calls: 0,
        }
    }

    /// Texts scored so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// Mean log-probability per token (nats) of each `text` after its `context`.
    pub fn mean_logprob(&mut self, items: &[(&str, &str)]) -> Result<Vec<f32>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        self.calls += items.len() as u64;
        Ok(self
            .lm
            .score(items, self.batch)?
            .into_iter()
            .map(|lp| {
                if lp.is_empty() {
                    f32::NEG_INFINITY
                } else {
                    lp.iter().sum::<f32>() / lp.len() as f32
                }
            })
            .collect())
    }
}

/// Whether a candidate's fluency is within `max_drop` nats per token of the original's.
pub fn fluent_enough(original: f32, candidate: f32, max_drop: f32) -> bool {
    candidate.is_finite() && original - candidate <= max_drop
}

#[cfg(test)]
mod tests {
    use super::fluent_enough;

    #[test]
    fn drop_is_measured_from_the_original() {
        assert!(fluent_enough(-3.0, -3.5, 1.0));
        assert!(fluent_enough(-3.0, -2.0, 0.0));
        assert!(!fluent_enough(-3.0, -4.5, 1.0));
        assert!(!fluent_enough(-3.0, f32::NEG_INFINITY, 1.0));
    }
}
