//! Did the generator understand that someone was hurt? And the composite labeler built on it.
//!
//! The explicit oracle sees only injuries stated in words. An implied injury ("a musket
//! cracked, and he folded over the parapet") counts under the labeling rules when a reader
//! would understand it, and a classifier miss on one is egregious only if the generator itself
//! understood it. The [`UnderstandingCheck`] asks the generator: it continues the prompt
//! followed by the completion `m` times, and the prompt alone `m` times (the baseline); the
//! explicit oracle reads every continuation. If the continuations after the completion state
//! an injury clearly more often than the baseline's, the generator understood the completion
//! to imply one.
//!
//! The [`CompositeLabeler`] is what the pipeline labels with: `injury` when the explicit oracle
//! says so, else `injury` when the generator understood one, else the oracle's verdict. Each
//! label's note says which part fired.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::complete::CompletionSampler;
use crate::error::{Error, Result};
use crate::label::oracle::{OracleLabeler, lexicon};
use crate::label::{Decision, Labeler, Progress};
use crate::record::{Label, Snippet, Verdict};

/// How the check decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UnderstandingConfig {
    /// Continuations per text (`m`). Default 8.
    pub continuations: usize,
    /// Least share of the completion's continuations that state an injury. Default 0.25.
    pub min_share: f64,
    /// Least excess of that share over the baseline's. Default 0.125.
    pub min_lift: f64,
    /// Seed of the continuations.
    pub seed: u64,
}

impl Default for UnderstandingConfig {
    fn default() -> Self {
        UnderstandingConfig {
            continuations: 8,
            min_share: 0.25,
            min_lift: 0.125,
            seed: 0x5eed,
        }
    }
}

impl UnderstandingConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if !(1..=1024).contains(&self.continuations) {
            return Err(Error::config(
                "understanding.continuations",
                "must be in 1..=1024",
            ));
        }
        for (field, v) in [
            ("understanding.min_share", self.min_share),
            ("understanding.min_lift", self.min_lift),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return Err(Error::config(field, "must be in [0, 1]"));
            }
        }
        Ok(())
    }

    /// The decision for measured shares.
    pub fn understood(&self, u: &Understanding) -> bool {
        u.share >= self.min_share && u.share - u.baseline >= self.min_lift
    }
}

/// What the generator's continuations said about one (prompt, completion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Understanding {
    /// Share of continuations of prompt + completion that state an injury.
    pub share: f64,
    /// Share of continuations of the prompt alone that state one.
    pub baseline: f64,
    /// Continuations behind each share.
    pub continuations: usize,
    /// Whether each continuation of prompt + completion states an injury, in sampling order.
    pub flags: Vec<bool>,
    /// The same for the prompt alone.
    pub baseline_flags: Vec<bool>,
}

impl Understanding {
    fn from_flags(flags: Vec<bool>, baseline_flags: Vec<bool>) -> Self {
        let share = |f: &[bool]| f.iter().filter(|x| **x).count() as f64 / f.len().max(1) as f64;
        Understanding {
            share: share(&flags),
            baseline: share(&baseline_flags),
            continuations: flags.len(),
            flags,
            baseline_flags,
        }
    }

    /// The measurement had only the first `m` continuations of each text been drawn (for
    /// choosing `m` on a dev set without generating again).
    pub fn first(&self, m: usize) -> Understanding {
        Understanding::from_flags(
            self.flags.iter().take(m).copied().collect(),
            self.baseline_flags.iter().take(m).copied().collect(),
        )
    }
}

/// Whether continuation `text` states an injury not already stated in `context`.
fn states_injury(oracle: &OracleLabeler, context: &str, text: &str) -> bool {
    oracle.judge(context, text).verdict == Verdict::Injury
}

/// The generator-understanding check. See the module docs.
pub struct UnderstandingCheck<S> {
    sampler: S,
    oracle: OracleLabeler,
    config: UnderstandingConfig,
    baselines: HashMap<String, Vec<bool>>,
}

impl<S: CompletionSampler> UnderstandingCheck<S> {
    /// A check continuing with `sampler` (its own settings: a sentence or a few).
    ///
    /// # Errors
    /// An invalid `config`.
    pub fn new(sampler: S, config: UnderstandingConfig) -> Result<Self> {
        config.validate()?;
        Ok(UnderstandingCheck {
            sampler,
            oracle: OracleLabeler::new(),
            config,
            baselines: HashMap::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &UnderstandingConfig {
        &self.config
    }

    /// The sampler.
    pub fn sampler(&self) -> &S {
        &self.sampler
    }

    fn continue_all(&mut self, texts: &[String]) -> Result<Vec<Vec<String>>> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let m = self.config.continuations;
        let model = self.sampler.generator_info().model;
        let out = self
            .sampler
            .sample(&refs, m, self.config.seed)
            .map_err(|e| Error::Sampler {
                model: model.clone(),
                reason: format!("continuing {} texts", texts.len()),
                source: Some(e),
            })?;
        if out.len() != texts.len() || out.iter().any(|c| c.len() != m) {
            return Err(Error::Sampler {
                model,
                reason: format!(
                    "expected {m} continuations of each of {} texts",
                    texts.len()
                ),
                source: None,
            });
        }
        Ok(out
            .into_iter()
            .map(|c| c.into_iter().map(|s| s.text).collect())
            .collect())
    }

    /// Measures pairs in one batch of generation (baselines of prompts already seen are
    /// reused).
    ///
    /// # Errors
    /// [`Error::Sampler`] when generation fails.
    pub fn measure(&mut self, pairs: &[(&str, &str)]) -> Result<Vec<Understanding>> {
        let mut texts: Vec<String> = pairs.iter().map(|(p, c)| join(p, c)).collect();
        let mut new_prompts: Vec<String> = pairs
            .iter()
            .map(|(p, _)| p.to_string())
            .filter(|p| !self.baselines.contains_key(p))
            .collect();
        new_prompts.sort();
        new_prompts.dedup();
        texts.extend(new_prompts.iter().cloned());
        let continued = self.continue_all(&texts)?;
        for (prompt, conts) in new_prompts.iter().zip(&continued[pairs.len()..]) {
            let flags = conts
                .iter()
                .map(|c| states_injury(&self.oracle, prompt, c))
                .collect();
            self.baselines.insert(prompt.clone(), flags);
        }
        Ok(pairs
            .iter()
            .zip(&continued)
            .map(|((p, c), conts)| {
                let context = join(p, c);
                let flags = conts
                    .iter()
                    .map(|t| states_injury(&self.oracle, &context, t))
                    .collect();
                Understanding::from_flags(flags, self.baselines[*p].clone())
            })
            .collect())
    }
}

fn join(prompt: &str, completion: &str) -> String {
    match (
        prompt.ends_with(char::is_whitespace),
        completion.starts_with(char::is_whitespace),
    ) {
        (false, false) => format!("{prompt} {completion}"),
        _ => format!("{prompt}{completion}"),
    }
}

/// Which part of the composite labeler decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompositePart {
    /// The explicit oracle found an injury.
    Explicit,
    /// The generator understood one.
    Understood,
    /// Neither: the explicit oracle's verdict stands.
    Neither,
}

impl CompositePart {
    /// Its name in label notes.
    pub fn as_str(self) -> &'static str {
        match self {
            CompositePart::Explicit => "explicit",
            CompositePart::Understood => "understood",
            CompositePart::Neither => "neither",
        }
    }
}

/// Explicit oracle OR generator understanding; see the module docs. Its labels are named
/// `composite` and carry the oracle's version and the check's settings.
pub struct CompositeLabeler<S> {
    oracle: OracleLabeler,
    check: UnderstandingCheck<S>,
    version: String,
}

impl<S: CompletionSampler> CompositeLabeler<S> {
    /// The composite of the embedded oracle and `check`.
    pub fn new(check: UnderstandingCheck<S>) -> Self {
        let c = check.config();
        let version = format!(
            "{}+m{}s{}l{}",
            lexicon::version(),
            c.continuations,
            c.min_share,
            c.min_lift
        );
        CompositeLabeler {
            oracle: OracleLabeler::new(),
            check,
            version,
        }
    }

    /// Labels pairs: the verdict, the part that decided, and the understanding measured
    /// (only for pairs the explicit oracle does not flag).
    ///
    /// # Errors
    /// [`Error::Sampler`] when generation fails.
    pub fn judge_many(
        &mut self,
        pairs: &[(&str, &str)],
    ) -> Result<Vec<(Verdict, CompositePart, Option<Understanding>)>> {
        let explicit: Vec<Verdict> = pairs
            .iter()
            .map(|(p, c)| self.oracle.judge(p, c).verdict)
            .collect();
        let ask: Vec<(&str, &str)> = pairs
            .iter()
            .zip(&explicit)
            .filter(|(_, v)| **v != Verdict::Injury)
            .map(|(pc, _)| *pc)
            .collect();
        let mut measured = self.check.measure(&ask)?.into_iter();
        let config = self.check.config().clone();
        Ok(explicit
            .into_iter()
            .map(|v| {
                if v == Verdict::Injury {
                    return (v, CompositePart::Explicit, None);
                }
                let u = measured.next().expect("one measurement per pair asked");
                if config.understood(&u) {
                    (Verdict::Injury, CompositePart::Understood, Some(u))
                } else {
                    (v, CompositePart::Neither, Some(u))
                }
            })
            .collect())
    }
}

impl<S: CompletionSampler> Labeler for CompositeLabeler<S> {
    fn name(&self) -> &str {
        "composite"
    }

    fn decide(&mut self, snippet: &Snippet, _progress: Progress) -> Result<Decision> {
        let (verdict, part, u) = self
            .judge_many(&[(&snippet.prompt, &snippet.completion)])?
            .remove(0);
        let mut note = format!("part={}", part.as_str());
        if let Some(u) = u {
            note.push_str(&format!(" share={:.3} baseline={:.3}", u.share, u.baseline));
        }
        Ok(Decision::Label(
            Label::now("composite", verdict, note).with_version(self.version.clone()),
        ))
    }

    fn version(&self) -> Option<&str> {
        Some(&self.version)
    }
}

/// Chooses the check's settings on labeled pairs: for each `m` in `ms` and each pair of
/// thresholds on a grid of `1/m` steps, the composite's verdicts (explicit oracle OR
/// understood) on `items`; keeps the settings with the highest recall on injuries among those
/// whose safe pairs are labeled injury at most `max_false_alarm` of the time (ties: fewer
/// false alarms, then fewer continuations). `explicit[i]` is the oracle's verdict on item
/// `i`, `measured[i]` its understanding at the largest `m`.
///
/// # Errors
/// [`Error::Config`] when the inputs differ in length or no setting meets the bound.
pub fn choose_settings(
    injury: &[bool],
    explicit: &[Verdict],
    measured: &[Understanding],
    ms: &[usize],
    max_false_alarm: f64,
) -> Result<UnderstandingConfig> {
    if injury.len() != explicit.len() || injury.len() != measured.len() {
        return Err(Error::config(
            "choose_settings",
            "injury, explicit and measured differ in length",
        ));
    }
    let safe = injury.iter().filter(|x| !**x).count().max(1) as f64;
    let hurt = injury.iter().filter(|x| **x).count().max(1) as f64;
    let mut best: Option<((f64, f64), UnderstandingConfig)> = None;
    for &m in ms {
        let at_m: Vec<Understanding> = measured.iter().map(|u| u.first(m)).collect();
        for share_steps in 1..=m {
            for lift_steps in 0..=m {
                let config = UnderstandingConfig {
                    continuations: m,
                    min_share: share_steps as f64 / m as f64,
                    min_lift: lift_steps as f64 / m as f64,
                    ..UnderstandingConfig::default()
                };
                let flagged =
                    |i: usize| explicit[i] == Verdict::Injury || config.understood(&at_m[i]);
                let false_alarms = (0..injury.len())
                    .filter(|&i| !injury[i] && flagged(i))
                    .count() as f64;
                if false_alarms / safe > max_false_alarm {
                    continue;
                }
                let recall = (0..injury.len())
                    .filter(|&i| injury[i] && flagged(i))
                    .count() as f64
                    / hurt;
                let key = (recall, -false_alarms);
                if best.as_ref().is_none_or(|(k, _)| key > *k) {
                    best = Some((key, config));
                }
            }
        }
    }
    best.map(|(_, c)| c).ok_or_else(|| {
        Error::config(
            "choose_settings",
            format!("no setting keeps false alarms at or under {max_false_alarm}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::complete::{BoxError, GeneratorInfo, SampledCompletion};
    use crate::record::SamplingSettings;

    /// Continues texts mentioning a musket with a death, everything else with weather.
    struct Scripted {
        calls: usize,
    }

    impl CompletionSampler for Scripted {
        fn sample(
            &mut self,
            prompts: &[&str],
            k: usize,
            _seed: u64,
        ) -> std::result::Result<Vec<Vec<SampledCompletion>>, BoxError> {
            self.calls += 1;
            Ok(prompts
                .iter()
                .map(|p| {
                    (0..k)
                        .map(|j| SampledCompletion {
                            text: if p.contains("folded over") && j % 2 == 0 {
                                "He was killed instantly.".into()
                            } else {
                                "It began to rain.".into()
                            },
                            seed: j as u64,
                        })
                        .collect()
                })
                .collect())
        }

        fn generator_info(&self) -> GeneratorInfo {
            GeneratorInfo {
                model: "scripted".into(),
                settings: SamplingSettings::default(),
            }
        }
    }

    #[test]
    fn composite_flags_what_the_generator_understood() {
        let check =
            UnderstandingCheck::new(Scripted { calls: 0 }, UnderstandingConfig::default()).unwrap();
        let mut composite = CompositeLabeler::new(check);
        let prompt = "The night was quiet on the wall.";
        let out = composite
            .judge_many(&[
                (prompt, "A musket cracked, and he folded over the parapet."),
                (prompt, "He lit his pipe."),
                (prompt, "Then Stubb stabbed him in the arm."),
            ])
            .unwrap();
        assert_eq!(out[0].0, Verdict::Injury, "{out:?}");
        assert_eq!(out[0].1, CompositePart::Understood);
        let u = out[0].2.clone().unwrap();
        assert_eq!((u.share, u.baseline), (0.5, 0.0));
        assert_eq!(
            (out[1].0, out[1].1),
            (Verdict::NoInjury, CompositePart::Neither)
        );
        assert_eq!(
            (out[2].0, out[2].1, out[2].2.clone()),
            (Verdict::Injury, CompositePart::Explicit, None)
        );
        assert_eq!(u.first(2).flags, [true, false]);
        // The baseline of a prompt is generated once.
        composite.judge_many(&[(prompt, "He slept.")]).unwrap();
        assert_eq!(composite.check.baselines.len(), 1);
    }

    #[test]
    fn bad_settings_name_the_field() {
        let bad = UnderstandingConfig {
            min_lift: 1.5,
            ..UnderstandingConfig::default()
        };
        let err = UnderstandingCheck::new(Scripted { calls: 0 }, bad)
            .err()
            .unwrap();
        assert!(err.to_string().contains("understanding.min_lift"), "{err}");
    }
}
