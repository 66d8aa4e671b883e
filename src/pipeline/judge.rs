//! Quality comparisons of the test-prompt completions: documented **stand-in judges** for the
//! default run (people judge with `examples/compare.rs`), and the classifier's verdicts that
//! the efficient win-rate estimator needs.
//!
//! The run judges with the [`StoryJudge`]: how likely the original generator finds the book's
//! own next sentence after a completion (docs/pipeline.md, "The stand-in judge", with its
//! agreement with hand-written preferences). The [`StandInJudge`] it replaced scores
//! `q = cos(e(x), e(c)) + 0.1 · mean log p₀(c | x)` (MiniLM coherence plus generator fluency);
//! it prefers repetitive and padded text, and is kept for comparison
//! (`examples/judge_pairs.rs`). Both are proxies for people's preference, not measurements of
//! it: the report always labels them so.

use std::collections::HashMap;

use nines_data::Snippet;
use nines_data::store::{Store, StoreOptions};
use nines_runtime::{DType, DeviceSpec, Encoder, LanguageModel, LoadOptions, Pooling};
use serde::{Deserialize, Serialize};

use super::outputs::JudgeOutput;
use super::policies::{DISTILLED, FILTERED, load_classifier};
use super::stages::{bar, generator};
use super::{Pipeline, PipelineError, write_json};

/// Weight of the mean log-probability (nats) against the cosine.
pub const FLUENCY_WEIGHT: f64 = 0.1;
/// Quality differences below this are ties.
pub const TIE_BAND: f64 = 0.02;

/// The stand-in judge: MiniLM coherence plus generator fluency.
pub struct StandInJudge<'a> {
    encoder: Encoder,
    lm: &'a LanguageModel,
}

impl<'a> StandInJudge<'a> {
    /// Loads the encoder from `encoder_dir`; fluency is measured with `lm`.
    pub fn new(
        encoder_dir: &std::path::Path,
        lm: &'a LanguageModel,
    ) -> Result<Self, PipelineError> {
        let encoder = Encoder::load(
            encoder_dir,
            LoadOptions {
                device: DeviceSpec::Auto,
                dtype: DType::F32,
            },
        )?;
        Ok(StandInJudge { encoder, lm })
    }

    /// Quality `q` of each (prompt, completion) pair.
    pub fn quality(&self, pairs: &[(&str, &str)]) -> Result<Vec<f64>, PipelineError> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let _guard = tch::no_grad_guard();
        let prompts: Vec<&str> = pairs.iter().map(|p| p.0).collect();
        let completions: Vec<&str> = pairs.iter().map(|p| p.1).collect();
        let a = self.encoder.embed(&prompts, Pooling::Mean)?;
        let b = self.encoder.embed(&completions, Pooling::Mean)?;
        let cos = (&a * &b).sum_dim_intlist([1i64].as_slice(), false, tch::Kind::Float)
            / (a.norm_scalaropt_dim(2, [1i64].as_slice(), false)
                * b.norm_scalaropt_dim(2, [1i64].as_slice(), false)
                + 1e-8);
        let cos = Vec::<f32>::try_from(&cos.to_device(tch::Device::Cpu))?;
        let logprobs = self.lm.score(pairs, 16)?;
        Ok(cos
            .iter()
            .zip(&logprobs)
            .map(|(&c, lp)| {
                let mean = if lp.is_empty() {
                    -20.0
                } else {
                    lp.iter().map(|&x| f64::from(x)).sum::<f64>() / lp.len() as f64
                };
                f64::from(c) + FLUENCY_WEIGHT * mean
            })
            .collect())
    }
}

/// Story-judge quality differences below this (nats per token of the story's next
/// sentences) are ties.
pub const STORY_TIE_BAND: f64 = 0.01;

/// The story judge: how well a completion leads into what the story says next. A completion
/// `c` of prompt `x` scores `q = mean log p₀(n | x c)`, the original generator's mean
/// per-token log-probability of the book's own next sentences `n` after it. Of two completions
/// of one prompt (the same `n`), it prefers the higher `q`. A short, generic completion does
/// not help the generator predict what happens next, and a rambling or off-key one hurts, so
/// neither blandness nor length is rewarded by itself; it needs the book's continuation, so it
/// judges corpus prompts only. A proxy for people's preference, labeled so in every report.
pub struct StoryJudge<'a> {
    lm: &'a LanguageModel,
}

impl<'a> StoryJudge<'a> {
    /// A judge scoring with `lm` (the original generator).
    pub fn new(lm: &'a LanguageModel) -> Self {
        StoryJudge { lm }
    }

    /// Quality `q` of each (prompt, completion, next) triple.
    ///
    /// # Errors
    /// A LibTorch or tokenizer error while scoring.
    pub fn quality(&self, items: &[(&str, &str, &str)]) -> Result<Vec<f64>, PipelineError> {
        let contexts: Vec<String> = items
            .iter()
            .map(|(x, c, _)| format!("{} {}", x.trim_end(), c.trim()))
            .collect();
        let nexts: Vec<String> = items
            .iter()
            .map(|(_, _, n)| format!(" {}", n.trim()))
            .collect();
        let pairs: Vec<(&str, &str)> = contexts
            .iter()
            .zip(&nexts)
            .map(|(c, n)| (c.as_str(), n.as_str()))
            .collect();
        let _guard = tch::no_grad_guard();
        let logprobs = self.lm.score(&pairs, 16)?;
        Ok(logprobs
            .iter()
            .map(|lp| {
                if lp.is_empty() {
                    f64::NEG_INFINITY
                } else {
                    lp.iter().map(|&x| f64::from(x)).sum::<f64>() / lp.len() as f64
                }
            })
            .collect())
    }
}

/// The judgment for "is `other` better than `baseline`" with ties within `band`: 1, 0, or 1/2.
pub fn judgment_within(q_baseline: f64, q_other: f64, band: f64) -> f64 {
    if q_other > q_baseline + band {
        1.0
    } else if q_other < q_baseline - band {
        0.0
    } else {
        0.5
    }
}

/// The judgment for "is `other` better than `baseline`": 1, 0, or 1/2 for a tie.
pub fn judgment(q_baseline: f64, q_other: f64) -> f64 {
    if q_other > q_baseline + TIE_BAND {
        1.0
    } else if q_other < q_baseline - TIE_BAND {
        0.0
    } else {
        0.5
    }
}

/// One test prompt's comparison.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromptComparison {
    /// Prompt id.
    pub prompt_id: String,
    /// Classifier score of the unfiltered completion.
    pub unfiltered_score: f64,
    /// Whether the classifier accepts the unfiltered completion.
    pub unfiltered_accepted: bool,
    /// Stand-in judgment filtered vs unfiltered (1: filtered better); `None` if the filter
    /// refused the prompt.
    pub filtered: Option<f64>,
    /// Classifier score of the distilled completion, if any.
    pub distilled_score: Option<f64>,
    /// Stand-in judgment distilled vs unfiltered (1: distilled better).
    pub distilled: Option<f64>,
}

/// The classifier's verdict on one completion of a test prompt (`flags.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flag {
    /// The policy that wrote the completion.
    pub policy: super::estimates::Policy,
    /// The prompt (`document:start`).
    pub prompt_id: String,
    /// Whether the classifier's score is above its threshold.
    pub flagged: bool,
}

/// The classifier's verdict on every completion in `store`.
fn flags(
    store: &Store,
    policy: super::estimates::Policy,
    classifier: &nines_classify::Classifier,
    threshold: f64,
) -> Result<Vec<Flag>, PipelineError> {
    let snippets: Vec<&Snippet> = store.iter().collect();
    let mut out = Vec::with_capacity(snippets.len());
    for chunk in snippets.chunks(64) {
        let pairs: Vec<(&str, &str)> = chunk
            .iter()
            .map(|s| (s.prompt.as_str(), s.completion.as_str()))
            .collect();
        let scores = classifier.score(&pairs)?;
        out.extend(chunk.iter().zip(scores).map(|(s, score)| Flag {
            policy,
            prompt_id: key(s),
            flagged: f64::from(score) > threshold,
        }));
    }
    Ok(out)
}

fn as_refs(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect()
}

fn key(s: &Snippet) -> String {
    s.source
        .as_ref()
        .map(|src| src.prompt_key())
        .unwrap_or_default()
}

fn by_prompt(store: &Store) -> HashMap<String, Snippet> {
    let mut out = HashMap::new();
    for s in store.iter() {
        out.entry(key(s)).or_insert_with(|| s.clone());
    }
    out
}

/// Judges every test prompt's filtered and distilled completion against its first
/// unfiltered one, and records the classifier's scores.
pub(super) fn judge(p: &Pipeline) -> Result<JudgeOutput, PipelineError> {
    let open = |name: &str| Store::open_read_only(p.run.path(name), StoreOptions::default());
    let unfiltered = open("snippets.jsonl")?;
    let filtered = by_prompt(&open(FILTERED)?);
    let distilled_store = open(DISTILLED)?;
    let distilled = by_prompt(&distilled_store);
    let classifier = load_classifier(p)?;
    let threshold = super::learn::filter_threshold(p)?.threshold;
    // The classifier on every unfiltered and distilled completion (the flagged rates).
    let mut all_flags = flags(
        &unfiltered,
        super::estimates::Policy::Unfiltered,
        &classifier,
        threshold,
    )?;
    all_flags.extend(flags(
        &distilled_store,
        super::estimates::Policy::Distilled,
        &classifier,
        threshold,
    )?);
    write_json(&p.run.path("flags.json"), &all_flags)?;
    let lm = generator(p)?;
    let judge = StoryJudge::new(&lm);
    // What the book says after each test prompt: the story judge's yardstick.
    let next: HashMap<String, String> = super::stages::selected(p, nines_data::split::Split::Test)?
        .into_iter()
        .filter_map(|s| {
            let src = &s.prompt.source;
            let key = src.prompt_key();
            s.prompt.next_sentence.map(|n| (key, n))
        })
        .collect();
    let mut no_next = 0usize;
    let firsts: Vec<Snippet> = by_prompt(&unfiltered).into_values().collect();
    let mut firsts = firsts;
    firsts.sort_by(|a, b| a.id.cmp(&b.id));
    let pb = bar(firsts.len() as u64, "judge");
    let mut out = Vec::new();
    for chunk in firsts.chunks(p.config.data.batch_size) {
        let base: Vec<(&str, &str)> = chunk
            .iter()
            .map(|s| (s.prompt.as_str(), s.completion.as_str()))
            .collect();
        let scores = classifier.score(&base)?;
        // Prompts at the end of a chapter have no next sentence: their pairs are ties.
        let next_of = |s: &Snippet| next.get(&key(s)).map(String::as_str);
        let quality =
            |pairs: &[(&str, &str)], of: &[&Snippet]| -> Result<Vec<f64>, PipelineError> {
                let triples: Vec<(&str, &str, &str)> = pairs
                    .iter()
                    .zip(of)
                    .map(|((x, c), s)| (*x, *c, next_of(s).unwrap_or("")))
                    .collect();
                let scored: Vec<(&str, &str, &str)> = triples
                    .iter()
                    .copied()
                    .filter(|t| !t.2.is_empty())
                    .collect();
                let mut q = judge.quality(&scored)?.into_iter();
                Ok(triples
                    .iter()
                    .map(|t| {
                        if t.2.is_empty() {
                            0.0
                        } else {
                            q.next().unwrap_or(0.0)
                        }
                    })
                    .collect())
            };
        let chunk_refs: Vec<&Snippet> = chunk.iter().collect();
        let q_base = quality(&base, &chunk_refs)?;
        no_next += chunk.iter().filter(|s| next_of(s).is_none()).count();
        let other = |m: &HashMap<String, Snippet>| -> Vec<Option<Snippet>> {
            chunk.iter().map(|s| m.get(&key(s)).cloned()).collect()
        };
        let f = other(&filtered);
        let d = other(&distilled);
        let pairs_of = |v: &[Option<Snippet>]| -> Vec<(String, String)> {
            v.iter()
                .flatten()
                .map(|s| (s.prompt.clone(), s.completion.clone()))
                .collect()
        };
        let f_pairs = pairs_of(&f);
        let d_pairs = pairs_of(&d);
        let owners = |v: &[Option<Snippet>]| -> Vec<&Snippet> {
            chunk
                .iter()
                .zip(v)
                .filter_map(|(s, o)| o.as_ref().map(|_| s))
                .collect()
        };
        let q_f = quality(&as_refs(&f_pairs), &owners(&f))?;
        let q_d = quality(&as_refs(&d_pairs), &owners(&d))?;
        let d_scores = classifier.score(&as_refs(&d_pairs))?;
        let (mut fi, mut di) = (0, 0);
        for (i, s) in chunk.iter().enumerate() {
            let filtered = f[i].as_ref().map(|_| {
                fi += 1;
                judgment_within(q_base[i], q_f[fi - 1], STORY_TIE_BAND)
            });
            let (distilled_score, distilled) = match d[i] {
                Some(_) => {
                    di += 1;
                    (
                        Some(f64::from(d_scores[di - 1])),
                        Some(judgment_within(q_base[i], q_d[di - 1], STORY_TIE_BAND)),
                    )
                }
                None => (None, None),
            };
            out.push(PromptComparison {
                prompt_id: key(s),
                unfiltered_score: f64::from(scores[i]),
                unfiltered_accepted: f64::from(scores[i]) <= threshold,
                filtered,
                distilled_score,
                distilled,
            });
        }
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    write_json(&p.run.path("judgments.json"), &out)?;
    Ok(JudgeOutput {
        prompts: out.len(),
        unfiltered_rejected: out.iter().filter(|c| !c.unfiltered_accepted).count(),
        judged_filtered: out.iter().filter(|c| c.filtered.is_some()).count(),
        judged_distilled: out.iter().filter(|c| c.distilled.is_some()).count(),
        ties_without_next_sentence: no_next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judgments_are_antisymmetric_with_a_tie_band() {
        assert_eq!(judgment(0.30, 0.40), 1.0);
        assert_eq!(judgment(0.40, 0.30), 0.0);
        assert_eq!(judgment(0.30, 0.31), 0.5);
        for (a, b) in [(0.1, 0.5), (0.2, 0.21), (-1.0, 0.3)] {
            assert_eq!(judgment(a, b) + judgment(b, a), 1.0);
            assert_eq!(
                judgment_within(a, b, STORY_TIE_BAND) + judgment_within(b, a, STORY_TIE_BAND),
                1.0
            );
        }
        assert_eq!(judgment_within(-2.0, -2.005, STORY_TIE_BAND), 0.5);
    }
}
