//! One selection: strategy utilities → design → a [`Batch`] of [`Pick`]s with probabilities.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::acquisition::{Acquisition, check_threshold};
use crate::config::{Design, SelectorConfig};
use crate::design::{allocate, inclusion_probabilities, poisson_draw, systematic_draw, weights};
use crate::diversity::k_center;
use crate::error::{ActiveError, Result};
use crate::pool::Pool;

/// One selected pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pick {
    /// Position in the pool it was drawn from.
    pub index: usize,
    /// The pair's id.
    pub id: String,
    /// `strategy-design`, e.g. `boundary-systematic`.
    pub strategy: String,
    /// Inclusion probability in (0, 1]; `None` for top-k picks (not reweightable).
    pub probability: Option<f64>,
    /// The strategy's utility of the pair.
    pub utility: f64,
    /// The classifier's score of the pair.
    pub score: f64,
    /// The k-center cell it was drawn from (diverse design only).
    pub stratum: Option<usize>,
    /// Size of the pool it was drawn from.
    pub population: usize,
}

impl Pick {
    /// The nines-data [`Selection`](nines_data::record::Selection) record of this pick, for
    /// storing on its snippet; [`ActiveError::NotReweightable`] for a top-k pick.
    pub fn selection(&self) -> Result<nines_data::record::Selection> {
        let probability = self
            .probability
            .ok_or_else(|| ActiveError::NotReweightable {
                id: self.id.clone(),
            })?;
        if !(probability > 0.0 && probability <= 1.0) {
            return Err(ActiveError::BadProbability {
                what: format!("pick {}", self.id),
                value: probability,
            });
        }
        Ok(nines_data::record::Selection {
            strategy: self.strategy.clone(),
            probability,
            score: Some(self.score),
            population: self.population as u64,
            stratum: None,
        })
    }

    /// Horvitz–Thompson weight `1 / π` of the pick (an estimate of a pool *total* sums
    /// `weight · y`); [`ActiveError::NotReweightable`] for a top-k pick.
    pub fn weight(&self) -> Result<f64> {
        Ok(1.0 / self.selection()?.probability)
    }
}

/// A selected batch and the design behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    /// The picks, in pool order.
    pub picks: Vec<Pick>,
    /// `strategy-design`.
    pub strategy: String,
    /// The design.
    pub design: Design,
    /// Inclusion probability of *every* pool pair, in pool order (empty for top-k): what
    /// the design would give each pair, drawn or not.
    pub probabilities: Vec<f64>,
    /// The utilities the strategy gave every pool pair, in pool order.
    pub utilities: Vec<f64>,
    /// Expected batch size `Σ π_i` (the budget capped at the pool size).
    pub expected_size: f64,
}

impl Batch {
    /// Horvitz–Thompson estimate of the pool total `Σ_i y_i` from the values `y` of the
    /// picks (same order as `picks`). Unbiased for every reweightable design.
    pub fn ht_total(&self, values: &[f64]) -> Result<f64> {
        if values.len() != self.picks.len() {
            return Err(ActiveError::config(
                "values",
                format!("{} values for {} picks", values.len(), self.picks.len()),
            ));
        }
        let mut t = 0.0;
        for (p, y) in self.picks.iter().zip(values) {
            t += y * p.weight()?;
        }
        Ok(t)
    }
}

/// Selects a batch from `pool` with `strategy` (see [`crate::design`] for the designs);
/// `threshold` is the filter's. The draw is seeded by `cfg.seed`.
pub fn select(
    pool: &Pool,
    strategy: &dyn Acquisition,
    threshold: f64,
    cfg: &SelectorConfig,
) -> Result<Batch> {
    cfg.validate()?;
    check_threshold(threshold)?;
    let utilities = strategy.utility(pool, threshold)?;
    let name = format!("{}-{}", strategy.name(), cfg.design.as_str());
    let n = cfg.budget.min(pool.len());
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let items = pool.items();
    let pick = |i: usize, p: Option<f64>, stratum: Option<usize>| Pick {
        index: i,
        id: items[i].id.clone(),
        strategy: name.clone(),
        probability: p,
        utility: utilities[i],
        score: items[i].score,
        stratum,
        population: pool.len(),
    };
    let (picks, probabilities) = match cfg.design {
        Design::TopK => {
            let mut order: Vec<usize> = (0..pool.len()).collect();
            order.sort_by(|&a, &b| utilities[b].total_cmp(&utilities[a]).then(a.cmp(&b)));
            let mut chosen: Vec<usize> = order[..n].to_vec();
            chosen.sort_unstable();
            (
                chosen.into_iter().map(|i| pick(i, None, None)).collect(),
                Vec::new(),
            )
        }
        Design::Poisson | Design::Systematic => {
            let w = weights(&utilities, cfg.uniform_mix)?;
            let pi = inclusion_probabilities(&w, n as f64)?;
            let drawn = if cfg.design == Design::Poisson {
                poisson_draw(&pi, &mut rng)?
            } else {
                systematic_draw(&pi, &mut rng)?
            };
            (
                drawn
                    .into_iter()
                    .map(|i| pick(i, Some(pi[i]), None))
                    .collect(),
                pi,
            )
        }
        Design::Diverse => {
            let emb = pool.embeddings(&name)?;
            let k = if cfg.clusters == 0 {
                n
            } else {
                cfg.clusters.min(n)
            };
            let first = (0..pool.len())
                .max_by(|&a, &b| utilities[a].total_cmp(&utilities[b]).then(b.cmp(&a)))
                .unwrap_or(0);
            let cells = k_center(&emb, k, first)?;
            let members = cells.members();
            let w = weights(&utilities, cfg.uniform_mix)?;
            let mass: Vec<f64> = members
                .iter()
                .map(|m| m.iter().map(|&i| w[i]).sum())
                .collect();
            let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
            let alloc = allocate(&mass, &sizes, n)?;
            let mut pi = vec![0.0; pool.len()];
            let mut picks = Vec::new();
            for (h, m) in members.iter().enumerate() {
                let wh: Vec<f64> = m.iter().map(|&i| w[i]).collect();
                let ph = inclusion_probabilities(&wh, alloc[h] as f64)?;
                for (&i, &p) in m.iter().zip(&ph) {
                    pi[i] = p;
                }
                for j in systematic_draw(&ph, &mut rng)? {
                    picks.push(pick(m[j], Some(ph[j]), Some(h)));
                }
            }
            picks.sort_by_key(|p| p.index);
            (picks, pi)
        }
    };
    let expected_size = if probabilities.is_empty() {
        n as f64
    } else {
        probabilities.iter().sum()
    };
    Ok(Batch {
        picks,
        strategy: name,
        design: cfg.design,
        probabilities,
        utilities,
        expected_size,
    })
}
