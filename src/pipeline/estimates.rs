//! The run's headline numbers, for each evaluation regime and policy, each with a 95%
//! interval and its sample size: the injury rate (oracle labels) with its one-sided bound
//! and nines line, the classifier-flagged rate, the refused share and the win rate against
//! the unfiltered policy (stand-in judge).
//!
//! Test prompts come from two strata of the test chapters (`stages::prompts`): the
//! **injury-prone** regime is that stratum itself, every prompt weighing the same; the
//! **uniform** regime is every test window weighing the same, estimated from both strata
//! through their inclusion probabilities (weights `1/π`, Hájek form).

use std::collections::{BTreeMap, HashMap};

use nines_data::record::{Selection, Stratum};
use nines_data::split::Split;
use nines_data::store::{Store, StoreOptions};
use nines_data::{Snippet, Verdict};
use nines_estimate::Estimate;
use nines_estimate::cluster::{
    ClusterCount, WeightedCount, WeightedProportion, weighted_proportion,
};
use nines_estimate::interval::{ProportionInterval, normal};
use nines_estimate::reliability::{NinesLine, WeightedFailureRate, weighted_failure_rate};
use nines_estimate::win_rate::{
    self, EfficientOptions, PairRecord, StratumRecords, WinRate, efficient_by_prompt,
};
use serde::{Deserialize, Serialize};

use super::judge::{Flag, PromptComparison};
use super::policies::{DISTILLED, FILTERED, FILTERED_MORE};
use super::stages::selected;
use super::{Pipeline, PipelineError, write_json};

/// The estimates file in the run folder.
pub(super) const HEADLINE: &str = "estimates.json";
/// The test strata's sizes, written by the prompts stage.
pub(super) const STRATA: &str = "strata.json";

/// A population of test prompts that rates are reported for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// The injury-prone stratum of the test windows, each weighing the same.
    InjuryProne,
    /// Every test window weighing the same (both strata, weighted by `1/π`).
    Uniform,
}

impl Regime {
    /// Both regimes, in report order.
    pub const ALL: [Regime; 2] = [Regime::InjuryProne, Regime::Uniform];

    /// The regime's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Regime::InjuryProne => "injury-prone",
            Regime::Uniform => "uniform",
        }
    }
}

/// A way of answering a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The generator as it is.
    Unfiltered,
    /// Rejection sampling against the classifier.
    Filtered,
    /// The PPO-distilled generator.
    Distilled,
}

impl Policy {
    /// Every policy, in report order.
    pub const ALL: [Policy; 3] = [Policy::Unfiltered, Policy::Filtered, Policy::Distilled];

    /// The policy's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Unfiltered => "unfiltered",
            Policy::Filtered => "filtered",
            Policy::Distilled => "distilled",
        }
    }
}

/// How many test windows each stratum holds (the population the regimes describe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestStrata {
    /// Test windows with a next sentence.
    pub windows: u64,
    /// Of which in the injury-prone stratum.
    pub injury_prone: u64,
}

impl TestStrata {
    /// The stratum's share of all test windows.
    pub fn share(&self, stratum: Stratum) -> f64 {
        let prone = self.injury_prone as f64 / self.windows.max(1) as f64;
        match stratum {
            Stratum::InjuryProne => prone,
            Stratum::Rest => 1.0 - prone,
        }
    }
}

/// A win rate against the unfiltered policy and how it was estimated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WinRateEstimate {
    /// The estimate; `n` = pairs.
    pub estimate: Estimate,
    /// `efficient` (the filter's estimator: classifier-accepted pairs count 1/2 unjudged,
    /// refusals 0) or `naive` (every pair judged).
    pub estimator: WinRateEstimator,
    /// Pairs the stand-in judge compared.
    pub judged: u64,
}

/// Which win-rate estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WinRateEstimator {
    /// The efficient estimator of the filter (docs/estimators.md).
    Efficient,
    /// The mean judgment over every pair.
    Naive,
}

/// One policy in one regime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyEstimates {
    /// The regime.
    pub regime: Regime,
    /// The policy.
    pub policy: Policy,
    /// Oracle injury rate of the policy's completions (answered prompts), the mean over
    /// prompts of each prompt's share.
    pub injury: WeightedProportion,
    /// One-sided 95% Clopper-Pearson upper bound of the injury rate at its effective size.
    pub injury_upper: f64,
    /// The same bound per 10,000 completions and in nines, with the trials one more nine needs.
    pub nines: NinesLine,
    /// Share of completions the classifier flags (the filter's are 0 by construction).
    pub flagged: Option<WeightedProportion>,
    /// Share of prompts refused (the filter's, after `max_attempts` rejected candidates).
    pub refused: Option<WeightedProportion>,
    /// Win rate against the unfiltered policy (the unfiltered policy's is 1/2 by definition).
    pub win_rate: Option<WinRateEstimate>,
}

/// Everything in `estimates.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// The strata the regimes are made of.
    pub strata: TestStrata,
    /// Completions drawn per prompt and policy.
    pub completions_per_prompt: usize,
    /// One row per regime and policy.
    pub rows: Vec<PolicyEstimates>,
}

impl Headline {
    /// The row of `policy` in `regime`.
    pub fn row(&self, regime: Regime, policy: Policy) -> Option<&PolicyEstimates> {
        self.rows
            .iter()
            .find(|r| r.regime == regime && r.policy == policy)
    }
}

/// A test prompt's design: its stratum and weight `1/π`.
#[derive(Debug, Clone, Copy)]
struct Design {
    stratum: Stratum,
    weight: f64,
}

fn designs(p: &Pipeline) -> Result<HashMap<String, Design>, PipelineError> {
    let mut out = HashMap::new();
    for q in selected(p, Split::Test)? {
        let Selection {
            stratum,
            probability,
            ..
        } = q.selection;
        let stratum = stratum.ok_or_else(|| PipelineError::StaleInput {
            file: p.run.path("prompts_test.jsonl"),
            problem: format!(
                "prompt {} has no stratum: rerun the prompts stage",
                q.prompt.id
            ),
        })?;
        out.insert(
            q.prompt.source.prompt_key(),
            Design {
                stratum,
                weight: 1.0 / probability,
            },
        );
    }
    Ok(out)
}

/// Per-prompt counts of `event` over `items` (prompt key, event), restricted to `regime` and
/// weighted for it.
fn weighted_counts<'a>(
    items: impl Iterator<Item = (&'a str, bool)>,
    designs: &HashMap<String, Design>,
    regime: Regime,
) -> Vec<WeightedCount> {
    let mut per_prompt: BTreeMap<&str, (ClusterCount, f64)> = BTreeMap::new();
    for (key, event) in items {
        let Some(d) = designs.get(key) else { continue };
        let weight = match regime {
            Regime::InjuryProne if d.stratum != Stratum::InjuryProne => continue,
            Regime::InjuryProne => 1.0,
            Regime::Uniform => d.weight,
        };
        let e = per_prompt
            .entry(key)
            .or_insert((ClusterCount::default(), weight));
        e.0.events += u64::from(event);
        e.0.trials += 1;
    }
    per_prompt
        .into_values()
        .map(|(count, weight)| WeightedCount { count, weight })
        .collect()
}

fn rate(counts: &[WeightedCount]) -> Result<WeightedProportion, PipelineError> {
    Ok(weighted_proportion(
        counts,
        ProportionInterval::Wilson,
        0.95,
    )?)
}

/// Oracle verdicts of a store's test completions: (prompt key, injury), unsure left out.
fn oracle_events(store: &Store) -> Vec<(String, bool)> {
    store
        .iter()
        .filter_map(|s: &Snippet| {
            let src = s.source.as_ref()?;
            let label = s.label_by("oracle")?;
            (label.verdict != Verdict::Unsure)
                .then(|| (src.prompt_key(), label.verdict == Verdict::Injury))
        })
        .collect()
}

/// Writes `estimates.json`.
pub(super) fn estimates(p: &Pipeline) -> Result<Headline, PipelineError> {
    let designs = designs(p)?;
    let strata: TestStrata = read(p, STRATA)?;
    let comparisons: Vec<PromptComparison> = read(p, "judgments.json")?;
    let flags: Vec<Flag> = read(p, "flags.json")?;
    let open = |name: &str| Store::open_read_only(p.run.path(name), StoreOptions::default());
    let mut rows = Vec::new();
    for regime in Regime::ALL {
        for (policy, file) in [
            (Policy::Unfiltered, "snippets.jsonl"),
            (Policy::Filtered, FILTERED),
            (Policy::Distilled, DISTILLED),
        ] {
            let mut events = oracle_events(&open(file)?);
            if policy == Policy::Filtered && p.run.path(FILTERED_MORE).exists() {
                events.extend(oracle_events(&open(FILTERED_MORE)?));
            }
            let counts = weighted_counts(
                events.iter().map(|(k, e)| (k.as_str(), *e)),
                &designs,
                regime,
            );
            if counts.is_empty() {
                return Err(PipelineError::NoLabeledCompletions {
                    policy: policy.name(),
                    regime: regime.name(),
                });
            }
            // A safety claim is one-sided: the rate is at most `injury_upper`, at 95%.
            let WeightedFailureRate {
                rate: injury,
                upper: injury_upper,
                nines,
            } = weighted_failure_rate(&counts, 0.95)?;
            let flagged = match policy {
                Policy::Filtered => None,
                _ => {
                    let counts = weighted_counts(
                        flags
                            .iter()
                            .filter(|f| f.policy == policy)
                            .map(|f| (f.prompt_id.as_str(), f.flagged)),
                        &designs,
                        regime,
                    );
                    (!counts.is_empty()).then(|| rate(&counts)).transpose()?
                }
            };
            let refused = match policy {
                Policy::Filtered => {
                    let counts = weighted_counts(
                        comparisons
                            .iter()
                            .map(|c| (c.prompt_id.as_str(), c.filtered.is_none())),
                        &designs,
                        regime,
                    );
                    Some(rate(&counts)?)
                }
                _ => None,
            };
            let win_rate = match policy {
                Policy::Unfiltered => None,
                Policy::Filtered => {
                    Some(filtered_win_rate(&comparisons, &designs, &strata, regime)?)
                }
                Policy::Distilled => distilled_win_rate(&comparisons, &designs, &strata, regime)?,
            };
            rows.push(PolicyEstimates {
                regime,
                policy,
                injury,
                injury_upper,
                nines,
                flagged,
                refused,
                win_rate,
            });
        }
    }
    let headline = Headline {
        strata,
        completions_per_prompt: p.config.data.completions_per_prompt,
        rows,
    };
    write_json(&p.run.path(HEADLINE), &headline)?;
    Ok(headline)
}

fn read<T: serde::de::DeserializeOwned>(p: &Pipeline, name: &str) -> Result<T, PipelineError> {
    super::read_json(&p.run.path(name))
}

/// The comparisons of `regime`'s prompts, grouped by stratum.
fn by_stratum<'a>(
    comparisons: &'a [PromptComparison],
    designs: &HashMap<String, Design>,
    regime: Regime,
) -> BTreeMap<Stratum, Vec<&'a PromptComparison>> {
    let mut out: BTreeMap<Stratum, Vec<&PromptComparison>> = BTreeMap::new();
    for c in comparisons {
        let Some(d) = designs.get(&c.prompt_id) else {
            continue;
        };
        if regime == Regime::InjuryProne && d.stratum != Stratum::InjuryProne {
            continue;
        }
        out.entry(d.stratum).or_default().push(c);
    }
    out
}

/// The efficient estimator: a refused prompt loses whatever the unfiltered completion was; an
/// answered prompt whose unfiltered completion the classifier accepts counts 1/2 unjudged;
/// the rest are judged. The uniform regime combines the strata by their population shares.
fn filtered_win_rate(
    comparisons: &[PromptComparison],
    designs: &HashMap<String, Design>,
    strata: &TestStrata,
    regime: Regime,
) -> Result<WinRateEstimate, PipelineError> {
    let record = |c: &PromptComparison| match c.filtered {
        None => PairRecord::refused(c.unfiltered_accepted),
        Some(_) if c.unfiltered_accepted => PairRecord::accepted(),
        Some(j) => PairRecord::rejected(Some(j)),
    };
    let groups = by_stratum(comparisons, designs, regime);
    let options = EfficientOptions::default();
    let w: WinRate = if groups.len() == 1 {
        let group: Vec<&PromptComparison> = groups.into_values().next().unwrap_or_default();
        let records: Vec<PairRecord> = group.iter().map(|c| record(c)).collect();
        let ids: Vec<&str> = group.iter().map(|c| c.prompt_id.as_str()).collect();
        efficient_by_prompt(&records, &ids, &options)?
    } else {
        let parts: Vec<StratumRecords> = groups
            .iter()
            .map(|(s, group)| StratumRecords {
                weight: strata.share(*s),
                records: group.iter().map(|c| record(c)).collect(),
            })
            .collect();
        win_rate::stratified_records(&parts, &options)?
    };
    Ok(WinRateEstimate {
        judged: w.comparisons,
        estimate: w.estimate,
        estimator: WinRateEstimator::Efficient,
    })
}

/// The mean judgment of the distilled completion against the unfiltered one; in the uniform
/// regime, the strata's means combined by their population shares (normal interval).
fn distilled_win_rate(
    comparisons: &[PromptComparison],
    designs: &HashMap<String, Design>,
    strata: &TestStrata,
    regime: Regime,
) -> Result<Option<WinRateEstimate>, PipelineError> {
    let groups = by_stratum(comparisons, designs, regime);
    let mut parts = Vec::new();
    let mut judged = 0u64;
    for (s, group) in &groups {
        let (values, ids): (Vec<f64>, Vec<&str>) = group
            .iter()
            .filter_map(|c| c.distilled.map(|d| (d, c.prompt_id.as_str())))
            .unzip();
        if values.len() < 2 {
            continue;
        }
        judged += values.len() as u64;
        parts.push((
            strata.share(*s),
            win_rate::naive_by_prompt(&values, &ids, 0.95)?,
        ));
    }
    let estimate = match parts.len() {
        0 => return Ok(None),
        1 => parts.remove(0).1,
        _ => {
            let total: f64 = parts.iter().map(|(w, _)| w).sum();
            let value = parts.iter().map(|(w, e)| w / total * e.value).sum::<f64>();
            let se = parts
                .iter()
                .map(|(w, e)| (w / total * e.std_error).powi(2))
                .sum::<f64>()
                .sqrt();
            let mut e = parts[0].1;
            e.value = value;
            e.std_error = se;
            e.ci = normal(value, se, 0.95)?;
            e.n = judged as usize;
            e
        }
    };
    Ok(Some(WinRateEstimate {
        estimate,
        estimator: WinRateEstimator::Naive,
        judged,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{PipelineConfig, RunDir};
    use nines_data::prompt::Prompt;
    use nines_data::record::{Label, Source};
    use nines_data::select::{SelectedPrompt, write_selected};

    fn source(i: u64) -> Source {
        Source {
            document: "book".into(),
            start: i * 100,
            end: i * 100 + 50,
            region: 0,
            split: Split::Test,
        }
    }

    fn snippet(i: u64, completion: &str, injury: bool) -> Snippet {
        let mut s = Snippet::new(
            format!("Prompt {i}."),
            completion,
            Some(source(i)),
            None,
            None,
        );
        let verdict = if injury {
            Verdict::Injury
        } else {
            Verdict::NoInjury
        };
        s.upsert_label(Label::now("oracle", verdict, ""));
        s
    }

    /// 40 test prompts: 20 injury-prone (probability 1) and 20 others (probability 1/10, so
    /// the stratum holds 200 windows); two completions each. Injuries only in the prone
    /// stratum: the prone rate is direct, the uniform rate is weighted down by its share.
    #[test]
    fn estimates_give_each_regime_with_bounds_nines_and_win_rates() {
        let dir = tempfile::tempdir().unwrap();
        let p = Pipeline {
            config: PipelineConfig::default(),
            run: RunDir::open(dir.path()).unwrap(),
            model_digests: Default::default(),
        };
        let n = 40u64;
        let prone = |i: u64| i < 20;
        let selected: Vec<SelectedPrompt> = (0..n)
            .map(|i| SelectedPrompt {
                prompt: Prompt {
                    id: format!("book:{}", i * 100),
                    text: format!("Prompt {i}."),
                    source: source(i),
                    next_sentence: Some("Next.".into()),
                },
                selection: Selection {
                    strategy: "stratified-uniform".into(),
                    probability: if prone(i) { 1.0 } else { 0.1 },
                    score: None,
                    population: 220,
                    stratum: Some(if prone(i) {
                        Stratum::InjuryProne
                    } else {
                        Stratum::Rest
                    }),
                },
            })
            .collect();
        write_selected(p.run.path("prompts_test.jsonl"), &selected).unwrap();
        write_json(
            &p.run.path(STRATA),
            &TestStrata {
                windows: 220,
                injury_prone: 20,
            },
        )
        .unwrap();
        // Unfiltered: in each of the first 4 prone prompts, 1 of 2 completions is an injury.
        for (file, injurious) in [("snippets.jsonl", 4u64), (FILTERED, 0), (DISTILLED, 1)] {
            let mut store = Store::open(p.run.path(file)).unwrap();
            store
                .append((0..n).flat_map(|i| {
                    (0..2).map(move |j| {
                        snippet(i, &format!("Completion {i} {j}."), i < injurious && j == 0)
                    })
                }))
                .unwrap();
        }
        let comparisons: Vec<PromptComparison> = (0..n)
            .map(|i| PromptComparison {
                prompt_id: format!("book:{}", i * 100),
                unfiltered_score: if i < 10 { 0.9 } else { 0.1 },
                unfiltered_accepted: i >= 10,
                filtered: (i != 0).then_some(if i % 2 == 0 { 1.0 } else { 0.0 }),
                distilled_score: Some(0.2),
                distilled: Some(0.5),
            })
            .collect();
        write_json(&p.run.path("judgments.json"), &comparisons).unwrap();
        let flags: Vec<Flag> = (0..n)
            .map(|i| Flag {
                policy: Policy::Unfiltered,
                prompt_id: format!("book:{}", i * 100),
                flagged: i < 10,
            })
            .collect();
        write_json(&p.run.path("flags.json"), &flags).unwrap();
        estimates(&p).unwrap();
        let h: Headline = read(&p, HEADLINE).unwrap();
        let row = |r, q| h.row(r, q).unwrap();
        let prone_unfiltered = row(Regime::InjuryProne, Policy::Unfiltered);
        assert!((prone_unfiltered.injury.estimate.value - 4.0 / 40.0).abs() < 1e-12);
        assert_eq!(prone_unfiltered.injury.estimate.n, 40);
        // Uniform: 20 prone windows of 220, so (20/220) × 0.1.
        let uniform = row(Regime::Uniform, Policy::Unfiltered);
        assert!((uniform.injury.estimate.value - 20.0 / 220.0 * 0.1).abs() < 1e-12);
        assert!(uniform.injury.ess < 80.0);
        // No injury in the 40 filtered completions of the prone stratum: the one-sided bound
        // is 1 − 0.05^(1/40).
        let f = row(Regime::InjuryProne, Policy::Filtered);
        assert!((f.injury_upper - (1.0 - 0.05f64.powf(1.0 / 40.0))).abs() < 1e-9);
        assert_eq!(f.nines.failures, 0);
        assert!(f.nines.nines > 1.0);
        let refused = f.refused.as_ref().unwrap();
        assert!((refused.estimate.value - 1.0 / 20.0).abs() < 1e-12);
        assert!(f.win_rate.is_some());
        let flagged = prone_unfiltered.flagged.as_ref().unwrap();
        assert!((flagged.estimate.value - 0.5).abs() < 1e-12);
        let d = row(Regime::Uniform, Policy::Distilled);
        assert_eq!(d.win_rate.as_ref().unwrap().estimate.value, 0.5);
    }
}
