//! Records gathered outside the pipeline, as JSON lines, and the rates they give: one labeled
//! completion or one judged pair per line, each naming its prompt and that prompt's inclusion
//! probability (how likely the prompt was to be drawn into the sample; 1 for a census or a
//! uniform sample, where weights do not matter). Completions of one prompt are a cluster.
//!
//! ```
//! use nines_estimate::records::{FailureRecord, failure_rate};
//! let line = |prompt: &str, failure, inclusion_probability| FailureRecord {
//!     prompt: prompt.into(), failure, inclusion_probability };
//! // Prompt "a" was drawn with probability 0.5, "b" and "c" with 0.1 (ten times more common
//! // in the population than in the sample, relative to "a").
//! let records = [line("a", true, 0.5), line("a", false, 0.5), line("b", false, 0.1),
//!                line("c", false, 0.1)];
//! let r = failure_rate(&records, 0.95).unwrap();
//! assert!((r.rate.estimate.value - 0.5 * 2.0 / 22.0).abs() < 1e-12);
//! ```

use std::collections::HashMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cluster::{ClusterCount, WeightedCount};
use crate::error::{EstimateError, Result};
use crate::reliability::{WeightedFailureRate, weighted_failure_rate};
use crate::win_rate::{WeightedOptions, WeightedPair, WeightedWinRate, weighted_with};

fn one() -> f64 {
    1.0
}

/// One labeled completion: did it fail (an injury, say)?
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRecord {
    /// The prompt the completion continues (any id; completions of one prompt are a cluster).
    pub prompt: String,
    /// Whether the completion fails.
    pub failure: bool,
    /// The prompt's inclusion probability, in (0, 1]. Default 1.
    #[serde(default = "one")]
    pub inclusion_probability: f64,
}

/// One comparison of a policy's completion with the baseline's, for the win rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgmentRecord {
    /// The prompt both completions continue.
    pub prompt: String,
    /// 1 when the policy's completion is preferred, 0 when the baseline's, ½ for a tie (any
    /// value in [0, 1]). Needed unless `unfiltered_accepted` or `filtered_refused`.
    #[serde(default)]
    pub judgment: Option<f64>,
    /// The baseline's completion passed the filter, so the filtered policy's completion has
    /// its distribution: the pair is worth ½ without a judgment (the efficient protocol).
    #[serde(default)]
    pub unfiltered_accepted: bool,
    /// The policy refused the prompt: the pair is worth 0.
    #[serde(default)]
    pub filtered_refused: bool,
    /// The prompt's inclusion probability, in (0, 1]. Default 1.
    #[serde(default = "one")]
    pub inclusion_probability: f64,
}

/// Reads one record per line of a JSON-lines file (blank lines skipped). A line that is not
/// a record is an [`EstimateError::Input`] naming the file, the line and the field.
///
/// # Errors
/// [`EstimateError::Input`]: the file cannot be read (line 0), or a line cannot be parsed.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| EstimateError::Input {
        file: file.clone(),
        line: 0,
        message: e.to_string(),
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| EstimateError::Input {
                file: file.clone(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

/// Checks an inclusion probability and turns it into a design weight `1/π`.
fn weight(i: usize, probability: f64) -> Result<f64> {
    if probability.is_finite() && probability > 0.0 && probability <= 1.0 {
        Ok(1.0 / probability)
    } else {
        Err(EstimateError::Counts {
            what: format!("records[{i}].inclusion_probability"),
            detail: format!("{probability} is not in (0, 1]"),
        })
    }
}

/// Groups records by prompt (in order of first appearance), checking that every record of a
/// prompt gives it the same inclusion probability.
fn by_prompt<T>(
    records: &[T],
    prompt: impl Fn(&T) -> &str,
    probability: impl Fn(&T) -> f64,
) -> Result<(Vec<Vec<&T>>, Vec<f64>)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<Vec<&T>> = Vec::new();
    let mut weights = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let w = weight(i, probability(r))?;
        let next = groups.len();
        let g = *index.entry(prompt(r)).or_insert(next);
        if g == next {
            groups.push(Vec::new());
            weights.push(w);
        } else if weights[g] != w {
            return Err(EstimateError::Counts {
                what: format!("records[{i}].inclusion_probability"),
                detail: format!(
                    "prompt `{}` was given inclusion probability {} before",
                    prompt(r),
                    1.0 / weights[g]
                ),
            });
        }
        groups[g].push(r);
    }
    Ok((groups, weights))
}

/// The failure rate over the prompt distribution: each prompt's share of failing completions,
/// weighted by `1 / inclusion probability` (Hájek), with a cluster-robust interval and the
/// one-sided bound and nines line ([`weighted_failure_rate`]).
///
/// # Errors
/// No records; an inclusion probability outside (0, 1] or different between two records of
/// one prompt (named by record index); an invalid `level`.
pub fn failure_rate(records: &[FailureRecord], level: f64) -> Result<WeightedFailureRate> {
    let (groups, weights) = by_prompt(records, |r| &r.prompt, |r| r.inclusion_probability)?;
    let counts: Vec<WeightedCount> = groups
        .iter()
        .zip(weights)
        .map(|(g, weight)| WeightedCount {
            count: ClusterCount {
                events: g.iter().filter(|r| r.failure).count() as u64,
                trials: g.len() as u64,
            },
            weight,
        })
        .collect();
    weighted_failure_rate(&counts, level)
}

/// The win rate over the prompt distribution ([`weighted_with`]: refusals count 0, pairs
/// whose baseline was accepted ½, the rest their judgment; weighted by `1 / inclusion
/// probability`, cluster-robust over prompts), with the weights' diagnostics.
///
/// # Errors
/// Fewer than two records; a bad inclusion probability (as [`failure_rate`]); a judgment
/// missing where one is needed or outside [0, 1]; an invalid `level`.
pub fn win_rate(records: &[JudgmentRecord], level: f64) -> Result<WeightedWinRate> {
    let (groups, weights) = by_prompt(records, |r| &r.prompt, |r| r.inclusion_probability)?;
    let mut pairs = Vec::with_capacity(records.len());
    for (g, (members, weight)) in groups.iter().zip(weights).enumerate() {
        for r in members {
            pairs.push(WeightedPair {
                weight,
                unfiltered_accepted: r.unfiltered_accepted,
                filtered_refused: r.filtered_refused,
                judgment: r.judgment,
                prompt: Some(g as u64),
            });
        }
    }
    weighted_with(
        &pairs,
        &WeightedOptions {
            level,
            ..WeightedOptions::default()
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(prompt: &str, failure: bool, p: f64) -> FailureRecord {
        FailureRecord {
            prompt: prompt.into(),
            failure,
            inclusion_probability: p,
        }
    }

    #[test]
    fn equal_probabilities_give_the_plain_clustered_rate() {
        let records: Vec<FailureRecord> = (0..50)
            .flat_map(|i| (0..4).map(move |j| failure(&format!("p{i}"), i < 5 && j == 0, 0.3)))
            .collect();
        let r = failure_rate(&records, 0.95).unwrap();
        assert!((r.rate.estimate.value - 5.0 / 200.0).abs() < 1e-12);
        assert_eq!(r.rate.prompts, 50);
        assert_eq!(r.rate.estimate.n, 200);
        // One-sided 95%: above the estimate, below the two-sided 97.5% point, and the nines
        // line reads the same bound.
        assert!(
            r.upper > r.rate.estimate.value && r.upper < 0.08,
            "{}",
            r.upper
        );
        assert!(
            (r.nines.nines + r.upper.log10()).abs() < 0.05,
            "{:?}",
            r.nines
        );
    }

    #[test]
    fn weights_follow_inclusion_probabilities() {
        // One failing prompt drawn with probability 1, nine safe ones with 0.1: the failing
        // prompt stands for 1 of 91 population prompts.
        let mut records = vec![failure("bad", true, 1.0)];
        records.extend((0..9).map(|i| failure(&format!("ok{i}"), false, 0.1)));
        let r = failure_rate(&records, 0.95).unwrap();
        assert!((r.rate.estimate.value - 1.0 / 91.0).abs() < 1e-12);
    }

    #[test]
    fn inconsistent_or_bad_probabilities_name_the_record() {
        let err = failure_rate(&[failure("a", true, 0.5), failure("a", false, 0.25)], 0.95)
            .unwrap_err()
            .to_string();
        assert!(err.contains("records[1].inclusion_probability"), "{err}");
        for p in [0.0, -1.0, 1.5, f64::NAN] {
            let err = failure_rate(&[failure("a", true, p)], 0.95).unwrap_err();
            assert!(err.to_string().contains("records[0]"), "{p}: {err}");
        }
        assert!(failure_rate(&[], 0.95).is_err());
    }

    #[test]
    fn win_rate_counts_refusals_and_accepted_pairs() {
        let j =
            |prompt: &str, judgment: Option<f64>, accepted: bool, refused: bool| JudgmentRecord {
                prompt: prompt.into(),
                judgment,
                unfiltered_accepted: accepted,
                filtered_refused: refused,
                inclusion_probability: 1.0,
            };
        let records = [
            j("a", Some(1.0), false, false),
            j("b", None, true, false),
            j("c", None, false, true),
            j("d", Some(0.5), false, false),
        ];
        let w = win_rate(&records, 0.95).unwrap();
        assert!((w.win_rate.estimate.value - (1.0 + 0.5 + 0.0 + 0.5) / 4.0).abs() < 1e-12);
        assert!(
            win_rate(
                &[j("a", None, false, false), j("b", None, false, false)],
                0.95
            )
            .is_err()
        );
    }

    #[test]
    fn bad_lines_name_file_line_and_field() {
        let dir = std::env::temp_dir().join(format!("nines-records-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("labels.jsonl");
        std::fs::write(
            &path,
            "{\"prompt\": \"a\", \"failure\": true}\n\n{\"prompt\": \"b\"}\n",
        )
        .unwrap();
        let err = read_jsonl::<FailureRecord>(&path).unwrap_err().to_string();
        assert!(
            err.contains("labels.jsonl:3") && err.contains("failure"),
            "{err}"
        );
        std::fs::write(
            &path,
            "{\"prompt\": \"a\", \"failure\": true, \"weight\": 2}\n",
        )
        .unwrap();
        let err = read_jsonl::<FailureRecord>(&path).unwrap_err().to_string();
        assert!(err.contains(":1") && err.contains("weight"), "{err}");
        let err = read_jsonl::<FailureRecord>(&dir.join("missing.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.jsonl:0"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
