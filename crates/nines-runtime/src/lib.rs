//! LibTorch model runtime for Nines: load the checkpoints people actually have, generate,
//! and score.
//!
//! Everything else in Nines (classifier, rejection-sampling filter, PPO) runs on this crate.
//! It loads causal LMs (Llama family, GPT-2, GPT-Neo) from Hugging Face folders
//! (`config.json`, safetensors — sharded or not — and `tokenizer.json`) or directly from
//! llama.cpp GGUF files (dequantizing F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K and Q6_K, and
//! building the tokenizer from the file's metadata), and BERT-family encoders.
//!
//! Design: models declare parameters in a [`tch::nn::VarStore`] under Hugging Face tensor
//! names ([`models`]); checkpoint readers serve tensors by those names ([`checkpoint`]); the
//! caller owns the [`KvCache`]. Generation ([`generate`]) batches prompts of different
//! lengths with left padding, samples with a seeded per-sequence stream, and stops at EOS,
//! stop strings or the end of the first sentence. Scoring ([`score`]) gives per-token
//! log-probabilities of given completions, differentiably for training.
//!
//! ```no_run
//! use nines_runtime::{GenerateConfig, LanguageModel, LoadOptions};
//! let lm = LanguageModel::load("models/smollm2", LoadOptions::default())?;
//! let cfg = GenerateConfig { top_p: 0.95, stop_at_sentence_end: true, seed: 1, ..Default::default() };
//! for g in lm.generate(&["The ship rolled in the swell. Ahab stood at the rail."], &cfg)? {
//!     println!("{} ({:?})", g.text, g.finish_reason);
//! }
//! let lp = lm.score(&[("The ship rolled.", " It sank.")], 8)?;
//! println!("log p = {}", lp[0].iter().sum::<f32>());
//! # Ok::<(), nines_runtime::RuntimeError>(())
//! ```
#![deny(missing_docs)]
// `x = x + y` on a tensor makes a new tensor; clippy's `x += y` would add in place, which
// breaks autograd (the old `x` is saved for the backward pass) and aliases views.
#![allow(clippy::assign_op_pattern)]

mod allocator;
pub mod checkpoint;
pub mod device;
pub mod encoder;
pub mod error;
pub mod generate;
pub mod int8;
pub mod kv_cache;
pub mod lm;
pub mod models;
pub mod score;
pub mod shared_prompt;
pub mod tokenizer;
pub mod train;

pub use device::{DType, DeviceSpec};
pub use encoder::{EncodedBatch, Encoder, Pooling};
pub use error::{Result, RuntimeError};
pub use generate::{FinishReason, GenerateConfig, Generation};
pub use kv_cache::KvCache;
pub use lm::{LanguageModel, LoadOptions};
pub use models::{Architecture, CausalLm, ModelSpec};
pub use score::CompletionBatch;
pub use shared_prompt::{SharedPromptBatch, SharedPromptTrunk};
pub use tch;
pub use tokenizer::Tokenizer;
