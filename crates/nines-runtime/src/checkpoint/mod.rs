//! Checkpoint formats: Hugging Face folders (safetensors, sharded or not) and GGUF files;
//! the one weight loader.
//!
//! Models declare their parameters in a [`tch::nn::VarStore`] under Hugging Face tensor names;
//! a [`TensorSource`] supplies the stored values by those names, and [`load_var_store`] copies
//! them in, checking every shape. Trainers restore their own safetensors files with
//! [`load_into`] (and tensors held in memory with [`copy_named`]). All of them copy through
//! one checked routine: a missing tensor or a shape mismatch is an error naming the tensor and
//! the file.

pub mod dequant;
pub mod gguf;
pub mod hf;
mod load;
mod variables;

pub use load::{Expect, LoadReport, copy_named, load_into};
pub(crate) use variables::VariablesSource;

use std::path::PathBuf;

use tch::{Kind, Tensor, nn::VarStore};

use crate::error::{Result, RuntimeError};

/// A store of named tensors on disk.
pub trait TensorSource {
    /// Reads a tensor by its Hugging Face name (as `f32`, `f16` or `bf16`, on the CPU), or
    /// `None` when the checkpoint does not hold it.
    fn read(&self, name: &str) -> Result<Option<Tensor>>;

    /// The stored shape of `name`, or `None` when the checkpoint does not hold it. The
    /// default reads the tensor; sources that know shapes without reading override it.
    fn shape(&self, name: &str) -> Result<Option<Vec<i64>>> {
        Ok(self.read(name)?.map(|t| t.size()))
    }

    /// Rows `start..start + count` (along the first dimension) of `name`, or `None` when the
    /// checkpoint does not hold it. The default reads the whole tensor and narrows it;
    /// sources that can read part of a tensor override it, so that a large matrix can be
    /// processed in blocks without an f32 copy of its size.
    fn read_rows(&self, name: &str, start: i64, count: i64) -> Result<Option<Tensor>> {
        self.read(name)?
            .map(|t| t.f_narrow(0, start, count).map_err(Into::into))
            .transpose()
    }

    /// The file that holds (or would hold) `name`, for error messages.
    fn origin(&self, name: &str) -> PathBuf;
}

/// Prefixes that Hugging Face adds or omits depending on the head class a checkpoint was saved
/// from (`BertModel` vs `BertForSequenceClassification`, `GPT2Model` vs `GPT2LMHeadModel`).
const OPTIONAL_PREFIXES: [&str; 3] = ["model.", "transformer.", "bert."];

/// Reads `name`, or the name without one of the prefixes Hugging Face adds or omits.
pub(crate) fn read_with_prefix_fallback(
    source: &dyn TensorSource,
    name: &str,
) -> Result<Option<Tensor>> {
    if let Some(t) = source.read(name)? {
        return Ok(Some(t));
    }
    for prefix in OPTIONAL_PREFIXES {
        if let Some(stripped) = name.strip_prefix(prefix)
            && let Some(t) = source.read(stripped)?
        {
            return Ok(Some(t));
        }
    }
    Ok(None)
}

/// The name under which `source` stores `name` (`name` itself, or `name` without one of the
/// prefixes Hugging Face adds or omits) and its stored shape.
pub(crate) fn stored_name(
    source: &dyn TensorSource,
    name: &str,
) -> Result<Option<(String, Vec<i64>)>> {
    if let Some(shape) = source.shape(name)? {
        return Ok(Some((name.to_string(), shape)));
    }
    for prefix in OPTIONAL_PREFIXES {
        if let Some(stripped) = name.strip_prefix(prefix)
            && let Some(shape) = source.shape(stripped)?
        {
            return Ok(Some((stripped.to_string(), shape)));
        }
    }
    Ok(None)
}

/// Copies every variable of `vs` from `source`, converting to the variable's dtype and device.
///
/// Variables for which `optional(name)` is true keep their initial values when the
/// checkpoint lacks them (e.g. a fresh classification head, LoRA adapters).
///
/// # Errors
/// [`RuntimeError::MissingTensor`] and [`RuntimeError::ShapeMismatch`], naming the tensor.
pub fn load_var_store(
    vs: &VarStore,
    source: &dyn TensorSource,
    optional: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, var) in vars {
        let Some(stored) = read_with_prefix_fallback(source, &name)? else {
            if optional(&name) {
                continue;
            }
            return Err(RuntimeError::MissingTensor {
                path: source.origin(&name),
                tensor: name,
            });
        };
        load::copy_checked(&var, &stored, &name, source.origin(&name))?;
    }
    Ok(())
}

/// Converts raw little-endian bytes of a supported float dtype to a CPU tensor.
pub(crate) fn tensor_from_bytes(data: &[u8], shape: &[i64], kind: Kind) -> Result<Tensor> {
    Ok(Tensor::f_from_data_size(data, shape, kind)?)
}
