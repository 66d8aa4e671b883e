//! The pool: unlabeled (prompt, completion) pairs with the classifier's scores.
//!
//! # Scored pool file (JSONL, one pair per line)
//!
//! ```json
//! {"id": "sn-3f2a9c0d1b7e4a55", "prompt": "Three sentences...", "completion": "One sentence.",
//!  "score": 0.0042, "members": [0.003, 0.006, 0.004], "embedding": [0.12, -0.3, ...]}
//! ```
//!
//! - `score` (required): the classifier's calibrated `P(injury)`, in [0, 1].
//! - `id` (optional): a unique id (a nines-data snippet id when the pair came from a store);
//!   when absent, `pp-` and 16 hex digits of a hash of prompt and completion.
//! - `members` (optional): each ensemble member's `P(injury)`, same count on every line;
//!   needed by the disagreement strategies.
//! - `embedding` (optional): a vector (e.g. the classifier's pooled representation), same
//!   length on every line; needed by the k-center diverse design.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ActiveError, Result};

/// One scored, unlabeled pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolItem {
    /// Unique id within the pool.
    pub id: String,
    /// The prompt text.
    pub prompt: String,
    /// The completion text.
    pub completion: String,
    /// The classifier's `P(injury)`, in [0, 1].
    pub score: f64,
    /// Ensemble members' `P(injury)`, if the scorer is an ensemble.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<f64>>,
    /// An embedding of the pair, for diversity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
}

impl PoolItem {
    /// A pair with only a score; its id derived from prompt and completion.
    pub fn new(prompt: impl Into<String>, completion: impl Into<String>, score: f64) -> Self {
        let prompt = prompt.into();
        let completion = completion.into();
        PoolItem {
            id: default_id(&prompt, &completion),
            prompt,
            completion,
            score,
            members: None,
            embedding: None,
        }
    }
}

/// `pp-` and 16 hex digits of a stable hash of prompt and completion.
pub fn default_id(prompt: &str, completion: &str) -> String {
    let h = nines_data::record::hash64(&[prompt.as_bytes(), completion.as_bytes()]);
    format!("pp-{h:016x}")
}

#[derive(Deserialize)]
struct RawItem {
    #[serde(default)]
    id: Option<String>,
    prompt: String,
    completion: String,
    score: f64,
    #[serde(default)]
    members: Option<Vec<f64>>,
    #[serde(default)]
    embedding: Option<Vec<f32>>,
}

/// A validated pool: non-empty, unique ids, every score a finite probability and not all
/// zero, ensemble member counts and embedding lengths the same on every pair.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool {
    items: Vec<PoolItem>,
}

impl Pool {
    /// Validates `items` into a pool (see [`Pool`] for the checks).
    pub fn new(items: Vec<PoolItem>) -> Result<Pool> {
        if items.is_empty() {
            return Err(ActiveError::EmptyPool);
        }
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, it) in items.iter().enumerate() {
            if let Some(&first) = seen.get(it.id.as_str()) {
                return Err(ActiveError::DuplicateId {
                    id: it.id.clone(),
                    first,
                    second: i,
                });
            }
            seen.insert(&it.id, i);
            check_probability(i, &it.id, "score".into(), it.score)?;
            if let Some(m) = &it.members {
                let expected = items[0].members.as_ref().map_or(0, Vec::len);
                if m.len() != expected || m.is_empty() {
                    return Err(ActiveError::Ragged {
                        what: "ensemble member scores",
                        index: i,
                        id: it.id.clone(),
                        expected,
                        got: m.len(),
                    });
                }
                for (k, &p) in m.iter().enumerate() {
                    check_probability(i, &it.id, format!("members[{k}]"), p)?;
                }
            }
            if let Some(e) = &it.embedding {
                let expected = items[0].embedding.as_ref().map_or(0, Vec::len);
                if e.len() != expected || e.is_empty() {
                    return Err(ActiveError::Ragged {
                        what: "embedding dimensions",
                        index: i,
                        id: it.id.clone(),
                        expected,
                        got: e.len(),
                    });
                }
                if let Some((k, v)) = e.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(ActiveError::BadScore {
                        index: i,
                        id: it.id.clone(),
                        field: format!("embedding[{k}]"),
                        value: f64::from(*v),
                    });
                }
            }
        }
        if items.iter().all(|it| it.score == 0.0) {
            return Err(ActiveError::AllZeroScores { n: items.len() });
        }
        Ok(Pool { items })
    }

    /// Reads a scored pool file (see the module docs); a bad line is an error naming
    /// `file:line`, and the pool is validated as by [`Pool::new`].
    pub fn read_jsonl(path: impl AsRef<Path>) -> Result<Pool> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ActiveError::io(path, e))?;
        let mut items = Vec::new();
        for (k, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let raw: RawItem = serde_json::from_str(line).map_err(|e| ActiveError::BadLine {
                path: path.to_path_buf(),
                line: k + 1,
                reason: e.to_string(),
            })?;
            let id = raw
                .id
                .unwrap_or_else(|| default_id(&raw.prompt, &raw.completion));
            items.push(PoolItem {
                id,
                prompt: raw.prompt,
                completion: raw.completion,
                score: raw.score,
                members: raw.members,
                embedding: raw.embedding,
            });
        }
        Pool::new(items)
    }

    /// Writes the pool as a scored pool file, atomically.
    pub fn write_jsonl(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut lines = Vec::with_capacity(self.items.len());
        for it in &self.items {
            lines.push(serde_json::to_string(it).map_err(|e| ActiveError::BadLine {
                path: path.to_path_buf(),
                line: lines.len() + 1,
                reason: e.to_string(),
            })?);
        }
        nines_data::store::write_lines_atomic(path, lines.iter().map(String::as_str))?;
        Ok(())
    }

    /// The pairs, in pool order.
    pub fn items(&self) -> &[PoolItem] {
        &self.items
    }

    /// Number of pairs (never zero).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Always false: a pool is never empty. Present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The scores, in pool order.
    pub fn scores(&self) -> Vec<f64> {
        self.items.iter().map(|it| it.score).collect()
    }

    /// Pool positions grouped by prompt text (groups in first-appearance order).
    pub fn prompt_groups(&self) -> Vec<Vec<usize>> {
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for (i, it) in self.items.iter().enumerate() {
            let g = *index.entry(&it.prompt).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[g].push(i);
        }
        groups
    }

    /// The member scores of pair `i`, or [`ActiveError::MissingData`] naming `strategy`.
    pub fn members_of(&self, i: usize, strategy: &str) -> Result<&[f64]> {
        let it = &self.items[i];
        it.members
            .as_deref()
            .ok_or_else(|| ActiveError::MissingData {
                strategy: strategy.to_string(),
                needs: "ensemble member scores",
                index: i,
                id: it.id.clone(),
            })
    }

    /// The embedding of every pair, or [`ActiveError::MissingData`] naming `strategy`.
    pub fn embeddings(&self, strategy: &str) -> Result<Vec<&[f32]>> {
        self.items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                it.embedding
                    .as_deref()
                    .ok_or_else(|| ActiveError::MissingData {
                        strategy: strategy.to_string(),
                        needs: "embeddings",
                        index: i,
                        id: it.id.clone(),
                    })
            })
            .collect()
    }

    /// The sub-pool of the given positions (in that order), or `None` when it is empty.
    pub fn subset(&self, positions: &[usize]) -> Result<Pool> {
        Pool::new(positions.iter().map(|&i| self.items[i].clone()).collect())
    }
}

fn check_probability(index: usize, id: &str, field: String, value: f64) -> Result<()> {
    if value.is_finite() && (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ActiveError::BadScore {
            index,
            id: id.to_string(),
            field,
            value,
        })
    }
}
