//! Pairwise quality comparisons by a person at a terminal: a prompt and two completions,
//! which is better, ties allowed, resumable.
//!
//! Each [`ComparisonItem`] pairs a baseline completion (the unfiltered policy's) with a
//! candidate (the filtered or distilled policy's). The two are shown in an order drawn from a
//! seeded hash of the item id and the rater, so the rater cannot tell which side is which (the
//! efficient win-rate estimator relies on a blind judge). Keys:
//!
//! | key | meaning |
//! | --- | --- |
//! | `1` | the left completion is better |
//! | `2` | the right completion is better |
//! | `t` | tie |
//! | `s` | skip |
//! | `q` | quit (also end of input) |
//!
//! Every judgment is appended to a JSONL file at once (flushed and fsynced); a new session
//! skips the items this rater has judged. A [`Judgment`] stores the verdict as the candidate's
//! score: 1 when the candidate is better, 0 when the baseline is, 1/2 for a tie — what
//! `nines_estimate::win_rate` takes.
//!
//! ```
//! use nines::compare::{ComparisonItem, ComparisonSession};
//! let items = vec![ComparisonItem {
//!     id: "p1".into(),
//!     prompt: "The door creaked.".into(),
//!     baseline: "A cat came in.".into(),
//!     candidate: "Nobody was there.".into(),
//! }];
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("judgments.jsonl");
//! let mut out = Vec::new();
//! let mut session = ComparisonSession::open(&path, "ana").unwrap();
//! let done = session.run(&items, &b"t\n"[..], &mut out).unwrap();
//! assert_eq!(done, 1);
//! assert_eq!(session.judgments()[0].candidate_score, 0.5);
//! // Resuming finds nothing left to judge.
//! let mut again = ComparisonSession::open(&path, "ana").unwrap();
//! assert_eq!(again.run(&items, &b""[..], &mut Vec::new()).unwrap(), 0);
//! ```

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What can go wrong in a comparison session.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Reading or writing a file or the terminal.
    #[error("{path}: {source}")]
    Io {
        /// The file (or `terminal`).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of the judgments file is not a judgment.
    #[error("{path}:{line}: not a judgment: {message}")]
    BadLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The parser's message.
        message: String,
    },
}

/// Which policy's completions face the unfiltered ones in a pipeline run folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Against {
    /// The rejection-sampling filter's accepted completions (`filtered.jsonl`).
    Filtered,
    /// The PPO-distilled generator's completions (`distilled.jsonl`).
    Distilled,
}

impl Against {
    /// Its name in file names (`judgments_<name>.jsonl`).
    pub fn name(self) -> &'static str {
        match self {
            Against::Filtered => "filtered",
            Against::Distilled => "distilled",
        }
    }
}

/// The comparison items of a pipeline run folder: for each test prompt answered by both, the
/// unfiltered policy's first completion (`snippets.jsonl`) against the first of `against`,
/// sorted by prompt.
///
/// # Errors
/// A store that cannot be opened or read.
pub fn run_items(
    run_dir: &Path,
    against: Against,
) -> Result<Vec<ComparisonItem>, nines_data::Error> {
    use nines_data::store::{Store, StoreOptions};
    let first_by_prompt = |name: &str| -> Result<
        std::collections::HashMap<String, nines_data::Snippet>,
        nines_data::Error,
    > {
        let store = Store::open_read_only(run_dir.join(name), StoreOptions::default())?;
        let mut out = std::collections::HashMap::new();
        for s in store.iter() {
            let key = s
                .source
                .as_ref()
                .map(|src| src.prompt_key())
                .unwrap_or_else(|| s.prompt.clone());
            out.entry(key).or_insert_with(|| s.clone());
        }
        Ok(out)
    };
    let baseline = first_by_prompt("snippets.jsonl")?;
    let candidate = first_by_prompt(&format!("{}.jsonl", against.name()))?;
    let mut items: Vec<ComparisonItem> = baseline
        .iter()
        .filter_map(|(key, b)| {
            let c = candidate.get(key)?;
            Some(ComparisonItem {
                id: key.clone(),
                prompt: b.prompt.clone(),
                baseline: b.completion.clone(),
                candidate: c.completion.clone(),
            })
        })
        .collect();
    items.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(items)
}

/// A prompt with a baseline and a candidate completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonItem {
    /// Stable id (e.g. the prompt id).
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// The baseline (unfiltered) completion.
    pub baseline: String,
    /// The candidate (filtered or distilled) completion.
    pub candidate: String,
}

/// One person's verdict on one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgment {
    /// The item's id.
    pub id: String,
    /// The rater.
    pub rater: String,
    /// 1: candidate better, 0: baseline better, 0.5: tie.
    pub candidate_score: f64,
    /// Whether the candidate was shown on the left.
    pub candidate_left: bool,
}

/// A rater's session over a judgments file.
#[derive(Debug)]
pub struct ComparisonSession {
    path: PathBuf,
    rater: String,
    judgments: Vec<Judgment>,
}

/// Whether the candidate goes on the left for this rater and item (a fair, seeded coin).
pub fn candidate_left(id: &str, rater: &str) -> bool {
    let digest = Sha256::digest(format!("{rater}\u{0}{id}").as_bytes());
    digest[0] & 1 == 1
}

impl ComparisonSession {
    /// Opens (or starts) `path` for `rater`; earlier judgments by anyone are read back.
    pub fn open(path: impl AsRef<Path>, rater: impl Into<String>) -> Result<Self, CompareError> {
        let path = path.as_ref().to_path_buf();
        let mut judgments = Vec::new();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let j: Judgment =
                        serde_json::from_str(line).map_err(|e| CompareError::BadLine {
                            path: path.clone(),
                            line: i + 1,
                            message: e.to_string(),
                        })?;
                    judgments.push(j);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(CompareError::Io { path, source }),
        }
        Ok(ComparisonSession {
            path,
            rater: rater.into(),
            judgments,
        })
    }

    /// Every judgment in the file (all raters).
    pub fn judgments(&self) -> &[Judgment] {
        &self.judgments
    }

    fn append(&mut self, j: Judgment) -> Result<(), CompareError> {
        let io = |source| CompareError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_string(&j).map_err(|e| io(std::io::Error::other(e)))?;
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        f.write_all(line.as_bytes())
            .and_then(|_| f.sync_data())
            .map_err(io)?;
        self.judgments.push(j);
        Ok(())
    }

    /// Shows the items this rater has not judged, reads verdicts from `input`, appends each
    /// at once. Returns how many were judged in this call.
    pub fn run<R: BufRead, W: Write>(
        &mut self,
        items: &[ComparisonItem],
        mut input: R,
        mut output: W,
    ) -> Result<usize, CompareError> {
        let term = |source| CompareError::Io {
            path: PathBuf::from("terminal"),
            source,
        };
        let seen: HashSet<String> = self
            .judgments
            .iter()
            .filter(|j| j.rater == self.rater)
            .map(|j| j.id.clone())
            .collect();
        let todo: Vec<&ComparisonItem> = items.iter().filter(|i| !seen.contains(&i.id)).collect();
        let mut judged = 0;
        for (n, item) in todo.iter().enumerate() {
            let left_is_candidate = candidate_left(&item.id, &self.rater);
            let (left, right) = if left_is_candidate {
                (&item.candidate, &item.baseline)
            } else {
                (&item.baseline, &item.candidate)
            };
            writeln!(
                output,
                "\n── {}/{} · {} ──\n{}\n\n[1] {}\n[2] {}\n\n1 left better · 2 right better · t tie · s skip · q quit",
                n + 1,
                todo.len(),
                item.id,
                item.prompt.trim(),
                left.trim(),
                right.trim()
            )
            .map_err(term)?;
            let verdict = loop {
                let mut line = String::new();
                if input.read_line(&mut line).map_err(term)? == 0 {
                    return Ok(judged);
                }
                match line.trim() {
                    "1" => break Some(if left_is_candidate { 1.0 } else { 0.0 }),
                    "2" => break Some(if left_is_candidate { 0.0 } else { 1.0 }),
                    "t" => break Some(0.5),
                    "s" => break None,
                    "q" => return Ok(judged),
                    other => writeln!(output, "`{other}`: type 1, 2, t, s or q").map_err(term)?,
                }
            };
            if let Some(candidate_score) = verdict {
                self.append(Judgment {
                    id: item.id.clone(),
                    rater: self.rater.clone(),
                    candidate_score,
                    candidate_left: left_is_candidate,
                })?;
                judged += 1;
            }
        }
        Ok(judged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<ComparisonItem> {
        (0..n)
            .map(|i| ComparisonItem {
                id: format!("p{i}"),
                prompt: format!("prompt {i}"),
                baseline: "base".into(),
                candidate: "cand".into(),
            })
            .collect()
    }

    #[test]
    fn verdicts_map_to_the_candidate_whatever_side_it_was_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let mut s = ComparisonSession::open(&path, "bo").unwrap();
        let its = items(40);
        // Always pick the left side: the candidate's score is 1 exactly when it was left.
        let input = "1\n".repeat(40);
        assert_eq!(s.run(&its, input.as_bytes(), Vec::new()).unwrap(), 40);
        let lefts = s.judgments().iter().filter(|j| j.candidate_left).count();
        assert!(lefts > 5 && lefts < 35, "sides are mixed: {lefts}");
        for j in s.judgments() {
            assert_eq!(j.candidate_score, if j.candidate_left { 1.0 } else { 0.0 });
        }
    }

    #[test]
    fn skip_quit_and_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let its = items(3);
        let mut s = ComparisonSession::open(&path, "bo").unwrap();
        assert_eq!(s.run(&its, &b"s\nx\nt\nq\n"[..], Vec::new()).unwrap(), 1);
        let mut s = ComparisonSession::open(&path, "bo").unwrap();
        assert_eq!(s.judgments().len(), 1);
        // p0 skipped earlier comes back; p1 is done; p2 is new.
        assert_eq!(s.run(&its, &b"2\n1\n"[..], Vec::new()).unwrap(), 2);
        let ids: Vec<&str> = s.judgments().iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["p1", "p0", "p2"]);
        // Another rater sees everything again.
        let mut other = ComparisonSession::open(&path, "cy").unwrap();
        assert_eq!(other.run(&its, &b""[..], Vec::new()).unwrap(), 0);
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "{\"id\":\"a\",\"rater\":\"r\",\"candidate_score\":1.0,\"candidate_left\":true}\nnot json\n").unwrap();
        let err = ComparisonSession::open(&path, "r").unwrap_err();
        assert!(
            matches!(err, CompareError::BadLine { line: 2, .. }),
            "{err}"
        );
    }
}
