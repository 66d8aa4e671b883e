//! Per-run statistics and the per-prompt JSONL records read by the estimators.
//!
//! One [`PromptRecord`] per line: the prompt id, every candidate's score and the threshold it
//! was judged against, the accepted index, the fallback flag, acceptance rate, cost and
//! timings. [`PromptRecord::prompt_scores`] turns a record plus labels into the
//! [`nines_estimate::failure_rate::PromptScores`] that `failure_rate::adaptive` and
//! `failure_rate::from_scores` take.

use std::io::{BufRead, Write};

use nines_estimate::failure_rate::PromptScores;
use serde::{Deserialize, Serialize};

use crate::config::{FilterConfig, Strategy};
use crate::error::Result;
use crate::filter::FilterRun;
use crate::outcome::{Decision, FallbackOutcome, PromptOutcome};

/// One prompt's filter statistics (one JSONL line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptRecord {
    /// The prompt's id.
    pub prompt_id: String,
    /// `sequential`, `batched_first_accepted` or `batched_safest`.
    pub strategy: String,
    /// Candidates per round.
    pub k: usize,
    /// Candidates drawn.
    pub candidates: usize,
    /// Score of each candidate, in sampling order.
    pub scores: Vec<f64>,
    /// Threshold each candidate was judged against, in sampling order.
    pub thresholds: Vec<f64>,
    /// Index of the returned candidate; `None` when the fallback was used.
    pub accepted_index: Option<usize>,
    /// The threshold the returned candidate passed (the last threshold in force on a
    /// fallback): the prompt's threshold for `failure_rate::adaptive`.
    pub threshold: f64,
    /// Whether every attempt was rejected.
    pub fallback: bool,
    /// `"refuse"` or `"safe_text"` on a fallback, else `None`.
    pub fallback_kind: Option<String>,
    /// Candidates rejected.
    pub rejections: usize,
    /// Fraction of candidates whose score passed their threshold.
    pub acceptance_rate: f64,
    /// Rounds the prompt took part in.
    pub rounds: usize,
    /// Tokens generated for all candidates.
    pub tokens: usize,
    /// Seconds of the policy rounds the prompt took part in (shared with the round's prompts).
    pub generate_secs: f64,
    /// Seconds of the scorer rounds the prompt took part in (shared likewise).
    pub score_secs: f64,
    /// Seconds from the start of the run to the decision.
    pub latency_secs: f64,
}

impl PromptRecord {
    /// The record of one outcome under `config`.
    pub fn new(outcome: &PromptOutcome, config: &FilterConfig) -> Self {
        let scores: Vec<f64> = outcome.candidates.iter().map(|c| c.score).collect();
        let thresholds: Vec<f64> = outcome.candidates.iter().map(|c| c.threshold).collect();
        let passed = outcome.candidates.iter().filter(|c| c.accepted()).count();
        let accepted_index = match outcome.decision {
            Decision::Accepted { index, .. } => Some(index),
            Decision::Fallback(_) => None,
        };
        let threshold = accepted_index
            .and_then(|i| thresholds.get(i).copied())
            .or_else(|| thresholds.last().copied())
            .unwrap_or_else(|| config.schedule.start());
        let fallback_kind = match &outcome.decision {
            Decision::Accepted { .. } => None,
            Decision::Fallback(FallbackOutcome::Refused) => Some("refuse".to_string()),
            Decision::Fallback(FallbackOutcome::SafeText(_)) => Some("safe_text".to_string()),
        };
        let n = outcome.candidates.len();
        Self {
            prompt_id: outcome.prompt_id.clone(),
            strategy: config.strategy.name().to_string(),
            k: config.strategy.k(),
            candidates: n,
            scores,
            thresholds,
            accepted_index,
            threshold,
            fallback: outcome.is_fallback(),
            fallback_kind,
            rejections: outcome.rejections(),
            acceptance_rate: if n == 0 {
                0.0
            } else {
                passed as f64 / n as f64
            },
            rounds: outcome.rounds,
            tokens: outcome.tokens(),
            generate_secs: outcome.timings.generate_secs,
            score_secs: outcome.timings.score_secs,
            latency_secs: outcome.timings.latency_secs,
        }
    }

    /// Input for `nines_estimate::failure_rate::{adaptive, from_scores}`: this record's scores
    /// as the cheap (classifier-only) draws, `labeled` `(score, failure)` as the labeled
    /// draws, and the record's [`threshold`](Self::threshold) as the prompt's threshold.
    ///
    /// The filter stops drawing once it accepts, so its draws are a stopped sample: the
    /// acceptance rate they imply is biased upwards for prompts that stop early. For an
    /// unbiased estimate, take cheap draws from an independent run of the unfiltered policy,
    /// e.g. a filter run with `max_attempts = k`, whose single round draws all `k` candidates.
    pub fn prompt_scores(&self, labeled: &[(f64, bool)]) -> PromptScores {
        PromptScores::from_samples(Some(self.threshold), &self.scores, labeled)
    }
}

/// Aggregates of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    /// Prompts in the run.
    pub prompts: usize,
    /// Prompts that got an accepted completion.
    pub accepted: usize,
    /// Prompts that got the fallback.
    pub fallbacks: usize,
    /// Candidates drawn over all prompts.
    pub candidates: usize,
    /// Tokens generated over all candidates.
    pub tokens: usize,
    /// Rounds (policy calls, and scorer calls).
    pub rounds: usize,
    /// `attempts_histogram[a]` = prompts that drew `a` candidates (length `max_attempts + 1`).
    pub attempts_histogram: Vec<u64>,
    /// Candidates whose score passed their threshold, over candidates.
    pub pooled_acceptance_rate: f64,
    /// Mean over prompts of each prompt's acceptance rate.
    pub mean_acceptance_rate: f64,
    /// Seconds in the policy.
    pub generate_secs: f64,
    /// Seconds in the scorer.
    pub score_secs: f64,
    /// Seconds for the whole run.
    pub total_secs: f64,
    /// `score_secs / total_secs`: the scorer's share of wall time.
    pub scorer_share: f64,
    /// Accepted completions per second of the run.
    pub accepted_per_sec: f64,
}

impl RunStats {
    /// Aggregates outcomes; the seconds are the run's own (not summed over prompts).
    pub fn from_outcomes(
        outcomes: &[PromptOutcome],
        rounds: usize,
        generate_secs: f64,
        score_secs: f64,
        total_secs: f64,
        max_attempts: usize,
    ) -> Self {
        let mut hist = vec![0u64; max_attempts + 1];
        let mut rates = 0.0;
        let (mut candidates, mut passed, mut tokens, mut accepted) = (0, 0, 0, 0);
        for o in outcomes {
            let n = o.attempts();
            if n >= hist.len() {
                hist.resize(n + 1, 0);
            }
            hist[n] += 1;
            let p = o.candidates.iter().filter(|c| c.accepted()).count();
            candidates += n;
            passed += p;
            tokens += o.tokens();
            if n > 0 {
                rates += p as f64 / n as f64;
            }
            accepted += usize::from(!o.is_fallback());
        }
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        Self {
            prompts: outcomes.len(),
            accepted,
            fallbacks: outcomes.len() - accepted,
            candidates,
            tokens,
            rounds,
            attempts_histogram: hist,
            pooled_acceptance_rate: ratio(passed as f64, candidates as f64),
            mean_acceptance_rate: ratio(rates, outcomes.len() as f64),
            generate_secs,
            score_secs,
            total_secs,
            scorer_share: ratio(score_secs, total_secs),
            accepted_per_sec: ratio(accepted as f64, total_secs),
        }
    }
}

impl FilterRun {
    /// One [`PromptRecord`] per prompt, in input order.
    pub fn records(&self) -> Vec<PromptRecord> {
        self.outcomes
            .iter()
            .map(|o| PromptRecord::new(o, &self.config))
            .collect()
    }

    /// Writes the records as JSONL (one prompt per line).
    ///
    /// # Errors
    /// I/O or serialization failures.
    pub fn write_jsonl<W: Write>(&self, mut out: W) -> Result<()> {
        for r in self.records() {
            serde_json::to_writer(&mut out, &r)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(())
    }

    /// The strategy used.
    pub fn strategy(&self) -> Strategy {
        self.config.strategy
    }
}

/// Reads records written by [`FilterRun::write_jsonl`] (blank lines are skipped).
///
/// # Errors
/// I/O failures, or [`crate::FilterError::Json`] for a malformed line.
pub fn read_jsonl<R: BufRead>(input: R) -> Result<Vec<PromptRecord>> {
    let mut out = Vec::new();
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line)?);
    }
    Ok(out)
}
