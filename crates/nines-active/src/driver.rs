//! The loop driver: select → label → retrain → re-score, under a label budget.
//!
//! The driver knows the models only through two traits, so that this crate stays free of
//! LibTorch: a [`PoolModel`] is a [`PairScorer`] (the one scoring trait of Nines) that also
//! names its threshold and may give ensemble member scores and embeddings ([`Thresholded`]
//! makes one of any scorer); a [`Retrainer`] turns every label so far into a new model. Labels come from any nines-data [`Labeler`] (a person, the oracle, a file).
//!
//! Each round: score the still-unlabeled candidates; [`select`] a batch of
//! `min(per_round, budget left)` with the configured strategy and design; show each pick to
//! the labeler as a [`Snippet`] carrying its [`Selection`](nines_data::record::Selection);
//! write the round's [`RoundMetrics`]; save the state; retrain.
//!
//! **Resumability.** The state file (JSON, written atomically after every round and on quit)
//! holds every label with its round, probability and score, and all round metrics. Labels are
//! saved *before* retraining, so a crash during retraining loses none. Run again with the same
//! configuration and candidates and the driver retrains once on the saved labels, then goes
//! on with the next round. A labeler that quits mid-round keeps the labels it gave.
//!
//! **Estimates.** A round's picks are a sample of that round's unlabeled pool with the
//! recorded probabilities (conditional on the earlier rounds), so each round's labels
//! estimate rates over its pool without bias; [`RoundMetrics::ht_miss_rate`] is one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use nines_data::PairScorer;
use nines_data::label::{Decision, Labeler, Progress};
use nines_data::record::{Snippet, Verdict};
use nines_estimate::Estimate;
use serde::{Deserialize, Serialize};

use crate::acquisition::StrategyName;
use crate::config::SelectorConfig;
use crate::error::{ActiveError, Result};
use crate::pool::{Pool, PoolItem};
use crate::select::select;

/// A candidate pair to score and maybe label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    /// Unique id.
    pub id: String,
    /// Prompt text.
    pub prompt: String,
    /// Completion text.
    pub completion: String,
}

/// What a [`PoolModel`] says about a batch of pairs (all vectors in input order).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scores {
    /// `P(injury)` per pair, in [0, 1].
    pub scores: Vec<f64>,
    /// Per pair, each ensemble member's `P(injury)` (ensembles only).
    pub members: Option<Vec<Vec<f64>>>,
    /// Per pair, an embedding (for the diverse design).
    pub embeddings: Option<Vec<Vec<f32>>>,
}

/// A classifier as the driver sees it: a [`PairScorer`] with a threshold, and optionally
/// what some strategies need beyond P(injury).
pub trait PoolModel: PairScorer {
    /// The filter threshold in (0, 1]: pairs scored above it are rejected (accepted iff
    /// `score <= threshold`).
    fn threshold(&self) -> f64;

    /// P(injury) of each pair, with ensemble member scores and embeddings when the model has
    /// them. The default is [`PairScorer::score`] alone; an ensemble overrides it to give its
    /// members' scores from the same pass, a model with embeddings to add them.
    ///
    /// # Errors
    /// [`ActiveError::Model`] (stage `scoring`) with the scorer's error.
    fn score_pool(&self, pairs: &[(&str, &str)]) -> Result<Scores> {
        let scores = self
            .score(pairs)
            .map_err(|e| ActiveError::model("scoring", e))?;
        Ok(Scores {
            scores: scores.into_iter().map(f64::from).collect(),
            ..Scores::default()
        })
    }
}

/// Any [`PairScorer`] with a fixed threshold, as a [`PoolModel`] (no member scores or
/// embeddings).
///
/// ```
/// use nines_active::driver::{PoolModel, Thresholded};
/// use nines_data::FnScorer;
/// let rule = FnScorer::new(|pairs: &[(&str, &str)]| {
///     Ok::<_, std::io::Error>(pairs.iter().map(|(_, c)| if c.contains("cut") { 0.5 } else { 0.25 }).collect())
/// });
/// let model = Thresholded::new(rule, 0.3);
/// assert_eq!(model.threshold(), 0.3);
/// assert_eq!(model.score_pool(&[("It was late.", " He cut his hand.")])?.scores, vec![0.5]);
/// # Ok::<(), nines_active::ActiveError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Thresholded<S> {
    scorer: S,
    threshold: f64,
}

impl<S: PairScorer> Thresholded<S> {
    /// `scorer` with the filter threshold `threshold` (accepted iff `score <= threshold`).
    pub fn new(scorer: S, threshold: f64) -> Self {
        Thresholded { scorer, threshold }
    }

    /// The wrapped scorer.
    pub fn scorer(&self) -> &S {
        &self.scorer
    }
}

impl<S: PairScorer> PairScorer for Thresholded<S> {
    fn score(&self, pairs: &[(&str, &str)]) -> nines_data::Result<Vec<f32>> {
        self.scorer.score(pairs)
    }
}

impl<S: PairScorer> PoolModel for Thresholded<S> {
    fn threshold(&self) -> f64 {
        self.threshold
    }
}

/// A labeled pair as the driver records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabeledPair {
    /// The pair.
    pub pair: Pair,
    /// The labeler's verdict.
    pub verdict: Verdict,
    /// Who labeled.
    pub labeler: String,
    /// The round it was selected in (from 0).
    pub round: usize,
    /// Its inclusion probability in that round (`None` for top-k).
    pub probability: Option<f64>,
    /// Size of the unlabeled pool of that round.
    pub population: usize,
    /// The score it had when selected.
    pub score: f64,
    /// The threshold of that round.
    pub threshold: f64,
}

impl LabeledPair {
    /// Whether the label is an injury the filter of that round accepted: a miss.
    pub fn is_miss(&self) -> bool {
        self.verdict == Verdict::Injury && self.score <= self.threshold
    }
}

/// Turns labels into a new scorer.
pub trait Retrainer {
    /// Trains (or fine-tunes) on every label so far and returns the new scorer.
    fn retrain(&mut self, labeled: &[LabeledPair]) -> Result<Box<dyn PoolModel>>;
}

/// Loop settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DriverConfig {
    /// Total labels to spend over all rounds. Default 500.
    pub budget: usize,
    /// Labels per round. Default 100.
    pub per_round: usize,
    /// Stop after this many rounds in all (0: when the budget or the pool runs out).
    /// Default 0.
    pub rounds: usize,
    /// Acquisition strategy. Default [`StrategyName::Boundary`].
    pub strategy: StrategyName,
    /// Design, uniform share, clusters and seed; its `budget` is set per round. The seed of
    /// round `r` is derived from this seed and `r`.
    pub selector: SelectorConfig,
    /// State file for resuming (none: no resume). Default none.
    pub state: Option<PathBuf>,
    /// Per-round metrics JSONL (rewritten whole after each round). Default none.
    pub metrics: Option<PathBuf>,
    /// Confidence level of the metrics' intervals. Default 0.95.
    pub level: f64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            budget: 500,
            per_round: 100,
            rounds: 0,
            strategy: StrategyName::Boundary,
            selector: SelectorConfig::default(),
            state: None,
            metrics: None,
            level: 0.95,
        }
    }
}

impl DriverConfig {
    /// Positive budget and round size, a valid selector, level in (0, 1).
    pub fn validate(&self) -> Result<()> {
        if self.budget == 0 {
            return Err(ActiveError::ZeroBudget {
                what: "DriverConfig.budget",
            });
        }
        if self.per_round == 0 {
            return Err(ActiveError::ZeroBudget {
                what: "DriverConfig.per_round",
            });
        }
        let mut s = self.selector.clone();
        s.budget = self.per_round;
        s.clusters = s.clusters.min(self.per_round);
        s.validate()?;
        if !(self.level > 0.0 && self.level < 1.0) {
            return Err(ActiveError::config(
                "DriverConfig.level",
                format!("{} is not in (0, 1)", self.level),
            ));
        }
        Ok(())
    }
}

/// What one round did and found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundMetrics {
    /// Round, from 0.
    pub round: usize,
    /// `strategy-design`.
    pub strategy: String,
    /// The scorer's threshold this round.
    pub threshold: f64,
    /// Unlabeled pairs this round selected from.
    pub pool: usize,
    /// Pairs of that pool the filter accepts.
    pub accepted: usize,
    /// Pairs selected.
    pub selected: usize,
    /// Pairs labeled (injury or no injury or unsure).
    pub labeled: usize,
    /// Pairs the labeler skipped.
    pub skipped: usize,
    /// Injury labels.
    pub injuries: usize,
    /// Injuries the filter accepted (misses found).
    pub misses: usize,
    /// No-injury pairs the filter rejected.
    pub false_alarms: usize,
    /// Misses per 100 labels this round.
    pub misses_per_100: f64,
    /// Misses a calibrated classifier predicts among the labeled picks (Σ accepted scores).
    pub expected_misses: f64,
    /// Horvitz–Thompson estimate of the share of this round's pool that are misses (none
    /// for top-k or when nothing was labeled).
    pub ht_miss_rate: Option<Estimate>,
    /// Labels over all rounds so far.
    pub labels_total: usize,
    /// Misses over all rounds so far.
    pub misses_total: usize,
}

/// The resumable state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Format version (1).
    pub version: u32,
    /// Strategy the run uses.
    pub strategy: StrategyName,
    /// Completed rounds (a quit mid-round counts its round as completed).
    pub rounds_done: usize,
    /// Every label so far.
    pub labels: Vec<LabeledPair>,
    /// Every round's metrics.
    pub metrics: Vec<RoundMetrics>,
    /// Whether the labeler quit.
    pub quit: bool,
}

impl State {
    fn new(strategy: StrategyName) -> Self {
        State {
            version: 1,
            strategy,
            rounds_done: 0,
            labels: Vec::new(),
            metrics: Vec::new(),
            quit: false,
        }
    }

    /// Reads a state file.
    pub fn load(path: &Path) -> Result<State> {
        let text = std::fs::read_to_string(path).map_err(|e| ActiveError::io(path, e))?;
        let s: State = serde_json::from_str(&text).map_err(|e| ActiveError::BadState {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        for l in &s.labels {
            if let Some(p) = l.probability
                && !(p > 0.0 && p <= 1.0)
            {
                return Err(ActiveError::BadProbability {
                    what: format!("label of {} in {}", l.pair.id, path.display()),
                    value: p,
                });
            }
        }
        Ok(s)
    }

    /// Writes the state file atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let line = serde_json::to_string(self).map_err(|e| ActiveError::BadState {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        nines_data::store::write_lines_atomic(path, [line.as_str()])?;
        Ok(())
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The final state (every label and metric, including earlier runs').
    pub state: State,
    /// Rounds run by this call.
    pub rounds_run: usize,
    /// Whether this call resumed a saved state.
    pub resumed: bool,
}

/// Runs the loop (see the module docs). `initial` scores round 0 of a fresh run; a resumed
/// run retrains on its saved labels instead.
pub fn run(
    cfg: &DriverConfig,
    candidates: &[Pair],
    initial: Box<dyn PoolModel>,
    retrainer: &mut dyn Retrainer,
    labeler: &mut dyn Labeler,
) -> Result<RunSummary> {
    cfg.validate()?;
    if candidates.is_empty() {
        return Err(ActiveError::EmptyPool);
    }
    let strategy = cfg.strategy.build();
    let mut ids = HashSet::new();
    for (i, c) in candidates.iter().enumerate() {
        if !ids.insert(c.id.as_str()) {
            let first = candidates.iter().position(|o| o.id == c.id).unwrap_or(0);
            return Err(ActiveError::DuplicateId {
                id: c.id.clone(),
                first,
                second: i,
            });
        }
    }
    let (mut state, resumed) = match &cfg.state {
        Some(p) if p.exists() => (State::load(p)?, true),
        _ => (State::new(cfg.strategy), false),
    };
    if resumed {
        let path = cfg.state.clone().unwrap_or_default();
        if state.strategy != cfg.strategy {
            return Err(ActiveError::BadState {
                path,
                reason: format!(
                    "it was written by strategy {}, not {}",
                    state.strategy, cfg.strategy
                ),
            });
        }
        if let Some(l) = state
            .labels
            .iter()
            .find(|l| !ids.contains(l.pair.id.as_str()))
        {
            return Err(ActiveError::BadState {
                path,
                reason: format!("label of {} matches no candidate", l.pair.id),
            });
        }
    }
    state.quit = false;
    let mut scorer = if resumed && !state.labels.is_empty() {
        retrainer.retrain(&state.labels)?
    } else {
        initial
    };
    let mut rounds_run = 0;
    loop {
        let spent = state.labels.len();
        if spent >= cfg.budget || (cfg.rounds > 0 && state.rounds_done >= cfg.rounds) {
            break;
        }
        let labeled: HashSet<&str> = state.labels.iter().map(|l| l.pair.id.as_str()).collect();
        let left: Vec<&Pair> = candidates
            .iter()
            .filter(|c| !labeled.contains(c.id.as_str()))
            .collect();
        if left.is_empty() {
            break;
        }
        let pool = score_pool(scorer.as_ref(), &left)?;
        let threshold = scorer.threshold();
        let mut sel = cfg.selector.clone();
        sel.budget = cfg.per_round.min(cfg.budget - spent);
        sel.clusters = sel.clusters.min(sel.budget);
        sel.seed = nines_data::record::hash64(&[
            &cfg.selector.seed.to_le_bytes(),
            &(state.rounds_done as u64).to_le_bytes(),
        ]);
        let batch = select(&pool, strategy.as_ref(), threshold, &sel)?;
        let round = state.rounds_done;
        let mut new: Vec<LabeledPair> = Vec::new();
        let mut skipped = 0;
        for (k, pick) in batch.picks.iter().enumerate() {
            let it = &pool.items()[pick.index];
            let selection = pick.selection().ok();
            let snippet = Snippet::new(&it.prompt, &it.completion, None, None, selection);
            let progress = Progress {
                index: k,
                queue: batch.picks.len(),
                labeled: spent + new.len(),
                total: candidates.len(),
            };
            match labeler.decide(&snippet, progress)? {
                Decision::Label(label) => new.push(LabeledPair {
                    pair: left[pick.index].clone(),
                    verdict: label.verdict,
                    labeler: label.labeler,
                    round,
                    probability: pick.probability,
                    population: pool.len(),
                    score: it.score,
                    threshold,
                }),
                Decision::Skip => skipped += 1,
                Decision::Undo => {
                    if new.pop().is_none() {
                        skipped += 1;
                    }
                }
                Decision::Quit => {
                    state.quit = true;
                    break;
                }
            }
        }
        let m = round_metrics(cfg, &state, &pool, &batch, &new, skipped, threshold)?;
        state.labels.extend(new);
        state.metrics.push(m);
        state.rounds_done += 1;
        rounds_run += 1;
        persist(cfg, &state)?;
        if state.quit {
            break;
        }
        scorer = retrainer.retrain(&state.labels)?;
    }
    persist(cfg, &state)?;
    Ok(RunSummary {
        state,
        rounds_run,
        resumed,
    })
}

fn persist(cfg: &DriverConfig, state: &State) -> Result<()> {
    if let Some(p) = &cfg.state {
        state.save(p)?;
    }
    if let Some(p) = &cfg.metrics {
        let mut lines = Vec::with_capacity(state.metrics.len());
        for m in &state.metrics {
            lines.push(serde_json::to_string(m).map_err(|e| ActiveError::BadLine {
                path: p.clone(),
                line: lines.len() + 1,
                reason: e.to_string(),
            })?);
        }
        nines_data::store::write_lines_atomic(p, lines.iter().map(String::as_str))?;
    }
    Ok(())
}

fn score_pool(scorer: &dyn PoolModel, left: &[&Pair]) -> Result<Pool> {
    let pairs: Vec<(&str, &str)> = left
        .iter()
        .map(|p| (p.prompt.as_str(), p.completion.as_str()))
        .collect();
    let s = scorer.score_pool(&pairs)?;
    let check = |what: &str, got: usize| {
        if got == left.len() {
            Ok(())
        } else {
            Err(ActiveError::model(
                "scoring",
                format!("{got} {what} for {} pairs", left.len()),
            ))
        }
    };
    check("scores", s.scores.len())?;
    if let Some(m) = &s.members {
        check("member score rows", m.len())?;
    }
    if let Some(e) = &s.embeddings {
        check("embeddings", e.len())?;
    }
    let items = left
        .iter()
        .enumerate()
        .map(|(i, p)| PoolItem {
            id: p.id.clone(),
            prompt: p.prompt.clone(),
            completion: p.completion.clone(),
            score: s.scores[i],
            members: s.members.as_ref().map(|m| m[i].clone()),
            embedding: s.embeddings.as_ref().map(|e| e[i].clone()),
        })
        .collect();
    Pool::new(items)
}

fn round_metrics(
    cfg: &DriverConfig,
    state: &State,
    pool: &Pool,
    batch: &crate::select::Batch,
    new: &[LabeledPair],
    skipped: usize,
    threshold: f64,
) -> Result<RoundMetrics> {
    let injuries = new.iter().filter(|l| l.verdict == Verdict::Injury).count();
    let misses = new.iter().filter(|l| l.is_miss()).count();
    let false_alarms = new
        .iter()
        .filter(|l| l.verdict == Verdict::NoInjury && l.score > threshold)
        .count();
    let expected_misses = new
        .iter()
        .filter(|l| l.score <= threshold)
        .map(|l| l.score)
        .sum();
    let probs: Option<Vec<f64>> = new.iter().map(|l| l.probability).collect();
    let ht_miss_rate = match probs {
        Some(p) if !p.is_empty() => {
            let y: Vec<f64> = new
                .iter()
                .map(|l| f64::from(u8::from(l.is_miss())))
                .collect();
            Some(nines_estimate::weighting::horvitz_thompson(
                &y,
                &p,
                pool.len(),
                cfg.level,
            )?)
        }
        _ => None,
    };
    Ok(RoundMetrics {
        round: state.rounds_done,
        strategy: batch.strategy.clone(),
        threshold,
        pool: pool.len(),
        accepted: pool.items().iter().filter(|i| i.score <= threshold).count(),
        selected: batch.picks.len(),
        labeled: new.len(),
        skipped,
        injuries,
        misses,
        false_alarms,
        misses_per_100: if new.is_empty() {
            0.0
        } else {
            100.0 * misses as f64 / new.len() as f64
        },
        expected_misses,
        ht_miss_rate,
        labels_total: state.labels.len() + new.len(),
        misses_total: state.labels.iter().filter(|l| l.is_miss()).count() + misses,
    })
}
