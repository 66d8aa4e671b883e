//! The loop driver with test doubles of known truth: a table scorer, a retrainer that
//! raises the scores of prompts with labeled injuries, and a truth labeler.

use std::collections::{HashMap, HashSet};

use nines_active::driver::{
    DriverConfig, LabeledPair, Pair, PoolModel, Retrainer, RoundMetrics, Scores, run,
};
use nines_active::study::{SyntheticConfig, synthetic};
use nines_active::{ActiveError, Design, SelectorConfig};
use nines_data::PairScorer;
use nines_data::label::{Decision, Labeler, Progress};
use nines_data::record::{Label, Snippet, Verdict};

#[derive(Clone)]
struct Table {
    scores: HashMap<String, f64>,
}

impl PairScorer for Table {
    fn score(&self, pairs: &[(&str, &str)]) -> nines_data::Result<Vec<f32>> {
        Ok(pairs.iter().map(|(_, c)| self.scores[*c] as f32).collect())
    }
}

/// Overrides the pool scoring to hand the driver the table's f64 scores unrounded.
impl PoolModel for Table {
    fn threshold(&self) -> f64 {
        0.05
    }
    fn score_pool(&self, pairs: &[(&str, &str)]) -> nines_active::Result<Scores> {
        Ok(Scores {
            scores: pairs.iter().map(|(_, c)| self.scores[*c]).collect(),
            ..Scores::default()
        })
    }
}

/// Triples the scores of every pair whose prompt has an injury label.
struct Raise {
    base: Table,
    prompts: HashMap<String, String>,
    calls: usize,
}

impl Retrainer for Raise {
    fn retrain(&mut self, labeled: &[LabeledPair]) -> nines_active::Result<Box<dyn PoolModel>> {
        self.calls += 1;
        let hot: HashSet<&str> = labeled
            .iter()
            .filter(|l| l.verdict == Verdict::Injury)
            .map(|l| l.pair.prompt.as_str())
            .collect();
        let mut t = self.base.clone();
        for (c, s) in t.scores.iter_mut() {
            if hot.contains(self.prompts[c].as_str()) {
                *s = (*s * 3.0).min(1.0);
            }
        }
        Ok(Box::new(t))
    }
}

struct Truth {
    truth: HashMap<String, bool>,
    quit_after: Option<usize>,
    seen: usize,
}

impl Labeler for Truth {
    fn name(&self) -> &str {
        "truth"
    }
    fn decide(&mut self, s: &Snippet, _: Progress) -> nines_data::Result<Decision> {
        self.seen += 1;
        if self.quit_after.is_some_and(|q| self.seen > q) {
            return Ok(Decision::Quit);
        }
        assert!(s.selection.as_ref().is_some_and(|x| x.probability > 0.0));
        let v = if self.truth[&s.completion] {
            Verdict::Injury
        } else {
            Verdict::NoInjury
        };
        Ok(Decision::Label(Label {
            labeler: "truth".into(),
            verdict: v,
            note: String::new(),
            time: "2025-01-01T00:00:00Z".into(),
            version: None,
        }))
    }
}

struct World {
    candidates: Vec<Pair>,
    table: Table,
    prompts: HashMap<String, String>,
    truth: HashMap<String, bool>,
}

fn world() -> World {
    let (pool, truth) = synthetic(&SyntheticConfig {
        prompts: 300,
        per_prompt: 4,
        prompt_logit_mean: -5.0,
        members: 0,
        dim: 0,
        ..SyntheticConfig::default()
    })
    .unwrap();
    let items = pool.items();
    World {
        candidates: items
            .iter()
            .map(|it| Pair {
                id: it.id.clone(),
                prompt: it.prompt.clone(),
                completion: it.completion.clone(),
            })
            .collect(),
        table: Table {
            scores: items
                .iter()
                .map(|it| (it.completion.clone(), it.score))
                .collect(),
        },
        prompts: items
            .iter()
            .map(|it| (it.completion.clone(), it.prompt.clone()))
            .collect(),
        truth: items
            .iter()
            .zip(truth)
            .map(|(it, t)| (it.completion.clone(), t))
            .collect(),
    }
}

fn config(dir: &std::path::Path, rounds: usize) -> DriverConfig {
    DriverConfig {
        budget: 100,
        per_round: 25,
        rounds,
        strategy: nines_active::acquisition::StrategyName::Boundary,
        selector: SelectorConfig {
            design: Design::Systematic,
            seed: 7,
            ..SelectorConfig::default()
        },
        state: Some(dir.join("state.json")),
        metrics: Some(dir.join("metrics.jsonl")),
        ..DriverConfig::default()
    }
}

fn go(
    w: &World,
    cfg: &DriverConfig,
    quit_after: Option<usize>,
) -> nines_active::Result<(nines_active::driver::RunSummary, usize)> {
    let mut retrainer = Raise {
        base: w.table.clone(),
        prompts: w.prompts.clone(),
        calls: 0,
    };
    let mut labeler = Truth {
        truth: w.truth.clone(),
        quit_after,
        seen: 0,
    };
    let s = run(
        cfg,
        &w.candidates,
        Box::new(w.table.clone()),
        &mut retrainer,
        &mut labeler,
    )?;
    Ok((s, retrainer.calls))
}

#[test]
fn spends_the_budget_in_rounds_and_writes_metrics() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let (s, calls) = go(&w, &config(dir.path(), 0), None).unwrap();
    assert_eq!(s.rounds_run, 4);
    assert_eq!(calls, 4);
    assert_eq!(s.state.labels.len(), 100);
    let ids: HashSet<&str> = s.state.labels.iter().map(|l| l.pair.id.as_str()).collect();
    assert_eq!(ids.len(), 100, "a pair was labeled twice");
    for l in &s.state.labels {
        assert!(l.probability.is_some_and(|p| p > 0.0 && p <= 1.0));
        assert_eq!(l.verdict == Verdict::Injury, w.truth[&l.pair.completion]);
    }
    let text = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    let metrics: Vec<RoundMetrics> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(metrics.len(), 4);
    assert_eq!(metrics.iter().map(|m| m.labeled).sum::<usize>(), 100);
    let misses = s.state.labels.iter().filter(|l| l.is_miss()).count();
    assert_eq!(metrics[3].misses_total, misses);
    assert_eq!(metrics[0].pool, 1200);
    assert_eq!(metrics[3].pool, 1200 - 75);
    assert!(metrics.iter().all(|m| m.ht_miss_rate.is_some()));
    // Boundary sampling finds far more misses than the pool's miss rate would give.
    let pool_rate = w
        .candidates
        .iter()
        .filter(|c| w.truth[&c.completion] && w.table.scores[&c.completion] <= 0.05)
        .count() as f64
        / 1200.0;
    assert!(
        misses as f64 / 100.0 > 2.0 * pool_rate,
        "{misses} vs {pool_rate}"
    );
}

#[test]
fn an_interrupted_run_resumes_to_the_same_state() {
    let w = world();
    let a = tempfile::tempdir().unwrap();
    let (whole, _) = go(&w, &config(a.path(), 0), None).unwrap();
    let b = tempfile::tempdir().unwrap();
    let (first, _) = go(&w, &config(b.path(), 2), None).unwrap();
    assert_eq!(first.rounds_run, 2);
    assert_eq!(first.state.labels.len(), 50);
    let (second, calls) = go(&w, &config(b.path(), 0), None).unwrap();
    assert!(second.resumed);
    assert_eq!(second.rounds_run, 2);
    // One retrain to rebuild the scorer from saved labels, one after each new round.
    assert_eq!(calls, 3);
    assert_eq!(second.state, whole.state);
    assert_eq!(
        std::fs::read_to_string(a.path().join("metrics.jsonl")).unwrap(),
        std::fs::read_to_string(b.path().join("metrics.jsonl")).unwrap()
    );
}

#[test]
fn a_labeler_that_quits_keeps_its_labels() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = go(&w, &config(dir.path(), 0), Some(10)).unwrap();
    assert!(s.state.quit);
    assert_eq!(s.state.labels.len(), 10);
    let (s, _) = go(&w, &config(dir.path(), 0), None).unwrap();
    assert!(!s.state.quit);
    assert_eq!(s.state.labels.len(), 100);
    let ids: HashSet<&str> = s.state.labels.iter().map(|l| l.pair.id.as_str()).collect();
    assert_eq!(ids.len(), 100);
}

#[test]
fn bad_driver_input() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), 0);
    cfg.budget = 0;
    assert!(matches!(
        go(&w, &cfg, None),
        Err(ActiveError::ZeroBudget { .. })
    ));
    let cfg = config(dir.path(), 0);
    let empty = World {
        candidates: Vec::new(),
        ..world()
    };
    assert!(matches!(
        go(&empty, &cfg, None),
        Err(ActiveError::EmptyPool)
    ));
    // A state written by another strategy is refused.
    go(&w, &config(dir.path(), 1), None).unwrap();
    let mut other = config(dir.path(), 0);
    other.strategy = nines_active::acquisition::StrategyName::Random;
    assert!(matches!(
        go(&w, &other, None),
        Err(ActiveError::BadState { .. })
    ));
    // A scorer that returns NaN.
    let mut nan = world();
    for s in nan.table.scores.values_mut() {
        *s = f64::NAN;
    }
    let d2 = tempfile::tempdir().unwrap();
    assert!(matches!(
        go(&nan, &config(d2.path(), 0), None),
        Err(ActiveError::BadScore { .. })
    ));
    // An unknown strategy name in a configuration.
    assert!(matches!(
        "psychic".parse::<nines_active::acquisition::StrategyName>(),
        Err(ActiveError::Config { .. })
    ));
    let text = r#"{"strategy": "psychic"}"#;
    assert!(serde_json::from_str::<DriverConfig>(text).is_err());
}
