//! What a fine-tuning run is asked to do: [`FinetuneConfig`] (the training) and
//! [`RunOptions`] (the run folder, resuming, progress).

use super::*;

/// Fine-tuning settings. Every field has a default; the defaults are the measured
/// fiction setting for SmolLM2-135M on 2 CPU cores (see `docs/finetune.md`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FinetuneConfig {
    /// Tokens per training sequence. Default 256.
    pub seq_len: usize,
    /// Sequences per micro-batch. Default 4.
    pub batch_size: usize,
    /// Micro-batches per optimizer step (gradient accumulation). Default 1.
    pub grad_accum: usize,
    /// Optimizer steps; the schedule decays over them. Default 300.
    pub max_steps: usize,
    /// Peak learning rate. Default 2e-4.
    pub lr: f64,
    /// Linear warm-up steps. Default 20.
    pub warmup_steps: usize,
    /// Decay after warm-up. Default cosine.
    pub schedule: ScheduleKind,
    /// Final learning rate as a fraction of the peak. Default 0.1.
    pub min_lr_ratio: f64,
    /// AdamW moments, epsilon and weight decay.
    pub adamw: AdamWConfig,
    /// Clip the global gradient norm to this (0 = no clipping). Default 1.0.
    pub max_grad_norm: f64,
    /// Train only the top `N` blocks (plus the final norm and any LoRA adapters).
    /// Default `Some(6)`. With `None` and no LoRA, every parameter trains.
    pub top_layers: Option<usize>,
    /// LoRA adapters. The model must be loaded with the same configuration
    /// ([`LanguageModel::load_with_lora`]). With LoRA and `top_layers: None`, only the
    /// adapters train. Default none.
    pub lora: Option<LoraConfig>,
    /// Run the forward pass under LibTorch autocast (reduced precision; CUDA only, where
    /// LibTorch's autocast is available through `tch`). Default false.
    pub autocast: bool,
    /// Seed of the data order. Default 0.
    pub seed: u64,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            seq_len: 256,
            batch_size: 4,
            grad_accum: 1,
            max_steps: 300,
            lr: 2e-4,
            warmup_steps: 20,
            schedule: ScheduleKind::Cosine,
            min_lr_ratio: 0.1,
            adamw: AdamWConfig::default(),
            max_grad_norm: 1.0,
            top_layers: Some(6),
            lora: None,
            autocast: false,
            seed: 0,
        }
    }
}

impl FinetuneConfig {
    /// Checks ranges; names the offending field.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |field, message: String| Err(RuntimeError::InvalidSetting { field, message });
        if self.seq_len < 2 {
            return bad("seq_len", format!("{} must be at least 2", self.seq_len));
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be positive".into());
        }
        if self.grad_accum == 0 {
            return bad("grad_accum", "must be positive".into());
        }
        if self.max_steps == 0 {
            return bad("max_steps", "must be positive".into());
        }
        if !self.lr.is_finite() || self.lr <= 0.0 {
            return bad("lr", format!("{} must be a positive number", self.lr));
        }
        if !self.max_grad_norm.is_finite() || self.max_grad_norm < 0.0 {
            return bad(
                "max_grad_norm",
                format!("{} must be ≥ 0", self.max_grad_norm),
            );
        }
        if self.top_layers == Some(0) && self.lora.is_none() {
            return bad(
                "top_layers",
                "0 with no LoRA leaves nothing to train".into(),
            );
        }
        if let Some(l) = &self.lora {
            l.validate()?;
        }
        Ok(())
    }

    /// The learning-rate schedule these settings imply.
    pub fn schedule(&self) -> LrSchedule {
        LrSchedule {
            peak_lr: self.lr,
            warmup_steps: self.warmup_steps.min(self.max_steps),
            total_steps: self.max_steps,
            kind: self.schedule,
            min_lr_ratio: self.min_lr_ratio,
        }
    }

    /// Tokens consumed per optimizer step.
    pub fn tokens_per_step(&self) -> usize {
        self.seq_len * self.batch_size * self.grad_accum
    }
}

/// How [`Finetuner::run`] manages the run folder.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run folder: `metrics.jsonl` and the `checkpoint/` folder go here.
    pub dir: PathBuf,
    /// Stop after this many minutes of training (the schedule still spans `max_steps`).
    pub max_minutes: Option<f64>,
    /// Save a checkpoint every this many steps (and at the end). 0 = only at the end.
    pub checkpoint_every: usize,
    /// Validate every this many steps (and before and after). 0 = before and after only.
    pub eval_every: usize,
    /// Validate on at most this many sequences, evenly spaced (0 = all).
    pub eval_sequences: usize,
    /// Resume from `dir/checkpoint` when present.
    pub resume: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl RunOptions {
    /// Defaults: checkpoint every 50 steps, validate before and after on at most 64
    /// sequences, resume when a checkpoint exists, no progress bar.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RunOptions {
            dir: dir.into(),
            max_minutes: None,
            checkpoint_every: 50,
            eval_every: 0,
            eval_sequences: 64,
            resume: true,
            progress: false,
        }
    }
}
