//! The policy: the generator plus a value head, and which of its parameters train.

use nines_runtime::LanguageModel;
use nines_runtime::train::freeze_all_but_top_layers;
use tch::nn::{self, Module};
use tch::{Kind, Tensor};

use crate::config::TrainScope;
use crate::error::{DistillError, Result};

/// Name of the value head's variables in the policy's store (`value_head.weight`,
/// `value_head.bias`).
pub const VALUE_HEAD: &str = "value_head";

/// A scalar value per position: a linear map of the hidden state that predicts each
/// completion token, stored in the policy's [`nn::VarStore`] under [`VALUE_HEAD`].
#[derive(Debug)]
pub struct ValueHead {
    linear: nn::Linear,
}

impl ValueHead {
    /// Declares the head in `lm`'s store, initialized to zero (values start at 0), or returns
    /// the existing one.
    pub fn attach(lm: &LanguageModel) -> Self {
        let hidden = lm.model().spec().hidden_size as i64;
        let root = lm.var_store().root();
        let linear = nn::linear(
            &root / VALUE_HEAD,
            hidden,
            1,
            nn::LinearConfig {
                ws_init: nn::Init::Const(0.0),
                bs_init: Some(nn::Init::Const(0.0)),
                bias: true,
            },
        );
        ValueHead { linear }
    }

    /// Values `(batch, completion)` from hidden states `(batch, completion, hidden)`, zero
    /// where `mask` is false.
    pub fn values(&self, hidden: &Tensor, mask: &Tensor) -> Tensor {
        self.linear
            .forward(&hidden.to_kind(Kind::Float))
            .squeeze_dim(-1)
            * mask.to_kind(Kind::Float)
    }
}

/// Sets which of the policy's parameters train: the value head always; then everything, the
/// top blocks and final norm, or only LoRA adapters. Returns the number of trainable elements.
///
/// # Errors
/// [`DistillError::InvalidConfig`] when the scope asks for more blocks than the model has,
/// or for LoRA on a policy loaded without adapters.
pub fn apply_scope(lm: &LanguageModel, scope: &TrainScope) -> Result<i64> {
    let vs = lm.var_store();
    let layers = lm.model().spec().num_layers;
    let keep_head = [VALUE_HEAD];
    match scope {
        TrainScope::All => {
            let mut n = 0;
            for (_, v) in vs.variables() {
                let _ = v.set_requires_grad(true);
                n += v.numel() as i64;
            }
            Ok(n)
        }
        TrainScope::TopLayers { layers: top } => {
            if *top > layers {
                return Err(DistillError::config(
                    "scope.layers",
                    format!("asks for {top} blocks; the model has {layers}"),
                ));
            }
            // The final normalization sits above the top block: train it with them.
            Ok(freeze_all_but_top_layers(
                vs,
                layers,
                *top,
                &[VALUE_HEAD, "model.norm.", "transformer.ln_f."],
            ))
        }
        TrainScope::Lora(cfg) => {
            if lm.lora() != Some(cfg) {
                return Err(DistillError::config(
                    "scope.lora",
                    "the policy was not loaded with these LoRA adapters (use load_models)",
                ));
            }
            Ok(freeze_all_but_top_layers(
                vs,
                layers,
                0,
                &[keep_head[0], "lora_"],
            ))
        }
    }
}

/// Freezes every parameter of `lm` (the reference model).
pub fn freeze_all(lm: &LanguageModel) {
    for (_, v) in lm.var_store().variables() {
        let _ = v.set_requires_grad(false);
    }
}
