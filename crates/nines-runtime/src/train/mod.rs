//! Training machinery shared by every trainer in Nines (classifier, causal-LM fine-tuning,
//! PPO): an AdamW whose state saves and restores exactly, learning-rate schedules, gradient
//! clipping by global norm, freezing all but the top layers, and LoRA adapters; causal-LM
//! fine-tuning on packed text ([`Finetuner`], [`PackedTokens`]), Hugging Face export
//! ([`export_hf`]) and a train-once cache ([`finetune_cached`]).
//!
//! ```
//! use nines_runtime::tch::{Device, Kind, Tensor, nn};
//! use nines_runtime::train::{AdamW, AdamWConfig, LrSchedule, ScheduleKind};
//! let vs = nn::VarStore::new(Device::Cpu);
//! let w = vs.root().var("w", &[3], nn::Init::Const(1.0));
//! let mut opt = AdamW::new(&vs, AdamWConfig { weight_decay: 0.0, ..Default::default() });
//! let sched = LrSchedule { peak_lr: 0.1, warmup_steps: 0, total_steps: 10, kind: ScheduleKind::Constant, min_lr_ratio: 0.0 };
//! for step in 0..10 {
//!     opt.zero_grad();
//!     let loss = (&w * &w).sum(Kind::Float);
//!     loss.backward();
//!     opt.clip_grad_norm(1.0);
//!     opt.step(sched.lr_at(step));
//! }
//! assert!(w.abs().max().double_value(&[]) < 1.0);
//! ```

mod cache;
mod export;
mod finetune;
mod freeze;
mod optim;
mod pack;
mod schedule;
pub mod slot;

pub use cache::{REPORT_FILE, finetune_cache_key, finetune_cached};
pub use export::export_hf;
pub use finetune::{
    DataPosition, Evaluation, FinetuneConfig, FinetuneError, FinetuneReport, FinetuneResult,
    Finetuner, RunOptions, StepMetrics, evaluate,
};
pub use freeze::{
    freeze_all_but_top_layers, frozen_bottom_blocks, is_input_embedding, layer_index,
};
pub use optim::{AdamW, AdamWConfig, OptParam};
pub use pack::PackedTokens;
pub use schedule::{LrSchedule, ScheduleKind};
pub use slot::{CheckpointFiles, CheckpointSlot, write_tensors_durably};
