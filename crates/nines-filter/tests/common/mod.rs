//! Test doubles with known discrete distributions.
#![allow(dead_code)]

use std::collections::HashMap;

use nines_data::PairScorer;
use nines_filter::{Policy, Result, Sample};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Every prompt's completion is outcome `i` (text `texts[i]`) with probability `probs[i]`,
/// drawn independently: sample `j` of the round's prompt `i` uses ChaCha8 stream
/// `(i << 32) | j` of the round seed, as the runtime does.
pub struct DiscretePolicy {
    pub texts: Vec<String>,
    cdf: Vec<f64>,
}

impl DiscretePolicy {
    pub fn new(outcomes: &[(&str, f64)]) -> Self {
        let mut acc = 0.0;
        let cdf = outcomes
            .iter()
            .map(|(_, p)| {
                acc += p;
                acc
            })
            .collect();
        Self {
            texts: outcomes.iter().map(|(t, _)| t.to_string()).collect(),
            cdf,
        }
    }
}

impl Policy for DiscretePolicy {
    fn sample(&self, prompts: &[&str], n: usize, seed: u64) -> Result<Vec<Vec<Sample>>> {
        let last = self.cdf.len() - 1;
        Ok((0..prompts.len())
            .map(|i| {
                (0..n)
                    .map(|j| {
                        let mut rng = ChaCha8Rng::seed_from_u64(seed);
                        rng.set_stream(((i as u64) << 32) | j as u64);
                        let u = rng.random::<f64>() * self.cdf[last];
                        let k = self.cdf.partition_point(|c| *c <= u).min(last);
                        Sample {
                            text: self.texts[k].clone(),
                            tokens: 1 + k,
                        }
                    })
                    .collect()
            })
            .collect())
    }
}

/// Scores a completion by looking its text up (unknown text: 1.0).
pub struct TableScorer(pub HashMap<String, f32>);

impl TableScorer {
    pub fn new(entries: &[(&str, f32)]) -> Self {
        Self(entries.iter().map(|(t, s)| (t.to_string(), *s)).collect())
    }
}

impl PairScorer for TableScorer {
    fn score(&self, pairs: &[(&str, &str)]) -> nines_data::Result<Vec<f32>> {
        Ok(pairs
            .iter()
            .map(|(_, c)| self.0.get(*c).copied().unwrap_or(1.0))
            .collect())
    }
}

/// Five outcomes with exactly representable scores: A, B, C pass a threshold of 0.5.
pub const OUTCOMES: [(&str, f64, f32); 5] = [
    ("A", 0.30, 0.0625),
    ("B", 0.25, 0.1875),
    ("C", 0.15, 0.4375),
    ("D", 0.20, 0.75),
    ("E", 0.10, 0.9375),
];

pub fn policy() -> DiscretePolicy {
    let o: Vec<(&str, f64)> = OUTCOMES.iter().map(|(t, p, _)| (*t, *p)).collect();
    DiscretePolicy::new(&o)
}

pub fn scorer() -> TableScorer {
    let s: Vec<(&str, f32)> = OUTCOMES.iter().map(|(t, _, s)| (*t, *s)).collect();
    TableScorer::new(&s)
}

/// Index of an outcome's text.
pub fn index_of(text: &str) -> usize {
    OUTCOMES
        .iter()
        .position(|(t, _, _)| *t == text)
        .expect("known outcome")
}
