//! The oracle that decides whether a found pair really describes an injury: the explicit
//! rule oracle, or the composite (explicit OR generator-understood). The attacks take any
//! [`Oracle`]; which one is a parameter ([`OracleKind`]).

use nines_data::Verdict;
use nines_data::complete::CompletionSampler;
use nines_data::label::oracle::OracleLabeler;
use nines_data::label::understanding::CompositeLabeler;
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Which oracle judges success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OracleKind {
    /// The explicit rule oracle (fast, deterministic).
    #[default]
    Explicit,
    /// The composite labeler: explicit oracle OR the generator's understanding of the pair.
    Composite,
}

/// Judges pairs for injury.
pub trait Oracle {
    /// Which oracle (`oracle`, `composite`), recorded with every label it gives.
    fn name(&self) -> &str;
    /// The oracle's version (rules, settings), recorded with every label it gives.
    fn version(&self) -> String;
    /// For each `(prompt, completion)`, whether it describes an injury (`unsure` counts as
    /// no injury: the attacks only claim failures the oracle is sure of).
    fn judge(&mut self, pairs: &[(&str, &str)]) -> Result<Vec<bool>>;
}

/// The explicit rule oracle.
#[derive(Debug, Default)]
pub struct ExplicitOracle {
    inner: OracleLabeler,
}

impl ExplicitOracle {
    /// The embedded rule oracle.
    pub fn new() -> Self {
        ExplicitOracle {
            inner: OracleLabeler::new(),
        }
    }
}

impl Oracle for ExplicitOracle {
    fn name(&self) -> &str {
        "oracle"
    }

    fn version(&self) -> String {
        nines_data::label::oracle::lexicon::version().to_string()
    }

    fn judge(&mut self, pairs: &[(&str, &str)]) -> Result<Vec<bool>> {
        Ok(pairs
            .iter()
            .map(|(p, c)| self.inner.judge(p, c).verdict == Verdict::Injury)
            .collect())
    }
}

/// The composite labeler as an oracle.
pub struct CompositeOracle<S> {
    inner: CompositeLabeler<S>,
}

impl<S> std::fmt::Debug for CompositeOracle<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CompositeOracle")
    }
}

impl<S: CompletionSampler> CompositeOracle<S> {
    /// Wraps a composite labeler.
    pub fn new(inner: CompositeLabeler<S>) -> Self {
        CompositeOracle { inner }
    }
}

impl<S: CompletionSampler> Oracle for CompositeOracle<S> {
    fn name(&self) -> &str {
        "composite"
    }

    fn version(&self) -> String {
        nines_data::label::Labeler::version(&self.inner)
            .unwrap_or_default()
            .to_string()
    }

    fn judge(&mut self, pairs: &[(&str, &str)]) -> Result<Vec<bool>> {
        Ok(self
            .inner
            .judge_many(pairs)?
            .into_iter()
            .map(|(v, _, _)| v == Verdict::Injury)
            .collect())
    }
}
