//! Sanity limits on model sizes, checked when a configuration is read and before anything is
//! allocated: a size of 10^9 or 2^40 in a `config.json` or GGUF header is a typed error naming
//! the field, not an allocation failure inside LibTorch, and a model whose parameters alone
//! would not fit in the memory this machine has available says so with the estimate.

use std::path::Path;

use crate::error::{Result, RuntimeError};

/// Most rows of an embedding matrix (2^24; the largest public vocabularies are ~2^18).
pub const MAX_VOCAB: usize = 1 << 24;
/// Most width of a hidden or feed-forward layer (2^18).
pub const MAX_WIDTH: usize = 1 << 18;
/// Most transformer blocks.
pub const MAX_LAYERS: usize = 4_096;
/// Most attention heads.
pub const MAX_HEADS: usize = 4_096;
/// Longest context (2^24 positions).
pub const MAX_CONTEXT: usize = 1 << 24;

/// Each `(field, value, maximum)` is within its maximum.
///
/// # Errors
/// [`RuntimeError::Config`] naming the first field above its maximum.
pub(crate) fn check_sizes(path: &Path, sizes: &[(&str, usize, usize)]) -> Result<()> {
    for &(field, value, max) in sizes {
        if value > max {
            return Err(RuntimeError::config(
                path,
                field,
                format!("{value} is above the maximum of {max}"),
            ));
        }
    }
    Ok(())
}

/// `value` is a finite positive number.
///
/// # Errors
/// [`RuntimeError::Config`] naming `field`.
pub(crate) fn check_positive(path: &Path, field: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(RuntimeError::config(
            path,
            field,
            format!("{value} is not a finite positive number"),
        ))
    }
}

/// A dropout probability: finite, in `[0, 1)`.
pub(crate) fn check_probability(path: &Path, field: &str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(RuntimeError::config(
            path,
            field,
            format!("{value} is not a probability in [0, 1)"),
        ))
    }
}

/// The f32 parameters (`parameters` of them) fit in the memory available now (`MemAvailable`;
/// not checked where that is unknown).
///
/// # Errors
/// [`RuntimeError::Config`] naming `field` (the size that drives the estimate) with the
/// estimate and the memory available.
pub(crate) fn check_parameter_memory(path: &Path, field: &str, parameters: u128) -> Result<()> {
    let Some(available) = crate::device::available_memory() else {
        return Ok(());
    };
    let bytes = parameters.saturating_mul(4);
    if bytes > u128::from(available) {
        return Err(RuntimeError::config(
            path,
            field,
            format!(
                "the model's {parameters} parameters need about {:.1} GiB as f32; {:.1} GiB of memory is available",
                bytes as f64 / (1u64 << 30) as f64,
                available as f64 / (1u64 << 30) as f64
            ),
        ));
    }
    Ok(())
}
