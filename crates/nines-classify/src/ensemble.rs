//! Ensembles: several classifiers scoring the same pairs, aggregated by mean or max, with
//! their disagreement (which active learning uses to pick pairs to label).

use std::path::Path;

use serde::{Deserialize, Serialize};

use nines_data::PairScorer;

use crate::classifier::Classifier;
use crate::error::{ClassifyError, Result, read_json, write_json};
use crate::threshold::{ThresholdChoice, select_for_fnr};

/// How member probabilities combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Mean of the members' probabilities.
    #[default]
    Mean,
    /// Largest member probability (the cautious choice: any member can reject).
    Max,
}

/// An ensemble's view of one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnsembleScore {
    /// The aggregated probability.
    pub score: f32,
    /// Standard deviation of the members' probabilities (0 for one member).
    pub disagreement: f32,
    /// Each member's probability, in member order.
    pub members: Vec<f32>,
}

#[derive(Serialize, Deserialize)]
struct EnsembleManifest {
    members: usize,
    aggregation: Aggregation,
    threshold: Option<ThresholdChoice>,
}

/// Several classifiers as one scorer.
#[derive(Debug)]
pub struct Ensemble {
    members: Vec<Classifier>,
    aggregation: Aggregation,
    threshold: Option<ThresholdChoice>,
}

impl Ensemble {
    /// An ensemble of at least one member.
    pub fn new(members: Vec<Classifier>, aggregation: Aggregation) -> Result<Self> {
        if members.is_empty() {
            return Err(ClassifyError::config(
                "ensemble.members",
                "an ensemble needs at least one member",
            ));
        }
        Ok(Ensemble {
            members,
            aggregation,
            threshold: None,
        })
    }

    /// The members.
    pub fn members(&self) -> &[Classifier] {
        &self.members
    }

    /// The aggregation rule.
    pub fn aggregation(&self) -> Aggregation {
        self.aggregation
    }

    /// Aggregated score, disagreement and member scores of each pair.
    pub fn score_detailed(&self, pairs: &[(&str, &str)]) -> Result<Vec<EnsembleScore>> {
        let per: Vec<Vec<f32>> = self
            .members
            .iter()
            .map(|m| m.score(pairs))
            .collect::<Result<_>>()?;
        let k = per.len() as f32;
        Ok((0..pairs.len())
            .map(|i| {
                let members: Vec<f32> = per.iter().map(|s| s[i]).collect();
                let mean = members.iter().sum::<f32>() / k;
                let var = members.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / k;
                let score = match self.aggregation {
                    Aggregation::Mean => mean,
                    Aggregation::Max => members.iter().copied().fold(f32::MIN, f32::max),
                };
                EnsembleScore {
                    score,
                    disagreement: var.sqrt(),
                    members,
                }
            })
            .collect())
    }

    /// Chooses the ensemble's threshold on labeled validation pairs for `target_fnr`.
    pub fn choose_threshold(
        &mut self,
        pairs: &[(&str, &str)],
        labels: &[bool],
        target_fnr: f64,
        confidence: f64,
    ) -> Result<ThresholdChoice> {
        let scores = self.score(pairs)?;
        let c = select_for_fnr(&scores, labels, target_fnr, confidence)?;
        self.threshold = Some(c.clone());
        Ok(c)
    }

    /// The aggregated `P(injury)` of each pair, in input order.
    pub fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        Ok(self
            .score_detailed(pairs)?
            .into_iter()
            .map(|s| s.score)
            .collect())
    }

    /// The rejection threshold on the aggregated probability (`score > threshold` is
    /// rejected), if one has been chosen.
    pub fn threshold(&self) -> Option<f64> {
        self.threshold.as_ref().map(|c| c.threshold)
    }

    /// How the threshold was chosen, if it was.
    pub fn threshold_choice(&self) -> Option<&ThresholdChoice> {
        self.threshold.as_ref()
    }

    /// Saves members as `member_0/`, `member_1/`, ... and `ensemble.json` in `dir`.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| ClassifyError::io(dir, e))?;
        for (i, m) in self.members.iter().enumerate() {
            m.save(dir.join(format!("member_{i}")))?;
        }
        write_json(
            &dir.join("ensemble.json"),
            &EnsembleManifest {
                members: self.members.len(),
                aggregation: self.aggregation,
                threshold: self.threshold.clone(),
            },
        )
    }

    /// Loads an ensemble saved by [`save`](Self::save).
    pub fn load(dir: impl AsRef<Path>, device: nines_runtime::DeviceSpec) -> Result<Self> {
        let dir = dir.as_ref();
        let m: EnsembleManifest = read_json(&dir.join("ensemble.json"))?;
        let members = (0..m.members)
            .map(|i| Classifier::load(dir.join(format!("member_{i}")), device))
            .collect::<Result<Vec<_>>>()?;
        let mut e = Ensemble::new(members, m.aggregation)?;
        e.threshold = m.threshold;
        Ok(e)
    }
}

/// The ensemble as the pipeline's [`PairScorer`]: [`Ensemble::score`], its error wrapped in
/// [`nines_data::Error::Scorer`].
impl PairScorer for Ensemble {
    fn score(&self, pairs: &[(&str, &str)]) -> nines_data::Result<Vec<f32>> {
        Ensemble::score(self, pairs).map_err(nines_data::Error::scorer)
    }
}
