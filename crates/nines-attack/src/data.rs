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

/// How [`flagged_seeds`] chose its seeds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedPick {
    /// Injuries among the pairs.
    pub injuries: usize,
    /// Of those, pairs the classifier reads whole.
    pub fit: usize,
    /// Of those, pairs scored before enough flagged ones were found.
    pub scored: usize,
    /// Of those, pairs the classifier flags.
    pub flagged: usize,
    /// Of those, pairs the oracle also calls injuries (the seeds, at most `n`).
    pub oracle_agrees: usize,
}

/// The first `n` injuries of `pairs` that fit the classifier whole, that it flags and that
/// `oracle` also calls injuries, as seeds (one classifier query per injury scored, one oracle
/// query per flagged one; not counted in any attack's budget).
///
/// # Errors
/// The classifier's and the oracle's errors.
pub fn flagged_seeds(
    victim: &Victim<'_>,
    oracle: &mut dyn Oracle,
    pairs: &[CorpusPair],
    n: usize,
) -> Result<(Vec<Seed>, SeedPick)> {
    let injuries = injury_seeds(pairs);
    let fits: Vec<Seed> = injuries
        .iter()
        .filter(|s| victim.tokenize(&s.prompt, &s.completion, "seed").is_ok())
        .cloned()
        .collect();
    let mut pick = SeedPick {
        injuries: injuries.len(),
        fit: fits.len(),
        ..SeedPick::default()
    };
    let mut out = Vec::new();
    for chunk in fits.chunks(32) {
        if out.len() >= n {
            break;
        }
        let refs: Vec<(&str, &str)> = chunk
            .iter()
            .map(|s| (s.prompt.as_str(), s.completion.as_str()))
            .collect();
        pick.scored += refs.len();
        for (s, score) in chunk.iter().zip(victim.score(&refs)?) {
            if !victim.accepts(score) && out.len() < n {
                pick.flagged += 1;
                if oracle.judge(&[(s.prompt.as_str(), s.completion.as_str())])?[0] {
                    pick.oracle_agrees += 1;
                    out.push(s.clone());
                }
            }
        }
    }
    Ok((out, pick))
}

/// At most `max` examples of `pairs`: injuries drawn at random up to `positive_share` of
/// `max`, then safe pairs drawn at random to fill up; seeded; order shuffled.
pub fn sample_examples(
    pairs: &[CorpusPair],
    max: usize,
    positive_share: f64,
    seed: u64,
) -> Vec<Example> {
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
    pos.shuffle(&mut rng);
    pos.truncate((max as f64 * positive_share.clamp(0.0, 1.0)).round() as usize);
    neg.truncate(max.saturating_sub(pos.len()));
    pos.extend(neg);
    pos.shuffle(&mut rng);
    pos
}

/// The hand-labeled dev set (`data/oracle_dev.jsonl`) as pairs: its dev part and its test
/// part, labels as written by hand. Its injuries are attack seeds: training seeds from the
/// dev part, held-out seeds from the test part.
///
/// # Errors
/// The file cannot be read or parsed.
pub fn dev_set_pairs(path: &std::path::Path) -> Result<(Vec<CorpusPair>, Vec<CorpusPair>)> {
    use nines_data::label::dev_set::{DevSplit, read_dev_set};
    let mut dev = Vec::new();
    let mut test = Vec::new();
    for item in read_dev_set(path)? {
        let pair = CorpusPair {
            id: item.id,
            example: Example::new(item.prompt, item.completion, item.injury),
        };
        match item.split {
            DevSplit::Dev => dev.push(pair),
            DevSplit::Test => test.push(pair),
        }
    }
    Ok((dev, test))
}
