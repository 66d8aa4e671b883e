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
    /// What the stage produced.
    pub output: super::outputs::StageOutput,
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
    let text = serde_json::to_string_pretty(value).map_err(PipelineError::Serialize)?;
    write_atomic(path, text.as_bytes())
}

/// Reads a JSON file written by [`write_json`] as the type that wrote it.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, PipelineError> {
    let text = std::fs::read_to_string(path).map_err(|e| PipelineError::io(path, e))?;
    serde_json::from_str(&text).map_err(|source| PipelineError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// SHA-256 of what a model path holds, hex, first 16 characters: a file's bytes, or a
/// folder's files (names and bytes, in name order, one level deep).
pub fn content_digest(path: &Path) -> Result<String, PipelineError> {
    use std::io::Read as _;
    let mut files = Vec::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| PipelineError::io(path, e))? {
            let entry = entry.map_err(|e| PipelineError::io(path, e))?;
            if entry.path().is_file() {
                files.push(entry.path());
            }
        }
        files.sort();
    } else {
        files.push(path.to_path_buf());
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for f in files {
        h.update(f.file_name().unwrap_or_default().as_encoded_bytes());
        h.update([0u8]);
        let mut file = std::fs::File::open(&f).map_err(|e| PipelineError::io(&f, e))?;
        loop {
            let n = file.read(&mut buf).map_err(|e| PipelineError::io(&f, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect())
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
            output: super::super::outputs::StageOutput::Report(
                super::super::outputs::ReportOutput {
                    report: "report.md".into(),
                },
            ),
        };
        assert!(run.finished(Stage::Prompts, "abc").is_none());
        run.mark_finished(Stage::Prompts, &rec).unwrap();
        run.mark_finished(Stage::Labels, &rec).unwrap();
        let back = run.finished(Stage::Prompts, "abc").unwrap();
        assert_eq!(back.output.brief(), "report.md");
        // A record another version of the code wrote does not parse: its stage runs again.
        std::fs::write(
            dir.path().join("stages/prompts.json"),
            r#"{"fingerprint": "abc", "seconds": 1.0, "summary": {"n": 3}}"#,
        )
        .unwrap();
        assert!(run.finished(Stage::Prompts, "abc").is_none());
        run.mark_finished(Stage::Prompts, &rec).unwrap();
        assert!(
            run.finished(Stage::Prompts, "other").is_none(),
            "settings changed"
        );
        run.invalidate_from(Stage::Completions).unwrap();
        assert!(run.finished(Stage::Prompts, "abc").is_some());
        assert!(run.finished(Stage::Labels, "abc").is_none());
        // A model's digest follows its bytes, not its name.
        let model = dir.path().join("m.gguf");
        std::fs::write(&model, b"weights").unwrap();
        let before = content_digest(&model).unwrap();
        std::fs::write(&model, b"weightz").unwrap();
        assert_ne!(before, content_digest(&model).unwrap());
        assert!(content_digest(&dir.path().join("missing")).is_err());
        assert_ne!(
            fingerprint(&serde_json::json!({"a": 1})),
            fingerprint(&serde_json::json!({"a": 2}))
        );
    }
}
