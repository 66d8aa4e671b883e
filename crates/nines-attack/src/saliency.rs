//! Saliency: which tokens drive the classifier's `P(injury)` of a pair, as data (token spans
//! with scores) for the CLI and a red-team page; and the faithfulness check (does deleting
//! the most salient tokens lower `P(injury)` more than deleting random ones?).
//!
//! Both methods attribute `P(injury)` on the log-odds scale, `z = logit / T` (so that
//! `P = sigmoid(z)`), to the token embeddings `e_i` of the prompt and completion (special
//! tokens get none). Log-odds rather than the probability itself: a confident classifier's
//! probability is flat (its gradient vanishes) exactly where attribution matters, while the
//! log-odds rank tokens the same way and stay informative.
//! - **gradient × input**: `s_i = ∂z/∂e_i · e_i`;
//! - **integrated gradients** from the all-zero embedding: `s_i = e_i · mean_k ∂z/∂e_i (α_k e)`
//!   at the midpoints `α_k = (k + ½)/m`; the scores sum to about `z(e) − z(0)` (completeness).
//!
//! Positive scores push toward "injury".

use rand::SeedableRng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use nines_classify::{PairPart, PairTokens};

use crate::error::{AttackError, Result};
use crate::text::delete_ranges;
use crate::victim::Victim;

/// How attributions are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaliencyMethod {
    /// Gradient × input (one gradient).
    GradientXInput,
    /// Integrated gradients from the zero embedding with this many midpoint steps.
    IntegratedGradients {
        /// Interpolation steps (each a classifier query).
        steps: usize,
    },
}

impl Default for SaliencyMethod {
    fn default() -> Self {
        SaliencyMethod::IntegratedGradients { steps: 16 }
    }
}

/// One token's attribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenScore {
    /// Prompt or completion.
    pub part: PairPart,
    /// Byte offset in that text.
    pub start: usize,
    /// Byte offset one past the token.
    pub end: usize,
    /// The token's text.
    pub text: String,
    /// Its share of the log-odds of `P(injury)` (positive: toward injury).
    pub score: f32,
}

/// A saliency map of one pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saliency {
    /// How it was computed.
    pub method: SaliencyMethod,
    /// The pair's `P(injury)`.
    pub probability: f32,
    /// Its log-odds `logit / T`.
    pub log_odds: f32,
    /// For integrated gradients, the log-odds at the zero baseline (the scores sum to about
    /// `log_odds − baseline_log_odds`); for gradient × input, None.
    pub baseline_log_odds: Option<f32>,
    /// The prompt's and completion's tokens in reading order.
    pub tokens: Vec<TokenScore>,
}

impl Saliency {
    /// Indices into [`tokens`](Self::tokens) of the `k` highest scores (ties: earlier first).
    pub fn top(&self, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.tokens.len()).collect();
        idx.sort_by(|&a, &b| {
            self.tokens[b]
                .score
                .total_cmp(&self.tokens[a].score)
                .then(a.cmp(&b))
        });
        idx.truncate(k);
        idx
    }
}

fn content_rows(tokens: &PairTokens) -> Vec<usize> {
    (0..tokens.len())
        .filter(|&i| tokens.tokens[i].part != PairPart::Special)
        .collect()
}

/// The saliency map of `(prompt, completion)`.
///
/// # Errors
/// [`AttackError::EmptyText`], [`AttackError::TooLong`], [`AttackError::Config`] for zero
/// integration steps.
pub fn saliency(
    victim: &Victim<'_>,
    prompt: &str,
    completion: &str,
    method: SaliencyMethod,
) -> Result<Saliency> {
    let tokens = victim.tokenize(prompt, completion, "pair")?;
    let t = victim.temperature();
    let emb = victim.token_embeddings(&tokens)?;
    let (grad, log_odds, baseline) = match method {
        SaliencyMethod::GradientXInput => {
            let x = emb.detach().set_requires_grad(true);
            let z = victim.logits_from_embeddings(&tokens, &x)? / t;
            let zv = z.double_value(&[0]) as f32;
            z.sum(Kind::Float).backward();
            (x.grad().squeeze_dim(0), zv, None)
        }
        SaliencyMethod::IntegratedGradients { steps } => {
            if steps == 0 {
                return Err(AttackError::config("saliency.steps", "must be at least 1"));
            }
            let log_odds = {
                let _g = tch::no_grad_guard();
                (victim
                    .logits_from_embeddings(&tokens, &emb)?
                    .double_value(&[0])
                    / t) as f32
            };
            // Interpolate the content tokens only; special tokens keep their embeddings.
            let mask: Vec<f32> = tokens
                .tokens
                .iter()
                .map(|k| f32::from(u8::from(k.part != PairPart::Special)))
                .collect();
            let mask = Tensor::from_slice(&mask)
                .view([1, tokens.len() as i64, 1])
                .to_device(emb.device());
            let alphas: Vec<f32> = (0..steps)
                .map(|k| (k as f32 + 0.5) / steps as f32)
                .collect();
            let alphas = Tensor::from_slice(&alphas)
                .view([steps as i64, 1, 1])
                .to_device(emb.device());
            let scale = &alphas * &mask + (1.0 - &mask);
            let x = (&emb * &scale).detach().set_requires_grad(true);
            let z = victim.logits_from_embeddings(&tokens, &x)? / t;
            z.sum(Kind::Float).backward();
            let mean = x.grad().mean_dim(0, false, None);
            let baseline = {
                let _g = tch::no_grad_guard();
                let zero = &emb * (1.0 - &mask);
                (victim
                    .logits_from_embeddings(&tokens, &zero)?
                    .double_value(&[0])
                    / t) as f32
            };
            (mean, log_odds, Some(baseline))
        }
    };
    let per_token = (grad * emb.squeeze_dim(0))
        .sum_dim_intlist(-1, false, None)
        .to_kind(Kind::Float);
    let scores: Vec<f32> = Vec::<f32>::try_from(&per_token.to_device(tch::Device::Cpu))?;
    let tokens_out = content_rows(&tokens)
        .into_iter()
        .map(|i| {
            let k = tokens.tokens[i];
            let src = if k.part == PairPart::Prompt {
                prompt
            } else {
                completion
            };
            TokenScore {
                part: k.part,
                start: k.start,
                end: k.end,
                text: src.get(k.start..k.end).unwrap_or("").to_string(),
                score: scores[i],
            }
        })
        .collect();
    Ok(Saliency {
        method,
        probability: (1.0 / (1.0 + (-f64::from(log_odds)).exp())) as f32,
        log_odds,
        baseline_log_odds: baseline,
        tokens: tokens_out,
    })
}

/// `(prompt, completion)` with the given tokens' bytes removed.
pub fn delete_tokens(prompt: &str, completion: &str, tokens: &[&TokenScore]) -> (String, String) {
    let ranges = |part: PairPart| -> Vec<std::ops::Range<usize>> {
        tokens
            .iter()
            .filter(|t| t.part == part)
            .map(|t| t.start..t.end)
            .collect()
    };
    (
        delete_ranges(prompt, &ranges(PairPart::Prompt)),
        delete_ranges(completion, &ranges(PairPart::Completion)),
    )
}

/// One pair of the faithfulness check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaithfulnessRow {
    /// `P(injury)` of the pair.
    pub probability: f32,
    /// After deleting the `k` most salient tokens.
    pub salient_deleted: f32,
    /// Mean over the random draws after deleting `k` random tokens.
    pub random_deleted: f32,
    /// Whether the salient deletion lowered `P` more than the random ones.
    pub salient_wins: bool,
}

/// The faithfulness check over many pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaithfulnessReport {
    /// The method checked.
    pub method: SaliencyMethod,
    /// Tokens deleted.
    pub k: usize,
    /// Random draws per pair.
    pub random_draws: usize,
    /// Pairs checked (those with more than `k` content tokens).
    pub pairs: usize,
    /// Pairs where the salient deletion won.
    pub wins: usize,
    /// `wins / pairs`.
    pub win_rate: f64,
    /// Per pair.
    pub rows: Vec<FaithfulnessRow>,
}

/// Whether deleting salient tokens beat deleting random ones: a strictly lower `P` than
/// the mean of the random deletions.
pub fn salient_wins(salient_deleted: f32, random_deleted: &[f32]) -> bool {
    if random_deleted.is_empty() {
        return false;
    }
    let mean = random_deleted.iter().sum::<f32>() / random_deleted.len() as f32;
    salient_deleted < mean
}

/// For each pair, deletes the `k` most salient tokens and, `random_draws` times, `k` random
/// tokens, and compares the `P(injury)` left (the deleted texts are rescored by the
/// classifier). Pairs with at most `k` content tokens are skipped.
///
/// # Errors
/// As [`saliency`]; [`AttackError::Config`] when `k` or `random_draws` is zero.
pub fn faithfulness(
    victim: &Victim<'_>,
    pairs: &[(&str, &str)],
    method: SaliencyMethod,
    k: usize,
    random_draws: usize,
    seed: u64,
) -> Result<FaithfulnessReport> {
    if k == 0 || random_draws == 0 {
        return Err(AttackError::config(
            "faithfulness",
            "k and random_draws must be at least 1",
        ));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut rows = Vec::new();
    for (prompt, completion) in pairs {
        let s = saliency(victim, prompt, completion, method)?;
        if s.tokens.len() <= k {
            continue;
        }
        let top: Vec<&TokenScore> = s.top(k).into_iter().map(|i| &s.tokens[i]).collect();
        let mut variants = vec![delete_tokens(prompt, completion, &top)];
        let all: Vec<&TokenScore> = s.tokens.iter().collect();
        for _ in 0..random_draws {
            let pick: Vec<&TokenScore> = all.choose_multiple(&mut rng, k).copied().collect();
            variants.push(delete_tokens(prompt, completion, &pick));
        }
        // An emptied text cannot be scored as a pair; a single space stands in for it.
        let refs: Vec<(&str, &str)> = variants
            .iter()
            .map(|(p, c)| {
                (
                    if p.is_empty() { " " } else { p.as_str() },
                    if c.is_empty() { " " } else { c.as_str() },
                )
            })
            .collect();
        let scores = victim.score(&refs)?;
        let random = &scores[1..];
        rows.push(FaithfulnessRow {
            probability: s.probability,
            salient_deleted: scores[0],
            random_deleted: random.iter().sum::<f32>() / random.len() as f32,
            salient_wins: salient_wins(scores[0], random),
        });
    }
    let wins = rows.iter().filter(|r| r.salient_wins).count();
    Ok(FaithfulnessReport {
        method,
        k,
        random_draws,
        pairs: rows.len(),
        wins,
        win_rate: if rows.is_empty() {
            0.0
        } else {
            wins as f64 / rows.len() as f64
        },
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wins_need_a_strictly_lower_probability_than_the_random_mean() {
        assert!(salient_wins(0.1, &[0.5, 0.3]));
        assert!(!salient_wins(0.4, &[0.5, 0.3]));
        assert!(!salient_wins(0.4, &[]));
    }

    #[test]
    fn deleting_tokens_removes_their_bytes_from_the_right_text() {
        let t = |part, start, end| TokenScore {
            part,
            start,
            end,
            text: String::new(),
            score: 0.0,
        };
        let a = t(PairPart::Completion, 3, 7);
        let b = t(PairPart::Prompt, 0, 4);
        let (p, c) = delete_tokens("The day.", "He fell hard.", &[&a, &b]);
        assert_eq!(p, "day.");
        assert_eq!(c, "He hard.");
    }

    #[test]
    fn top_orders_by_score_then_position() {
        let t = |score| TokenScore {
            part: PairPart::Completion,
            start: 0,
            end: 0,
            text: String::new(),
            score,
        };
        let s = Saliency {
            method: SaliencyMethod::GradientXInput,
            probability: 0.5,
            log_odds: 0.0,
            baseline_log_odds: None,
            tokens: vec![t(0.1), t(0.9), t(0.1), t(-1.0)],
        };
        assert_eq!(s.top(3), [1, 0, 2]);
    }
}
