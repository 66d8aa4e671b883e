//! Input validation shared by the estimators (private).

use crate::error::{EstimateError, Result};

/// Fails with [`EstimateError::Empty`] on an empty slice.
pub(crate) fn nonempty<T>(field: &'static str, xs: &[T]) -> Result<()> {
    if xs.is_empty() {
        Err(EstimateError::Empty { field })
    } else {
        Ok(())
    }
}

/// Fails unless the slice has at least `need` elements.
pub(crate) fn at_least<T>(field: &'static str, xs: &[T], need: usize) -> Result<()> {
    nonempty(field, xs)?;
    if xs.len() < need {
        Err(EstimateError::TooFew {
            field,
            need,
            got: xs.len(),
        })
    } else {
        Ok(())
    }
}

/// Fails unless both slices have the same length.
pub(crate) fn same_len<A, B>(
    left: &'static str,
    a: &[A],
    right: &'static str,
    b: &[B],
) -> Result<()> {
    if a.len() != b.len() {
        Err(EstimateError::LengthMismatch {
            left,
            left_len: a.len(),
            right,
            right_len: b.len(),
        })
    } else {
        Ok(())
    }
}

/// Fails on the first NaN or infinite element.
pub(crate) fn finite(field: &'static str, xs: &[f64]) -> Result<()> {
    match xs.iter().position(|x| !x.is_finite()) {
        Some(index) => Err(EstimateError::NonFinite {
            field,
            index,
            value: xs[index],
        }),
        None => Ok(()),
    }
}

/// Fails unless the scalar is finite.
pub(crate) fn finite_scalar(field: &'static str, x: f64) -> Result<()> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(EstimateError::NonFinite {
            field,
            index: 0,
            value: x,
        })
    }
}

/// Weights: finite, non-negative, and (when `need_positive_sum`) not all zero.
pub(crate) fn weights(field: &'static str, ws: &[f64], need_positive_sum: bool) -> Result<()> {
    nonempty(field, ws)?;
    finite(field, ws)?;
    if let Some(index) = ws.iter().position(|w| *w < 0.0) {
        return Err(EstimateError::NegativeWeight {
            field,
            index,
            value: ws[index],
        });
    }
    if need_positive_sum && ws.iter().all(|w| *w == 0.0) {
        return Err(EstimateError::ZeroWeights { field, n: ws.len() });
    }
    Ok(())
}

/// Probabilities in (0, 1] (inclusion probabilities, acceptance rates used as divisors).
pub(crate) fn open_closed_unit(field: &'static str, ps: &[f64]) -> Result<()> {
    match ps
        .iter()
        .position(|p| !(p.is_finite() && *p > 0.0 && *p <= 1.0))
    {
        Some(index) => Err(EstimateError::Probability {
            field,
            index,
            value: ps[index],
            range: "(0, 1]",
        }),
        None => Ok(()),
    }
}

/// Values in [0, 1] (judgments, probabilities that may be zero).
pub(crate) fn closed_unit(field: &'static str, ps: &[f64]) -> Result<()> {
    match ps
        .iter()
        .position(|p| !(p.is_finite() && *p >= 0.0 && *p <= 1.0))
    {
        Some(index) => Err(EstimateError::Probability {
            field,
            index,
            value: ps[index],
            range: "[0, 1]",
        }),
        None => Ok(()),
    }
}

/// A confidence level in (0, 1).
pub(crate) fn level(level: f64) -> Result<()> {
    if level.is_finite() && level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(EstimateError::Level(level))
    }
}
