//! What a filtered generation returns for one prompt: the decision, every candidate with its
//! score and threshold, and timings.

use serde::{Deserialize, Serialize};

/// How the filter treated one candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Score above its threshold: never returned.
    Rejected,
    /// Score at or below its threshold, and this is the candidate returned.
    Returned,
    /// Score at or below its threshold but another candidate was returned (a later one in a
    /// first-accepted round, or a higher-scored one in a safest round).
    Passed,
}

/// One sampled completion and how it was judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The completion.
    pub text: String,
    /// The scorer's P(injury).
    pub score: f64,
    /// The threshold it was judged against (accepted iff `score ≤ threshold`).
    pub threshold: f64,
    /// The verdict.
    pub verdict: Verdict,
    /// Round (0-based) in which it was drawn.
    pub round: usize,
    /// Tokens generated for it.
    pub tokens: usize,
}

impl Candidate {
    /// Whether the score passes the threshold (`score ≤ threshold`).
    pub fn accepted(&self) -> bool {
        self.score <= self.threshold
    }
}

/// Why a prompt got no sampled completion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "text")]
pub enum FallbackOutcome {
    /// Every attempt was rejected and the filter refuses.
    Refused,
    /// Every attempt was rejected; this configured safe text is returned instead.
    SafeText(String),
}

/// The filter's decision for one prompt. A rejected completion is never in here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Decision {
    /// A sampled completion was accepted.
    Accepted {
        /// Index of the returned candidate in [`PromptOutcome::candidates`].
        index: usize,
        /// Its text.
        text: String,
    },
    /// All `max_attempts` candidates were rejected.
    Fallback(FallbackOutcome),
}

/// Wall-clock seconds attributed to one prompt. Generation and scoring are batched over
/// prompts, so a round's time is shared by every prompt in it and counted in full for each.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Timings {
    /// Seconds in the policy's rounds this prompt took part in.
    pub generate_secs: f64,
    /// Seconds in the scorer's rounds this prompt took part in.
    pub score_secs: f64,
    /// Seconds from the start of the run to this prompt's decision.
    pub latency_secs: f64,
}

/// Everything the filter did for one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptOutcome {
    /// The prompt's id (its index in the run unless ids were given).
    pub prompt_id: String,
    /// The prompt.
    pub prompt: String,
    /// The decision.
    pub decision: Decision,
    /// Every candidate drawn, in sampling order, with score, threshold and verdict.
    pub candidates: Vec<Candidate>,
    /// Rounds this prompt took part in.
    pub rounds: usize,
    /// Timings.
    pub timings: Timings,
}

impl PromptOutcome {
    /// The accepted completion, if any.
    pub fn completion(&self) -> Option<&str> {
        match &self.decision {
            Decision::Accepted { text, .. } => Some(text),
            Decision::Fallback(_) => None,
        }
    }

    /// What to show the user: the accepted completion, the safe text, or `None` (refused).
    pub fn text(&self) -> Option<&str> {
        match &self.decision {
            Decision::Accepted { text, .. } => Some(text),
            Decision::Fallback(FallbackOutcome::SafeText(t)) => Some(t),
            Decision::Fallback(FallbackOutcome::Refused) => None,
        }
    }

    /// The returned candidate, if one was accepted.
    pub fn accepted(&self) -> Option<&Candidate> {
        match self.decision {
            Decision::Accepted { index, .. } => self.candidates.get(index),
            Decision::Fallback(_) => None,
        }
    }

    /// Candidates drawn (the cost in policy samples and scorer calls).
    pub fn attempts(&self) -> usize {
        self.candidates.len()
    }

    /// Candidates rejected.
    pub fn rejections(&self) -> usize {
        self.candidates
            .iter()
            .filter(|c| c.verdict == Verdict::Rejected)
            .count()
    }

    /// Whether the fallback was used.
    pub fn is_fallback(&self) -> bool {
        matches!(self.decision, Decision::Fallback(_))
    }

    /// Tokens generated for all candidates.
    pub fn tokens(&self) -> usize {
        self.candidates.iter().map(|c| c.tokens).sum()
    }
}
