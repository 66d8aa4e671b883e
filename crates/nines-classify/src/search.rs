//! Hyperparameter search: a grid or seeded random sample over learning rate, head dropout,
//! clip norm, loss and positive weight; each trial trains a fresh classifier, is written as a
//! line of `trials.jsonl`, and all of them as a Markdown table `trials.md`.
//!
//! The best trial is chosen by a stated rule, in order: the lowest Clopper-Pearson upper bound
//! on the validation false-negative rate at the chosen threshold, then the lowest rejection
//! rate of safe validation completions at that threshold, then the highest validation AUPRC.

use std::io::Write;
use std::path::Path;

use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::classifier::Classifier;
use crate::config::{ClassifierConfig, LossKind, TrainConfig};
use crate::error::{ClassifyError, Result};
use crate::example::Example;
use crate::trainer::{TrainReport, Trainer};

/// The values to try for each hyperparameter (each list non-empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    /// Peak learning rates.
    pub learning_rate: Vec<f64>,
    /// Head dropout probabilities.
    pub head_dropout: Vec<f64>,
    /// Gradient clip norms (None: no clipping).
    pub clip_norm: Vec<Option<f64>>,
    /// Losses.
    pub loss: Vec<LossKind>,
    /// Positive-class weights.
    pub pos_weight: Vec<f64>,
}

impl Default for SearchSpace {
    fn default() -> Self {
        SearchSpace {
            learning_rate: vec![2e-5, 5e-5, 1e-4],
            head_dropout: vec![0.0, 0.1],
            clip_norm: vec![Some(1.0)],
            loss: vec![LossKind::Bce, LossKind::Focal],
            pos_weight: vec![1.0, 4.0],
        }
    }
}

/// How trials are drawn from the space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// Every combination.
    Grid,
    /// `trials` combinations drawn uniformly (with replacement) with `seed`.
    Random {
        /// Number of trials.
        trials: usize,
        /// Seed of the draw.
        seed: u64,
    },
}

/// One combination of hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialParams {
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Head dropout.
    pub head_dropout: f64,
    /// Clip norm.
    pub clip_norm: Option<f64>,
    /// Loss.
    pub loss: LossKind,
    /// Positive weight.
    pub pos_weight: f64,
}

/// A finished trial.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    /// Index in the search.
    pub index: usize,
    /// Its hyperparameters.
    pub params: TrialParams,
    /// The training report (validation metrics and threshold included).
    pub report: TrainReport,
}

impl Trial {
    fn key(&self) -> (f64, f64, f64) {
        let t = self.report.threshold.as_ref();
        (
            t.map_or(1.0, |t| t.fnr_upper),
            t.map_or(1.0, |t| t.safe_rejection_rate),
            -self.report.valid.as_ref().map_or(0.0, |m| m.auprc),
        )
    }
}

/// All trials and the chosen one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchReport {
    /// Trials in the order run.
    pub trials: Vec<Trial>,
    /// Index (into `trials`) of the best by the module's rule.
    pub best: usize,
}

/// The combinations a mode yields.
pub fn combinations(space: &SearchSpace, mode: SearchMode) -> Result<Vec<TrialParams>> {
    let lens = [
        space.learning_rate.len(),
        space.head_dropout.len(),
        space.clip_norm.len(),
        space.loss.len(),
        space.pos_weight.len(),
    ];
    let names = [
        "learning_rate",
        "head_dropout",
        "clip_norm",
        "loss",
        "pos_weight",
    ];
    if let Some(i) = lens.iter().position(|&l| l == 0) {
        return Err(ClassifyError::config(
            format!("search.{}", names[i]),
            "needs at least one value",
        ));
    }
    let mut grid = Vec::new();
    for &lr in &space.learning_rate {
        for &d in &space.head_dropout {
            for &c in &space.clip_norm {
                for &l in &space.loss {
                    for &w in &space.pos_weight {
                        grid.push(TrialParams {
                            learning_rate: lr,
                            head_dropout: d,
                            clip_norm: c,
                            loss: l,
                            pos_weight: w,
                        });
                    }
                }
            }
        }
    }
    match mode {
        SearchMode::Grid => Ok(grid),
        SearchMode::Random { trials, seed } => {
            if trials == 0 {
                return Err(ClassifyError::config("search.trials", "must be at least 1"));
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            Ok((0..trials)
                .map(|_| {
                    grid.choose(&mut rng)
                        .cloned()
                        .unwrap_or_else(|| grid[0].clone())
                })
                .collect())
        }
    }
}

/// Runs the search: for each combination, a fresh classifier from `base` trained with
/// `train_cfg` (its checkpoint folder, if any, gets a `trial_<i>` sub-folder). Writes
/// `trials.jsonl` (appended as each trial ends) and `trials.md` to `out_dir`.
pub fn run_search(
    base: &ClassifierConfig,
    train_cfg: &TrainConfig,
    space: &SearchSpace,
    mode: SearchMode,
    train: &[Example],
    valid: &[Example],
    out_dir: &Path,
) -> Result<SearchReport> {
    let combos = combinations(space, mode)?;
    std::fs::create_dir_all(out_dir).map_err(|e| ClassifyError::io(out_dir, e))?;
    let jsonl = out_dir.join("trials.jsonl");
    let mut file = std::fs::File::create(&jsonl).map_err(|e| ClassifyError::io(&jsonl, e))?;
    let mut trials = Vec::with_capacity(combos.len());
    for (index, params) in combos.into_iter().enumerate() {
        let cfg = ClassifierConfig {
            head_dropout: params.head_dropout,
            ..base.clone()
        };
        let tc = TrainConfig {
            learning_rate: params.learning_rate,
            clip_norm: params.clip_norm,
            loss: params.loss,
            pos_weight: params.pos_weight,
            checkpoint_dir: train_cfg
                .checkpoint_dir
                .as_ref()
                .map(|d| d.join(format!("trial_{index}"))),
            ..train_cfg.clone()
        };
        let mut model = Classifier::new(&cfg)?;
        let report = Trainer::new(&mut model, tc)?.train(train, valid)?;
        let trial = Trial {
            index,
            params,
            report,
        };
        let line = serde_json::to_string(&trial).map_err(|e| ClassifyError::Json {
            path: jsonl.clone(),
            message: e.to_string(),
        })?;
        writeln!(file, "{line}").map_err(|e| ClassifyError::io(&jsonl, e))?;
        trials.push(trial);
    }
    let best = best_trial(&trials).unwrap_or(0);
    let md = out_dir.join("trials.md");
    std::fs::write(&md, markdown(&trials, best)).map_err(|e| ClassifyError::io(&md, e))?;
    Ok(SearchReport { trials, best })
}

/// Index of the best trial by the module's rule (None when there are none).
pub fn best_trial(trials: &[Trial]) -> Option<usize> {
    (0..trials.len()).min_by(|&a, &b| {
        let (ka, kb) = (trials[a].key(), trials[b].key());
        ka.0.total_cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then(ka.2.total_cmp(&kb.2))
    })
}

/// The trials as a Markdown table, the best marked with `*`.
pub fn markdown(trials: &[Trial], best: usize) -> String {
    let mut s = String::from(
        "| # | lr | dropout | clip | loss | pos w | steps | AUROC | AUPRC | log-loss | ECE | threshold | FNR | FNR UCB | safe rejected |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for t in trials {
        let p = &t.params;
        let m = t.report.valid.as_ref();
        let th = t.report.threshold.as_ref();
        let f = |x: Option<f64>, d: usize| x.map_or("–".to_string(), |v| format!("{v:.d$}"));
        s.push_str(&format!(
            "| {}{} | {:.0e} | {} | {} | {:?} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            t.index,
            if t.index == best { "*" } else { "" },
            p.learning_rate,
            p.head_dropout,
            p.clip_norm.map_or("none".into(), |c| c.to_string()),
            p.loss,
            p.pos_weight,
            t.report.steps,
            f(m.map(|m| m.auroc), 4),
            f(m.map(|m| m.auprc), 4),
            f(m.map(|m| m.log_loss), 4),
            f(m.map(|m| m.ece), 4),
            f(th.map(|t| t.threshold), 4),
            f(th.map(|t| t.fnr), 4),
            f(th.map(|t| t.fnr_upper), 4),
            f(th.map(|t| t.safe_rejection_rate), 4),
        ));
    }
    s.push_str("\nBest (*): lowest FNR upper bound at the chosen threshold, then lowest safe-rejection rate, then highest AUPRC (validation).\n");
    s
}
