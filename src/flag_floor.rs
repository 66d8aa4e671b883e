//! Which held-out prompts does the classifier flag whatever follows them?
//!
//! The distiller's goal is a lower classifier-flagged rate, but the classifier reads the
//! prompt with the completion: after a prompt that itself describes an injury it may score
//! every continuation above its threshold. No policy can then avoid the flag on that prompt,
//! and the share of such prompts bounds every policy's flagged rate from below.
//! [`flag_floor`] reads a distill evaluation's per-completion records, takes the prompts on
//! which every sampled completion was flagged (or the prompts named), and scores each against
//! a pool of candidate continuations: the records' completions the classifier found safest
//! on their own prompt. A prompt none of them passes on is *locked* (for this pool).

use std::collections::BTreeMap;
use std::path::Path;

use nines_data::PairScorer;
use nines_distill::EvalRecord;
use serde::{Deserialize, Serialize};

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum FlagFloorError {
    /// The records file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the records file is not an evaluation record.
    #[error("{path}:{line}: {source}")]
    BadLine {
        /// The file.
        path: std::path::PathBuf,
        /// 1-based line number.
        line: usize,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// No record of the asked-for policy.
    #[error("no records{}", .policy.as_ref().map_or(String::new(), |p| format!(" of policy `{p}`")))]
    NoRecords {
        /// The policy asked for.
        policy: Option<String>,
    },
    /// A named prompt has no record.
    #[error("no record of prompt {0}")]
    UnknownPrompt(usize),
    /// From the classifier.
    #[error(transparent)]
    Scorer(#[from] nines_data::Error),
}

/// What [`flag_floor`] looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagFloorRequest {
    /// Candidate continuations: this many of the records' distinct completions, those with
    /// the lowest P(injury) on their own prompt.
    pub pool: usize,
    /// Only the records of this policy (`original` or `distilled`), for the prompts and the
    /// pool.
    pub policy: Option<String>,
    /// Score these prompts (indices) instead of those flagged on every sampled completion.
    pub prompts: Vec<usize>,
    /// Flag threshold (accept iff P(injury) ≤ threshold).
    pub threshold: f64,
}

/// One prompt scored against the pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptFloor {
    /// The prompt's index in the evaluation.
    pub prompt_index: usize,
    /// The lowest P(injury) of any pool continuation after it.
    pub lowest_p_injury: f32,
    /// That continuation.
    pub safest_continuation: String,
    /// Pool continuations that pass after it.
    pub passing: usize,
}

/// The floor and the prompts behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagFloorReport {
    /// The policy whose records were used, if one was named.
    pub policy: Option<String>,
    /// The threshold.
    pub threshold: f64,
    /// Prompts in the records.
    pub prompts: usize,
    /// Pool continuations.
    pub pool: usize,
    /// Prompts no pool continuation passes after.
    pub locked: usize,
    /// `locked / prompts`: the least flagged rate of a policy continuing with the pool.
    pub floor: f64,
    /// The original policy's flagged rate in the records, if it is there.
    pub original_flagged: Option<f64>,
    /// Every prompt scored.
    pub candidates: Vec<PromptFloor>,
}

/// Reads per-completion records (JSON lines) of a distill evaluation.
pub fn read_records(path: &Path) -> Result<Vec<EvalRecord>, FlagFloorError> {
    let text = std::fs::read_to_string(path).map_err(|source| FlagFloorError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut records = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r = serde_json::from_str(line).map_err(|source| FlagFloorError::BadLine {
            path: path.to_path_buf(),
            line: n + 1,
            source,
        })?;
        records.push(r);
    }
    Ok(records)
}

/// Scores the prompts (see the module docs) with `classifier`.
pub fn flag_floor(
    records: &[EvalRecord],
    classifier: &dyn PairScorer,
    req: &FlagFloorRequest,
) -> Result<FlagFloorReport, FlagFloorError> {
    let records: Vec<&EvalRecord> = records
        .iter()
        .filter(|r| req.policy.as_ref().is_none_or(|p| *p == r.policy))
        .collect();
    if records.is_empty() {
        return Err(FlagFloorError::NoRecords {
            policy: req.policy.clone(),
        });
    }
    // Per prompt: its text and whether any record passed.
    let mut prompts: BTreeMap<usize, (&str, bool)> = BTreeMap::new();
    for r in &records {
        let e = prompts.entry(r.prompt_index).or_insert((&r.prompt, false));
        e.1 |= !r.flagged;
    }
    if let Some(i) = req.prompts.iter().find(|i| !prompts.contains_key(i)) {
        return Err(FlagFloorError::UnknownPrompt(*i));
    }
    let candidates: Vec<(usize, &str)> = prompts
        .iter()
        .filter(|(i, (_, passed))| {
            if req.prompts.is_empty() {
                !passed
            } else {
                req.prompts.contains(i)
            }
        })
        .map(|(&i, &(p, _))| (i, p))
        .collect();
    let mut pool: Vec<(&str, f32)> = records
        .iter()
        .map(|r| (r.completion.as_str(), r.p_injury))
        .collect();
    pool.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
    pool.dedup_by(|a, b| a.0 == b.0);
    pool.truncate(req.pool.max(1));
    let original: Vec<&&EvalRecord> = records.iter().filter(|r| r.policy == "original").collect();
    let original_flagged = (!original.is_empty())
        .then(|| original.iter().filter(|r| r.flagged).count() as f64 / original.len() as f64);
    let mut rows = Vec::new();
    for &(i, prompt) in &candidates {
        let pairs: Vec<(&str, &str)> = pool.iter().map(|&(c, _)| (prompt, c)).collect();
        let p = classifier.score(&pairs)?;
        let passing = p.iter().filter(|&&p| f64::from(p) <= req.threshold).count();
        let (best, &lowest) = p
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .expect("the pool holds at least one continuation");
        rows.push(PromptFloor {
            prompt_index: i,
            lowest_p_injury: lowest,
            safest_continuation: pool[best].0.to_string(),
            passing,
        });
    }
    let locked = rows.iter().filter(|r| r.passing == 0).count();
    Ok(FlagFloorReport {
        policy: req.policy.clone(),
        threshold: req.threshold,
        prompts: prompts.len(),
        pool: pool.len(),
        locked,
        floor: locked as f64 / prompts.len() as f64,
        original_flagged,
        candidates: rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flags a pair when the prompt mentions blood, whatever the completion.
    struct PromptReader;

    impl PairScorer for PromptReader {
        fn score(&self, pairs: &[(&str, &str)]) -> nines_data::Result<Vec<f32>> {
            Ok(pairs
                .iter()
                .map(|(p, _)| if p.contains("blood") { 0.9 } else { 0.01 })
                .collect())
        }
    }

    fn record(policy: &str, i: usize, prompt: &str, completion: &str, flagged: bool) -> EvalRecord {
        EvalRecord {
            policy: policy.into(),
            prompt_index: i,
            prompt: prompt.into(),
            completion: completion.into(),
            tokens: 4,
            p_injury: if flagged { 0.9 } else { 0.01 },
            flagged,
            labeled: None,
        }
    }

    #[test]
    fn a_prompt_that_flags_everything_is_locked_and_sets_the_floor() {
        let records = vec![
            record(
                "original",
                0,
                "There was blood on the deck.",
                "He wiped it.",
                true,
            ),
            record("original", 1, "The sun rose.", "They sailed.", false),
            record("original", 2, "The wind blew.", "It rained.", true),
        ];
        let req = FlagFloorRequest {
            pool: 10,
            policy: None,
            prompts: vec![],
            threshold: 0.5,
        };
        let r = flag_floor(&records, &PromptReader, &req).unwrap();
        assert_eq!(
            r.candidates.len(),
            2,
            "prompts 0 and 2 had every completion flagged"
        );
        assert_eq!(r.locked, 1);
        assert!((r.floor - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.original_flagged, Some(2.0 / 3.0));
        let named = FlagFloorRequest {
            prompts: vec![7],
            ..req.clone()
        };
        assert!(matches!(
            flag_floor(&records, &PromptReader, &named),
            Err(FlagFloorError::UnknownPrompt(7))
        ));
        let other = FlagFloorRequest {
            policy: Some("distilled".into()),
            ..req
        };
        assert!(matches!(
            flag_floor(&records, &PromptReader, &other),
            Err(FlagFloorError::NoRecords { .. })
        ));
    }
}
