//! The classifier under attack, behind one adapter: every score and gradient the attacks ask
//! for goes through [`Victim`], which counts them as queries and knows the threshold. This is
//! the only module that calls the classifier crate's scoring API.

use std::cell::Cell;

use nines_classify::{Classifier, PairTokens};
use tch::{Kind, Tensor};

use crate::error::{AttackError, Result};

/// A saved classifier with a threshold, counting the queries made to it.
///
/// A pair is *accepted* (let through by the filter) when its score is at most the threshold.
pub struct Victim<'a> {
    classifier: &'a Classifier,
    threshold: f64,
    queries: Cell<u64>,
    table: std::cell::OnceCell<Tensor>,
}

impl std::fmt::Debug for Victim<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Victim")
            .field("threshold", &self.threshold)
            .field("queries", &self.queries.get())
            .finish()
    }
}

/// The gradient of one pair's logit with respect to its token embeddings.
#[derive(Debug)]
pub struct Gradient {
    /// The pair's tokens.
    pub tokens: PairTokens,
    /// Embeddings `(seq, hidden)`.
    pub embeddings: Tensor,
    /// `∂ logit / ∂ embeddings`, `(seq, hidden)`.
    pub gradient: Tensor,
    /// The calibrated `P(injury)`.
    pub probability: f32,
}

/// Fails with [`AttackError::EmptyText`] for an empty or whitespace-only text.
pub fn check_text(text: &str, what: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(AttackError::EmptyText { what: what.into() });
    }
    Ok(())
}

impl<'a> Victim<'a> {
    /// Wraps a classifier.
    ///
    /// # Errors
    /// [`AttackError::NoThreshold`] when the classifier has no threshold.
    pub fn new(classifier: &'a Classifier) -> Result<Self> {
        let threshold = classifier.threshold().ok_or(AttackError::NoThreshold)?;
        Ok(Victim {
            classifier,
            threshold,
            queries: Cell::new(0),
            table: std::cell::OnceCell::new(),
        })
    }

    /// The rejection threshold: accepted when `score <= threshold`.
    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    /// Whether a score is accepted.
    pub fn accepts(&self, score: f32) -> bool {
        f64::from(score) <= self.threshold
    }

    /// Classifier queries so far.
    pub fn queries(&self) -> u64 {
        self.queries.get()
    }

    /// Tokenizes a pair, refusing empty texts and pairs the classifier would truncate.
    ///
    /// # Errors
    /// [`AttackError::EmptyText`], [`AttackError::TooLong`].
    pub fn tokenize(&self, prompt: &str, completion: &str, what: &str) -> Result<PairTokens> {
        check_text(prompt, &format!("{what} prompt"))?;
        check_text(completion, &format!("{what} completion"))?;
        let tokens = self.classifier.tokenize_pair(prompt, completion)?;
        let max = self.classifier.max_tokens();
        if tokens.len() > max {
            return Err(AttackError::TooLong {
                what: what.into(),
                tokens: tokens.len(),
                max,
            });
        }
        Ok(tokens)
    }

    /// Calibrated `P(injury)` of each pair; one query per pair.
    pub fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        self.queries.set(self.queries.get() + pairs.len() as u64);
        Ok(self.classifier.score(pairs)?)
    }

    /// The embedding table `(vocab, hidden)`, computed once.
    ///
    /// # Errors
    /// The classifier's, when the table cannot be computed.
    pub fn embedding_table(&self) -> Result<&Tensor> {
        if let Some(t) = self.table.get() {
            return Ok(t);
        }
        let table = self
            .classifier
            .embedding_table()?
            .to_device(tch::Device::Cpu);
        Ok(self.table.get_or_init(|| table))
    }

    /// The vocabulary strings of the classifier's tokenizer, by id.
    pub fn vocabulary(&self) -> Vec<String> {
        self.classifier.vocabulary()
    }

    /// Logits `(n,)` (not calibrated) of `n` variants of one pair given as embeddings
    /// `(n, seq, hidden)`; differentiable. Counts `n` queries.
    pub fn logits_from_embeddings(
        &self,
        tokens: &PairTokens,
        embeddings: &Tensor,
    ) -> Result<Tensor> {
        self.queries
            .set(self.queries.get() + embeddings.size().first().copied().unwrap_or(1) as u64);
        Ok(self.classifier.logits_from_embeddings(tokens, embeddings)?)
    }

    /// `P(injury)` from a logit: `sigmoid(logit / temperature)`.
    pub fn calibrate(&self, logit: f64) -> f32 {
        (1.0 / (1.0 + (-logit / self.classifier.temperature()).exp())) as f32
    }

    /// The temperature dividing logits.
    pub fn temperature(&self) -> f64 {
        self.classifier.temperature()
    }

    /// Token embeddings `(1, seq, hidden)` of a tokenized pair.
    pub fn token_embeddings(&self, tokens: &PairTokens) -> Result<Tensor> {
        Ok(self.classifier.token_embeddings(tokens)?)
    }

    /// The gradient of the pair's logit with respect to its token embeddings; one query.
    pub fn gradient(&self, tokens: &PairTokens) -> Result<Gradient> {
        let emb = self.token_embeddings(tokens)?.set_requires_grad(true);
        let logit = self.logits_from_embeddings(tokens, &emb)?;
        let value = logit.double_value(&[0]);
        logit.sum(Kind::Float).backward();
        let gradient = emb.grad().squeeze_dim(0).to_device(tch::Device::Cpu);
        Ok(Gradient {
            tokens: tokens.clone(),
            embeddings: emb.detach().squeeze_dim(0).to_device(tch::Device::Cpu),
            gradient,
            probability: self.calibrate(value),
        })
    }
}
