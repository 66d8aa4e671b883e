//! Selector settings: [`SelectorConfig`] and the sampling [`Design`].

use serde::{Deserialize, Serialize};

use crate::error::{ActiveError, Result};

/// How a batch is drawn from the weights (see [`crate::design`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Design {
    /// Independent inclusion with probability `π_i`; expected batch size = budget.
    Poisson,
    /// Systematic πps in random order; batch size exactly the budget.
    Systematic,
    /// Greedy k-center cells of the embeddings as strata, systematic πps inside each cell;
    /// every cell gets at least one label. Needs embeddings.
    Diverse,
    /// The `budget` pairs of highest utility. Deterministic: its picks carry no inclusion
    /// probability and cannot be reweighted.
    TopK,
}

impl Design {
    /// The name recorded in picks: `poisson`, `systematic`, `diverse`, `topk`.
    pub fn as_str(self) -> &'static str {
        match self {
            Design::Poisson => "poisson",
            Design::Systematic => "systematic",
            Design::Diverse => "diverse",
            Design::TopK => "topk",
        }
    }

    /// Whether picks carry inclusion probabilities (every design but top-k).
    pub fn reweightable(self) -> bool {
        self != Design::TopK
    }
}

impl std::fmt::Display for Design {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Design {
    type Err = ActiveError;

    /// Parses `poisson`, `systematic`, `diverse` or `topk`.
    fn from_str(name: &str) -> Result<Design> {
        [
            Design::Poisson,
            Design::Systematic,
            Design::Diverse,
            Design::TopK,
        ]
        .into_iter()
        .find(|d| d.as_str() == name)
        .ok_or_else(|| {
            ActiveError::config(
                "design",
                format!("`{name}` is not poisson, systematic, diverse or topk"),
            )
        })
    }
}

/// Settings of one selection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SelectorConfig {
    /// Labels to spend: the (expected) batch size. Default 100.
    pub budget: usize,
    /// Sampling design. Default [`Design::Systematic`].
    pub design: Design,
    /// Uniform share `λ` in (0, 1] of the weights `λ + (1 − λ) u / ū`: the floor that keeps
    /// every pair's probability positive. Default 0.05.
    pub uniform_mix: f64,
    /// Number of k-center cells of the diverse design (0: as many as the budget, i.e. one
    /// label per cell). At most the budget. Default 0.
    pub clusters: usize,
    /// Random seed of the draw. Default 0.
    pub seed: u64,
}

impl Default for SelectorConfig {
    fn default() -> Self {
        SelectorConfig {
            budget: 100,
            design: Design::Systematic,
            uniform_mix: 0.05,
            clusters: 0,
            seed: 0,
        }
    }
}

impl SelectorConfig {
    /// Positive budget; `uniform_mix` in (0, 1]; `clusters` at most the budget.
    pub fn validate(&self) -> Result<()> {
        if self.budget == 0 {
            return Err(ActiveError::ZeroBudget {
                what: "SelectorConfig.budget",
            });
        }
        crate::design::check_mix(self.uniform_mix)?;
        if self.clusters > self.budget {
            return Err(ActiveError::config(
                "SelectorConfig.clusters",
                format!(
                    "{} cells need at least one label each but the budget is {}",
                    self.clusters, self.budget
                ),
            ));
        }
        Ok(())
    }
}
