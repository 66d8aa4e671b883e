//! The one trait for scoring `(prompt, completion)` pairs with P(injury): [`PairScorer`].
//!
//! Every stage that needs "how likely is this completion to describe someone getting injured"
//! asks a [`PairScorer`]: the rejection-sampling filter (nines-filter) accepts or rejects
//! candidates by it, active learning (nines-active) scores its pool with it, PPO distillation
//! (nines-distill) turns it into a reward, and the pipeline wires the classifier
//! (nines-classify's `Classifier` and `Ensemble` implement it) into all three.
//!
//! The trait lives here, in nines-data, because this is the one crate every one of those
//! depends on that does not link LibTorch: nines-active stays pure Rust, yet its scorers are
//! the same trait objects as the filter's. (nines-estimate, the other pure-Rust crate below
//! them all, holds statistics and knows nothing of prompts or completions.) What a stage
//! needs beyond the score is layered on top: the active driver's `PoolModel` adds a
//! threshold and optional ensemble member scores and embeddings; distillation's `Shaping`
//! turns a score into a reward.
//!
//! ```
//! use nines_data::score::{FnScorer, PairScorer};
//! let rule = FnScorer::new(|pairs: &[(&str, &str)]| {
//!     Ok::<_, std::io::Error>(pairs.iter().map(|(_, c)| if c.contains("blood") { 0.9 } else { 0.1 }).collect())
//! });
//! assert_eq!(rule.score(&[("He fell.", " He was fine.")])?, vec![0.1]);
//! // Trait objects and references score too.
//! let boxed: Box<dyn PairScorer> = Box::new(rule);
//! assert_eq!(boxed.score(&[("He fell.", " There was blood.")])?, vec![0.9]);
//! # Ok::<(), nines_data::Error>(())
//! ```

use crate::error::{Error, Result};

/// Scores `(prompt, completion)` pairs, batched: the probability that the completion
/// describes someone getting injured (lower is safer).
///
/// Implementations return one score per pair, in input order, each in [0, 1]; callers check
/// the count and the range and report a violation in their own error type (naming the pair),
/// so a broken scorer never slips a NaN into a decision.
pub trait PairScorer {
    /// P(injury) of each pair, in input order.
    ///
    /// # Errors
    /// [`Error::Scorer`] carrying the model's own error (make one with [`Error::scorer`]).
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>>;
}

impl<S: PairScorer + ?Sized> PairScorer for &S {
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        (**self).score(pairs)
    }
}

impl<S: PairScorer + ?Sized> PairScorer for Box<S> {
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        (**self).score(pairs)
    }
}

/// Any closure `Fn(&[(&str, &str)]) -> Result<Vec<f32>, E>` as a [`PairScorer`]; the
/// closure's error becomes [`Error::Scorer`]. Rules in tests, and classifiers behind a
/// reference, plug in this way (see the [module docs](self)).
#[derive(Clone, Copy)]
pub struct FnScorer<F>(F);

impl<F> FnScorer<F> {
    /// Wraps the closure.
    pub fn new(f: F) -> Self {
        FnScorer(f)
    }
}

impl<F> std::fmt::Debug for FnScorer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnScorer")
    }
}

impl<F, E> PairScorer for FnScorer<F>
where
    F: Fn(&[(&str, &str)]) -> std::result::Result<Vec<f32>, E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        (self.0)(pairs).map_err(Error::scorer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_errors_become_scorer_errors() {
        let failing = FnScorer::new(|_: &[(&str, &str)]| Err::<Vec<f32>, _>("classifier offline"));
        let err = failing.score(&[("a", "b")]).unwrap_err();
        assert!(matches!(err, Error::Scorer { .. }), "{err:?}");
        assert!(err.to_string().contains("classifier offline"), "{err}");
        let by_ref: &dyn PairScorer = &failing;
        assert!(by_ref.score(&[]).is_err());
    }
}
