//! Prompt selection with recorded inclusion probabilities.
//!
//! Injuries are rare in fiction, so labeling uniformly drawn prompts wastes most of the
//! labeling budget. Selection oversamples prompts that a [`PromptScorer`] finds likely to be
//! continued with an injury, and records each chosen prompt's *inclusion probability* `π`, so
//! later estimates can be reweighted to the uniform prompt distribution
//! (Horvitz–Thompson: weight `1 / (N π)`; see [`crate::record::Selection::weight`]).
//!
//! The design is Poisson sampling: prompt `i` is included independently with probability
//! `π_i = min(1, c · w_i)`, where `w_i = λ + (1 − λ) · s_i / mean(s)` mixes a uniform part `λ`
//! (so every prompt keeps a positive probability) with the score `s_i`, and `c` is set so that
//! `Σ π_i` equals the target sample size. The realized sample size is random around that
//! target; the recorded `π_i` are exact.

use std::collections::HashMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::prompt::Prompt;
use crate::record::{Selection, Stratum};

/// Scores prompts for how likely their continuation describes an injury.
pub trait PromptScorer {
    /// Scorer name, recorded in [`Selection::strategy`].
    fn name(&self) -> &str;
    /// A score in [0, 1]; higher means more likely to be continued with an injury.
    fn score(&self, prompt: &str) -> f64;
}

/// Weighted lexicon of violence, danger and injury words.
///
/// The score is `1 − exp(−Σ weights of the words present)`: each lexicon word counts once,
/// matched on lower-cased word tokens, with a trailing `s`, `es`, `ed`, `ing` also tried.
#[derive(Debug, Clone)]
pub struct LexiconScorer {
    weights: HashMap<String, f64>,
}

/// The default lexicon of [`LexiconScorer`]: (word, weight).
pub const DEFAULT_LEXICON: &[(&str, f64)] = &[
    // Injury itself.
    ("wound", 0.8),
    ("wounded", 0.8),
    ("blood", 0.7),
    ("bleed", 0.8),
    ("bled", 0.8),
    ("injury", 0.8),
    ("injured", 0.8),
    ("hurt", 0.5),
    ("pain", 0.4),
    ("bruise", 0.6),
    ("broken", 0.3),
    ("cut", 0.3),
    ("burn", 0.3),
    ("scream", 0.4),
    ("shriek", 0.3),
    // Violence.
    ("fight", 0.5),
    ("fought", 0.5),
    ("fighting", 0.5),
    ("struck", 0.4),
    ("strike", 0.4),
    ("blow", 0.4),
    ("hit", 0.3),
    ("kill", 0.6),
    ("killed", 0.6),
    ("dead", 0.4),
    ("death", 0.4),
    ("die", 0.3),
    ("attack", 0.5),
    ("stab", 0.8),
    ("shot", 0.5),
    ("shoot", 0.5),
    ("fire", 0.2),
    ("fired", 0.4),
    ("beat", 0.3),
    ("seized", 0.3),
    ("throat", 0.4),
    ("fell", 0.2),
    ("fall", 0.2),
    ("violent", 0.4),
    ("violence", 0.5),
    ("murder", 0.7),
    ("enemy", 0.3),
    ("battle", 0.5),
    ("war", 0.3),
    ("danger", 0.4),
    ("dangerous", 0.4),
    ("fear", 0.2),
    ("terror", 0.3),
    ("rage", 0.3),
    ("struggle", 0.4),
    ("crash", 0.3),
    // Weapons.
    ("knife", 0.6),
    ("sword", 0.6),
    ("gun", 0.6),
    ("pistol", 0.6),
    ("musket", 0.5),
    ("rifle", 0.5),
    ("harpoon", 0.6),
    ("lance", 0.5),
    ("spear", 0.5),
    ("axe", 0.5),
    ("dagger", 0.6),
    ("weapon", 0.5),
    ("club", 0.3),
    ("cannon", 0.4),
    ("bullet", 0.6),
    ("heat-ray", 0.6),
    ("martian", 0.3),
    ("martians", 0.3),
    // Animals that bite and people who fight.
    ("whale", 0.2),
    ("shark", 0.4),
    ("convict", 0.3),
    ("soldier", 0.3),
    ("soldiers", 0.3),
];

impl Default for LexiconScorer {
    fn default() -> Self {
        LexiconScorer::new(DEFAULT_LEXICON.iter().map(|&(w, x)| (w.to_string(), x)))
    }
}

impl LexiconScorer {
    /// A scorer with the given (word, weight) pairs; words are lower-cased.
    pub fn new(words: impl IntoIterator<Item = (String, f64)>) -> Self {
        LexiconScorer {
            weights: words
                .into_iter()
                .map(|(w, x)| (w.to_lowercase(), x))
                .collect(),
        }
    }

    fn weight_of(&self, token: &str) -> Option<f64> {
        if let Some(&w) = self.weights.get(token) {
            return Some(w);
        }
        for suffix in ["s", "es", "ed", "ing", "d"] {
            if let Some(stem) = token.strip_suffix(suffix)
                && let Some(&w) = self.weights.get(stem)
            {
                return Some(w);
            }
        }
        None
    }
}

impl PromptScorer for LexiconScorer {
    fn name(&self) -> &str {
        "lexicon"
    }

    fn score(&self, prompt: &str) -> f64 {
        let lower = prompt.to_lowercase();
        let mut seen = std::collections::HashSet::new();
        let mut total = 0.0;
        for token in lower.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
            let token = token.trim_matches('-');
            if token.is_empty() || seen.contains(token) {
                continue;
            }
            if let Some(w) = self.weight_of(token) {
                total += w;
            }
            seen.insert(token.to_string());
        }
        1.0 - (-total).exp()
    }
}

/// The sampling design.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Every prompt has the same probability `target / N`.
    Uniform,
    /// Probability proportional to `λ + (1 − λ) · score / mean(score)` (capped at 1).
    Scored,
}

/// Selection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectionConfig {
    /// Expected number of prompts selected. Default 1000.
    pub target: usize,
    /// Design. Default [`Strategy::Scored`].
    pub strategy: Strategy,
    /// Uniform share `λ` in [0, 1] of the scored design; must be positive so that every prompt
    /// can be drawn. Default 0.2.
    pub uniform_mix: f64,
    /// Random seed. Default 0.
    pub seed: u64,
}

impl Default for SelectionConfig {
    fn default() -> Self {
        SelectionConfig {
            target: 1000,
            strategy: Strategy::Scored,
            uniform_mix: 0.2,
            seed: 0,
        }
    }
}

impl SelectionConfig {
    /// Positive target; `uniform_mix` in (0, 1].
    pub fn validate(&self) -> Result<()> {
        if self.target == 0 {
            return Err(Error::config("SelectionConfig.target", "must be positive"));
        }
        if !(self.uniform_mix > 0.0 && self.uniform_mix <= 1.0) {
            return Err(Error::config(
                "SelectionConfig.uniform_mix",
                format!(
                    "{} is not in (0, 1]: every prompt needs a positive probability",
                    self.uniform_mix
                ),
            ));
        }
        Ok(())
    }
}

/// A prompt chosen by [`select`], with its selection record.
///
/// Its JSON form (one object per line in [`write_selected`] files) is
/// `{"prompt": {"id", "text", "source", "next_sentence"}, "selection": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedPrompt {
    /// The prompt.
    pub prompt: Prompt,
    /// Strategy, inclusion probability, score and population size.
    pub selection: Selection,
}

/// Poisson-sampling inclusion probabilities `min(1, c · w_i)` with `Σ π_i = min(n, N)`.
///
/// Weights must be positive and finite ([`Error::Config`] otherwise).
pub fn inclusion_probabilities(weights: &[f64], n: f64) -> Result<Vec<f64>> {
    if let Some((i, w)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && **w > 0.0))
    {
        return Err(Error::config(
            "weights",
            format!("weight {i} is {w}; weights must be positive and finite"),
        ));
    }
    let total = weights.len() as f64;
    if n >= total {
        return Ok(vec![1.0; weights.len()]);
    }
    let mut capped = vec![false; weights.len()];
    loop {
        let n_capped = capped.iter().filter(|&&c| c).count() as f64;
        let free: f64 = weights
            .iter()
            .zip(&capped)
            .filter(|(_, c)| !**c)
            .map(|(w, _)| w)
            .sum();
        let c = (n - n_capped) / free;
        let mut changed = false;
        for (w, cap) in weights.iter().zip(capped.iter_mut()) {
            if !*cap && c * w >= 1.0 {
                *cap = true;
                changed = true;
            }
        }
        if !changed {
            return Ok(weights
                .iter()
                .zip(&capped)
                .map(|(w, cap)| if *cap { 1.0 } else { c * w })
                .collect());
        }
    }
}

/// Scores every prompt and draws a Poisson sample (see the module docs).
///
/// Returns the selected prompts in input order, each with its [`Selection`].
///
/// ```
/// use nines_data::corpus::{Corpus, Document};
/// use nines_data::prompt::{build_prompts, PromptConfig};
/// use nines_data::select::{select, LexiconScorer, SelectionConfig};
/// let text = "He drew his knife and the blood ran. The sea was calm and grey that day. \
///     Gulls wheeled above the quiet harbour wall.".repeat(30);
/// let corpus = Corpus::from_documents(vec![Document::from_text("d", &text, None)]).unwrap();
/// let (prompts, _) = build_prompts(&corpus, &PromptConfig { stride: 1, ..Default::default() }).unwrap();
/// let cfg = SelectionConfig { target: 10, ..Default::default() };
/// let chosen = select(&prompts, &LexiconScorer::default(), &cfg).unwrap();
/// assert!(chosen.iter().all(|c| c.selection.probability > 0.0 && c.selection.probability <= 1.0));
/// ```
pub fn select(
    prompts: &[Prompt],
    scorer: &dyn PromptScorer,
    cfg: &SelectionConfig,
) -> Result<Vec<SelectedPrompt>> {
    cfg.validate()?;
    if prompts.is_empty() {
        return Ok(Vec::new());
    }
    let scores: Vec<f64> = prompts
        .iter()
        .map(|p| {
            let s = scorer.score(&p.text);
            if s.is_finite() {
                s.clamp(0.0, 1.0)
            } else {
                0.0
            }
        })
        .collect();
    let (strategy, weights) = match cfg.strategy {
        Strategy::Uniform => ("uniform".to_string(), vec![1.0; prompts.len()]),
        Strategy::Scored => {
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            let lambda = cfg.uniform_mix;
            let w = scores
                .iter()
                .map(|&s| {
                    if mean > 0.0 {
                        lambda + (1.0 - lambda) * s / mean
                    } else {
                        1.0
                    }
                })
                .collect();
            (format!("{}-poisson", scorer.name()), w)
        }
    };
    let pi = inclusion_probabilities(&weights, cfg.target as f64)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let population = prompts.len() as u64;
    let mut out = Vec::new();
    for ((p, &prob), &score) in prompts.iter().zip(&pi).zip(&scores) {
        let u: f64 = rng.random();
        if u < prob {
            out.push(SelectedPrompt {
                prompt: p.clone(),
                selection: Selection {
                    strategy: strategy.clone(),
                    probability: prob,
                    score: Some(score),
                    population,
                    stratum: None,
                },
            });
        }
    }
    Ok(out)
}

/// A stratified sample: each stratum's prompts drawn uniformly (Poisson sampling, like
/// [`select`] with [`Strategy::Uniform`]) with its own expected count. Every selected prompt
/// records its stratum, its inclusion probability `min(1, target / N_h)` and the population of
/// all strata together, so that [`Selection::weight`] weights the sample back to the uniform
/// distribution over every prompt. A stratum without a target, or without prompts, is not
/// sampled (its prompts cannot be reached, so estimates then describe the sampled strata only).
///
/// ```
/// use nines_data::record::{Source, Stratum};
/// use nines_data::prompt::Prompt;
/// use nines_data::select::select_stratified;
/// use nines_data::split::Split;
/// let prompts: Vec<Prompt> = (0..100u64)
///     .map(|i| Prompt {
///         id: format!("book:{i}"),
///         text: if i < 10 { "He drew his sword.".into() } else { "It rained.".into() },
///         source: Source { document: "book".into(), start: i, end: i + 1, region: 0,
///                          split: Split::Test },
///         next_sentence: None,
///     })
///     .collect();
/// let stratum = |p: &Prompt| if p.text.contains("sword") { Stratum::InjuryProne } else { Stratum::Rest };
/// let chosen = select_stratified(&prompts, stratum,
///                                &[(Stratum::InjuryProne, 10), (Stratum::Rest, 9)], 7).unwrap();
/// let prone = chosen.iter().filter(|p| p.selection.stratum == Some(Stratum::InjuryProne));
/// assert_eq!(prone.count(), 10); // the whole stratum, with probability 1
/// assert!(chosen.iter().all(|p| p.selection.population == 100));
/// ```
pub fn select_stratified(
    prompts: &[Prompt],
    stratum_of: impl Fn(&Prompt) -> Stratum,
    targets: &[(Stratum, usize)],
    seed: u64,
) -> Result<Vec<SelectedPrompt>> {
    let population = prompts.len() as u64;
    let uniform = UniformScorer;
    let mut out = Vec::new();
    for (i, &(stratum, target)) in targets.iter().enumerate() {
        if targets[..i].iter().any(|(s, _)| *s == stratum) {
            return Err(Error::config(
                "targets",
                format!("stratum {} is given twice", stratum.as_str()),
            ));
        }
        let members: Vec<Prompt> = prompts
            .iter()
            .filter(|p| stratum_of(p) == stratum)
            .cloned()
            .collect();
        if target == 0 || members.is_empty() {
            continue;
        }
        let cfg = SelectionConfig {
            target,
            strategy: Strategy::Uniform,
            seed: seed.wrapping_add(i as u64),
            ..Default::default()
        };
        for mut chosen in select(&members, &uniform, &cfg)? {
            chosen.selection.strategy = "stratified-uniform".into();
            chosen.selection.population = population;
            chosen.selection.stratum = Some(stratum);
            out.push(chosen);
        }
    }
    Ok(out)
}

/// Scores every prompt 0 (the uniform design does not use scores).
struct UniformScorer;

impl PromptScorer for UniformScorer {
    fn name(&self) -> &str {
        "uniform"
    }

    fn score(&self, _prompt: &str) -> f64 {
        0.0
    }
}

/// Writes selected prompts as JSONL, atomically (temporary file, `fsync`, rename).
pub fn write_selected(path: impl AsRef<Path>, prompts: &[SelectedPrompt]) -> Result<()> {
    let path = path.as_ref();
    let mut lines = Vec::with_capacity(prompts.len());
    for p in prompts {
        let line = serde_json::to_string(p).map_err(|e| Error::InvalidRecord {
            id: p.prompt.id.clone(),
            field: "json",
            reason: e.to_string(),
        })?;
        lines.push(line);
    }
    crate::store::write_lines_atomic(path, lines.iter().map(String::as_str))
}

/// Reads a file written by [`write_selected`]; a bad line is an error naming `file:line`.
pub fn read_selected(path: impl AsRef<Path>) -> Result<Vec<SelectedPrompt>> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = Vec::new();
    for (k, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let p: SelectedPrompt = serde_json::from_str(line).map_err(|e| Error::BadLine {
            path: path.to_path_buf(),
            line: k + 1,
            reason: e.to_string(),
        })?;
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicon_scores_violence_above_tea() {
        let s = LexiconScorer::default();
        let fight = s.score("He drew his knife; blood ran down the blade as they fought.");
        let tea = s.score("She poured the tea and spoke of the weather.");
        assert!(fight > 0.8, "{fight}");
        assert_eq!(tea, 0.0);
    }

    #[test]
    fn probabilities_sum_to_target_and_cap_at_one() {
        let w = [100.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let pi = inclusion_probabilities(&w, 3.0).unwrap();
        assert_eq!(pi[0], 1.0);
        assert!((pi.iter().sum::<f64>() - 3.0).abs() < 1e-9);
        assert!(pi[1..].iter().all(|&p| (p - 0.4).abs() < 1e-9));
        assert_eq!(inclusion_probabilities(&w, 10.0).unwrap(), vec![1.0; 6]);
        assert!(inclusion_probabilities(&[1.0, 0.0], 1.0).is_err());
    }

    #[test]
    fn horvitz_thompson_recovers_the_uniform_mean() {
        // Population: prompt i "is injurious" iff i % 10 == 0, scores favour those.
        struct Oracle;
        impl PromptScorer for Oracle {
            fn name(&self) -> &str {
                "t"
            }
            fn score(&self, p: &str) -> f64 {
                if p.ends_with('0') { 0.9 } else { 0.05 }
            }
        }
        let prompts: Vec<Prompt> = (0..2000)
            .map(|i| Prompt {
                id: format!("p{i}"),
                text: format!("prompt {i}"),
                source: crate::record::Source {
                    document: "d".into(),
                    start: 0,
                    end: 0,
                    region: 0,
                    split: crate::split::Split::Train,
                },
                next_sentence: None,
            })
            .collect();
        let mut estimates = Vec::new();
        for seed in 0..20 {
            let cfg = SelectionConfig {
                target: 200,
                seed,
                ..SelectionConfig::default()
            };
            let chosen = select(&prompts, &Oracle, &cfg).unwrap();
            let est: f64 = chosen
                .iter()
                .filter(|c| c.prompt.text.ends_with('0'))
                .map(|c| c.selection.weight())
                .sum();
            estimates.push(est);
        }
        let mean = estimates.iter().sum::<f64>() / estimates.len() as f64;
        assert!((mean - 0.1).abs() < 0.01, "HT mean {mean}");
    }

    #[test]
    fn stratified_weights_recover_the_uniform_mean() {
        // 2,000 prompts, the first 100 "prone" and half of them injurious; 1 in 100 of the
        // rest injurious: the uniform rate is (50 + 19) / 2000.
        let prompts: Vec<Prompt> = (0..2000u64)
            .map(|i| Prompt {
                id: format!("p{i}"),
                text: format!("prompt {i}"),
                source: crate::record::Source {
                    document: "d".into(),
                    start: i,
                    end: i + 1,
                    region: 0,
                    split: crate::split::Split::Test,
                },
                next_sentence: None,
            })
            .collect();
        let index = |p: &Prompt| p.source.start;
        let stratum = |p: &Prompt| {
            if index(p) < 100 {
                Stratum::InjuryProne
            } else {
                Stratum::Rest
            }
        };
        let injurious = |i: u64| {
            if i < 100 {
                i.is_multiple_of(2)
            } else {
                i.is_multiple_of(100)
            }
        };
        let truth = (0..2000).filter(|&i| injurious(i)).count() as f64 / 2000.0;
        let mut estimates = Vec::new();
        for seed in 0..40 {
            let chosen = select_stratified(
                &prompts,
                stratum,
                &[(Stratum::InjuryProne, 40), (Stratum::Rest, 200)],
                seed,
            )
            .unwrap();
            let prone: Vec<_> = chosen
                .iter()
                .filter(|c| c.selection.stratum == Some(Stratum::InjuryProne))
                .collect();
            assert!(
                prone
                    .iter()
                    .all(|c| (c.selection.probability - 0.4).abs() < 1e-12)
            );
            assert!(chosen.iter().all(|c| c.selection.population == 2000));
            let est: f64 = chosen
                .iter()
                .filter(|c| injurious(index(&c.prompt)))
                .map(|c| c.selection.weight())
                .sum();
            estimates.push(est);
        }
        let mean = estimates.iter().sum::<f64>() / estimates.len() as f64;
        assert!((mean - truth).abs() < 0.004, "HT mean {mean} vs {truth}");
        let twice = [(Stratum::Rest, 1), (Stratum::Rest, 2)];
        assert!(select_stratified(&prompts, stratum, &twice, 0).is_err());
    }

    #[test]
    fn selected_prompts_round_trip_through_jsonl() {
        let text = "He drew his knife and the blood ran. The sea was calm and grey that day. \
            Gulls wheeled above the quiet harbour wall. "
            .repeat(10);
        let corpus =
            crate::corpus::Corpus::from_documents(vec![crate::corpus::Document::from_text(
                "d", &text, None,
            )])
            .unwrap();
        let (prompts, _) =
            crate::prompt::build_prompts(&corpus, &crate::prompt::PromptConfig::default()).unwrap();
        let chosen = select(
            &prompts,
            &LexiconScorer::default(),
            &SelectionConfig {
                target: 5,
                ..SelectionConfig::default()
            },
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        write_selected(&path, &chosen).unwrap();
        assert_eq!(read_selected(&path).unwrap(), chosen);
        std::fs::write(&path, "{}\n").unwrap();
        assert!(matches!(
            read_selected(&path),
            Err(Error::BadLine { line: 1, .. })
        ));
    }

    #[test]
    fn uniform_mix_must_be_positive() {
        let cfg = SelectionConfig {
            uniform_mix: 0.0,
            ..SelectionConfig::default()
        };
        assert!(matches!(
            cfg.validate(),
            Err(Error::Config {
                field: "SelectionConfig.uniform_mix",
                ..
            })
        ));
    }
}
