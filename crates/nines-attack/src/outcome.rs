//! What attacks find and what they cost: [`Failure`] records (written as JSONL), per-seed
//! [`SeedOutcome`]s and the run's [`AttackReport`] with success per 1,000 classifier queries,
//! per oracle query, and time to first failure.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{AttackError, Result};

/// Which attack found a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// Word substitutions in the completion.
    Substitution,
    /// The generator's rewrites of the completion.
    Paraphrase,
    /// Prompts (from the corpus, then edited) for a fixed completion.
    PromptSearch,
}

impl AttackKind {
    /// Every attack, in a fixed order.
    pub const ALL: [AttackKind; 3] = [
        AttackKind::Substitution,
        AttackKind::Paraphrase,
        AttackKind::PromptSearch,
    ];

    /// The snake-case name (`substitution`, `paraphrase`, `prompt_search`).
    pub fn as_str(self) -> &'static str {
        match self {
            AttackKind::Substitution => "substitution",
            AttackKind::Paraphrase => "paraphrase",
            AttackKind::PromptSearch => "prompt_search",
        }
    }
}

impl std::fmt::Display for AttackKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pair to attack: a known injury the classifier flags (or a completion to find a prompt
/// for).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seed {
    /// Identifier (e.g. the prompt id in the corpus).
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// The injurious completion.
    pub completion: String,
}

impl Seed {
    /// A seed.
    pub fn new(
        id: impl Into<String>,
        prompt: impl Into<String>,
        completion: impl Into<String>,
    ) -> Self {
        Seed {
            id: id.into(),
            prompt: prompt.into(),
            completion: completion.into(),
        }
    }
}

/// One word changed by the substitution attack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    /// Index of the word in the edited text (words keep their indices across edits).
    pub word: usize,
    /// The word before.
    pub from: String,
    /// The word after.
    pub to: String,
}

/// A found failure: the oracle says injury, the classifier accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The attack that found it.
    pub attack: AttackKind,
    /// The seed attacked.
    pub seed_id: String,
    /// The failing prompt.
    pub prompt: String,
    /// The failing completion.
    pub completion: String,
    /// The classifier's `P(injury)` of it.
    pub score: f32,
    /// The threshold it is at or under.
    pub threshold: f64,
    /// The seed's score before the attack.
    pub seed_score: f32,
    /// Substitutions made (empty for paraphrases and unedited corpus prompts).
    pub edits: Vec<Edit>,
    /// The oracle that confirmed the injury (`oracle`, `composite`).
    pub oracle: String,
    /// Classifier queries spent on this seed until it was found.
    pub classifier_queries: u64,
    /// Oracle queries spent on this seed until it was found.
    pub oracle_queries: u64,
    /// Seconds since the run started.
    pub seconds: f64,
}

/// Queries spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Classifier queries (pairs scored plus gradients).
    pub classifier_queries: u64,
    /// Oracle queries (pairs judged).
    pub oracle_queries: u64,
    /// Generator calls (fluency scores and rewrites, one per text).
    pub generator_calls: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.classifier_queries += o.classifier_queries;
        self.oracle_queries += o.oracle_queries;
        self.generator_calls += o.generator_calls;
    }
}

/// How an attack on one seed ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed_id: String,
    /// The seed's score.
    pub seed_score: f32,
    /// Whether the seed was usable (the oracle labels it injurious and the classifier flags
    /// it); unusable seeds spend little and find nothing.
    pub usable: bool,
    /// The failure found, if any.
    pub failure: Option<Failure>,
    /// Queries spent on the seed.
    pub spent: Tally,
    /// Seconds spent on the seed.
    pub seconds: f64,
}

/// An attack over many seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackReport {
    /// The attack.
    pub attack: AttackKind,
    /// Seeds given.
    pub seeds: usize,
    /// Seeds attacked (oracle-injurious and flagged).
    pub usable_seeds: usize,
    /// Failures found (at most one per seed).
    pub failures: usize,
    /// Queries spent in all.
    pub spent: Tally,
    /// Wall-clock seconds in all.
    pub seconds: f64,
    /// Seconds from the start until the first failure (None: none found).
    pub first_failure_seconds: Option<f64>,
    /// Failures per 1,000 classifier queries.
    pub per_1000_classifier_queries: f64,
    /// Failures per oracle query.
    pub per_oracle_query: f64,
    /// Per-seed outcomes, in seed order.
    pub outcomes: Vec<SeedOutcome>,
}

impl AttackReport {
    /// Runs `attack_seed` on every seed in order, timed by one clock, and summarizes.
    ///
    /// # Errors
    /// The first error of `attack_seed`.
    pub fn over_seeds<S, E>(
        attack: AttackKind,
        seeds: &[S],
        mut attack_seed: impl FnMut(&S, &RunClock) -> std::result::Result<SeedOutcome, E>,
    ) -> std::result::Result<Self, E> {
        let clock = RunClock::start();
        let outcomes = seeds
            .iter()
            .map(|s| attack_seed(s, &clock))
            .collect::<std::result::Result<Vec<_>, E>>()?;
        Ok(AttackReport::from_outcomes(
            attack,
            outcomes,
            clock.seconds(),
        ))
    }

    /// Summarizes per-seed outcomes.
    pub fn from_outcomes(attack: AttackKind, outcomes: Vec<SeedOutcome>, seconds: f64) -> Self {
        let mut spent = Tally::default();
        for o in &outcomes {
            spent += o.spent;
        }
        let failures = outcomes.iter().filter(|o| o.failure.is_some()).count();
        let first_failure_seconds = outcomes
            .iter()
            .filter_map(|o| o.failure.as_ref().map(|f| f.seconds))
            .reduce(f64::min);
        AttackReport {
            attack,
            seeds: outcomes.len(),
            usable_seeds: outcomes.iter().filter(|o| o.usable).count(),
            failures,
            spent,
            seconds,
            first_failure_seconds,
            per_1000_classifier_queries: rate(failures, spent.classifier_queries) * 1000.0,
            per_oracle_query: rate(failures, spent.oracle_queries),
            outcomes,
        }
    }

    /// The failures found, in seed order.
    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.outcomes.iter().filter_map(|o| o.failure.as_ref())
    }
}

fn rate(found: usize, queries: u64) -> f64 {
    if queries == 0 {
        0.0
    } else {
        found as f64 / queries as f64
    }
}

/// Writes failures as JSON lines (one [`Failure`] per line).
pub fn write_failures<'a>(
    path: &Path,
    failures: impl IntoIterator<Item = &'a Failure>,
) -> Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir).map_err(|e| AttackError::io(dir, e))?;
    }
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| AttackError::io(path, e))?);
    for x in failures {
        let line = serde_json::to_string(x).map_err(|e| AttackError::io(path, e.into()))?;
        writeln!(f, "{line}").map_err(|e| AttackError::io(path, e))?;
    }
    f.flush().map_err(|e| AttackError::io(path, e))
}

/// Reads failures written by [`write_failures`] (blank lines skipped).
///
/// # Errors
/// [`AttackError::Io`] when the file cannot be read; [`AttackError::Data`] naming the file
/// and line of a line that is not a failure.
pub fn read_failures(path: &Path) -> Result<Vec<Failure>> {
    let text = std::fs::read_to_string(path).map_err(|e| AttackError::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                AttackError::data(&format!("{}:{}", path.display(), i + 1), e.to_string())
            })
        })
        .collect()
}

/// A clock started with the run, for [`Failure::seconds`].
#[derive(Debug, Clone, Copy)]
pub struct RunClock(Instant);

impl RunClock {
    /// Starts now.
    pub fn start() -> Self {
        RunClock(Instant::now())
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_round_trip_and_a_bad_line_is_named() {
        let failure = Failure {
            attack: AttackKind::Substitution,
            seed_id: "dev-1".into(),
            prompt: "They met at the gate.".into(),
            completion: "He struck the guard down.".into(),
            score: 0.12,
            threshold: 0.25,
            seed_score: 0.9,
            edits: vec![Edit {
                word: 1,
                from: "stabbed".into(),
                to: "struck".into(),
            }],
            oracle: "oracle".into(),
            classifier_queries: 40,
            oracle_queries: 2,
            seconds: 1.5,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failures.jsonl");
        write_failures(&path, [&failure, &failure]).unwrap();
        assert_eq!(
            read_failures(&path).unwrap(),
            vec![failure.clone(), failure]
        );
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("{text}\n{{\"attack\": 3}}\n")).unwrap();
        let err = read_failures(&path).unwrap_err().to_string();
        assert!(err.contains("failures.jsonl:4"), "{err}");
    }
}
