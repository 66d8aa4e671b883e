//! The run folder: every stage writes its outputs there and, when it has finished, a marker
//! `stages/<stage>.json` with a fingerprint of the settings it depends on. A re-run skips a
//! stage whose marker matches; a crash or Ctrl-C before the marker leaves the stage to be
//! redone, and finished stages are never touched.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::PipelineError;

/// The pipeline's stages, in order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Corpus → training (PPO) and test prompts, with inclusion probabilities.
    Prompts,
    /// The generator fine-tuned on the corpus's training chapters (cached).
    Finetune,
    /// Every corpus sentence as the completion of the three before it, and the generator's
    /// completions of injury-prone training prompts, oracle-labeled.
    Dataset,
    /// The injury classifier: training, threshold for the target FNR, test figures.
    Classifier,
    /// One active-learning round: boundary vs random labels, retraining.
    Active,
    /// The unfiltered generator's completions of the test prompts.
    Completions,
    /// Labels from the rule oracle (the stand-in for people).
    Labels,
    /// PPO distillation and the distilled generator's test completions.
    Distill,
    /// Rejection-sampling filter on the test prompts.
    Filter,
    /// Stand-in quality judgments and the classifier's verdicts per test prompt.
    Judge,
    /// Injury, flagged and win rates with confidence intervals.
    Estimates,
    /// `report.md` and its figures.
    Report,
}

impl Stage {
    /// All stages in order.
    pub const ALL: [Stage; 12] = [
        Stage::Prompts,
        Stage::Finetune,
        Stage::Dataset,
        Stage::Classifier,
        Stage::Active,
        Stage::Completions,
        Stage::Labels,
        Stage::Distill,
        Stage::Filter,
        Stage::Judge,
        Stage::Estimates,
        Stage::Report,
    ];

    /// The stage's name in files and flags.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Prompts => "prompts",
            Stage::Dataset => "dataset",
            Stage::Classifier => "classifier",
            Stage::Active => "active",
            Stage::Finetune => "finetune",
            Stage::Completions => "completions",
            Stage::Labels => "labels",
            Stage::Filter => "filter",
            Stage::Distill => "distill",
            Stage::Judge => "judge",
            Stage::Estimates => "estimates",
            Stage::Report => "report",
        }
    }
}

/// What a finished stage left behind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    /// Fingerprint of the settings the stage depended on.
    pub fingerprint: String,
    /// Seconds the stage took.
    pub seconds: f64,
    /// The stage's summary figures.
    pub summary: serde_json::Value,
}

/// A run folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Opens (creating) the folder.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, PipelineError> {
        let root = root.into();
        std::fs::create_dir_all(root.join("stages")).map_err(|e| PipelineError::io(&root, e))?;
        Ok(RunDir { root })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    fn marker(&self, stage: Stage) -> PathBuf {
        self.root
            .join("stages")
            .join(format!("{}.json", stage.name()))
    }

    /// The record of a finished stage whose fingerprint matches, if any.
    pub fn finished(&self, stage: Stage, fingerprint: &str) -> Option<StageRecord> {
        let text = std::fs::read_to_string(self.marker(stage)).ok()?;
        let record: StageRecord = serde_json::from_str(&text).ok()?;
        (record.fingerprint == fingerprint).then_some(record)
    }

    /// Marks a stage finished (atomically: temp file, fsync, rename).
    pub fn mark_finished(&self, stage: Stage, record: &StageRecord) -> Result<(), PipelineError> {
        let path = self.marker(stage);
        write_json(&path, record)
    }

    /// Forgets `stage` and every later stage (their outputs are rewritten when they rerun).
    pub fn invalidate_from(&self, stage: Stage) -> Result<(), PipelineError> {
        for s in Stage::ALL.iter().filter(|s| **s >= stage) {
            let m = self.marker(*s);
            if m.exists() {
                std::fs::remove_file(&m).map_err(|e| PipelineError::io(&m, e))?;
            }
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` crash-safely, through nines-data's one atomic file writer
/// ([`nines_data::store::write_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PipelineError> {
    nines_data::store::write_atomic(path, bytes).map_err(PipelineError::from)
}

/// Writes `value` as pretty-printed JSON to `path`, atomically (see [`write_atomic`]).
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), PipelineError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| super::other("json", e))?;
    write_atomic(path, text.as_bytes())
}

/// SHA-256 of a JSON value's text, hex, first 16 characters.
pub fn fingerprint(value: &serde_json::Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_skip_and_invalidate() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::open(dir.path()).unwrap();
        let rec = StageRecord {
            fingerprint: "abc".into(),
            seconds: 1.0,
            summary: serde_json::json!({"n": 3}),
        };
        assert!(run.finished(Stage::Prompts, "abc").is_none());
        run.mark_finished(Stage::Prompts, &rec).unwrap();
        run.mark_finished(Stage::Labels, &rec).unwrap();
        assert_eq!(run.finished(Stage::Prompts, "abc").unwrap().summary["n"], 3);
        assert!(
            run.finished(Stage::Prompts, "other").is_none(),
            "settings changed"
        );
        run.invalidate_from(Stage::Completions).unwrap();
        assert!(run.finished(Stage::Prompts, "abc").is_some());
        assert!(run.finished(Stage::Labels, "abc").is_none());
        assert_ne!(
            fingerprint(&serde_json::json!({"a": 1})),
            fingerprint(&serde_json::json!({"a": 2}))
        );
    }
}
