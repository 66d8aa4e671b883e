//! The [`Scorer`] trait (P(injury) of prompt–completion pairs) and a closure adapter.

use crate::error::{FilterError, Result};

/// Scores prompt–completion pairs, batched: the probability that the completion is the
/// forbidden kind of text (lower is safer). Scores must lie in [0, 1]; the filter rejects
/// NaN or out-of-range scores with [`FilterError::BadScore`].
pub trait Scorer {
    /// One score per `(prompt, completion)` pair, in order.
    ///
    /// # Errors
    /// Whatever the underlying model reports.
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>>;
}

impl<S: Scorer + ?Sized> Scorer for &S {
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        (**self).score(pairs)
    }
}

impl<S: Scorer + ?Sized> Scorer for Box<S> {
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        (**self).score(pairs)
    }
}

/// Any closure `Fn(&[(&str, &str)]) -> Result<Vec<f32>, E>` as a [`Scorer`]; the closure's
/// error becomes [`FilterError::Scorer`]. This is how a classifier from another crate plugs in:
///
/// ```no_run,standalone_crate
/// use nines_filter::{FnScorer, Scorer};
/// // Stand-in for `|pairs| classifier.score(pairs)`.
/// let scorer = FnScorer::new(|pairs: &[(&str, &str)]| {
///     Ok::<_, std::io::Error>(pairs.iter().map(|(_, c)| if c.contains("blood") { 0.9 } else { 0.1 }).collect())
/// });
/// assert_eq!(scorer.score(&[("He fell.", " He was fine.")]).unwrap(), vec![0.1]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FnScorer<F>(F);

impl<F> FnScorer<F> {
    /// Wraps the closure.
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F, E> Scorer for FnScorer<F>
where
    F: Fn(&[(&str, &str)]) -> std::result::Result<Vec<f32>, E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn score(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        (self.0)(pairs).map_err(|e| FilterError::Scorer(e.into()))
    }
}
