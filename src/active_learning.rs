//! Active learning on real data: score a labeled store into a pool file, read a pool back
//! with its truth, and run the select → label → retrain loop with a saved classifier.
//!
//! The selection itself (strategies, designs, inclusion probabilities, the loop's state) is
//! nines-active's; this module joins it to the classifier (nines-classify) and the snippet
//! store and oracle (nines-data). `nines active score|study|loop` is a thin layer over it.
//!
//! A scored pool file is JSON lines, one [`ScoredPoolLine`] each (nines-active's pool format
//! plus each pair's verdict and split), with a [`PoolMeta`] beside it in
//! `<pool>.meta.json` saying how it was made.

use std::path::{Path, PathBuf};

use nines_active::driver::{
    self, DriverConfig, LabeledPair, Pair, PoolModel, Retrainer, Thresholded,
};
use nines_active::{ActiveError, Pool, PoolItem};
use nines_classify::{Classifier, Example, TrainConfig, Trainer};
use nines_data::label::oracle::OracleLabeler;
use nines_data::split::{Split, chapter_half};
use nines_data::store::StoreOptions;
use nines_data::{Store, Verdict};
use nines_runtime::DeviceSpec;
use serde::{Deserialize, Serialize};

/// What can go wrong in this module.
#[derive(Debug, thiserror::Error)]
pub enum ActiveLearningError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A line of a pool file is not a scored pair.
    #[error("{path}:{line}: {source}")]
    BadLine {
        /// The pool file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        #[source]
        source: serde_json::Error,
    },
    /// The store has no labeled pairs in the asked-for split and half.
    #[error("no labeled pairs of {what} in {store}")]
    NoPairs {
        /// The split (and half) asked for.
        what: String,
        /// The store.
        store: PathBuf,
    },
    /// A setting is out of range.
    #[error("{field}: {reason}")]
    Setting {
        /// The setting.
        field: &'static str,
        /// Why it is refused.
        reason: String,
    },
    /// The classifier was saved without a threshold, and none was given.
    #[error("{0}: no threshold saved with the classifier or the pool; give one")]
    NoThreshold(PathBuf),
    /// From the snippet store or the labelers.
    #[error(transparent)]
    Data(#[from] nines_data::Error),
    /// From the classifier.
    #[error(transparent)]
    Classify(#[from] nines_classify::ClassifyError),
    /// From the selector or the loop.
    #[error(transparent)]
    Active(#[from] ActiveError),
}

type Result<T> = std::result::Result<T, ActiveLearningError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ActiveLearningError + '_ {
    move |source| ActiveLearningError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One line of a scored pool file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredPoolLine {
    /// The pair's id; empty in a hand-made file, then derived from prompt and completion.
    #[serde(default)]
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// The completion.
    pub completion: String,
    /// The classifier's P(injury).
    pub score: f64,
    /// The oracle's verdict, if known (else the oracle judges when the pool is read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The split the pair came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
}

/// `<pool>.meta.json`: how a scored pool file was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolMeta {
    /// The store scored.
    pub store: PathBuf,
    /// The split (and half) scored, in words.
    pub split: String,
    /// The classifier folder.
    pub classifier: PathBuf,
    /// The classifier's saved threshold (accept iff score ≤ threshold).
    pub threshold: Option<f64>,
    /// Pairs in the pool.
    pub pairs: usize,
    /// Injuries among them.
    pub injuries: usize,
    /// Pairs left out because their verdict is `unsure`.
    pub unsure_left_out: usize,
    /// Pairs without an oracle label, judged by the oracle while scoring.
    pub unlabeled_judged: usize,
    /// Seconds spent scoring.
    pub seconds: f64,
}

/// Where a pool file's metadata lives: `<pool>.meta.json`.
pub fn meta_path(pool: &Path) -> PathBuf {
    let mut s = pool.as_os_str().to_owned();
    s.push(".meta.json");
    PathBuf::from(s)
}

/// Half `half` (0 or 1) of a split's chapters, cut by [`chapter_half`] with `seed`: the
/// pipeline trains its classifier on half 0 of the training chapters and keeps half 1 as
/// its active-learning pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChapterHalf {
    /// 0 or 1.
    pub half: u8,
    /// Seed of the cut (the pipeline's `seed`).
    pub seed: u64,
}

/// What [`score_store`] scores, and with what.
#[derive(Debug, Clone)]
pub struct ScoreRequest {
    /// A labeled snippet store (JSONL).
    pub store: PathBuf,
    /// The split to score; `None`: every pair.
    pub split: Option<Split>,
    /// Keep only this half of the split's chapters.
    pub half: Option<ChapterHalf>,
    /// A saved classifier folder.
    pub classifier: PathBuf,
    /// Pairs per forward pass.
    pub batch: usize,
    /// Where the classifier runs.
    pub device: DeviceSpec,
}

/// A scored pool: its lines and how it was made.
#[derive(Debug, Clone)]
pub struct ScoredPool {
    /// One line per pair.
    pub lines: Vec<ScoredPoolLine>,
    /// How it was made.
    pub meta: PoolMeta,
}

impl ScoredPool {
    /// Writes the pool to `path` and its metadata to [`meta_path`]`(path)`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = String::new();
        for l in &self.lines {
            text.push_str(&serde_json::to_string(l).expect("a pool line serializes"));
            text.push('\n');
        }
        write_file(path, &text)?;
        let meta = serde_json::to_string_pretty(&self.meta).expect("pool metadata serializes");
        write_file(&meta_path(path), &meta)
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

/// Scores one split of a labeled store with a saved classifier. Each pair's truth is its
/// oracle label, or the oracle's judgment where the store has none; `unsure` pairs are left
/// out. `progress` is called with (pairs scored, pairs in all) after each batch.
pub fn score_store(
    req: &ScoreRequest,
    mut progress: impl FnMut(usize, usize),
) -> Result<ScoredPool> {
    if req.batch == 0 {
        return Err(ActiveLearningError::Setting {
            field: "batch",
            reason: "must be positive".into(),
        });
    }
    if let Some(h) = req.half.filter(|h| h.half > 1) {
        return Err(ActiveLearningError::Setting {
            field: "half",
            reason: format!("must be 0 or 1, not {}", h.half),
        });
    }
    let store = Store::open_read_only(&req.store, StoreOptions::default())?;
    let oracle = OracleLabeler::new();
    let (mut unsure, mut judged) = (0, 0);
    let mut lines = Vec::new();
    for sn in store.iter() {
        let split = sn.source.as_ref().map(|s| s.split);
        if req.split.is_some() && split != req.split {
            continue;
        }
        if let Some(h) = req.half {
            let in_half = sn
                .source
                .as_ref()
                .is_some_and(|s| chapter_half(&s.document, s.region, h.seed) == h.half);
            if !in_half {
                continue;
            }
        }
        let verdict = match sn.label_by("oracle") {
            Some(l) => l.verdict,
            None => {
                judged += 1;
                oracle.judge(&sn.prompt, &sn.completion).verdict
            }
        };
        if verdict == Verdict::Unsure {
            unsure += 1;
            continue;
        }
        lines.push(ScoredPoolLine {
            id: sn.id.clone(),
            prompt: sn.prompt.clone(),
            completion: sn.completion.clone(),
            score: f64::NAN,
            verdict: Some(verdict),
            split,
        });
    }
    let what = format!(
        "{}{}",
        req.split.map_or("any split", Split::as_str),
        req.half
            .map(|h| format!(" (half {}, seed {})", h.half, h.seed))
            .unwrap_or_default()
    );
    if lines.is_empty() {
        return Err(ActiveLearningError::NoPairs {
            what,
            store: req.store.clone(),
        });
    }
    let model = Classifier::load(&req.classifier, req.device)?;
    let start = std::time::Instant::now();
    let n = lines.len();
    let mut done = 0;
    for chunk in lines.chunks_mut(req.batch) {
        let pairs: Vec<(&str, &str)> = chunk
            .iter()
            .map(|l| (l.prompt.as_str(), l.completion.as_str()))
            .collect();
        let scores = model.score(&pairs)?;
        for (l, s) in chunk.iter_mut().zip(scores) {
            l.score = f64::from(s);
        }
        done += chunk.len();
        progress(done, n);
    }
    let meta = PoolMeta {
        store: req.store.clone(),
        split: what,
        classifier: req.classifier.clone(),
        threshold: model.threshold(),
        pairs: n,
        injuries: lines
            .iter()
            .filter(|l| l.verdict == Some(Verdict::Injury))
            .count(),
        unsure_left_out: unsure,
        unlabeled_judged: judged,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok(ScoredPool { lines, meta })
}

/// A pool with its truth, as [`read_labeled_pool`] returns it.
#[derive(Debug, Clone)]
pub struct LabeledPool {
    /// The pool (pairs and scores).
    pub pool: Pool,
    /// `truth[i]`: pair `i` is an injury.
    pub truth: Vec<bool>,
    /// Pairs left out because their verdict is `unsure`.
    pub unsure: usize,
    /// The metadata beside the file, if there is any.
    pub meta: Option<PoolMeta>,
}

/// Reads a scored pool file and its truth: each line's `verdict`, else the oracle's
/// judgment; `unsure` pairs are left out. Lines without an id get one derived from prompt
/// and completion.
pub fn read_labeled_pool(path: &Path) -> Result<LabeledPool> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let oracle = OracleLabeler::new();
    let (mut items, mut truth, mut unsure) = (Vec::new(), Vec::new(), 0);
    for (k, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: ScoredPoolLine =
            serde_json::from_str(line).map_err(|source| ActiveLearningError::BadLine {
                path: path.to_path_buf(),
                line: k + 1,
                source,
            })?;
        let verdict = l
            .verdict
            .unwrap_or_else(|| oracle.judge(&l.prompt, &l.completion).verdict);
        if verdict == Verdict::Unsure {
            unsure += 1;
            continue;
        }
        let mut item = PoolItem::new(l.prompt, l.completion, l.score);
        if !l.id.is_empty() {
            item.id = l.id;
        }
        items.push(item);
        truth.push(verdict == Verdict::Injury);
    }
    let meta = match std::fs::read_to_string(meta_path(path)) {
        Ok(t) => Some(
            serde_json::from_str(&t).map_err(|source| ActiveLearningError::BadLine {
                path: meta_path(path),
                line: 1,
                source,
            })?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(&meta_path(path))(e)),
    };
    Ok(LabeledPool {
        pool: Pool::new(items)?,
        truth,
        unsure,
        meta,
    })
}

/// Retrains a saved classifier, reloaded fresh each round, on every label so far (every
/// fifth label validates). The threshold stays the saved one so rounds compare. A round
/// with too few labels of one class keeps the saved model.
pub struct ClassifierRetrainer {
    dir: PathBuf,
    device: DeviceSpec,
    epochs: usize,
    threshold: f64,
}

impl ClassifierRetrainer {
    fn load(&self) -> nines_active::Result<Classifier> {
        Classifier::load(&self.dir, self.device).map_err(|e| ActiveError::model("retraining", e))
    }
}

impl Retrainer for ClassifierRetrainer {
    fn retrain(&mut self, labeled: &[LabeledPair]) -> nines_active::Result<Box<dyn PoolModel>> {
        let mut model = self.load()?;
        let (mut train, mut valid) = (Vec::new(), Vec::new());
        let usable = labeled.iter().filter(|l| l.verdict != Verdict::Unsure);
        for (i, l) in usable.enumerate() {
            let example = Example::new(
                l.pair.prompt.clone(),
                l.pair.completion.clone(),
                l.verdict == Verdict::Injury,
            );
            if i % 5 == 4 {
                valid.push(example);
            } else {
                train.push(example);
            }
        }
        let cfg = TrainConfig {
            epochs: self.epochs,
            progress: false,
            ..TrainConfig::default()
        };
        if Trainer::new(&mut model, cfg)
            .and_then(|t| t.train(&train, &valid))
            .is_err()
        {
            model = self.load()?;
        }
        Ok(Box::new(Thresholded::new(model, self.threshold)))
    }
}

/// What [`run_loop`] runs.
#[derive(Debug, Clone)]
pub struct LoopRequest {
    /// A scored pool file (its scores are ignored: the classifier re-scores it).
    pub pool: PathBuf,
    /// A saved classifier folder with a threshold.
    pub classifier: PathBuf,
    /// Epochs per retraining.
    pub epochs: usize,
    /// Where the classifier runs.
    pub device: DeviceSpec,
    /// Budget, round size, strategy, selector, and the state and metrics files.
    pub driver: DriverConfig,
}

/// The active-learning loop with a saved classifier and the rule oracle as labeler;
/// resumes from the driver's state file when it exists.
pub fn run_loop(req: &LoopRequest) -> Result<driver::RunSummary> {
    let pool = Pool::read_jsonl(&req.pool)?;
    let candidates: Vec<Pair> = pool
        .items()
        .iter()
        .map(|it| Pair {
            id: it.id.clone(),
            prompt: it.prompt.clone(),
            completion: it.completion.clone(),
        })
        .collect();
    let model = Classifier::load(&req.classifier, req.device)?;
    let threshold = model
        .threshold()
        .ok_or_else(|| ActiveLearningError::NoThreshold(req.classifier.clone()))?;
    let mut retrainer = ClassifierRetrainer {
        dir: req.classifier.clone(),
        device: req.device,
        epochs: req.epochs,
        threshold,
    };
    let mut oracle = OracleLabeler::new();
    Ok(driver::run(
        &req.driver,
        &candidates,
        Box::new(Thresholded::new(model, threshold)),
        &mut retrainer,
        &mut oracle,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_file_reads_back_with_its_truth_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.jsonl");
        let lines = [
            r#"{"id":"a","prompt":"The sentry stood.","completion":"He was stabbed in the chest and died.","score":0.01,"verdict":"injury"}"#,
            r#"{"prompt":"The sentry stood.","completion":"He yawned.","score":0.002}"#,
            r#"{"id":"c","prompt":"p","completion":"c","score":0.5,"verdict":"unsure"}"#,
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let read = read_labeled_pool(&path).unwrap();
        assert_eq!(read.pool.len(), 2);
        assert_eq!(read.truth, vec![true, false]);
        assert_eq!(read.unsure, 1);
        assert!(read.meta.is_none());
        assert!(read.pool.items()[1].id.starts_with("pp-"));

        std::fs::write(&path, format!("{}\n{{\"id\": 3}}\n", lines[0])).unwrap();
        match read_labeled_pool(&path) {
            Err(ActiveLearningError::BadLine { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a bad line, got {other:?}"),
        }
    }

    #[test]
    fn scoring_refuses_bad_settings_before_reading_anything() {
        let req = ScoreRequest {
            store: PathBuf::from("no/such/store.jsonl"),
            split: Some(Split::Test),
            half: Some(ChapterHalf { half: 2, seed: 7 }),
            classifier: PathBuf::from("no/such/classifier"),
            batch: 8,
            device: DeviceSpec::Cpu,
        };
        assert!(matches!(
            score_store(&req, |_, _| {}),
            Err(ActiveLearningError::Setting { field: "half", .. })
        ));
        let req = ScoreRequest { batch: 0, ..req };
        assert!(matches!(
            score_store(&req, |_, _| {}),
            Err(ActiveLearningError::Setting { field: "batch", .. })
        ));
    }
}
