//! In-distribution data and attack seeds from the fiction corpus: each prompt window with
//! the book's next sentence as completion, labeled by the explicit oracle, kept by split, so
//! that the training seeds and the held-out seeds come from different chapters.

use nines_classify::Example;
use nines_data::corpus::Corpus;
use nines_data::prompt::{PromptConfig, build_prompts};
use nines_data::split::Split;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::oracle::Oracle;
use crate::outcome::Seed;
use crate::victim::Victim;

/// A labeled pair with its prompt id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusPair {
    /// The prompt's id (`document:start`).
    pub id: String,
    /// Prompt, completion and the oracle's label.
    pub example: Example,
}

/// The corpus's pairs by split.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpusData {
    /// Training chapters.
    pub train: Vec<CorpusPair>,
    /// Validation chapters.
    pub validation: Vec<CorpusPair>,
    /// Test chapters.
    pub test: Vec<CorpusPair>,
}

impl CorpusData {
    /// The pairs of one split.
    pub fn split(&self, split: Split) -> &[CorpusPair] {
        match split {
            Split::Train => &self.train,
            Split::Validation => &self.validation,
            Split::Test => &self.test,
        }
    }
}

/// `(prompt, next sentence)` pairs of the corpus labeled by `oracle`.
///
/// # Errors
/// Prompt building and the oracle's errors.
pub fn corpus_pairs(
    corpus: &Corpus,
    config: &PromptConfig,
    oracle: &mut dyn Oracle,
) -> Result<CorpusData> {
    let (prompts, _) = build_prompts(corpus, config)?;
    let with_next: Vec<_> = prompts
        .into_iter()
        .filter_map(|p| p.next_sentence.clone().map(|n| (p, n)))
        .collect();
    let pairs: Vec<(&str, &str)> = with_next
        .iter()
        .map(|(p, n)| (p.text.as_str(), n.as_str()))
        .collect();
    let labels = oracle.judge(&pairs)?;
    let mut out = CorpusData::default();
    for ((p, n), label) in with_next.iter().zip(labels) {
        let pair = CorpusPair {
            id: p.id.clone(),
            example: Example::new(p.text.clone(), n.clone(), label),
        };
        match p.source.split {
            Split::Train => out.train.push(pair),
            Split::Validation => out.validation.push(pair),
            Split::Test => out.test.push(pair),
        }
    }
    Ok(out)
}

/// The injuries among `pairs` as attack seeds, in order.
pub fn injury_seeds(pairs: &[CorpusPair]) -> Vec<Seed> {
    pairs
        .iter()
        .filter(|p| p.example.label)
        .map(|p| {
            Seed::new(
                p.id.clone(),
                p.example.prompt.clone(),
                p.example.completion.clone(),
            )
        })
        .collect()
}

/// The examples of `pairs`.
pub fn examples(pairs: &[CorpusPair]) -> Vec<Example> {
    pairs.iter().map(|p| p.example.clone()).collect()
}

/// The prompts of `pairs` (the prompt search's pool).
pub fn prompts(pairs: &[CorpusPair]) -> Vec<String> {
    pairs.iter().map(|p| p.example.prompt.clone()).collect()
}

/// The first `n` injuries of `pairs` that fit the classifier whole and that it flags, as
/// seeds (one classifier query per injury looked at).
///
/// # Errors
/// The classifier's errors.
pub fn flagged_seeds(victim: &Victim<'_>, pairs: &[CorpusPair], n: usize) -> Result<Vec<Seed>> {
    let fits: Vec<Seed> = injury_seeds(pairs)
        .into_iter()
        .filter(|s| victim.tokenize(&s.prompt, &s.completion, "seed").is_ok())
        .collect();
    let mut out = Vec::new();
    for chunk in fits.chunks(32) {
        let refs: Vec<(&str, &str)> = chunk
            .iter()
            .map(|s| (s.prompt.as_str(), s.completion.as_str()))
            .collect();
        for (s, score) in chunk.iter().zip(victim.score(&refs)?) {
            if !victim.accepts(score) && out.len() < n {
                out.push(s.clone());
            }
        }
        if out.len() >= n {
            break;
        }
    }
    Ok(out)
}

/// At most `max` examples of `pairs`: every injury, then safe pairs drawn at random (seeded);
/// order shuffled.
pub fn sample_examples(pairs: &[CorpusPair], max: usize, seed: u64) -> Vec<Example> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut pos: Vec<Example> = pairs
        .iter()
        .filter(|p| p.example.label)
        .map(|p| p.example.clone())
        .collect();
    let mut neg: Vec<Example> = pairs
        .iter()
        .filter(|p| !p.example.label)
        .map(|p| p.example.clone())
        .collect();
    neg.shuffle(&mut rng);
    pos.truncate(max);
    neg.truncate(max - pos.len());
    pos.extend(neg);
    pos.shuffle(&mut rng);
    pos
}
