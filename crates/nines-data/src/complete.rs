//! The completion builder: k one-sentence completions per selected prompt.
//!
//! Generation itself lives behind [`CompletionSampler`] so this crate needs no model runtime:
//! the facade implements it over `nines-runtime`. [`build_completions`] batches prompts,
//! derives one seed per batch from [`CompletionConfig::seed`], cuts each completion to its
//! first sentence ([`crate::segment::first_sentence`]) and turns it into a [`Snippet`] that
//! records the generator (model id, sampling settings, the seed the sampler reports for that
//! sample), the prompt's source and its selection.
//!
//! [`ReferenceSampler`] is a sampler without a model: it returns the book's own next sentence,
//! a human-written baseline continuation (one per prompt).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::record::{Generator, SamplingSettings, Snippet, hash64};
use crate::segment;
use crate::select::SelectedPrompt;

/// The error type samplers return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One sampled completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampledCompletion {
    /// The generated text (may run past one sentence; the builder cuts it).
    pub text: String,
    /// The seed that reproduces this sample with the same generator.
    pub seed: u64,
}

/// What a sampler is: model id and settings, recorded in every snippet.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorInfo {
    /// Model id.
    pub model: String,
    /// Sampling settings.
    pub settings: SamplingSettings,
}

/// Something that writes completions for prompts.
pub trait CompletionSampler {
    /// For each prompt, `k` completions; `seed` seeds the whole call. The answer must hold
    /// one vector of exactly `k` completions per prompt, in prompt order.
    fn sample(
        &mut self,
        prompts: &[&str],
        k: usize,
        seed: u64,
    ) -> Result<Vec<Vec<SampledCompletion>>, BoxError>;

    /// The model id and sampling settings.
    fn generator_info(&self) -> GeneratorInfo;
}

/// Settings of [`build_completions`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompletionConfig {
    /// Completions per prompt. Default 4.
    pub k: usize,
    /// Prompts per sampler call. Default 16.
    pub batch_size: usize,
    /// Base seed; batch `b` gets a seed derived from it and `b`. Default 0.
    pub seed: u64,
    /// Longest completion kept, in characters, after cutting to one sentence; longer ones are
    /// cut at a word boundary. Default 400.
    pub max_chars: usize,
}

impl Default for CompletionConfig {
    fn default() -> Self {
        CompletionConfig {
            k: 4,
            batch_size: 16,
            seed: 0,
            max_chars: 400,
        }
    }
}

impl CompletionConfig {
    /// Positive `k`, `batch_size` and `max_chars`.
    pub fn validate(&self) -> Result<()> {
        for (field, v) in [
            ("CompletionConfig.k", self.k),
            ("CompletionConfig.batch_size", self.batch_size),
            ("CompletionConfig.max_chars", self.max_chars),
        ] {
            if v == 0 {
                return Err(Error::config(field, "must be positive"));
            }
        }
        Ok(())
    }

    /// The seed of batch `b`.
    pub fn batch_seed(&self, b: usize) -> u64 {
        hash64(&[
            b"nines-completions",
            &self.seed.to_le_bytes(),
            &(b as u64).to_le_bytes(),
        ])
    }
}

/// Snippets and counts from [`build_completions`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completions {
    /// One snippet per kept completion, in prompt order.
    pub snippets: Vec<Snippet>,
    /// Completions dropped for being empty after trimming.
    pub empty: usize,
    /// Completions cut to their first sentence or to `max_chars`.
    pub truncated: usize,
}

/// The first sentence of `text`, at most `max_chars` characters (cut at a word boundary).
/// Returns the text and whether it was shortened.
pub fn one_sentence(text: &str, max_chars: usize) -> (String, bool) {
    let first = segment::collapse_whitespace(segment::first_sentence(text));
    let full = segment::collapse_whitespace(text);
    let mut cut = first.len() < full.len();
    let mut out = first;
    if out.chars().count() > max_chars {
        let mut end = out
            .char_indices()
            .nth(max_chars)
            .map_or(out.len(), |(i, _)| i);
        if let Some(space) = out[..end].rfind(' ') {
            end = space;
        }
        out.truncate(end);
        cut = true;
    }
    (out, cut)
}

/// Samples `cfg.k` completions for every prompt with `sampler` (see the module docs).
///
/// `on_progress(done, total)` is called after each batch with the number of prompts done.
pub fn build_completions(
    prompts: &[SelectedPrompt],
    sampler: &mut dyn CompletionSampler,
    cfg: &CompletionConfig,
    on_progress: &mut dyn FnMut(usize, usize),
) -> Result<Completions> {
    cfg.validate()?;
    let info = sampler.generator_info();
    let mut out = Completions::default();
    for (b, batch) in prompts.chunks(cfg.batch_size).enumerate() {
        let texts: Vec<&str> = batch.iter().map(|p| p.prompt.text.as_str()).collect();
        let seed = cfg.batch_seed(b);
        let answer = sampler
            .sample(&texts, cfg.k, seed)
            .map_err(|e| Error::Sampler {
                model: info.model.clone(),
                reason: format!("batch {b} ({} prompts) failed", texts.len()),
                source: Some(e),
            })?;
        if answer.len() != batch.len() {
            return Err(Error::Sampler {
                model: info.model.clone(),
                reason: format!(
                    "batch {b}: {} answers for {} prompts",
                    answer.len(),
                    batch.len()
                ),
                source: None,
            });
        }
        for (p, samples) in batch.iter().zip(answer) {
            if samples.len() != cfg.k {
                return Err(Error::Sampler {
                    model: info.model.clone(),
                    reason: format!(
                        "prompt {}: {} completions, expected k = {}",
                        p.prompt.id,
                        samples.len(),
                        cfg.k
                    ),
                    source: None,
                });
            }
            for sample in samples {
                let (text, cut) = one_sentence(&sample.text, cfg.max_chars);
                if text.is_empty() {
                    out.empty += 1;
                    continue;
                }
                if cut {
                    out.truncated += 1;
                }
                out.snippets.push(Snippet::new(
                    p.prompt.text.clone(),
                    text,
                    Some(p.prompt.source.clone()),
                    Some(Generator {
                        model: info.model.clone(),
                        settings: info.settings.clone(),
                        seed: sample.seed,
                    }),
                    Some(p.selection.clone()),
                ));
            }
        }
        on_progress(((b + 1) * cfg.batch_size).min(prompts.len()), prompts.len());
    }
    Ok(out)
}

/// A sampler that returns the book's own next sentence (model id `corpus-reference`).
///
/// It knows the prompts it was built from; `k` must be 1, and a prompt without a next
/// sentence in its chapter gets an empty completion (dropped by the builder).
#[derive(Debug, Clone, Default)]
pub struct ReferenceSampler {
    next: HashMap<String, String>,
}

impl ReferenceSampler {
    /// A sampler over these prompts' next sentences.
    pub fn new<'a>(prompts: impl IntoIterator<Item = &'a SelectedPrompt>) -> Self {
        ReferenceSampler {
            next: prompts
                .into_iter()
                .filter_map(|p| Some((p.prompt.text.clone(), p.prompt.next_sentence.clone()?)))
                .collect(),
        }
    }
}

impl CompletionSampler for ReferenceSampler {
    fn sample(
        &mut self,
        prompts: &[&str],
        k: usize,
        _seed: u64,
    ) -> Result<Vec<Vec<SampledCompletion>>, BoxError> {
        if k != 1 {
            return Err(format!(
                "the corpus has one reference continuation per prompt, not k = {k}"
            )
            .into());
        }
        Ok(prompts
            .iter()
            .map(|p| {
                vec![SampledCompletion {
                    text: self.next.get(*p).cloned().unwrap_or_default(),
                    seed: 0,
                }]
            })
            .collect())
    }

    fn generator_info(&self) -> GeneratorInfo {
        GeneratorInfo {
            model: "corpus-reference".into(),
            settings: SamplingSettings {
                temperature: 0.0,
                top_p: 1.0,
                top_k: None,
                max_new_tokens: 0,
                extra: Default::default(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::Prompt;
    use crate::record::{Selection, Source};
    use crate::split::Split;

    /// A test double: completion j of prompt i is "Sample j of <prompt>. Extra sentence."
    struct Echo {
        calls: Vec<(usize, u64)>,
    }

    impl CompletionSampler for Echo {
        fn sample(
            &mut self,
            prompts: &[&str],
            k: usize,
            seed: u64,
        ) -> Result<Vec<Vec<SampledCompletion>>, BoxError> {
            self.calls.push((prompts.len(), seed));
            Ok(prompts
                .iter()
                .map(|p| {
                    (0..k)
                        .map(|j| SampledCompletion {
                            text: format!(" Sample {j} of {p} Extra sentence."),
                            seed: seed.wrapping_add(j as u64),
                        })
                        .collect()
                })
                .collect())
        }
        fn generator_info(&self) -> GeneratorInfo {
            GeneratorInfo {
                model: "echo".into(),
                settings: SamplingSettings::default(),
            }
        }
    }

    fn selected(n: usize) -> Vec<SelectedPrompt> {
        (0..n)
            .map(|i| SelectedPrompt {
                prompt: Prompt {
                    id: format!("d:{i}"),
                    text: format!("p{i}."),
                    source: Source {
                        document: "d".into(),
                        start: i as u64,
                        end: i as u64 + 3,
                        region: 0,
                        split: Split::Test,
                    },
                    next_sentence: (i % 2 == 0).then(|| format!("Next {i}.")),
                },
                selection: Selection {
                    strategy: "uniform".into(),
                    probability: 0.5,
                    score: None,
                    population: 2 * n as u64,
                    stratum: None,
                },
            })
            .collect()
    }

    #[test]
    fn batches_seeds_and_records() {
        let prompts = selected(5);
        let mut s = Echo { calls: vec![] };
        let cfg = CompletionConfig {
            k: 3,
            batch_size: 2,
            seed: 11,
            max_chars: 400,
        };
        let mut progress = vec![];
        let out =
            build_completions(&prompts, &mut s, &cfg, &mut |d, t| progress.push((d, t))).unwrap();
        assert_eq!(out.snippets.len(), 15);
        assert_eq!(out.truncated, 15);
        assert_eq!(progress, [(2, 5), (4, 5), (5, 5)]);
        assert_eq!(s.calls.iter().map(|c| c.0).collect::<Vec<_>>(), [2, 2, 1]);
        assert_eq!(s.calls[1].1, cfg.batch_seed(1));
        let first = &out.snippets[0];
        assert_eq!(first.completion, "Sample 0 of p0.");
        let g = first.generator.as_ref().unwrap();
        assert_eq!((g.model.as_str(), g.seed), ("echo", cfg.batch_seed(0)));
        assert_eq!(first.selection.as_ref().unwrap().probability, 0.5);
        assert_eq!(first.source.as_ref().unwrap().split, Split::Test);
        let ids: std::collections::HashSet<_> = out.snippets.iter().map(|s| &s.id).collect();
        assert_eq!(ids.len(), 15, "distinct seeds give distinct ids");
    }

    #[test]
    fn malformed_sampler_answers_are_errors() {
        struct Short;
        impl CompletionSampler for Short {
            fn sample(
                &mut self,
                prompts: &[&str],
                _k: usize,
                _seed: u64,
            ) -> Result<Vec<Vec<SampledCompletion>>, BoxError> {
                Ok(prompts.iter().map(|_| vec![]).collect())
            }
            fn generator_info(&self) -> GeneratorInfo {
                GeneratorInfo {
                    model: "short".into(),
                    settings: SamplingSettings::default(),
                }
            }
        }
        let err = build_completions(
            &selected(1),
            &mut Short,
            &CompletionConfig::default(),
            &mut |_, _| {},
        );
        assert!(matches!(err, Err(Error::Sampler { .. })));
    }

    #[test]
    fn reference_sampler_returns_the_next_sentence() {
        let prompts = selected(4);
        let mut r = ReferenceSampler::new(&prompts);
        let cfg = CompletionConfig {
            k: 1,
            ..CompletionConfig::default()
        };
        let out = build_completions(&prompts, &mut r, &cfg, &mut |_, _| {}).unwrap();
        assert_eq!(out.empty, 2);
        let texts: Vec<_> = out.snippets.iter().map(|s| s.completion.as_str()).collect();
        assert_eq!(texts, ["Next 0.", "Next 2."]);
        assert!(
            build_completions(
                &prompts,
                &mut r,
                &CompletionConfig::default(),
                &mut |_, _| {}
            )
            .is_err()
        );
    }

    #[test]
    fn one_sentence_cuts_long_text_at_a_word() {
        assert_eq!(
            one_sentence("He ran. She hid.", 100),
            ("He ran.".into(), true)
        );
        assert_eq!(one_sentence(" He ran.", 100), ("He ran.".into(), false));
        let (t, cut) = one_sentence("aaa bbb ccc ddd", 9);
        assert_eq!((t.as_str(), cut), ("aaa bbb", true));
    }
}
